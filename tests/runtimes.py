"""Shared helpers for the real-runtime tests: the plugin under test, cnitool, podman, containerd.

The runtime tests prove that container runtimes nobody here wrote can use the plugin. What they
need is installed by ``scripts/setup-runtimes`` (called by ``scripts/setup-test``): podman,
containerd, runc, and into ``/var/cache/humanz-tests`` cnitool (built offline from Debian's
source package) and a busybox image made locally from Debian's ``busybox-static``.

The plugin under test is chosen by the environment variable ``HUMANZ_TEST_PLUGIN``:

- ``humanz`` (the default): ``scripts/build`` makes the single-file ``humanz-cni`` for
  ``/usr/bin/python3`` (the interpreter nodes run it with) and the runtimes exec that file;
- ``reference``: a development stand-in. ``humanz-cni`` is a two-line shell script that execs
  the reference ``bridge`` plugin (containernetworking-plugins) and the IPAM is ``host-local``.
  It proves the test machinery itself when the humanz plugin is not ready, and shows that a
  runtime treats a plugin of an unknown type name no differently.

Either way runtimes find ``humanz-cni`` in one plugin directory that also links every reference
plugin (portmap, tuning, …), and the network config differs only in the IPAM type.

Isolation. Everything a test makes is named ``hzt…`` and lives in directories under pytest's
``tmp_path``: network configs, plugin directory, IPAM store, podman's configuration, storage
and run directories, containerd's root, state and socket. The few paths that these runtimes
hard-code (cnitool's and ctr's ``/var/lib/cni`` cache, ctr's ``/etc/cni/net.d`` and
``/opt/cni/bin``) are replaced only inside a private mount namespace of the one command, so
the machine's own files are never moved, rewritten or seen by the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Iterator, Sequence

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("HUMANZ_TEST_CACHE", "/var/cache/humanz-tests")
CNITOOL = os.path.join(CACHE, "bin", "cnitool")
BUSYBOX_ROOTFS = os.path.join(CACHE, "busybox-rootfs.tar")
BUSYBOX_IMAGE = os.path.join(CACHE, "busybox-image.tar")
REFERENCE_PLUGINS = "/usr/lib/cni"
NODE_PYTHON = "/usr/bin/python3"
PLUGIN_TYPE = "humanz-cni"
SETUP_HINT = "run scripts/setup-runtimes (scripts/setup-test calls it)"
TIMEOUT = 120            # seconds: the longest any single runtime command may take


# --- running commands ---------------------------------------------------------------------

def run(cmd: Sequence[str], *, check: bool = True, timeout: float = TIMEOUT,
        env: dict[str, str] | None = None, input: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; on failure (when ``check``) fail the test with its whole output."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          env=env, input=input)
    if check and proc.returncode != 0:
        pytest.fail("command failed (exit %d): %s\n--- stdout\n%s\n--- stderr\n%s"
                    % (proc.returncode, " ".join(cmd), proc.stdout, proc.stderr))
    return proc


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("runtime tests need root: they create bridges, namespaces and containers")


def require_executable(path_or_name: str, what: str) -> str:
    """The absolute path of a tool; skip, saying what is missing and how to get it, if absent."""
    found = path_or_name if os.path.isabs(path_or_name) else shutil.which(path_or_name)
    if not found or not os.access(found, os.X_OK):
        pytest.skip("%s not found (%s): %s" % (what, path_or_name, SETUP_HINT))
    return found


def require_file(path: str, what: str) -> str:
    if not os.path.isfile(path):
        pytest.skip("%s not found (%s): %s" % (what, path, SETUP_HINT))
    return path


_subnet_counter = 0


def unique_subnet() -> tuple[str, str]:
    """A /24 inside 100.64.0.0/10 unlikely to be used by another test process right now, and
    its gateway: ``("100.126.X.0/24", "100.126.X.1")``."""
    global _subnet_counter
    _subnet_counter += 1
    third = (os.getpid() * 7 + _subnet_counter * 13) % 256
    return "100.126.%d.0/24" % third, "100.126.%d.1" % third


def unique_subnet6() -> str:
    """A /64 inside fd00::/8 for dual-stack tests, like ``unique_subnet``."""
    global _subnet_counter
    _subnet_counter += 1
    return "fd00:687a:%x:%x::/64" % (os.getpid() & 0xFFFF, _subnet_counter & 0xFFFF)


def in_subnet(address: str, subnet: str) -> bool:
    """True when the IPv4 ``address`` (no prefix) lies in the /24 ``subnet``."""
    return address.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0]


# --- private mounts -----------------------------------------------------------------------

# Bind each (source, target) pair, then exec the command: runs inside a fresh mount namespace
# (``unshare --mount`` or ``ip netns exec``), so the binds vanish with the command.
_BIND_AND_EXEC = 'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$2" || exit 125; ' \
                 'shift 2; n=$((n - 1)); done; exec "$@"'


def with_binds(binds: Sequence[tuple[str, str]], cmd: Sequence[str],
               netns: str | None = None) -> list[str]:
    """``cmd`` wrapped so that it sees each source directory at its target path.

    With ``netns`` the command also runs in that network namespace (``ip netns exec`` already
    gives it a private mount namespace); without, ``unshare --mount`` makes one. Targets must
    exist on the host (see ``OwnedDirs``); they are never changed there.
    """
    prefix = (["ip", "netns", "exec", netns] if netns
              else ["unshare", "--mount", "--propagation", "private", "--"])
    flat = [path for pair in binds for path in pair]
    return prefix + ["sh", "-c", _BIND_AND_EXEC, "sh", str(len(binds))] + flat + list(cmd)


class OwnedDirs:
    """Directories that must exist (as bind-mount targets); those this object creates are
    removed again by ``cleanup`` if still empty, so the host ends as it began. ``watch``
    covers directories a runtime creates by itself (podman's image cache)."""

    __slots__ = ("created", "watched")

    def __init__(self) -> None:
        self.created: list[str] = []
        self.watched: list[tuple[str, frozenset[str]]] = []

    def watch(self, path: str, disposable: Sequence[str]) -> None:
        """If ``path`` does not exist now, remove it at cleanup when it holds nothing but the
        ``disposable`` files (paths relative to it) and directories."""
        if not os.path.exists(path):
            self.watched.append((path, frozenset(disposable)))

    def ensure(self, path: str) -> str:
        missing: list[str] = []
        probe = path
        while not os.path.exists(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            self.created.append(directory)
        return path

    def cleanup(self) -> None:
        """Remove what ``ensure`` created, with any empty directories the test's programs
        left inside it; anything holding a file is left alone (someone else uses it now)."""
        for directory in reversed(self.created):
            if not os.path.isdir(directory):
                continue
            for dirpath, _dirnames, _filenames in os.walk(directory, topdown=False):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        self.created.clear()
        for path, disposable in self.watched:
            files = {os.path.relpath(os.path.join(d, f), path)
                     for d, _dirnames, names in os.walk(path) for f in names}
            if os.path.isdir(path) and files <= disposable:
                shutil.rmtree(path, ignore_errors=True)
        self.watched.clear()


# --- the plugin under test ----------------------------------------------------------------

def plugin_kind() -> str:
    kind = os.environ.get("HUMANZ_TEST_PLUGIN", "humanz")
    if kind not in ("humanz", "reference"):
        raise pytest.UsageError("HUMANZ_TEST_PLUGIN must be 'humanz' or 'reference', not %r"
                                % kind)
    return kind


def build_plugin(out: str, python: str = NODE_PYTHON) -> str:
    """Build the single-file plugin with scripts/build; return its path."""
    run([python, os.path.join(ROOT, "scripts", "build"), "--python", python, "--out", out],
        timeout=300)
    return out


class CniPlugin:
    """The plugin as runtimes see it: ``dir`` is the one directory to give as CNI_PATH (or
    podman's cni_plugin_dirs, or ctr's /opt/cni/bin). It holds ``humanz-cni`` and links to
    every reference plugin."""

    __slots__ = ("kind", "dir", "target")

    def __init__(self, kind: str, directory: str, target: str) -> None:
        self.kind = kind
        self.dir = directory
        self.target = target          # what ``humanz-cni`` runs: the built file or bridge

    @classmethod
    def make(cls, kind: str, directory: str, built: str | None) -> CniPlugin:
        """Fill ``directory``: links to the reference plugins, then ``humanz-cni``."""
        os.makedirs(directory, exist_ok=True)
        for name in sorted(os.listdir(REFERENCE_PLUGINS)):
            os.symlink(os.path.join(REFERENCE_PLUGINS, name), os.path.join(directory, name))
        path = os.path.join(directory, PLUGIN_TYPE)
        if kind == "humanz":
            assert built is not None
            shutil.copy2(built, path)
            target = path
        else:
            target = os.path.join(REFERENCE_PLUGINS, "bridge")
            _write_script(path, 'exec %s "$@"\n' % target)
        return cls(kind, directory, target)

    @property
    def ipam_type(self) -> str:
        return "humanz" if self.kind == "humanz" else "host-local"

    @property
    def has_gc_and_status(self) -> bool:
        """The reference bridge 1.1.1 predates CNI 1.1.0, so it knows neither GC nor STATUS."""
        return self.kind == "humanz"

    def conf(self, *, bridge: str, subnet: str, data_dir: str, log_file: str | None = None,
             subnet6: str | None = None) -> dict[str, Any]:
        """The plugin's entry in a conflist: a gateway bridge, an IPv4 range (and an IPv6 one
        with ``subnet6``), a private store."""
        ranges = [[{"subnet": subnet}]] + ([[{"subnet": subnet6}]] if subnet6 else [])
        conf: dict[str, Any] = {
            "type": PLUGIN_TYPE, "bridge": bridge, "isGateway": True,
            "isDefaultGateway": True,
            "ipam": {"type": self.ipam_type, "ranges": ranges, "dataDir": data_dir},
        }
        if log_file is not None and self.kind == "humanz":
            conf["logFile"] = log_file
        return conf

    def logged(self, directory: str, log: str) -> CniPlugin:
        """A copy of this plugin directory whose ``humanz-cni`` first appends one line per call
        to ``log`` (command, CNI_NETNS, CNI_CONTAINERID, CNI_IFNAME, CNI_ARGS), then execs it:
        the tests use it to see what a runtime really sent."""
        os.makedirs(directory, exist_ok=True)
        for name in sorted(os.listdir(self.dir)):
            if name != PLUGIN_TYPE:
                os.symlink(os.path.join(REFERENCE_PLUGINS, name), os.path.join(directory, name))
        real = os.path.join(directory, "." + PLUGIN_TYPE + ".real")
        shutil.copy2(os.path.join(self.dir, PLUGIN_TYPE), real)
        _write_script(os.path.join(directory, PLUGIN_TYPE),
                      'printf "%%s netns=%%s id=%%s ifname=%%s args=%%s\\n" "$CNI_COMMAND" '
                      '"$CNI_NETNS" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_ARGS" >>%s\n'
                      'exec %s "$@"\n' % (log, real))
        return CniPlugin(self.kind, directory, self.target)


def _write_script(path: str, body: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def read_calls(log: str) -> list[dict[str, str]]:
    """The lines a ``logged`` plugin wrote, as dicts with command, netns, id, ifname, args."""
    calls: list[dict[str, str]] = []
    if not os.path.exists(log):
        return calls
    with open(log, encoding="utf-8") as f:
        for line in f:
            command, _, rest = line.rstrip("\n").partition(" ")
            call = {"command": command}
            for field in rest.split(" "):
                key, _, value = field.partition("=")
                call[key] = value
            calls.append(call)
    return calls


def conflist(name: str, plugins: list[dict[str, Any]], cni_version: str = "1.0.0") -> str:
    return json.dumps({"cniVersion": cni_version, "name": name, "plugins": plugins}, indent=1)


def write_conflist(conf_dir: str, name: str, plugins: list[dict[str, Any]],
                   cni_version: str = "1.0.0") -> str:
    os.makedirs(conf_dir, exist_ok=True)
    path = os.path.join(conf_dir, "10-%s.conflist" % name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(conflist(name, plugins, cni_version))
    return path


# --- the IPAM store -----------------------------------------------------------------------

def store_traces(data_dir: str, container_ids: Sequence[str],
                 addresses: Sequence[str] = ()) -> list[str]:
    """Files under the store that still reserve something for these containers: a file whose
    name is one of ``addresses`` or contains a container ID, or whose content names one.

    Works for host-local's layout and humanz's (which follows it), without knowing either.
    """
    found: list[str] = []
    if not os.path.isdir(data_dir):
        return found
    for dirpath, _dirnames, filenames in os.walk(data_dir):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name in addresses or any(cid in name for cid in container_ids):
                found.append(path)
                continue
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read(65536)
            except OSError:
                continue
            if any(cid in text for cid in container_ids):
                found.append(path)
    return sorted(found)


# --- calling a plugin the way libcni does -------------------------------------------------

def call_plugin(plugin: CniPlugin, command: str, conf: dict[str, Any], *,
                network: str, cni_version: str = "1.1.0",
                extra: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    """Execute ``humanz-cni`` as libcni 1.2 does for GC and STATUS, which cnitool 1.1.2 (the
    one Debian 12 ships) predates: CNI_COMMAND and CNI_PATH set, CNI_CONTAINERID, CNI_NETNS,
    CNI_IFNAME and CNI_ARGS empty; on stdin the plugin's config with the list's ``name`` and
    ``cniVersion`` injected, plus ``extra`` keys (``cni.dev/valid-attachments`` for GC)."""
    stdin = dict(conf, name=network, cniVersion=cni_version)
    stdin.update(extra or {})
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command,
           "CNI_CONTAINERID": "", "CNI_NETNS": "", "CNI_IFNAME": "", "CNI_ARGS": "",
           "CNI_PATH": plugin.dir}
    return run([os.path.join(plugin.dir, PLUGIN_TYPE)], check=False, env=env,
               input=json.dumps(stdin))


# --- cnitool ------------------------------------------------------------------------------

class Cnitool:
    """cnitool (libcni 1.1.2) run inside a "node" network namespace.

    The node namespace plays the host: the bridge, the host ends of the veths and any iptables
    rules (portmap) live there, so deleting it removes all of them even after a crash. The pods
    are other namespaces under /run/netns. cnitool's result cache (/var/lib/cni, hard-coded in
    libcni 1.1.2) is bind-mounted from a private directory.
    """

    __slots__ = ("tool", "node", "conf_dir", "plugin", "cache_dir")

    def __init__(self, tool: str, node: str, conf_dir: str, plugin: CniPlugin,
                 cache_dir: str) -> None:
        self.tool = tool
        self.node = node
        self.conf_dir = conf_dir
        self.plugin = plugin
        self.cache_dir = cache_dir

    def __call__(self, command: str, network: str, pod: str, *, check: bool = True,
                 ifname: str = "eth0", cap_args: dict[str, Any] | None = None,
                 ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": self.conf_dir,
               "CNI_PATH": self.plugin.dir, "CNI_IFNAME": ifname}
        if cap_args is not None:
            env["CAP_ARGS"] = json.dumps(cap_args)
        cmd = with_binds([(self.cache_dir, "/var/lib/cni")],
                         [self.tool, command, network, "/run/netns/" + pod], netns=self.node)
        return run(cmd, check=check, env=env)

    @staticmethod
    def container_id(pod: str) -> str:
        """The container ID cnitool 1.1.2 derives from the netns path (sha512, 10 bytes)."""
        digest = hashlib.sha512(("/run/netns/" + pod).encode()).hexdigest()
        return "cnitool-" + digest[:20]


def pod_address(result_json: str, pod: str, family: int = 4) -> tuple[str, int, str | None]:
    """(address, prefix length, gateway) of the first ``ips`` entry of ``family`` (4 or 6) in
    a CNI result, after checking that its ``interface`` index names the interface in ``pod``."""
    result = json.loads(result_json)
    for ip in result.get("ips", []):
        address, _, plen = ip["address"].partition("/")
        if (":" in address) != (family == 6):
            continue
        index = ip.get("interface")
        assert isinstance(index, int), "ips[].interface missing in %s" % result_json
        iface = result["interfaces"][index]
        assert iface.get("sandbox") == "/run/netns/" + pod, \
            "ips[].interface points at %r, not the pod's interface" % (iface,)
        return address, int(plen), ip.get("gateway")
    raise AssertionError("no IPv%d address in result %s" % (family, result_json))


def ping(netns: str, address: str) -> None:
    """One ping from inside ``netns`` to ``address``; fails the test if unanswered."""
    run(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "3", address], timeout=30)


# --- podman -------------------------------------------------------------------------------

class Podman:
    """podman 4.3 with a private configuration: its own containers.conf (CNI backend, our
    plugin directory and network config directory) and storage.conf (vfs driver). Images and
    containers live under ``base`` (the test's tmp_path); the run-time directories (runroot,
    tmp_dir) under a SHORT directory in /tmp, because podman 4.3 stalls for 20 s after every
    attached ``podman run`` when the path of conmon's attach socket gets too long for a unix
    socket (108 bytes), as it does under pytest's tmp_path. The machine's podman setup is
    never read or changed. ``close`` removes every container and image, then both directories'
    mounts and the short directory."""

    __slots__ = ("base", "run_dir", "tool", "env", "network_dir", "plugin")

    def __init__(self, base: str, plugin: CniPlugin) -> None:
        self.tool = require_executable("podman", "podman")
        self.base = base
        self.plugin = plugin
        self.network_dir = os.path.join(base, "networks")
        os.makedirs(self.network_dir)
        self.run_dir = tempfile.mkdtemp(prefix="hztpm.", dir="/tmp")
        conf = os.path.join(base, "containers.conf")
        storage = os.path.join(base, "storage.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(podman_containers_conf(base, self.run_dir, plugin.dir, self.network_dir))
        with open(storage, "w", encoding="utf-8") as f:
            f.write('[storage]\ndriver = "vfs"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n'
                    % (base, self.run_dir))
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": base,
                    "CONTAINERS_CONF": conf, "CONTAINERS_STORAGE_CONF": storage}

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return run([self.tool] + list(args), check=check, env=self.env, timeout=timeout)

    def close(self) -> None:
        self("rm", "--all", "--force", "--time", "0", check=False)
        self("rmi", "--all", "--force", check=False)
        unmount_under(self.base)
        unmount_under(self.run_dir)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def podman_containers_conf(base: str, run_dir: str, plugin_dir: str, network_dir: str) -> str:
    """containers.conf for a private podman that works on this kind of machine:

    - CNI backend, plugins only from our directory, networks only from ours;
    - cgroupfs (no systemd here), runc (crun fails on the hybrid cgroup layout), events to a
      file (no journald);
    - ulimits no higher than podman can grant: without CAP_SYS_RESOURCE a container may not get
      more than the caller's own nofile, and podman 4.3 lowers its own nproc limit (to 32768
      here) before starting conmon, so asking for the caller's nproc fails with EPERM in runc.
    """
    nofile = min(_soft_limit("RLIMIT_NOFILE"), 65536)
    nproc = min(_soft_limit("RLIMIT_NPROC"), 4096)
    return ('[containers]\n'
            'default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
            '[network]\n'
            'network_backend = "cni"\n'
            'network_config_dir = "%s"\n'
            'cni_plugin_dirs = ["%s"]\n'
            'default_subnet = "100.127.255.0/24"\n'
            '[engine]\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'events_logfile_path = "%s/events.log"\n'
            'runtime = "runc"\n'
            'tmp_dir = "%s/tmp"\n'
            % (nofile, nofile, nproc, nproc, network_dir, plugin_dir, base, run_dir))


def _soft_limit(name: str) -> int:
    import resource
    soft, hard = resource.getrlimit(getattr(resource, name))
    limits = [x for x in (soft, hard) if x != resource.RLIM_INFINITY]
    return min(limits) if limits else 1 << 20


def unmount_under(base: str) -> None:
    """Lazily unmount anything still mounted below ``base`` (deepest first)."""
    base = os.path.realpath(base) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted((p for p in points if p.startswith(base)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


# --- containerd ---------------------------------------------------------------------------

class Containerd:
    """A containerd 1.6 of our own: root, state, gRPC and ttrpc sockets under ``base``, the CRI
    plugin off (ctr does not need it). ``ctr`` talks to it through ``address``.

    containerd 1.6 still creates a few paths under /run/containerd that no option moves (the
    shim sockets in /run/containerd/s, and — unless ctr is given --fifo-dir / --runc-root —
    fifo/ and runc/); ``stop`` removes the ones this instance created when they are empty.
    """

    __slots__ = ("base", "address", "proc", "log", "run_dirs")

    def __init__(self, base: str) -> None:
        self.base = base
        self.address = os.path.join(base, "containerd.sock")
        self.log = os.path.join(base, "containerd.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.run_dirs = OwnedDirs()

    def start(self) -> None:
        binary = require_executable("containerd", "containerd")
        config = os.path.join(self.base, "config.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                    '[debug]\n  address = ""\n'
                    % (self.base, self.base, self.address, self.address))
        self.run_dirs.ensure("/run/containerd/s")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([binary, "--config", config], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(100):                      # up to ~10 s for the socket to answer
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.address) and self.ctr("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        with open(self.log, encoding="utf-8", errors="replace") as f:
            pytest.fail("containerd did not start:\n" + f.read()[-3000:])

    def ctr(self, *args: str, check: bool = True, namespace: str = "default",
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return run(["ctr", "--address", self.address, "--namespace", namespace] + list(args),
                   check=check, timeout=timeout)

    def ctr_argv(self, namespace: str, *args: str) -> list[str]:
        return ["ctr", "--address", self.address, "--namespace", namespace] + list(args)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None
        unmount_under(self.base)
        self.run_dirs.cleanup()


# --- fixtures (imported by the runtime test modules) --------------------------------------

@pytest.fixture(scope="session")
def cni_plugin(tmp_path_factory: pytest.TempPathFactory) -> CniPlugin:
    """The plugin under test (see HUMANZ_TEST_PLUGIN), built once, in its plugin directory."""
    require_root()
    kind = plugin_kind()
    base = tmp_path_factory.mktemp("plugin")
    built = None
    if kind == "humanz":
        built = build_plugin(str(base / "dist" / PLUGIN_TYPE))
    return CniPlugin.make(kind, str(base / "bin"), built)


@pytest.fixture
def owned_dirs() -> Iterator[OwnedDirs]:
    """Directories a test needs to exist on the host, removed again if it created them."""
    dirs = OwnedDirs()
    yield dirs
    dirs.cleanup()
