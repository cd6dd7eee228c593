"""CHECK against prevResult: passes on a fresh attachment, names each kind of drift."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from conftest import ip
from plugin_harness import Node, netns_path, node  # noqa: F401


def _attached(node: Node) -> tuple[dict[str, Any], str, dict[str, Any]]:
    conf = node.conf(version="1.0.0")
    ns = node.make_netns()
    res = node.add(conf, ns)
    return dict(conf, prevResult=res), ns, res


def test_check_passes_right_after_add(node: Node) -> None:
    conf, ns, _ = _attached(node)
    out = node.run("CHECK", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert (out.rc, out.out, out.err) == (0, "", "")


def _drop_address(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("addr", "del", res["ips"][0]["address"], "dev", "eth0", netns=ns)


def _drop_default_route(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("route", "del", "default", netns=ns)


def _change_mac(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("link", "set", "eth0", "address", "02:00:00:00:cc:01", netns=ns)


def _unenslave(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("link", "set", res["interfaces"][1]["name"], "nomaster", netns=node.hostns)


def _delete_bridge(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("link", "del", node.bridge, netns=node.hostns)


def _delete_veth(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("link", "del", "eth0", netns=ns)


def _replace_with_bridge(node: Node, ns: str, res: dict[str, Any]) -> None:
    ip("link", "del", "eth0", netns=ns)
    ip("link", "add", "eth0", "type", "bridge", netns=ns)


def _release_in_store(node: Node, ns: str, res: dict[str, Any]) -> None:
    out = node.run("GC", dict(node.conf(version="1.1.0"), **{"cni.dev/valid-attachments": []}))
    assert out.rc == 0, out


@pytest.mark.parametrize("drift,words", [
    (_drop_address, "address 100.64.1.2/24 is missing on eth0"),
    (_drop_default_route, "route 0.0.0.0/0 via 100.64.1.1 is missing"),
    (_change_mac, "has MAC 02:00:00:00:cc:01"),
    (_unenslave, "is not enslaved to bridge"),
    (_delete_bridge, "bridge %s does not exist"),
    (_delete_veth, "interface eth0 does not exist"),
    (_replace_with_bridge, "is not a veth"),
    (_release_in_store, "address 100.64.1.2 is not reserved"),
])
def test_check_names_the_drift(node: Node, drift: Callable[..., None], words: str) -> None:
    conf, ns, res = _attached(node)
    drift(node, ns, res)
    out = node.run("CHECK", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.rc == 1 and out.code == 105, out
    expected = words % node.bridge if "%s" in words else words
    assert expected in out.data["msg"], out


def test_check_without_prev_result_is_code_7(node: Node) -> None:
    ns = node.make_netns()
    node.add(node.conf(), ns)
    out = node.run("CHECK", node.conf(), cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 7 and "prevResult" in out.data["msg"]


def test_check_refused_before_0_4_0(node: Node) -> None:
    conf, ns, res = _attached(node)
    out = node.run("CHECK", dict(conf, cniVersion="0.3.1"), cid="cid-" + ns,
                   netns=netns_path(ns))
    assert out.code == 1 and "CHECK" in out.data["msg"]


def test_check_prev_result_for_another_sandbox(node: Node) -> None:
    conf, ns, res = _attached(node)
    other = node.make_netns()
    out = node.run("CHECK", conf, cid="cid-" + ns, netns=netns_path(other))
    assert out.code == 105 and "no interface eth0 with sandbox" in out.data["msg"]
