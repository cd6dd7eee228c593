"""DEL: releases the reservation whatever else happened, and succeeds when things are gone."""

from __future__ import annotations

import subprocess
import time

import pytest

from plugin_harness import Node, container_links, netns_path, node  # noqa: F401


def _links(ns: str) -> list[str]:
    return [l["ifname"] for l in container_links(ns)]


@pytest.mark.parametrize("with_prev", [True, False])
def test_del_removes_interface_and_reservation(node: Node, with_prev: bool) -> None:
    conf = node.conf()
    ns = node.make_netns()
    res = node.add(conf, ns)
    assert node.reservations() == ["100.64.1.2"] and len(node.host_veths()) == 1
    out = node.delete(dict(conf, prevResult=res) if with_prev else conf, ns)
    assert (out.rc, out.out, out.err) == (0, "", "")
    assert _links(ns) == ["lo"]
    assert node.reservations() == [] and node.host_veths() == []
    # the bridge stays: it is the network's, not the container's
    assert node.ip_json("link", "show", "dev", node.bridge)


def test_del_repeated_succeeds(node: Node) -> None:
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    for _ in range(3):
        out = node.delete(conf, ns)
        assert (out.rc, out.out) == (0, ""), out
    assert node.reservations() == []


def test_del_with_empty_netns_releases_address(node: Node) -> None:
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    out = node.run("DEL", conf, cid="cid-" + ns, netns="", ifname="eth0")
    assert out.rc == 0, out
    assert node.reservations() == []


def test_del_when_namespace_is_gone(node: Node) -> None:
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    subprocess.run(["ip", "netns", "del", ns], check=True, timeout=30)
    out = node.delete(conf, ns)
    assert out.rc == 0, out
    assert node.reservations() == []
    # The kernel removes the pair with the namespace, but in a work queue after the last
    # reference went (cleanup_net): a DEL that finishes quickly can beat it. Wait, bounded.
    for _ in range(500):
        if not node.host_veths():
            break
        time.sleep(0.01)
    assert node.host_veths() == []


def test_del_of_unknown_container_succeeds(node: Node) -> None:
    ns = node.make_netns()
    out = node.delete(node.conf(), ns, cid="never-added")
    assert (out.rc, out.out) == (0, ""), out


def test_del_with_netns_path_that_is_not_a_namespace(node: Node, tmp_path: object) -> None:
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    out = node.run("DEL", conf, cid="cid-" + ns, netns="/tmp", ifname="eth0")
    assert out.rc == 0, out
    assert node.reservations() == []


def test_del_leaves_other_containers_alone(node: Node) -> None:
    conf = node.conf()
    a, b = node.make_netns(), node.make_netns()
    node.add(conf, a)
    node.add(conf, b)
    assert node.delete(conf, a).rc == 0
    assert _links(b) == ["lo", "eth0"]
    assert node.reservations() == ["100.64.1.3"]


def test_del_with_ranges_now_invalid_still_releases(node: Node) -> None:
    """The config changed since ADD (a broken range): DEL does not need ranges."""
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    broken = node.conf(subnet="100.64.1.5/24")
    out = node.delete(broken, ns)
    assert out.rc == 0, out
    assert node.reservations() == []


@pytest.mark.parametrize("edit", [
    {"network": "100.64.0.7/16"},                      # host bits set
    {"dns": {"nameservers": "not a list"}},
    {"args": {"cni": {"mac": "ff:ff:ff:ff:ff:ff"}}},   # multicast
    {"hairpinMode": True, "promiscMode": True},
    {"mtu": 5},
    {"bridge": "no/slash"},
])
def test_del_ignores_fields_only_add_needs(node: Node, edit: dict[str, object]) -> None:
    """The config was edited since ADD and one field that only matters for building the
    network is now invalid: ADD refuses it (code 7), DEL still releases and deletes."""
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    broken = dict(conf, **edit)
    other = node.make_netns()
    refused = node.run("ADD", broken, cid="other", netns=netns_path(other), ifname="eth0")
    assert refused.rc == 1 and refused.code == 7, refused
    out = node.delete(broken, ns)
    assert out.rc == 0, out
    assert node.reservations() == [] and _links(ns) == ["lo"]


def test_del_with_ip_masq_and_bad_cni_args_still_works(node: Node) -> None:
    conf = node.conf()
    ns = node.make_netns()
    node.add(conf, ns)
    out = node.delete(dict(conf, ipMasq=True), ns, args="Unknown=1")
    assert out.rc == 0, out
    assert node.reservations() == [] and _links(ns) == ["lo"]


def test_del_missing_container_id_is_code_4(node: Node) -> None:
    out = node.run("DEL", node.conf(), cid="", netns="", ifname="eth0")
    assert out.rc == 1 and out.code == 4 and "CNI_CONTAINERID" in out.data["msg"]


def test_host_namespace_needs_override(node: Node) -> None:
    """CNI_NETNS naming the plugin's own namespace is refused (it would put the "container"
    end on the host) unless CNI_NETNS_OVERRIDE is set; DEL still releases the address."""
    conf = node.conf()
    host = netns_path(node.hostns)
    out = node.run("ADD", conf, cid="c-host", netns=host, ifname="hztc0")
    assert out.code == 4 and "own network namespace" in out.data["msg"], out
    override = {"CNI_NETNS_OVERRIDE": "1"}
    out = node.run("ADD", conf, cid="c-host", netns=host, ifname="hztc0", env=override)
    assert out.rc == 0, out
    assert "hztc0" in [l["ifname"] for l in node.ip_json("link", "show")]
    out = node.run("DEL", conf, cid="c-host", netns=host, ifname="hztc0")
    assert out.code == 4 and node.reservations() == [], out
    out = node.run("DEL", conf, cid="c-host", netns=host, ifname="hztc0", env=override)
    assert out.rc == 0, out
    assert "hztc0" not in [l["ifname"] for l in node.ip_json("link", "show")]
