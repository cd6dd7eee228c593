"""The files the agent keeps on the host: the CNI conflist, the plugin executable, the host's Python.

Both files are read by other programs at any moment (the kubelet/container runtime reads
``/etc/cni/net.d``, and execs ``/opt/cni/bin/humanz-cni`` for every pod), so both are replaced
atomically: written to a temporary file in the same directory, fsync'd, renamed over the old
one, and the directory fsync'd. A reader sees the old file or the new one, never half of one.
Nothing is rewritten when the content is already what it should be.

The plugin runs under the *host's* Python, not the agent image's: ``find_host_python`` looks for
a python3 >= 3.9 in the host's root (mounted read-only into the agent's container, e.g. at
``/host``). The version is read from the file system (the interpreter's versioned name and its
standard library directory) because the host's binary cannot be run inside the container.

The plugin file is built here, for the agent and for scripts/build alike (``plugin_sources``,
``compile_on_host``, ``plugin_file``): ONE file, a shebang line that starts the plugin, then an
uncompressed zip of this very ``humanz`` package (without the agent) as bytecode compiled *by
the host's interpreter* (run in a chroot into the host root), with fixed timestamps. The
shebang runs the interpreter with ``-c`` code that pins the file and imports the zip's root
module ``hz`` (see ``PLUGIN_BOOT``): no ``runpy``, which a zipapp started through its
``__main__`` pays ~4 ms for. ``python3 FILE`` still works, through the zip's ``__main__``.
When the host's Python cannot be run, the sources go in instead (correct, but compiled on every
run — the log says so). The zip comment carries a digest of everything that went in, so an
up-to-date install is recognised without rebuilding. The package's sources are read from its
directory, or from the zip it was imported from: deploy/humanz.yaml ships the package to the
agent as one zip in a ConfigMap, and the agent runs straight from it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from humanz.agent.model import Cidr

__all__ = ["atomic_write", "HostPython", "find_host_python", "compile_on_host", "build_plugin",
           "PluginBuildError", "plugin_up_to_date", "conflist", "MIN_PYTHON",
           "PYTHON_CANDIDATES", "PLUGIN_BOOT", "PLUGIN_ENTRIES", "SHEBANG_PORTABLE",
           "SHEBANG_MAX", "plugin_shebang", "plugin_sources", "plugin_file"]

MIN_PYTHON = (3, 9)
# Where distributions put python3, in order of preference (paths inside the host's root).
PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3",
                     "/usr/libexec/platform-python")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)          # fixed timestamps: the same input, the same bytes
# The shebang line is "#!<python> -IScCODE". Linux passes everything after the interpreter's
# path as ONE argument, and CPython's option parser takes the rest of an option word after
# ``c`` as -c's code: the interpreter runs as ``-I -S -c CODE FILE``, FILE (this file's path,
# as the runtime exec'd it) in sys.argv[1]. CODE, before anything is read from the zip:
# - opens FILE and puts /proc/self/fd/N first on sys.path. zipimport reopens its archive BY
#   PATH for every module it loads, and an upgrade renames a new file over FILE at any moment;
#   through the descriptor, every import reads the file this process started from;
# - puts FILE itself LAST on sys.path: without /proc the first entry finds nothing and the
#   modules come from FILE by name, as in a plain zipapp (with /proc, that entry is never read);
# - imports the zip's root module ``hz``, which runs the plugin and exits.
# The whole line must stay within 127 bytes: kernels before 5.1 read only 128 bytes of it
# (BINPRM_BUF_SIZE, include/uapi/linux/binfmts.h; 256 since 5.1) and cut the rest off silently,
# which here would cut the code. With /usr/bin/python3 the line is 121 bytes.
PLUGIN_BOOT = ('import sys,posix;a=sys.argv[1];sys.path=["/proc/self/fd/%d"%posix.open(a,0),'
               '*sys.path,a];import hz')
SHEBANG_PORTABLE = 127        # the longest line every kernel runs whole (BINPRM_BUF_SIZE 128)
SHEBANG_MAX = 255             # the longest line kernels >= 5.1 run whole (BINPRM_BUF_SIZE 256)
# The zip's root modules: ``hz`` for the shebang; ``__main__`` for ``python3 FILE`` (runpy).
PLUGIN_ENTRIES = {
    "hz.py": b'''"""The plugin started by its shebang line, which has already pinned this file."""
import sys
from humanz.cni.skel import main
sys.exit(main())
''',
    "__main__.py": b'''"""The plugin started as ``python3 FILE``: pin this file, run the plugin, exit.

