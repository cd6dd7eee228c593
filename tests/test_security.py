"""Security properties of the plugin, each checked against the real thing.

- Files: the store's directories are 0700 and its files 0600, owned by root, whatever the
  caller's umask; the log file is 0600 and no directory the plugin creates is world-writable.
- Paths: network names, container IDs and interface names never reach the file system
  unchecked: names are refused (tests/test_torture_badinput.py) or escaped into one file name
  inside the store; every file a hostile-but-valid input creates stays inside the store. The
  data directory, log file and resolv.conf come from the network config, which only root can
  write (/etc/cni/net.d): trusted like the plugin binary, and checked to be absolute.
- CNI_NETNS must be a network namespace (nsfs, CLONE_NEWNET): other namespace types, files,
  FIFOs are refused without being opened for I/O; the plugin's own namespace, under any
  alias, is refused unless the runtime sets CNI_NETNS_OVERRIDE.
- No shell: no module of the plugin spawns a process except delegate.py, which posix_spawns
  the IPAM plugin with argv [path] (input never in an argv or a command line); an audit hook
  in the real plugin process proves which spawns happen on every command.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from humanz.ipam import allocator
from humanz.ipam.ranges import Range
from plugin_harness import PLUGIN, REPO, TIMEOUT, Node, netns_path
from torture_kit import Sandbox, container_ifaces, host_state, settle

PLUGIN_MODULES = sorted(p for p in (REPO / "humanz").rglob("*.py")
                        if "agent" not in p.relative_to(REPO / "humanz").parts)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def node(box: Sandbox) -> Node:
    return box.node()


def _run(node: Node, command: str, conf: Any, ns: str, *, umask: str | None = None,
         python: list[str] | None = None, cni_path: str = "/usr/lib/cni",
         extra: dict[str, str] | None = None) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
           "CNI_CONTAINERID": "cid-" + ns, "CNI_NETNS": netns_path(ns), "CNI_IFNAME": "eth0",
           "CNI_PATH": cni_path, "PYTHONPATH": str(REPO)}
    env.update(extra or {})
    cmd = python or PLUGIN
    if umask is not None:
        cmd = ["sh", "-c", 'umask %s && exec "$@"' % umask, "sh"] + cmd
    proc = subprocess.run(["ip", "netns", "exec", node.hostns] + cmd,
                          input=json.dumps(conf).encode(), capture_output=True, env=env,
                          cwd=str(REPO), timeout=TIMEOUT)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


# ---- file modes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", ["000", "022", "077"])
def test_store_and_log_modes_whatever_the_umask(node: Node, umask: str) -> None:
    node.data_dir = str(node.tmp / "a" / "b" / "data")  # three directories to create
    node.log_file = str(node.tmp / "logs" / "deeper" / "humanz.log")
    conf = node.conf(version="1.1.0")
    ns = node.make_netns()
    rc, out, err = _run(node, "ADD", conf, ns, umask=umask)
    assert rc == 0 and err == "", out
    for directory in (node.tmp / "a", node.tmp / "a" / "b", Path(node.data_dir),
                      Path(node.data_dir) / node.network,
                      Path(node.data_dir) / node.network / "attachments"):
        st = os.stat(directory)
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o700, 0), directory
    files = [p for p in Path(node.data_dir).rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"lock", "100.64.1.2", "last_reserved_ip.0"}
    for path in files:
        st = os.stat(path)
        assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0), path
    log = os.stat(node.log_file)
    assert stat.S_IMODE(log.st_mode) == 0o600 and log.st_uid == 0
    for directory in (Path(node.log_file).parent, Path(node.log_file).parent.parent):
        assert not os.stat(directory).st_mode & stat.S_IWOTH, directory
    assert _run(node, "DEL", conf, ns)[0] == 0


def test_default_locations_of_the_seed_config(node: Node) -> None:
    """The seed's config names no dataDir or logFile: /run/humanz/networks and
    /var/log/humanz-cni.log, here bind-mounted from test directories in a private mount
    namespace."""
    run_dir, log_dir = node.tmp / "run", node.tmp / "log"
    run_dir.mkdir()
    log_dir.mkdir()
    seed = {"cniVersion": "0.3.1", "name": node.network, "type": "humanz-cni",
            "bridge": node.bridge, "network": "100.64.0.0/16", "subnet": "100.64.7.0/24"}
    ns = node.make_netns()
    dirs = {"/run/humanz": str(run_dir), "/var/log": str(log_dir)}
    out = node.run("ADD", seed, cid="cid-" + ns, netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out
    for directory in (run_dir / "networks", run_dir / "networks" / node.network):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
    assert stat.S_IMODE(os.stat(log_dir / "humanz-cni.log").st_mode) == 0o600
    out = node.run("DEL", seed, cid="cid-" + ns, netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out


# ---- paths from input ---------------------------------------------------------------------------

HOSTILE_IDS = ["../../../etc/evil", "/abs/path", "a/b", ".", "..", "...", "-rf", "a\x01b",
               "%2e%2e%2f", "attachments", "lock", ".tmp.1", "last_reserved_ip.0", " ",
               "é" * 20, "x" * 120]


def test_hostile_ids_stay_inside_the_store(tmp_path: Path) -> None:
    """The IPAM library takes any container ID and ifname (the plugin refuses most of these
    earlier): each becomes one escaped file name under attachments/, nothing else appears
    anywhere, and release finds it again."""
    data = tmp_path / "data"
    sets = [[Range.parse("100.64.50.0/24")]]
    for i, cid in enumerate(HOSTILE_IDS):
        ifname = HOSTILE_IDS[-1 - i]
        allocator.allocate(str(data), "net", sets, cid, ifname)
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    records = [p for p in created if p.startswith("data/net/attachments/")]
    assert len(records) == len(HOSTILE_IDS)
    assert all(p.count("/") == 3 for p in records), records
    others = set(created) - set(records)
    assert others == {"data", "data/net", "data/net/attachments", "data/net/lock", "data/net/tmp",
                      "data/net/last_reserved_ip.0"} | {
        "data/net/100.64.50.%d" % (i + 2) for i in range(len(HOSTILE_IDS))}
    for i, cid in enumerate(HOSTILE_IDS):
        assert allocator.release(str(data), "net", cid, HOSTILE_IDS[-1 - i]) == [
            "100.64.50.%d" % (i + 2)]
    assert os.listdir(data / "net" / "attachments") == []


@pytest.mark.parametrize("ifname", ["...", "a..b", "e" * 15, "-x", "é"])
def test_odd_but_valid_ifnames_work_and_stay_in_their_place(node: Node, ifname: str) -> None:
    """Names Linux accepts that look like paths or options: ADD works, the arp_notify sysctl
    lands on that interface's own directory, DEL cleans up, no stray file appears."""
    conf = node.conf()
    ns = node.make_netns()
    before = sorted(str(p) for p in node.tmp.rglob("*"))
    node.add(conf, ns, ifname=ifname)
    assert ifname in container_ifaces(ns)
    notify = subprocess.run(["ip", "netns", "exec", ns, "cat",
                             "/proc/sys/net/ipv4/conf/%s/arp_notify" % ifname],
                            capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()
    assert notify == "1"
    assert node.delete(conf, ns, ifname=ifname).rc == 0
    assert container_ifaces(ns) == ["lo"] and node.reservations() == []
    after = sorted(str(p) for p in node.tmp.rglob("*"))
    assert set(after) - set(before) <= {node.data_dir, node.log_file} | {
        str(p) for p in Path(node.data_dir).rglob("*")}


# ---- CNI_NETNS ----------------------------------------------------------------------------------

NOT_NET = ["mnt", "uts", "ipc", "pid", "user", "cgroup", "time"]


@pytest.mark.parametrize("kind", NOT_NET)
def test_other_namespace_types_are_refused(node: Node, kind: str) -> None:
    path = "/proc/self/ns/" + kind
    if not os.path.exists(path):
        pytest.fail("kernel without %s namespaces" % kind)
    conf = node.conf()
    node.add(conf, node.make_netns())
    settle(node)
    before = host_state(node)
    checks: list[tuple[str, dict[str, Any]]] = [("ADD", {}), ("CHECK", {"prevResult": {}})]
    for command, extra in checks:
        out = node.run(command, dict(conf, **extra), cid="cid-x", netns=path)
        assert out.code == 4 and "not a network namespace" in out.data["msg"], out
    out = node.run("DEL", conf, cid="cid-x", netns=path)  # nothing to delete there: fine
    assert (out.rc, out.out) == (0, ""), out
    assert host_state(node) == before


def test_host_namespace_under_another_name_is_refused(node: Node, tmp_path: Path) -> None:
    """A bind mount of the plugin's own namespace at an innocent path: same inode, refused
    on ADD and CHECK; accepted only with CNI_NETNS_OVERRIDE."""
    alias = tmp_path / "innocent"
    alias.write_text("")
    subprocess.run(["mount", "--bind", netns_path(node.hostns), str(alias)], check=True,
                   timeout=TIMEOUT)
    try:
        conf = node.conf()
        checks: list[tuple[str, dict[str, Any]]] = [("ADD", {}),
                                                    ("CHECK", {"prevResult": {}})]
        for command, extra in checks:
            out = node.run(command, dict(conf, **extra), cid="cid-h", netns=str(alias),
                           ifname="hztc0")
            assert out.code == 4 and "own network namespace" in out.data["msg"], out
            assert "CNI_NETNS_OVERRIDE" in out.data["details"]
        assert "hztc0" not in [l["ifname"] for l in node.ip_json("link", "show")]
        override = {"CNI_NETNS_OVERRIDE": "1"}
        out = node.run("ADD", conf, cid="cid-h", netns=str(alias), ifname="hztc0", env=override)
        assert out.rc == 0, out
        out = node.run("DEL", conf, cid="cid-h", netns=str(alias), ifname="hztc0", env=override)
        assert out.rc == 0 and node.reservations() == [], out
    finally:
        subprocess.run(["umount", str(alias)], capture_output=True, timeout=TIMEOUT)


# ---- no shell -----------------------------------------------------------------------------------

SPAWNERS = ("subprocess", "os.system", "os.popen", "posix_spawn", "os.exec", "os.fork",
            "os.spawn", "pty.", "shell=True", "/bin/sh", "commands.")


def test_only_delegate_spawns_and_only_with_an_argv_list() -> None:
    found = {}
    for path in PLUGIN_MODULES:
        text = path.read_text()
        hits = sorted(s for s in SPAWNERS if s in text)
        if hits:
            found[str(path.relative_to(REPO))] = hits
    assert found == {"humanz/cni/delegate.py": ["posix_spawn"]}
    source = (REPO / "humanz/cni/delegate.py").read_text()
    spawns = [line.strip() for line in source.splitlines() if "os.posix_spawn(" in line]
    assert spawns == ["pid = os.posix_spawn(exe, [exe], env, file_actions=["]
    for path in (REPO / "humanz").rglob("*.py"):  # the agent too: never a shell
        text = path.read_text()
        assert "shell=True" not in text and "os.system(" not in text \
            and "os.popen(" not in text, path


AUDITED = ("import sys\n"
           "log = open(sys.argv.pop(1), 'a')\n"
           "WATCH = ('os.system', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.fork',\n"
           "         'os.forkpty', 'subprocess.Popen', 'pty.spawn')\n"
           "def hook(event, args):\n"
           "    if event in WATCH:\n"
           "        log.write(repr((event, [str(a) for a in args[:2]])) + '\\n')\n"
           "        log.flush()\n"
           "sys.addaudithook(hook)\n"
           "from humanz.cni.skel import main\n"
           "sys.exit(main())\n")


def _audited(node: Node, tmp: Path, command: str, conf: Any, ns: str,
             cni_path: str = "/usr/lib/cni") -> list[tuple[str, list[str]]]:
    events = tmp / ("events-" + command)
    python = [sys.executable, "-S", "-c", AUDITED, str(events)]
    rc, out, err = _run(node, command, conf, ns, python=python, cni_path=cni_path)
    assert rc == 0 and err == "", (command, out, err)
    if not events.exists():
        return []
    from ast import literal_eval
    return [literal_eval(line) for line in events.read_text().splitlines()]


def test_builtin_ipam_spawns_nothing_on_any_command(node: Node, tmp_path: Path) -> None:
    conf = node.conf(version="1.1.0")
    ns = node.make_netns()
    rc, out, err = _run(node, "ADD", conf, ns)
    assert rc == 0, out
    prev = dict(conf, prevResult=json.loads(out))
    assert _audited(node, tmp_path, "CHECK", prev, ns) == []
    assert _audited(node, tmp_path, "STATUS", conf, ns) == []
    assert _audited(node, tmp_path, "DEL", conf, ns) == []
    assert _audited(node, tmp_path, "GC", conf, ns) == []
    assert _audited(node, tmp_path, "ADD", conf, ns) == []
    assert _run(node, "DEL", conf, ns)[0] == 0


def test_delegate_with_shell_metacharacters_is_exec_d_literally(node: Node,
                                                                 tmp_path: Path) -> None:
    """An IPAM plugin whose name is full of shell syntax is found in CNI_PATH and run by
    path with argv [path]: the metacharacters never meet a shell."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    name = "hzt;touch $(echo pwned)`id`|x&&y"
    fake = plugins / name
    fake.write_text("#!/bin/sh\n"
                    "echo \"$#:$0\" >> %s/argv\n"
                    "case $CNI_COMMAND in ADD) printf '%%s' '{\"cniVersion\":\"1.0.0\","
                    "\"ips\":[{\"address\":\"100.64.60.5/24\"}]}';; esac\n" % tmp_path)
    fake.chmod(0o755)
    conf = node.conf()
    conf["ipam"] = {"type": name}
    ns = node.make_netns()
    events = _audited(node, tmp_path, "ADD", conf, ns, cni_path=str(plugins))
    assert events == [("os.posix_spawn", [str(fake), str([str(fake)])])]
    assert _audited(node, tmp_path, "DEL", conf, ns, cni_path=str(plugins)) == [
        ("os.posix_spawn", [str(fake), str([str(fake)])])]
    assert (tmp_path / "argv").read_text().splitlines() == ["0:%s" % fake] * 2
    assert not list(Path(os.getcwd()).glob("pwned*")) and not (REPO / "pwned").exists()
    assert container_ifaces(ns) == ["lo"]
