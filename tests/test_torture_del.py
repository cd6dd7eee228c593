"""The DEL matrix in one place: every way the runtime may call DEL, crossed with every kind of
prevResult it may carry. Each cell must exit 0 with nothing on stdout or stderr and leave
nothing behind: no reservation or attachment record, no host veth or bridge port, no
interface in the container, the nftables ruleset unchanged, the store consistent; and the
container can be added again afterwards.

tests/test_plugin_del.py checks single cases in depth (other containers untouched, ranges
changed since ADD, CNI_ARGS garbage, the host namespace override); this file is the cross
product, so no cell of the matrix is left to chance.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import ip
from humanz.cni.result import Result
from plugin_harness import Node, netns_path
from torture_kit import (Sandbox, bridge_ports, container_ifaces, rules, store_problems,
                         wait_for_veths_gone)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path) as sandbox:
        yield sandbox


# ---- how DEL arrives ---------------------------------------------------------------------------
# Each scenario gets (box, node, conf, container namespace) after a successful ADD, may change
# the world, and returns the CNI_NETNS value DEL is called with and how many DELs to send.

def _twice(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    return netns_path(ns), 2


def _plain(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    return netns_path(ns), 1


def _empty_netns(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    # containerd 1.6 sends this; the interface dies with the namespace later
    box.drop_netns(ns)
    return "", 1


def _netns_deleted(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    box.drop_netns(ns)
    return netns_path(ns), 1


def _iface_gone(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    ip("link", "del", "eth0", netns=ns)
    return netns_path(ns), 1


def _store_wiped(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    # e.g. /run emptied by hand; the interface must still go
    shutil.rmtree(Path(node.data_dir) / node.network)
    return netns_path(ns), 1


def _netns_regular_file(box: Sandbox, node: Node, conf: dict[str, Any],
                        ns: str) -> tuple[str, int]:
    box.drop_netns(ns)
    stale = node.tmp / "stale-netns"
    stale.write_text("")
    return str(stale), 1


def _never_added(box: Sandbox, node: Node, conf: dict[str, Any], ns: str) -> tuple[str, int]:
    # DEL of another container of the same network that never got an ADD: the real one is
    # deleted first so the cell still ends with nothing left
    assert node.delete(conf, ns).rc == 0
    return netns_path(ns), 1


SCENARIOS: dict[str, Callable[[Sandbox, Node, dict[str, Any], str], tuple[str, int]]] = {
    "plain": _plain, "twice": _twice, "empty CNI_NETNS": _empty_netns,
    "netns deleted": _netns_deleted, "iface already gone": _iface_gone,
    "store wiped": _store_wiped, "CNI_NETNS a stale file": _netns_regular_file,
    "never added": _never_added,
}


# ---- what prevResult it carries ----------------------------------------------------------------

def _prev(kind: str, result: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "none":
        return None
    if kind == "same version":
        return result
    if kind == "garbage":
        return {"ips": "x", "interfaces": 5}
    return Result.from_dict(result, "1.0.0").to_dict(kind)  # another spec version


PREV_KINDS = ["none", "same version", "0.3.1", "0.2.0", "1.1.0", "garbage"]


@pytest.mark.parametrize("prev_kind", PREV_KINDS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_del_matrix(box: Sandbox, scenario: str, prev_kind: str) -> None:
    node = box.node()
    conf = node.conf()
    ns = node.make_netns()
    result = node.add(conf, ns)
    rules_before = rules(node.hostns)
    netns, times = SCENARIOS[scenario](box, node, conf, ns)
    del_conf = dict(conf)
    prev = _prev(prev_kind, result)
    if prev is not None:
        del_conf["prevResult"] = prev
    cid = "cid-" + ns if scenario != "never added" else "cid-never"
    for _ in range(times):
        out = node.run("DEL", del_conf, cid=cid, netns=netns)
        assert (out.rc, out.out, out.err) == (0, "", ""), out
    if netns == "" or scenario in ("netns deleted", "CNI_NETNS a stale file"):
        wait_for_veths_gone(node)  # the kernel frees a deleted namespace asynchronously
    assert node.reservations() == [] and node.host_veths() == [] and bridge_ports(node) == []
    assert [p for p in node.store_files() if p.startswith(node.network)] == []
    assert store_problems(node.data_dir, node.network) == []
    assert rules(node.hostns) == rules_before
    if ns in box.made:
        assert container_ifaces(ns) == ["lo"]
    # and the container (or its replacement) can be added again
    again = ns if ns in box.made else node.make_netns()
    node.add(conf, again, cid="cid-" + ns)
    assert node.delete(conf, again, cid="cid-" + ns).rc == 0
    assert node.reservations() == []


def test_del_after_a_failed_add_that_was_rolled_back(box: Sandbox) -> None:
    """The spec: after a failed ADD the runtime sends DEL; it must find nothing and succeed."""
    node = box.node()
    conf = node.conf()
    conf["ipam"]["routes"] = [{"dst": "100.65.0.0/16", "gw": "100.66.0.1"}]  # unreachable
    ns = node.make_netns()
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 100, out
    out = node.delete(conf, ns)
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    assert node.reservations() == [] and node.host_veths() == []
    assert container_ifaces(ns) == ["lo"]


def test_del_while_namespace_is_being_deleted(box: Sandbox) -> None:
    """DEL racing the runtime's own namespace deletion: both orders end clean."""
    node = box.node()
    conf = node.conf()
    namespaces = [node.make_netns() for _ in range(6)]
    for ns in namespaces:
        node.add(conf, ns)
    procs = []
    for ns in namespaces:
        procs.append(subprocess.Popen(["ip", "netns", "del", ns]))
        out = node.delete(conf, ns)
        assert (out.rc, out.out) == (0, ""), out
    for ns, proc in zip(namespaces, procs):
        proc.wait(timeout=60)
        box.made.remove(ns)
    wait_for_veths_gone(node)
    assert node.reservations() == [] and node.host_veths() == []
