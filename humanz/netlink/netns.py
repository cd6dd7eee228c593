"""Network namespaces without forking: run code in one, create and delete named ones, sysctls.

The kernel facts this module is built on:

- ``setns(fd, CLONE_NEWNET)`` switches only the calling *thread*; a netlink socket stays bound
  to the namespace it was created in. So to work in a namespace we start a short-lived thread,
  switch it, make the socket (or run the function) there, and let the thread end. The main
  thread is never switched, and nothing forks.
- A named namespace (``ip netns add NAME``) is an empty file under /run/netns on which the
  namespace file of some thread is bind-mounted; the mount keeps the namespace alive with no
  process in it. /run/netns is made a shared mount so that mounts made later show up in every
  mount namespace, as iproute2 does.
- /proc/sys/net/... shows the namespace of the thread that opens it.

Python >= 3.12 has ``os.setns``/``os.unshare``; older ones call libc's, and mount/umount2
always do. Those calls are bound through ``_ctypes`` (the C half of ctypes) directly, imported
only when needed: the ``ctypes`` package on top of it costs ~1.5 ms of start-up (its Python
module, ``ctypes._endian``, ``struct``, dozens of classes) for nothing the plugin uses.
"""

from __future__ import annotations

from errno import EINVAL

import _thread
import os
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from .uapi import CLONE_NEWNET, NS_GET_NSTYPE

if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, TypeVar, Union

    T = TypeVar("T")

RUN_DIR = "/run/netns"                   # iproute2's NETNS_RUN_DIR
THREAD_NET = "/proc/thread-self/ns/net"  # the calling thread's own namespace file

# <linux/mount.h>
MS_BIND = 4096
MS_REC = 16384
MS_SHARED = 1 << 20
# <sys/mount.h> (glibc): umount2 flags
MNT_DETACH = 2


# --------------------------------------------------------------------------------------------
# Looking at namespace files
# --------------------------------------------------------------------------------------------

def open_fd(path: str) -> int:
    """Open a namespace file read-only (close-on-exec); the caller closes the fd."""
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def is_netns(path: str) -> bool:
    """True if ``path`` is a network-namespace file (on nsfs, of type CLONE_NEWNET).

    Every namespace file lives on the one nsfs superblock, so its st_dev equals that of our
    own /proc/thread-self/ns/net; the NS_GET_NSTYPE ioctl then tells net from mnt, uts, ....
    An empty file under /run/netns whose mount is gone fails the first test.
    """
    try:
        if os.stat(path).st_dev != os.stat(THREAD_NET).st_dev:
            return False
        fd = open_fd(path)
    except OSError:
        return False
    try:
        import fcntl
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:
        return False
    finally:
        os.close(fd)


def same_as_current(path: str) -> bool:
    """True if ``path`` is the calling thread's own network namespace (same nsfs inode)."""
    a, b = os.stat(path), os.stat(THREAD_NET)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# --------------------------------------------------------------------------------------------
# Running code inside a namespace
# --------------------------------------------------------------------------------------------

class _Outcome:
    __slots__ = ("value", "error")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


def in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a new short-lived thread, wait for it, return its result or re-raise."""
    outcome = _Outcome()
    done = _thread.allocate_lock()
    done.acquire()

    def body() -> None:
        try:
            outcome.value = fn()
        except BaseException as e:  # re-raised in the caller's thread
            outcome.error = e
        finally:
            done.release()

    _thread.start_new_thread(body, ())
    done.acquire()
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[no-any-return]


def run_in(ns: str | int, fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a thread switched into namespace ``ns`` (a path or an open fd).

    The thread ends afterwards; sockets ``fn`` creates stay bound to ``ns``.
    """
    def switched() -> T:
        enter(ns)
        return fn(*args)
    return in_thread(switched)


def enter(ns: str | int) -> None:
    """Switch the *calling thread* into ``ns``. Use it only in a thread you will throw away."""
    if isinstance(ns, int):
        _setns(ns, CLONE_NEWNET)
        return
    fd = open_fd(ns)
    try:
        _setns(fd, CLONE_NEWNET)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Named namespaces under /run/netns (what `ip netns add/del/list` do)
# --------------------------------------------------------------------------------------------

