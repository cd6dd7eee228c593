"""The agent's decisions (desired routes, route plans) and its host files, with a fake Rtnl.

Nothing here touches the kernel's routing tables: routes go to ``FakeRtnl``, which behaves like
the kernel for what the reconciler does (replace vs. exclusive add, delete of a missing route →
ESRCH). Files go to temporary directories that stand in for /etc/cni/net.d, /opt/cni/bin and
the host root. The plugin file is really built and really run with the host's Python.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from humanz.agent import hostfiles
from humanz.agent.model import Node, parse_cidr
from humanz.agent.reconcile import (RT_TABLE_MAIN, RTPROT_HUMANZ, Reconciler, Settings,
                                    desired_routes, plan_routes)
from humanz.cni import args as cni_args
from humanz.cni import config as cni_config


def node(name: str, cidrs: list[str], ips: list[str]) -> Node:
    return Node(name, [parse_cidr(c) for c in cidrs], ips)


class FakeRoute:
    def __init__(self, family: int, dst: str | None, dst_len: int, gateway: str | None,
                 protocol: int = RTPROT_HUMANZ, table: int = RT_TABLE_MAIN) -> None:
        self.family, self.dst, self.dst_len, self.gateway = family, dst, dst_len, gateway
        self.protocol, self.table = protocol, table

    def key(self) -> tuple[int, str | None, int, int]:
        return self.family, self.dst, self.dst_len, self.table

    def __repr__(self) -> str:
        return "%s/%d via %s proto %d" % (self.dst, self.dst_len, self.gateway, self.protocol)


class FakeRtnl:
    """The route part of humanz.netlink.rtnl.Rtnl, kernel-like, with injectable failures."""

    def __init__(self, routes: list[FakeRoute] | None = None) -> None:
        self.table: list[FakeRoute] = list(routes or [])
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, int] = {}          # "add 100.96.2.0" → errno

    def routes(self, family: int | None = None, table: int | None = None) -> list[FakeRoute]:
        return list(self.table)

    def route_add(self, dst: str | None, prefixlen: int = 0, *, gateway: str | None = None,
                  protocol: int | None = None, family: int | None = None,
                  replace: bool = False) -> None:
        self.calls.append(("add", dst, prefixlen, gateway, protocol, family, replace))
        if "add " + str(dst) in self.fail:
            raise OSError(self.fail["add " + str(dst)], "injected")
        assert family in (4, 6)
        new = FakeRoute(family, dst, prefixlen, gateway, protocol or 3)
        same = [r for r in self.table if r.key() == new.key()]
        if same and not replace:
            raise OSError(errno.EEXIST, "File exists")
        self.table = [r for r in self.table if r.key() != new.key()] + [new]

    def route_del(self, dst: str | None, prefixlen: int = 0, *, gateway: str | None = None,
                  family: int | None = None) -> None:
        self.calls.append(("del", dst, prefixlen, gateway, family))
        match = [r for r in self.table if (r.family, r.dst, r.dst_len) == (family, dst, prefixlen)
                 and (gateway is None or r.gateway == gateway)]
        if not match:
            raise OSError(errno.ESRCH, "No such process")
        self.table.remove(match[0])

    def state(self) -> set[tuple[str | None, int, str | None, int]]:
        return {(r.dst, r.dst_len, r.gateway, r.protocol) for r in self.table}


NODES = [
    node("n1", ["100.96.1.0/24", "fd00:96:1::/64"], ["100.64.0.1", "fd00:64::1"]),
    node("n2", ["100.96.2.0/24", "fd00:96:2::/64"], ["100.64.0.2", "fd00:64::2"]),
    node("n3", ["100.96.3.0/24"], ["100.64.0.3"]),
]


# -- desired_routes ------------------------------------------------------------------------------

def test_routes_to_every_other_node_per_family() -> None:
    routes, notes = desired_routes("n1", NODES)
    assert routes == {
        (4, "100.96.2.0", 24): ("100.64.0.2", "n2"),
        (6, "fd00:96:2::", 64): ("fd00:64::2", "n2"),
        (4, "100.96.3.0", 24): ("100.64.0.3", "n3"),
    }
    assert notes == []


def test_nodes_that_cannot_be_routed_are_notes_not_errors() -> None:
    nodes = NODES + [node("early", [], ["100.64.0.9"]),
                     node("v4only", ["fd00:96:7::/64"], ["100.64.0.7"]),
                     node("thief", ["100.96.1.0/24"], ["100.64.0.8"]),
                     node("twin", ["100.96.3.0/24"], ["100.64.0.6"])]
    routes, notes = desired_routes("n1", nodes)
    assert routes[(4, "100.96.3.0", 24)] == ("100.64.0.3", "n3")      # first claim (by name) wins
    assert (4, "100.96.1.0", 24) not in routes                         # never route our own CIDR
    assert notes == [
        "node early has no podCIDR yet; no route to it",
        "node thief claims this node's pod CIDR 100.96.1.0/24; ignored",
        "nodes n3 and twin both claim pod CIDR 100.96.3.0/24; routing to n3",
        "node v4only has no IPv6 InternalIP; no route to its fd00:96:7::/64",
    ]


# -- plan_routes ---------------------------------------------------------------------------------

def test_plan_adds_missing_keeps_matching_and_ignores_foreign_routes() -> None:
    wanted, _ = desired_routes("n1", NODES)
    current = [
        FakeRoute(4, "100.96.2.0", 24, "100.64.0.2"),                   # ours, right: kept
        FakeRoute(4, "100.96.9.0", 24, "100.64.0.9", protocol=4),       # static: not ours
        FakeRoute(4, "100.96.8.0", 24, "100.64.0.8", table=100),        # other table: not ours
        FakeRoute(4, None, 0, "100.64.0.254", protocol=3),              # default route
    ]
    plan = plan_routes(current, wanted)
    assert [a.key() for a in plan] == [
        ("add", 4, "100.96.3.0", 24, "100.64.0.3"),
        ("add", 6, "fd00:96:2::", 64, "fd00:64::2"),
    ]


def test_plan_deletes_routes_of_departed_or_moved_nodes_first() -> None:
    wanted, _ = desired_routes("n1", NODES)
    current = [
        FakeRoute(4, "100.96.2.0", 24, "100.64.0.22"),      # n2's address changed
        FakeRoute(4, "100.96.5.0", 24, "100.64.0.5"),       # node gone
        FakeRoute(4, "100.96.3.0", 24, "100.64.0.3"),
        FakeRoute(4, "100.96.3.0", 24, "100.64.0.3"),       # a duplicate (multipath leftovers)
    ]
    plan = plan_routes(current, wanted)
    assert [a.key() for a in plan] == [
        ("del", 4, "100.96.2.0", 24, "100.64.0.22"),
        ("del", 4, "100.96.5.0", 24, "100.64.0.5"),
        ("del", 4, "100.96.3.0", 24, "100.64.0.3"),
        ("add", 4, "100.96.2.0", 24, "100.64.0.2"),
        ("add", 6, "fd00:96:2::", 64, "fd00:64::2"),
    ]
    assert "node n2 is now via 100.64.0.2" == plan[0].reason


# -- host files ----------------------------------------------------------------------------------

def fake_host_root(root: Path, version: str = "3.11", layout: str = "debian") -> Path:
    """A directory shaped like a host's root with a python3 in it (never executed)."""
    usr = root / "usr"
    (usr / "bin").mkdir(parents=True, exist_ok=True)
    lib = usr / ("lib64" if layout == "fedora" else "lib") / ("python" + version)
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "os.py").write_text("")
    binary = usr / "bin" / ("python" + version)
    binary.write_text("")
    binary.chmod(0o755)
    if layout == "absolute-link":
        os.symlink("/usr/bin/python" + version, usr / "bin" / "python3")
    elif layout == "plain-binary":
        binary.rename(usr / "bin" / "python3")
    else:
        os.symlink("python" + version, usr / "bin" / "python3")
    return root