zipimport reopens the archive BY NAME for every module it loads, and an upgrade renames a new
file over that name at any moment. Importing through /proc/self/fd/N keeps every import on the
file this process started from. Without /proc, import by name as a plain zipapp does.
"""
import sys
from posix import O_RDONLY, open as _open, stat as _stat   # builtin, already loaded

try:
    _pinned = "/proc/self/fd/%d" % _open(sys.path[0], O_RDONLY)   # not inherited (PEP 446)
    _stat(_pinned)
    sys.path[0] = _pinned
except OSError:
    pass

from humanz.cni.skel import main

sys.exit(main())
''',
}


def plugin_shebang(python: str) -> bytes:
    """The plugin file's first line for the interpreter at ``python`` (an absolute path)."""
    return ("#!%s -ISc%s\n" % (python, PLUGIN_BOOT)).encode()


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> bool:
    """Replace ``path`` with ``data`` atomically; False (nothing done) if it already holds it."""
    try:
        with open(path, "rb") as f:
            if f.read(len(data) + 1) == data and (os.fstat(f.fileno()).st_mode & 0o777) == mode:
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.tmp-%d" % (os.path.basename(path), os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)                 # the umask must not narrow an executable's mode
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


class HostPython:
    """An interpreter found in the host's root: its path *on the host* and its version."""

    __slots__ = ("path", "version")

    def __init__(self, path: str, version: tuple[int, int]) -> None:
        self.path = path
        self.version = version

    def __repr__(self) -> str:
        return "HostPython(%r, %d.%d)" % (self.path, self.version[0], self.version[1])


def find_host_python(host_root: str, candidates: tuple[str, ...] = PYTHON_CANDIDATES,
                     ) -> tuple[HostPython | None, list[str]]:
    """The first candidate that is a Python >= 3.9, and why each earlier one was passed over."""
    reasons: list[str] = []
    for candidate in candidates:
        found, reason = _inspect_python(host_root, candidate)
        if found is not None:
            return found, reasons
        reasons.append("%s: %s" % (candidate, reason))
    return None, reasons


def _inspect_python(host_root: str, candidate: str) -> tuple[HostPython | None, str]:
    """Resolve ``candidate`` inside the host root, and read its version from names on disk."""
    resolved = _resolve_in_root(host_root, candidate)
    if resolved is None:
        return None, "absent"
    full = _in_root(host_root, resolved)
    if not os.path.isfile(full) or not os.access(full, os.X_OK):
        return None, "not an executable file"
    version = _version_from_name(os.path.basename(resolved))
    if version is None:
        version = _version_from_stdlib(host_root, resolved)
    if version is None:
        return None, "cannot tell its version (no python3.N name or lib/python3.N/os.py)"
    if version < MIN_PYTHON:
        return None, "Python %d.%d is older than %d.%d" % (version + MIN_PYTHON)
    if _version_from_stdlib(host_root, resolved, version) is None:
        return None, "Python %d.%d without its standard library" % version
    return HostPython(candidate, version), "ok"


def _in_root(host_root: str, path: str) -> str:
    return os.path.join(host_root, path.lstrip("/")) if host_root not in ("", "/") else path


def _resolve_in_root(host_root: str, path: str) -> str | None:
    """Follow a symlink chain (absolute targets are host paths) to a host path; None if absent."""
    for _ in range(40):                      # the kernel's own limit on symlink hops
        full = _in_root(host_root, path)
        if os.path.islink(full):
            target = os.readlink(full)
            path = target if target.startswith("/") else os.path.normpath(
                os.path.join(os.path.dirname(path), target))
            continue
        return path if os.path.lexists(full) else None
    return None


def _version_from_name(name: str) -> tuple[int, int] | None:
    """"python3.11" → (3, 11)."""
    if name.startswith("python3."):
        minor = name[len("python3."):]
        if minor.isdigit():
            return 3, int(minor)
    return None