def path_of(name: str) -> str:
    """The file of the named namespace ``name``; rejects names that are not one path part."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError("invalid namespace name: %r" % name)
    return RUN_DIR + "/" + name


def add(name: str) -> str:
    """Create the named network namespace ``name`` and return its path.

    Steps: make sure /run/netns exists and is a shared mount; create an empty file (fails
    with FileExistsError if the name is taken); in a throwaway thread, unshare into a brand-new
    namespace and bind-mount that thread's namespace file onto the empty file.
    """
    path = path_of(name)
    _ensure_run_dir()
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
    os.close(fd)
    try:
        in_thread(lambda: _bind_new_netns(path))
    except BaseException:
        os.unlink(path)
        raise
    return path


def delete(name: str) -> None:
    """Delete the named namespace: detach its bind mount, remove the file (like ip netns del).

    The namespace itself lives on while a process or an open fd still uses it.
    """
    path = path_of(name)
    try:
        _mount_call("umount2", path.encode(), MNT_DETACH)
    except OSError as e:
        if e.errno != EINVAL:   # EINVAL: not mounted (a half-made namespace); just unlink
            raise
    os.unlink(path)


def list_names() -> list[str]:
    """The names of the namespaces under /run/netns, sorted."""
    try:
        names = os.listdir(RUN_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if is_netns(RUN_DIR + "/" + n))


def _ensure_run_dir() -> None:
    """Create /run/netns and make it a shared mount (binding it onto itself if needed)."""
    os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
    try:
        _mount_call("mount", b"none", RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None)
    except OSError as e:
        if e.errno != EINVAL:
            raise
        # EINVAL: /run/netns is not a mount point yet; make it one, then share it
        _mount_call("mount", RUN_DIR.encode(), RUN_DIR.encode(), b"none", MS_BIND | MS_REC,
                    None)
        _mount_call("mount", b"none", RUN_DIR.encode(), b"none", MS_SHARED | MS_REC, None)


def _bind_new_netns(path: str) -> None:
    """(In a throwaway thread.) Move into a new namespace and pin it on ``path``."""
    _unshare(CLONE_NEWNET)
    _mount_call("mount", THREAD_NET.encode(), path.encode(), b"none", MS_BIND, None)


# --------------------------------------------------------------------------------------------
# sysctl inside a namespace
# --------------------------------------------------------------------------------------------

def sysctl_get(key: str, ns: str | int | None = None) -> str:
    """The value of ``/proc/sys/<key>`` (e.g. "net/ipv4/ip_forward"), read in ``ns``."""
    path = _sysctl_path(key)
    if ns is None:
        return _read(path)
    return run_in(ns, _read, path)


def sysctl_set(key: str, value: str, ns: str | int | None = None) -> None:
    """Write ``value`` to ``/proc/sys/<key>`` in ``ns``."""
    path = _sysctl_path(key)
    if ns is None:
        _write(path, value)
    else:
        run_in(ns, _write, path, value)


def _sysctl_path(key: str) -> str:
    key = key.replace(".", "/") if "/" not in key else key
    if not key or ".." in key.split("/") or key.startswith("/"):
        raise ValueError("invalid sysctl key: %r" % key)
    return "/proc/sys/" + key


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# System calls Python may not wrap
# --------------------------------------------------------------------------------------------

_libc_functions: dict[str, Callable[..., int]] = {}
_libc_function_type: Any = None


def _libc_function(name: str) -> Callable[..., int]:
    """libc's function ``name``, callable with ints, bytes and None; it returns a C int.

    What ``ctypes.CDLL(None, use_errno=True).name`` gives, made from ``_ctypes`` alone: a
    function-pointer class (cdecl; errno saved per thread after each call, read back with
    ``_ctypes.get_errno``) whose result type is C ``int``, instantiated with the symbol's name
    and an object whose ``_handle`` is ``dlopen(NULL)`` — the program and the libraries it
    loaded, libc among them.
    """
    function = _libc_functions.get(name)
    if function is None:
        global _libc_function_type
        import _ctypes
        if _libc_function_type is None:
            class CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
                _type_ = "i"

            class LibcFunction(_ctypes.CFuncPtr):
                _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
                _restype_ = CInt

            class Program:                               # what dlsym searches
                _handle = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]

            _libc_function_type = (LibcFunction, Program)
        function_type, program = _libc_function_type
        function = _libc_functions[name] = function_type((name, program))
    return function


def _libc_call(name: str, *args: object) -> None:
    """Call libc's ``name(*args)``; a -1 return becomes OSError with errno."""
    if _libc_function(name)(*args) != 0:
        import _ctypes
        err = _ctypes.get_errno()
        raise OSError(err, "%s: %s" % (name, os.strerror(err)))


def _mount_call(name: str, *args: object) -> None:
    _libc_call(name, *args)


def _setns(fd: int, nstype: int) -> None:
    setns = getattr(os, "setns", None)      # Python >= 3.12
    if setns is not None:
        setns(fd, nstype)
    else:
        _libc_call("setns", fd, nstype)


def _unshare(flags: int) -> None:
    unshare = getattr(os, "unshare", None)  # Python >= 3.12
    if unshare is not None:
        unshare(flags)
    else:
        _libc_call("unshare", flags)
