"""The on-disk reservation store: one directory per network, one small file per fact, a lock.

Layout of ``<data_dir>/<network>/`` (default data dir ``/run/humanz/networks``, a tmpfs, so
every reservation disappears with the reboot that also destroyed every container)::

    lock                      empty; flock(LOCK_EX) on it around every read-modify-write
    100.64.1.2                one file per reserved address, named by its canonical text,
    fd00::2                   holding "<containerID>\\n<ifname>\\n" (host-local's layout)
    last_reserved_ip.0        text of the last address handed out from range set 0
    attachments/<id>,<if>     one record per attachment: "<containerID>\\n<ifname>\\n" followed
                              by the addresses it holds, one per line; the name is the two
                              strings with every byte outside [A-Za-z0-9_.-] written %XX (and a
                              leading "." too), so any ID becomes a safe, reversible name
    tmp/<pid>                 a write in progress, or the leftover of a writer killed before
                              its rename (gone at the next ADD, DEL or GC: see "Leftovers")

Why this shape:

- **Cost independent of the subnet's size.** Whether an address is free is one ``open`` of
  its file; release by (containerID, ifname) reads one record instead of scanning every
  reservation. Nothing ever expands a range or lists the store on the common path (only
  ``tmp/``, which is almost always empty: see "Leftovers").
- **Concurrency.** Every change happens under an exclusive ``flock`` on ``lock``; the kernel
  drops it when the holder dies, even by SIGKILL.
- **Crash safety.** Every file is written to ``tmp/<pid>``, then ``rename``'d over its final
  name (``tmp/`` is inside the store, so on the same file system, where rename is atomic): a
  reader sees the old file or the new one, never a half-written or empty one, whenever
  the writer is killed (SIGKILL included) — what a process wrote is in the kernel's page cache
  the moment write() returns, and rename is atomic for every other process.
  Nothing is fsync'ed, on purpose. fsync protects only against the *machine* stopping (power
  loss, kernel crash) before the page cache reaches the disk, and that also stops every
  container the reservations belong to: after the reboot the runtime recreates them and GCs
  the rest (a file left empty is repaired from its owner's record, or removed, when an ADD or
  GC meets it: see allocator._probe). The default data dir is under /run, a tmpfs on most
  nodes, which a reboot empties anyway; host-local never fsyncs either. Where it is a disk
  (as /run is on the benchmark's VM) the fsyncs cost ~1.4 ms per ADD and ~0.7 ms per DEL,
  all of it under the network's lock, which serialises concurrent ADDs. Order of writes keeps
  a killed process harmless: the attachment record is written *before* the address files it
  lists (so no reservation ever exists that its owner's DEL cannot find), and removed *after*
  them. A record may thus list an address whose file is missing or owned by someone else;
  every reader checks ownership in the address file, which is the truth.
- **Leftovers.** A writer killed between its write and its rename leaves its ``tmp/<pid>``
  file behind (never read: readers open final names only). Every write happens under the
  lock, so while a process holds it no other process can be mid-write: whatever ``tmp/``
  holds then is a dead writer's. ADD, DEL and GC (allocate, release, gc) therefore empty
  ``tmp/`` right after taking the lock: leftovers live until the next change of their
  network, and the check costs one listing of a nearly always empty directory, never of the
  store. ``tmp/`` is made by the first write that needs it, so a store made by an older
  version gets one too; such a version wrote its temp files as ``.tmp.<pid>`` at the top
  level, which readers skip (not an address name) and GC removes.
- **Permissions.** Directories are created 0700 and files 0600: reservations say which
  containers exist.
"""

from __future__ import annotations

import errno
import fcntl
import os

from humanz.ipam.errors import StoreError

DEFAULT_DATA_DIR = "/run/humanz/networks"

LOCK_NAME = "lock"
RECORDS_DIR = "attachments"
CURSOR_PREFIX = "last_reserved_ip."
TEMP_DIR = "tmp"
# Temp files of versions before TEMP_DIR, at the store's top level (GC removes them).
LEGACY_TEMP_PREFIX = ".tmp."

# How often open_store re-locks when the lock file was replaced while it waited.
_LOCK_TRIES = 100

# NAME_MAX from <linux/limits.h>: the longest file name a directory entry can hold.
_NAME_MAX = 255

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_NAME_CHARS = frozenset(_ALNUM + "_.-")