@pytest.mark.parametrize("layout", ["debian", "fedora", "absolute-link", "plain-binary"])
def test_find_host_python_reads_the_version_from_the_file_system(tmp_path: Path,
                                                                 layout: str) -> None:
    root = fake_host_root(tmp_path, "3.12", layout)
    found, reasons = hostfiles.find_host_python(str(root))
    assert found is not None
    assert (found.path, found.version) == ("/usr/bin/python3", (3, 12))
    assert reasons == []


def test_find_host_python_refuses_old_or_missing_pythons(tmp_path: Path) -> None:
    root = fake_host_root(tmp_path, "3.8")
    found, reasons = hostfiles.find_host_python(str(root))
    assert found is None
    assert reasons[0] == "/usr/bin/python3: Python 3.8 is older than 3.9"
    assert reasons[1] == "/usr/local/bin/python3: absent"
    empty, reasons = hostfiles.find_host_python(str(tmp_path / "nothing"))
    assert empty is None and len(reasons) == len(hostfiles.PYTHON_CANDIDATES)


def test_atomic_write_replaces_and_skips_identical_content(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert hostfiles.atomic_write(str(path), b"one", 0o644)
    inode = path.stat().st_ino
    assert not hostfiles.atomic_write(str(path), b"one", 0o644)
    assert path.stat().st_ino == inode
    assert hostfiles.atomic_write(str(path), b"two", 0o755)
    assert path.read_bytes() == b"two" and path.stat().st_ino != inode
    assert path.stat().st_mode & 0o777 == 0o755
    assert os.listdir(tmp_path) == ["f"]               # no temporary file left behind


def test_conflist_is_what_the_plugin_parses(tmp_path: Path) -> None:
    data = hostfiles.conflist("humanz", "humanz0",
                              [parse_cidr("100.96.1.0/24"), parse_cidr("fd00:96:1::/64")],
                              [parse_cidr("100.96.0.0/16"), parse_cidr("fd00:96::/48")], 1450)
    conf = json.loads(data)
    assert conf == {"cniVersion": "1.0.0", "name": "humanz", "plugins": [{
        "type": "humanz-cni", "bridge": "humanz0", "isGateway": True, "isDefaultGateway": True,
        "network": "100.96.0.0/16", "mtu": 1450,
        "ipam": {"type": "humanz", "ranges": [[{"subnet": "100.96.1.0/24"}],
                                              [{"subnet": "fd00:96:1::/64"}]]}}]}
    # libcni hands each plugin its entry with the list's name and cniVersion filled in
    raw = dict(conf["plugins"][0], name=conf["name"], cniVersion=conf["cniVersion"])
    parsed = cni_config.parse(raw, "1.0.0", "ADD", cni_args.parse(""))
    assert parsed.bridge == "humanz0" and parsed.is_default_gateway
    assert [[r.subnet_text() for r in s] for s in parsed.ipam.range_sets] == [
        ["100.96.1.0/24"], ["fd00:96:1::/64"]]


def test_plugin_built_for_the_hosts_python_runs(tmp_path: Path) -> None:
    python = hostfiles.HostPython("/usr/bin/python3", (3, 11))
    data, stamp, how = hostfiles.build_plugin(python, "/")
    assert how.startswith("bytecode compiled by the host's Python 3.")
    assert data.startswith(b"#!/usr/bin/python3 -ISc")
    again, stamp_again, _ = hostfiles.build_plugin(python, "/")
    assert (again, stamp_again) == (data, stamp)        # deterministic: no reinstall churn
    path = tmp_path / "humanz-cni"
    hostfiles.atomic_write(str(path), data, 0o755)
    assert hostfiles.plugin_up_to_date(str(path), stamp)
    assert not hostfiles.plugin_up_to_date(str(path), "humanz-cni other")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "__main__.pyc" in names and "humanz/bridge.pyc" in names
    assert not any(n.startswith("humanz/agent/") or n.endswith(".py") for n in names)
    proc = subprocess.run([str(path)], input='{"cniVersion":"1.0.0"}', text=True,
                          capture_output=True, timeout=60,
                          env={"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "1.0.0" in json.loads(proc.stdout)["supportedVersions"]


def test_plugin_falls_back_to_sources_when_the_host_python_cannot_run(tmp_path: Path) -> None:
    root = fake_host_root(tmp_path / "root", "3.11")       # an empty file: cannot execute
    data, _, how = hostfiles.build_plugin(hostfiles.HostPython("/usr/bin/python3", (3, 11)),
                                          str(root))
    assert how.startswith("sources only (")
    path = tmp_path / "humanz-cni"
    path.write_bytes(data.replace(b"#!/usr/bin/python3 -IS", b"#!%s -IS" % sys.executable.encode(), 1))
    path.chmod(0o755)
    proc = subprocess.run([str(path)], input='{"cniVersion":"1.0.0"}', text=True,
                          capture_output=True, timeout=60, env={"CNI_COMMAND": "VERSION"})
    assert proc.returncode == 0, proc.stderr
    assert "1.0.0" in json.loads(proc.stdout)["supportedVersions"]


# -- the Reconciler ------------------------------------------------------------------------------

def fake_build(python: hostfiles.HostPython, host_root: str) -> tuple[bytes, str, str]:
    """build_plugin stand-in: a tiny valid zip (fast), with the stamp as its comment."""
    stamp = "humanz-cni fake-%s" % python.path
    buf = Path(host_root) / ".." / "fake.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__main__.py", "")
        zf.comment = stamp.encode()
    return b"#!" + python.path.encode() + b" -IS\n" + buf.read_bytes(), stamp, "fake"


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    paths = {"root": fake_host_root(tmp_path / "host"), "conf": tmp_path / "net.d",
             "bin": tmp_path / "bin"}
    paths["conf"].mkdir()
    paths["bin"].mkdir()
    return paths


def make_reconciler(host: dict[str, Path], rtnl: FakeRtnl, own: str = "n1") -> Reconciler:
    settings = Settings(own, [parse_cidr("100.96.0.0/16"), parse_cidr("fd00:96::/48")],
                        conf_path=str(host["conf"] / "10-humanz.conflist"),
                        bin_dir=str(host["bin"]), host_root=str(host["root"]))
    return Reconciler(settings, rtnl, build_plugin=fake_build)


def test_reconcile_installs_plugin_then_conf_and_routes(host: dict[str, Path]) -> None:
    rtnl = FakeRtnl()
    rec = make_reconciler(host, rtnl)
    assert rec.reconcile({n.name: n for n in NODES}) == []
    plugin = host["bin"] / "humanz-cni"
    assert plugin.read_bytes().startswith(b"#!/usr/bin/python3 -IS\n")
    assert plugin.stat().st_mode & 0o777 == 0o755
    conf = json.loads((host["conf"] / "10-humanz.conflist").read_text())
    assert conf["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "100.96.1.0/24"}],
                                                    [{"subnet": "fd00:96:1::/64"}]]
    assert rtnl.state() == {("100.96.2.0", 24, "100.64.0.2", 104),
                            ("fd00:96:2::", 64, "fd00:64::2", 104),
                            ("100.96.3.0", 24, "100.64.0.3", 104)}
    assert all(c[0] == "add" and c[4] == RTPROT_HUMANZ and c[6] for c in rtnl.calls)


def test_reconcile_is_level_based_a_restart_converges(host: dict[str, Path]) -> None:
    rtnl = FakeRtnl([FakeRoute(4, "100.96.7.0", 24, "100.64.0.7"),          # a node that left
                     FakeRoute(4, "100.96.7.0", 24, "100.64.0.7", protocol=4)])  # not ours
    first = make_reconciler(host, rtnl)
    first.reconcile({n.name: n for n in NODES})
    conf = host["conf"] / "10-humanz.conflist"
    stamp = (conf.stat().st_ino, (host["bin"] / "humanz-cni").stat().st_ino)
    assert ("100.96.7.0", 24, "100.64.0.7", 104) not in rtnl.state()
    assert ("100.96.7.0", 24, "100.64.0.7", 4) in rtnl.state()
    rtnl.calls.clear()
    restarted = make_reconciler(host, rtnl)                  # a new process, same host
    assert restarted.reconcile({n.name: n for n in NODES}) == []
    assert rtnl.calls == []                                  # nothing to do
    assert (conf.stat().st_ino, (host["bin"] / "humanz-cni").stat().st_ino) == stamp


def test_departed_and_changed_nodes_lose_their_routes(host: dict[str, Path]) -> None:
    rtnl = FakeRtnl()
    rec = make_reconciler(host, rtnl)
    rec.reconcile({n.name: n for n in NODES})
    moved = node("n2", ["100.96.2.0/24"], ["100.64.0.22"])
    rec.reconcile({"n1": NODES[0], "n2": moved})
    assert rtnl.state() == {("100.96.2.0", 24, "100.64.0.22", 104)}


def test_no_pod_cidr_yet_means_no_conf_until_it_arrives(host: dict[str, Path],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rec = make_reconciler(host, FakeRtnl())
    conf = host["conf"] / "10-humanz.conflist"
    for _ in range(3):
        assert rec.reconcile({"n1": node("n1", [], ["100.64.0.1"])}) == []
    assert not conf.exists()
    assert caplog.text.count("node n1 has no podCIDR yet") == 1   # said once, not every pass
    rec.reconcile({"n1": NODES[0]})
    assert conf.exists()
    assert "resolved: node n1 has no podCIDR yet" in caplog.text


def test_own_node_missing_from_the_api_means_no_conf(host: dict[str, Path]) -> None:
    rec = make_reconciler(host, FakeRtnl())
    rec.reconcile({"n2": NODES[1]})
    assert not (host["conf"] / "10-humanz.conflist").exists()
    assert (host["bin"] / "humanz-cni").exists()


def test_no_usable_host_python_means_no_plugin_and_no_conf(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = {"root": fake_host_root(tmp_path / "host", "3.8"), "conf": tmp_path / "net.d",
            "bin": tmp_path / "bin"}
    host["conf"].mkdir()
    host["bin"].mkdir()
    rtnl = FakeRtnl()
    rec = make_reconciler(host, rtnl)
    assert rec.reconcile({n.name: n for n in NODES}) == []
    assert os.listdir(host["conf"]) == [] and os.listdir(host["bin"]) == []
    assert "no python3 >= 3.9 on the host" in caplog.text
    assert "/usr/bin/python3: Python 3.8 is older than 3.9" in caplog.text
    assert len(rtnl.state()) == 3                         # routing to others still works


def test_kernel_refusals_are_reported_and_the_rest_still_applied(host: dict[str, Path]) -> None:
    rtnl = FakeRtnl()
    rtnl.fail["add 100.96.2.0"] = errno.ENETUNREACH
    rec = make_reconciler(host, rtnl)
    errors = rec.reconcile({n.name: n for n in NODES})
    assert len(errors) == 1
    assert errors[0].startswith("add route 100.96.2.0/24 via 100.64.0.2 (pod CIDR of node n2) "
                                "failed: ")
    assert ("100.96.3.0", 24, "100.64.0.3", 104) in rtnl.state()
    del rtnl.fail["add 100.96.2.0"]
    assert rec.reconcile({n.name: n for n in NODES}) == []     # the next pass repairs it
    assert ("100.96.2.0", 24, "100.64.0.2", 104) in rtnl.state()


class FailingNft:
    """An nftables client whose kernel says no (no nf_tables module, no NET_ADMIN...)."""

    def chains(self, family: int = 0, table: str | None = None) -> list[Any]:
        raise OSError(errno.EPROTONOSUPPORT, "Protocol not supported")

    def rules(self, family: int, table: str, chain: str | None = None) -> list[Any]:
        return []

    def commit(self, ops: Any) -> None:
        raise AssertionError("not reached")


def test_nftables_failure_is_an_error_not_a_crash(host: dict[str, Path]) -> None:
    rtnl = FakeRtnl()
    rec = make_reconciler(host, rtnl)
    rec.nft = FailingNft()
    errors = rec.reconcile({n.name: n for n in NODES})
    assert errors == ["nftables (masquerade/forward for 100.96.0.0/16, fd00:96::/48): "
                      "[Errno 93] Protocol not supported"]
    assert len(rtnl.state()) == 3 and (host["conf"] / "10-humanz.conflist").exists()