def _version_from_stdlib(host_root: str, resolved: str,
                         version: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The version whose ``<prefix>/lib*/python3.N/os.py`` exists beside the interpreter.

    With ``version`` given, confirm that one; otherwise accept only an unambiguous answer.
    """
    prefix = os.path.dirname(os.path.dirname(resolved))
    found: set[tuple[int, int]] = set()
    for lib in ("lib", "lib64"):
        lib_dir = _in_root(host_root, os.path.join(prefix, lib))
        try:
            names = os.listdir(lib_dir)
        except OSError:
            continue
        for name in names:
            v = _version_from_name(name)
            if v is not None and os.path.isfile(os.path.join(lib_dir, name, "os.py")):
                found.add(v)
    if version is not None:
        return version if version in found else None
    return found.pop() if len(found) == 1 else None


def plugin_sources(package_dir: str | None = None) -> dict[str, bytes]:
    """Everything the plugin file holds, as {name in the zip: source}: every module of the
    ``humanz`` package at ``package_dir`` (default: this one) except the agent, and the two
    root entries of ``PLUGIN_ENTRIES``.

    ``package_dir`` is a directory, or a path inside a zip (``/opt/humanz/humanz.pyz/humanz``
    when the agent was imported from one): both give the same files for the same package.
    OSError when it is neither, or holds no module: never a plugin without its code.
    """
    if package_dir is None:
        package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(package_dir):
        modules = _sources_in_directory(package_dir)
    else:
        modules = _sources_in_zip(package_dir)
    if not modules:
        raise FileNotFoundError("no module of the humanz package under %s" % package_dir)
    files = dict(PLUGIN_ENTRIES)
    files.update(modules)
    return files


def _is_plugin_module(parts: list[str]) -> bool:
    """``parts``: a path below the package, split. The plugin takes ``.py`` files outside the
    agent, bytecode caches and hidden entries."""
    *dirs, name = parts
    return (name.endswith(".py") and not name.startswith(".")
            and not any(d in ("agent", "__pycache__") or d.startswith(".") for d in dirs))


def _sources_in_directory(package_dir: str) -> dict[str, bytes]:
    """The plugin's modules from the package's directory, named ``humanz/...`` as in the zip."""
    top = os.path.basename(package_dir)
    files: dict[str, bytes] = {}
    for root, dirs, names in os.walk(package_dir):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            parts = os.path.relpath(path, package_dir).split(os.sep)
            if _is_plugin_module(parts):
                with open(path, "rb") as f:
                    files["/".join([top] + parts)] = f.read()
    return files


def _sources_in_zip(package_dir: str) -> dict[str, bytes]:
    """The plugin's modules from the zip the package was imported from.

    ``package_dir`` is the archive's path followed by the package's path inside it, as
    zipimport sets ``__file__``: the archive is the longest leading part that is a file.
    """
    archive = package_dir
    inside: list[str] = []
    while not os.path.isfile(archive):
        archive, tail = os.path.split(archive)
        if not tail:
            raise FileNotFoundError("%s is neither a directory nor inside a zip" % package_dir)
        inside.insert(0, tail)
    if not inside:
        raise FileNotFoundError("%s is a file, not a package directory" % package_dir)
    prefix = "/".join(inside) + "/"
    top = inside[-1]
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in sorted(zf.namelist()):
                if name.startswith(prefix) and not name.endswith("/"):
                    parts = name[len(prefix):].split("/")
                    if _is_plugin_module(parts):
                        files["/".join([top] + parts)] = zf.read(name)
    except zipfile.BadZipFile as e:
        raise OSError("%s: not a readable zip (%s)" % (archive, e)) from None
    return files


# Runs under the HOST's interpreter (inside a chroot into the host root): reads
# {"name.py": source text} as JSON on stdin, answers {"version": [maj, min, micro],
# "pyc": {"name.pyc": hex}} — unchecked hash-based .pyc files (PEP 552: flags 0b01, the
# source's hash instead of its mtime), which zipimport loads without looking at the source.
_COMPILER = r"""
import importlib.util, json, marshal, sys
out = {}
for name, source in json.load(sys.stdin).items():
    data = source.encode("utf-8")
    code = compile(data, name, "exec", dont_inherit=True)
    out[name + "c"] = (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
                       + importlib.util.source_hash(data) + marshal.dumps(code)).hex()
json.dump({"version": list(sys.version_info[:3]), "pyc": out}, sys.stdout)
"""


class PluginBuildError(Exception):
    """The host's interpreter could not compile the plugin; the message says why."""


def compile_on_host(host_root: str, python: HostPython,
                    sources: dict[str, bytes]) -> tuple[tuple[int, int, int], dict[str, bytes]]:
    """Compile ``sources`` with the host's own Python, run inside a chroot into ``host_root``
    (directly when ``host_root`` is "/" or "": scripts/build, or an agent on the host itself).

    The host's interpreter cannot run against the container's libraries, but in a chroot into
    the host's root it runs as on the host (CAP_SYS_CHROOT is in every container runtime's
    default set). This proves the interpreter works and yields bytecode of its exact version.
    """
    import subprocess

    payload = json.dumps({name: data.decode("utf-8") for name, data in sources.items()})
    # chroot(8) rather than os.chroot in preexec_fn: the agent has threads, and preexec_fn
    # is unsafe in a threaded process.
    command = [python.path, "-I", "-S", "-c", _COMPILER]
    if host_root not in ("", "/"):
        command[:0] = ["chroot", host_root]
    try:
        proc = subprocess.run(command, input=payload, capture_output=True, text=True,
                              timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                "LC_ALL": "C.UTF-8"})
    except (OSError, subprocess.SubprocessError) as e:
        raise PluginBuildError("cannot run %s: %s" % (" ".join(command[:-4]), e)) from None
    if proc.returncode != 0:
        raise PluginBuildError("%s failed: %s" % (python.path, proc.stderr.strip()[-500:]))
    try:
        answer = json.loads(proc.stdout)
        major, minor, micro = (int(v) for v in answer["version"])
        pyc = {str(k): bytes.fromhex(v) for k, v in answer["pyc"].items()}
    except (ValueError, KeyError, TypeError) as e:
        raise PluginBuildError("%s answered garbage: %s" % (python.path, e)) from None
    if (major, minor) < MIN_PYTHON:
        raise PluginBuildError("%s is Python %d.%d" % (python.path, major, minor))
    return (major, minor, micro), pyc