class Unreadable:
    """Marker for a file that exists but does not parse (empty, truncated, garbage)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE = Unreadable()


def valid_network_name(name: object) -> bool:
    """True when ``name`` matches the CNI spec's ``^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$`` and fits in
    a directory entry. Such a name can never be ``.``, ``..`` or contain ``/``."""
    return (isinstance(name, str) and 0 < len(name) <= _NAME_MAX and name[0] in _ALNUM
            and all(c in _NAME_CHARS for c in name))


def record_name(container_id: str, ifname: str) -> str:
    """The file name of an attachment's record (reversible: see ``parse_record_name``)."""
    return _escape(container_id) + "," + _escape(ifname)


def parse_record_name(name: str) -> tuple[str, str] | None:
    """(containerID, ifname) from a record file name, or None when it is not one of ours."""
    cid, comma, ifname = name.partition(",")
    if not comma or not cid or not ifname:
        return None
    try:
        return _unescape(cid), _unescape(ifname)
    except ValueError:
        return None


def owner_text(container_id: str, ifname: str) -> bytes:
    """Content of an address file: who holds it."""
    return _encode(container_id) + b"\n" + _encode(ifname) + b"\n"


def parse_owner(data: bytes) -> tuple[str, str] | Unreadable:
    """(containerID, ifname) from an address file's content, or UNREADABLE."""
    lines = data.splitlines()
    if len(lines) != 2 or not lines[0] or not lines[1]:
        return UNREADABLE
    return _decode(lines[0]), _decode(lines[1])


def parse_record(data: bytes) -> tuple[str, str, list[str]] | Unreadable:
    """(containerID, ifname, addresses) from a record's content, or UNREADABLE."""
    lines = data.splitlines()
    if len(lines) < 2 or not lines[0] or not lines[1] or not all(lines[2:]):
        return UNREADABLE
    return _decode(lines[0]), _decode(lines[1]), [_decode(line) for line in lines[2:]]


