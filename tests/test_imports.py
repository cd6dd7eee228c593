"""Start-up budget: pin which modules each plugin command imports.

The plugin is exec'd once per pod, so every import is latency (docs/architecture.md). The
plugin runs with ``-X importtime``, whose report on stderr names every module imported;
VERSION must load only the skeleton, ADD and DEL only the modules on their path, and none of
them the expensive standard modules listed in FORBIDDEN.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from plugin_harness import REPO, TIMEOUT, Node, netns_path, node  # noqa: F401

FORBIDDEN = {"typing", "dataclasses", "logging", "argparse", "re", "ipaddress", "threading",
             "socket", "enum", "json", "subprocess", "traceback", "selectors", "tempfile",
             "shutil", "inspect", "asyncio"}

VERSION_MODULES = {"humanz", "humanz.cni", "humanz.cni.errors", "humanz.cni.version",
                   "humanz.cni.skel"}

# Everything an ADD or DEL with the built-in IPAM may load from humanz.
PLUGIN_MODULES = VERSION_MODULES | {
    "humanz.__main__", "humanz.bridge", "humanz.log", "humanz.cni.jsonlite",
    "humanz.cni.config", "humanz.cni.args", "humanz.cni.result",
    "humanz.ipam", "humanz.ipam.addr", "humanz.ipam.errors", "humanz.ipam.ranges",
    "humanz.ipam.store", "humanz.ipam.allocator",
    "humanz.netlink", "humanz.netlink.uapi", "humanz.netlink.netns", "humanz.netlink.errors",
    "humanz.netlink.codec", "humanz.netlink.nlsocket", "humanz.netlink.rtnl"}

# Exactly what a DEL with the built-in IPAM loads: no result types (nothing to print), no
# range parsing or address arithmetic (it releases by name), no CHECK/GC/STATUS code.
DEL_MODULES = VERSION_MODULES | {
    "humanz.bridge", "humanz.log", "humanz.cni.jsonlite",
    "humanz.cni.config", "humanz.cni.args",
    "humanz.ipam", "humanz.ipam.errors", "humanz.ipam.store", "humanz.ipam.allocator",
    "humanz.netlink", "humanz.netlink.uapi", "humanz.netlink.netns", "humanz.netlink.errors",
    "humanz.netlink.codec", "humanz.netlink.nlsocket", "humanz.netlink.rtnl"}

# Python < 3.12 has no os.setns: humanz.netlink.netns then binds libc's through _ctypes (the
# C half only: the ctypes package itself is never imported).
ALLOWED_EXTRA = set() if sys.version_info >= (3, 12) else {"_ctypes"}


def imported(command: str, conf: object, node: Node | None = None,
             ns: str = "") -> dict[str, str]:
    """Run the plugin with -X importtime: every module it imported → its importer's name."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "cid-" + ns, "CNI_IFNAME": "eth0",
           "CNI_NETNS": netns_path(ns) if ns else "dummy", "CNI_PATH": "/usr/lib/cni",
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    cmd = [sys.executable, "-S", "-X", "importtime", "-m", "humanz"]
    if node is not None:
        cmd = ["ip", "netns", "exec", node.hostns] + cmd
    proc = subprocess.run(cmd, input=json.dumps(conf).encode(), capture_output=True, env=env,
                          cwd=str(REPO), timeout=TIMEOUT)
    assert proc.returncode == 0, proc
    modules: dict[str, str] = {}
    pending: list[tuple[int, str]] = []  # (depth, name) of modules whose importer is unknown
    for line in proc.stderr.decode().splitlines():
        assert line.startswith("import time:"), line  # the plugin itself is silent
        field = line.rsplit("|", 1)[1]
        name = field.strip()
        if name == "package":  # the header line
            continue
        depth = len(field) - len(field.lstrip())
        # -X importtime prints a module after the ones it imported, indented one level less
        while pending and pending[-1][0] > depth:
            modules[pending.pop()[1]] = name
        pending.append((depth, name))
        modules.setdefault(name, "")
    return modules


def _check(modules: dict[str, str], allowed_humanz: set[str]) -> None:
    ours = {m for m in modules if m == "humanz" or m.startswith("humanz.")}
    assert ours <= allowed_humanz, "unexpected humanz modules: %s" % sorted(ours - allowed_humanz)
    # Only what humanz pulls in counts: Python 3.9's runpy (behind -m) imports typing itself.
    heavy = {m: _humanz_importer(modules, m) for m in modules
             if m.split(".")[0] in FORBIDDEN | {"ctypes"} and m not in ALLOWED_EXTRA}
    culprits = sorted("%s (imported by %s)" % (m, by) for m, by in heavy.items() if by)
    assert not culprits, "expensive modules imported: %s" % ", ".join(culprits)


def _humanz_importer(modules: dict[str, str], name: str) -> str:
    """The humanz module whose import led to ``name``, or "" if none did."""
    for _ in range(100):
        name = modules.get(name, "")
        if not name or name.startswith("humanz"):
            return name
    return ""


def test_version_imports_only_the_skeleton() -> None:
    modules = imported("VERSION", {"cniVersion": "1.1.0"})
    ours = {m for m in modules if m.startswith("humanz")}
    assert ours == VERSION_MODULES | {"humanz.__main__"} or ours == VERSION_MODULES
    _check(modules, VERSION_MODULES | {"humanz.__main__"})


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_add_and_del_import_only_their_path(node: Node, command: str) -> None:
    ns = node.make_netns()
    conf = node.conf()
    if command == "DEL":
        node.add(conf, ns)
    modules = imported(command, conf, node, ns)
    assert "humanz.bridge" in modules and "humanz.cni.delegate" not in modules
    _check(modules, PLUGIN_MODULES)
    if command == "DEL":
        # the host's socket deletes the veth by netnsid: no thread enters the container, so
        # not even _ctypes (Python < 3.12's setns) is loaded
        assert {m for m in modules if m.startswith("humanz")} == DEL_MODULES
        assert "_ctypes" not in modules