def build_plugin(python: HostPython, host_root: str, package_dir: str | None = None,
                 ) -> tuple[bytes, str, str]:
    """The plugin executable for the host's ``python``: (file bytes, stamp, how it was built).

    The stamp (a digest of the shebang, the sources and the bytecode's version) is also the
    zip's comment, so ``plugin_up_to_date`` recognises an installed file without rebuilding.
    Preferred: bytecode compiled by the host's Python (``compile_on_host``), as scripts/build
    makes it. If that cannot run, the sources go in instead: the plugin still works, but each
    run compiles what it imports — slower, so the reason is reported.
    """
    shebang = plugin_shebang(python.path)
    sources = plugin_sources(package_dir)
    try:
        version, files = compile_on_host(host_root, python, sources)
        how = "bytecode compiled by the host's Python %d.%d.%d" % version
        kind = "pyc %d.%d" % version[:2]
    except PluginBuildError as e:
        files, how, kind = sources, "sources only (%s); every plugin run compiles them" % e, "py"
    digest = hashlib.sha256(shebang + kind.encode())
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
    stamp = "humanz-cni " + digest.hexdigest()
    return plugin_file(python.path, files, stamp.encode()), stamp, how


def plugin_file(python: str, files: dict[str, bytes], comment: bytes = b"") -> bytes:
    """The plugin file: ``plugin_shebang(python)``, then a deterministic zip of ``files``.

    zipimport finds a zip by its end records, so the line in front of it does not disturb it.
    """
    buf = io.BytesIO()
    buf.write(plugin_shebang(python))
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            _add(zf, name, files[name])
        zf.comment = comment
    return buf.getvalue()


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A deterministic, uncompressed entry (loading it needs no zlib)."""
    info = zipfile.ZipInfo(name, _ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3                   # unix, so that the mode below means something
    info.external_attr = 0o100644 << 16
    zf.writestr(info, data)


def plugin_up_to_date(path: str, stamp: str) -> bool:
    """True when ``path`` is an executable zipapp whose comment is ``stamp``."""
    try:
        if not os.access(path, os.X_OK):
            return False
        with zipfile.ZipFile(path) as zf:
            return zf.comment == stamp.encode()
    except (OSError, zipfile.BadZipFile):
        return False


def conflist(name: str, bridge: str, pod_cidrs: list[Cidr], cluster_cidrs: list[Cidr],
             mtu: int | None = None) -> bytes:
    """The CNI network configuration list for this node, as the plugin's config schema has it.

    One ``humanz-cni`` plugin: the node's bridge as every pod's gateway and default route, the
    node's pod CIDRs as IPAM ranges (one range set per CIDR: one address per family, so two
    CIDRs mean dual-stack), and the cluster CIDR as ``network``. Masquerading is left to the
    agent's nftables table (node-wide), so ``ipMasq`` is not set.
    """
    plugin: dict[str, Any] = {
        "type": "humanz-cni",
        "bridge": bridge,
        "isGateway": True,
        "isDefaultGateway": True,
    }
    if cluster_cidrs:
        plugin["network"] = str(cluster_cidrs[0])
    if mtu:
        plugin["mtu"] = mtu
    plugin["ipam"] = {"type": "humanz",
                      "ranges": [[{"subnet": str(cidr)}] for cidr in pod_cidrs]}
    conf = {"cniVersion": "1.0.0", "name": name, "plugins": [plugin]}
    return (json.dumps(conf, indent=2) + "\n").encode()