class Store:
    """One network's directory, held under its lock from ``open_store`` until ``close``."""

    __slots__ = ("network", "path", "_lock_fd")

    def __init__(self, network: str, path: str, lock_fd: int) -> None:
        self.network = network
        self.path = path
        self._lock_fd = lock_fd

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the lock (every change is already in place: see "Crash safety" above)."""
        if self._lock_fd < 0:
            return
        os.close(self._lock_fd)  # closing the last descriptor releases the flock
        self._lock_fd = -1

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- address files ---------------------------------------------------------------------

    def owner(self, ip: str) -> tuple[str, str] | Unreadable | None:
        """Who holds address ``ip`` (canonical text): None when free."""
        data = self._read(os.path.join(self.path, ip))
        return None if data is None else parse_owner(data)

    def reserve(self, ip: str, container_id: str, ifname: str) -> None:
        """Create (or overwrite) the file saying ``ip`` is held by (container_id, ifname)."""
        self._write(ip, owner_text(container_id, ifname))

    def unreserve(self, ip: str) -> None:
        """Remove the file of ``ip``; already gone is fine."""
        self._unlink(os.path.join(self.path, ip))

    def names(self) -> list[str]:
        """Every entry of the network directory (address files, cursors, lock, the
        ``attachments`` and ``tmp`` directories, legacy ``.tmp.*`` files)."""
        try:
            return os.listdir(self.path)
        except OSError as err:
            raise self._error("list", self.path, err) from None

    def remove_legacy_temp(self, name: str) -> None:
        """Remove a ``.tmp.*`` file an older version's killed writer left at the top level."""
        self._unlink(os.path.join(self.path, name))

    def remove_leftover_temps(self) -> None:
        """Empty ``tmp/``: holding the lock, no writer is alive to own what is there (see
        "Leftovers" above). Call it first when taking the lock to change the store.

        Best effort: an entry that cannot be removed is never read either, and failing an ADD
        or DEL over it would turn harmless litter into an outage; the next change retries.
        """
        tmp_dir = os.path.join(self.path, TEMP_DIR)
        try:
            names = os.listdir(tmp_dir)
        except OSError:  # no tmp/ yet (nothing written since it appeared), or unreadable
            return
        for name in names:
            try:
                os.unlink(os.path.join(tmp_dir, name))
            except OSError:
                pass

    # -- attachment records ----------------------------------------------------------------

    def record(self, container_id: str, ifname: str) -> list[str] | Unreadable | None:
        """Addresses the record of (container_id, ifname) lists; None when there is none."""
        data = self._read(self._record_path(container_id, ifname))
        if data is None:
            return None
        parsed = parse_record(data)
        if isinstance(parsed, Unreadable) or parsed[:2] != (container_id, ifname):
            return UNREADABLE
        return parsed[2]

    def write_record(self, container_id: str, ifname: str, ips: list[str]) -> None:
        """Replace the record of (container_id, ifname); an empty list removes it."""
        if not ips:
            self.remove_record(container_id, ifname)
            return
        self._ensure_records_dir()
        data = owner_text(container_id, ifname) + b"".join(_encode(ip) + b"\n" for ip in ips)
        self._write(os.path.join(RECORDS_DIR, record_name(container_id, ifname)), data)

    def remove_record(self, container_id: str, ifname: str) -> None:
        """Remove the record of (container_id, ifname); already gone is fine."""
        self._unlink(self._record_path(container_id, ifname))

    def record_names(self) -> list[str]:
        """File names in the records directory (empty when it does not exist yet)."""
        try:
            return os.listdir(os.path.join(self.path, RECORDS_DIR))
        except FileNotFoundError:
            return []
        except OSError as err:
            raise self._error("list", os.path.join(self.path, RECORDS_DIR), err) from None

    def read_record_file(self, name: str) -> tuple[str, str, list[str]] | Unreadable | None:
        """Parse the record stored under file ``name`` (as listed by ``record_names``)."""
        data = self._read(os.path.join(self.path, RECORDS_DIR, name))
        return None if data is None else parse_record(data)

    def remove_record_file(self, name: str) -> None:
        """Remove a record by its file name (for GC of unreadable records)."""
        self._unlink(os.path.join(self.path, RECORDS_DIR, name))

    # -- round-robin cursors ---------------------------------------------------------------

    def last_reserved(self, set_index: int) -> str | None:
        """Text of the last address handed out from range set ``set_index``, if known."""
        data = self._read(os.path.join(self.path, CURSOR_PREFIX + str(set_index)))
        if not data:
            return None
        try:
            return data.strip().decode("ascii")
        except UnicodeError:
            return None

    def set_last_reserved(self, set_index: int, ip: str) -> None:
        """Remember where round-robin continues."""
        self._write(CURSOR_PREFIX + str(set_index), ip.encode("ascii") + b"\n")

    def check_writable(self) -> None:
        """Prove that a file can be created in the store (for STATUS), leaving nothing (but
        ``tmp/`` itself, made if missing)."""
        tmp = self._write_temp(b"")
        self._unlink(tmp)

    # -- plumbing --------------------------------------------------------------------------

    def _record_path(self, container_id: str, ifname: str) -> str:
        name = record_name(container_id, ifname)
        if len(name.encode()) > _NAME_MAX:
            raise StoreError("network %r: container ID %r with interface %r is too long to "
                             "record (%d bytes once escaped, at most %d)"
                             % (self.network, container_id, ifname, len(name), _NAME_MAX))
        return os.path.join(self.path, RECORDS_DIR, name)

    def _ensure_records_dir(self) -> None:
        self._ensure_subdir(RECORDS_DIR)

    def _ensure_temp_dir(self) -> None:
        self._ensure_subdir(TEMP_DIR)

    def _ensure_subdir(self, name: str) -> None:
        path = os.path.join(self.path, name)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as err:
            raise self._error("create directory", path, err) from None

    def _read(self, path: str) -> bytes | None:
        """Whole content of a small file, or None when it does not exist."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:  # a symlink where a record should be: not ours
                return b""
            raise self._error("open", path, err) from None
        try:
            chunks: list[bytes] = []
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        except OSError as err:
            raise self._error("read", path, err) from None
        finally:
            os.close(fd)

    def _write(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``name`` (relative to the store) atomically: temp, rename."""
        final = os.path.join(self.path, name)
        tmp = self._write_temp(data)
        try:
            os.rename(tmp, final)
        except OSError as err:
            self._unlink(tmp)
            raise self._error("rename into place", final, err) from None

    def _write_temp(self, data: bytes) -> str:
        """Write ``data`` to this process's temp file; its path. Only the lock holder writes,
        so one name per process is enough (a dead writer's file with the same pid would
        simply be truncated and reused)."""
        path = os.path.join(self.path, TEMP_DIR, str(os.getpid()))
        try:
            fd = _open_new(path)
        except FileNotFoundError:  # no tmp/ yet: a new store, or one an older version made
            self._ensure_temp_dir()
            fd = self._create(path)
        except OSError as err:
            raise self._error("create", path, err) from None
        self._fill(fd, path, data)
        return path

    def _create(self, path: str) -> int:
        try:
            return _open_new(path)
        except OSError as err:
            raise self._error("create", path, err) from None

    def _fill(self, fd: int, path: str, data: bytes) -> None:
        """Write all of ``data`` to ``fd`` and close it (removing ``path`` on failure)."""
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as err:
            os.close(fd)
            self._unlink(path)
            raise self._error("write", path, err) from None
        os.close(fd)

    def _unlink(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as err:
            raise self._error("remove", path, err) from None

    def _error(self, doing: str, path: str, err: OSError) -> StoreError:
        return StoreError("network %r: IPAM store: cannot %s %s: %s"
                          % (self.network, doing, path, err.strerror or err))


def open_store(data_dir: str, network: str, create: bool = True) -> Store | None:
    """Open ``<data_dir>/<network>`` and take its lock (blocking until other writers finish).

    With ``create`` the directories are made (0700) when missing; without it a missing store
    answers None (nothing was ever reserved there, so there is nothing to read or release).
    Raises StoreError for an invalid network name or any I/O failure.
    """
    if not valid_network_name(network):
        raise StoreError("network name %r cannot name an IPAM store directory: it must match "
                         "^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$ (at most %d characters)"
                         % (network, _NAME_MAX))
    if not isinstance(data_dir, str) or not data_dir:
        raise StoreError("network %r: the IPAM data directory must be a non-empty path"
                         % network)
    path = os.path.join(data_dir, network)
    if create:
        _make_dirs(network, path)
    elif not os.path.isdir(path):
        return None
    lock_path = os.path.join(path, LOCK_NAME)
    for _ in range(_LOCK_TRIES):
        fd = _lock(network, lock_path)
        if _still_named(fd, lock_path):
            return Store(network, path, fd)
        os.close(fd)  # the file we waited on was deleted or replaced meanwhile: lock anew
    raise StoreError("network %r: IPAM store: lock file %s keeps being replaced"
                     % (network, lock_path))


def _lock(network: str, lock_path: str) -> int:
    """Open (creating it if needed) and flock the lock file; the descriptor."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as err:
        raise StoreError("network %r: IPAM store: cannot open lock file %s: %s"
                         % (network, lock_path, err.strerror or err)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as err:
        os.close(fd)
        raise StoreError("network %r: IPAM store: cannot lock %s: %s"
                         % (network, lock_path, err.strerror or err)) from None
    return fd


def _still_named(fd: int, lock_path: str) -> bool:
    """True when ``lock_path`` still names the file locked through ``fd``. A lock on a file
    someone deleted while we queued on it excludes nobody: newcomers lock the new file."""
    try:
        here, there = os.fstat(fd), os.stat(lock_path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _make_dirs(network: str, path: str) -> None:
    """``mkdir -p`` with mode 0700 for every directory it creates (os.makedirs applies the
    mode to the last one only)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        _make_dirs(network, parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise StoreError("network %r: IPAM store: %s exists and is not a directory"
                             % (network, path)) from None
    except OSError as err:
        raise StoreError("network %r: IPAM store: cannot create directory %s: %s"
                         % (network, path, err.strerror or err)) from None


def _open_new(path: str) -> int:
    """Open ``path`` for writing: created 0600, or truncated; never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    return os.open(path, flags, 0o600)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _escape(text: str) -> str:
    """Bytes outside [A-Za-z0-9_.-] (and a leading ".") as %XX: a reversible file name."""
    out = []
    for i, byte in enumerate(_encode(text)):
        char = chr(byte)
        if char in _NAME_CHARS and not (i == 0 and char == "."):
            out.append(char)
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def _unescape(name: str) -> str:
    """Inverse of ``_escape``; ValueError for a name ``_escape`` cannot have produced."""
    out = bytearray()
    i = 0
    while i < len(name):
        char = name[i]
        if char == "%":
            digits = name[i + 1:i + 3]
            if len(digits) != 2 or any(c not in "0123456789ABCDEF" for c in digits):
                raise ValueError("bad escape in %r" % name)
            out.append(int(digits, 16))
            i += 3
        elif char in _NAME_CHARS:
            out.append(ord(char))
            i += 1
        else:
            raise ValueError("unexpected %r in %r" % (char, name))
    return _decode(bytes(out))
