"""The error table: each bad input gives its CNI code, a message naming the culprit, never a
traceback, and leaves the host, the container and the store exactly as they were. Failures
after the veth exists (a route the kernel refuses) are rolled back the same way."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from conftest import ip
from plugin_harness import Node, netns_path, node  # noqa: F401

Case = Callable[[Node, str], "tuple[str, Any, dict[str, Any]]"]


def _add(conf: Any, **kw: Any) -> tuple[str, Any, dict[str, Any]]:
    return "ADD", conf, kw


def _ipam(node: Node, **fields: Any) -> dict[str, Any]:
    conf = node.conf()
    conf["ipam"].update(fields)
    return conf


CASES: dict[str, tuple[int, str, Case]] = {
    "bad json": (6, "decode", lambda n, ns: _add("{")),
    "empty stdin": (6, "empty", lambda n, ns: _add("")),
    "json array": (6, "object", lambda n, ns: _add("[]")),
    "unknown version": (1, "incompatible", lambda n, ns: _add(n.conf(version="9.9.9"))),
    "version not a string": (1, "incompatible", lambda n, ns: _add(dict(n.conf(), cniVersion=1))),
    "unknown command": (4, "CNI_COMMAND", lambda n, ns: ("FOO", n.conf(), {})),
    "missing netns": (4, "CNI_NETNS", lambda n, ns: _add(n.conf(), netns="")),
    "missing ifname": (4, "CNI_IFNAME", lambda n, ns: _add(n.conf(), ifname="")),
    "missing path": (4, "CNI_PATH", lambda n, ns: _add(n.conf(), path="")),
    "bad container id": (4, "CNI_CONTAINERID", lambda n, ns: _add(n.conf(), cid="a/b")),
    "ifname with slash": (4, "CNI_IFNAME", lambda n, ns: _add(n.conf(), ifname="a/b")),
    "ifname too long": (4, "CNI_IFNAME", lambda n, ns: _add(n.conf(), ifname="e" * 16)),
    "ifname dot": (4, "CNI_IFNAME", lambda n, ns: _add(n.conf(), ifname=".")),
    "netns not a namespace": (4, "CNI_NETNS", lambda n, ns: _add(n.conf(), netns="/tmp")),
    "netns missing": (4, "does not exist",
                      lambda n, ns: _add(n.conf(), netns="/run/netns/hztnope")),
    "netns is the host": (4, "own network namespace",
                          lambda n, ns: _add(n.conf(), netns=netns_path(n.hostns))),
    "bad cni args": (4, "CNI_ARGS", lambda n, ns: _add(n.conf(), args="Foo=bar")),
    "bad IP arg": (4, "CNI_ARGS IP", lambda n, ns: _add(n.conf(), args="IP=100.64.1")),
    "missing name": (7, "name", lambda n, ns: _add({"cniVersion": "1.0.0", "type": "humanz-cni"})),
    "invalid name": (7, "name", lambda n, ns: _add(n.conf(name="a b"))),
    "subnet host bits": (7, "ipam.ranges[0][0].subnet",
                         lambda n, ns: _add(n.conf(subnet="100.64.1.5/24"))),
    "subnet too small": (7, "ipam.ranges[0][0].subnet",
                         lambda n, ns: _add(n.conf(subnet="100.64.1.0/31"))),
    "gateway outside": (7, "ipam.ranges[0][0].gateway", lambda n, ns: _add(
        _ipam(n, ranges=[[{"subnet": "100.64.1.0/24", "gateway": "100.64.2.1"}]]))),
    "range overlap": (7, "ipam.ranges", lambda n, ns: _add(
        _ipam(n, ranges=[[{"subnet": "100.64.1.0/24"}], [{"subnet": "100.64.1.0/25"}]]))),
    "no ranges": (7, "ipam.ranges", lambda n, ns: _add(_ipam(n, ranges=[]))),
    "hairpin and promisc": (7, "hairpinMode", lambda n, ns: _add(
        n.conf(hairpinMode=True, promiscMode=True))),
    "mtu too small": (7, "mtu", lambda n, ns: _add(n.conf(mtu=10))),
    "bool as string": (7, "isGateway", lambda n, ns: _add(n.conf(isGateway="yes"))),
    "bad mac": (7, "runtimeConfig.mac", lambda n, ns: _add(n.conf(runtimeConfig={"mac": "x"}))),
    "multicast mac": (7, "args.cni.mac", lambda n, ns: _add(
        n.conf(args={"cni": {"mac": "01:00:5e:00:00:01"}}))),
    "bad route": (7, "ipam.routes[0].dst", lambda n, ns: _add(_ipam(n, routes=[{"dst": "x"}]))),
    "bad ipam type": (7, "ipam.type", lambda n, ns: _add(_ipam(n, type="../x"))),
    "bad log level": (7, "logLevel", lambda n, ns: _add(n.conf(logLevel="loud"))),
    "bad network": (7, "network", lambda n, ns: _add(n.conf(network="100.64.0.1/10"))),
    "bad prevResult": (7, "prevResult", lambda n, ns: _add(n.conf(prevResult={"ips": [{}]}))),
    "ipMasq not a bool": (7, "ipMasq", lambda n, ns: _add(n.conf(ipMasq="true"))),
    "vlan": (2, "vlan", lambda n, ns: _add(n.conf(vlan=5))),
    "GC before 1.1.0": (1, "GC", lambda n, ns: ("GC", n.conf(version="1.0.0"), {})),
    "STATUS before 1.1.0": (1, "STATUS", lambda n, ns: ("STATUS", n.conf(version="0.4.0"), {})),
    "requested IP outside": (102, "100.64.9.5", lambda n, ns: _add(
        n.conf(args={"cni": {"ips": ["100.64.9.5"]}}))),
    "requested IP taken": (102, "100.64.1.2", lambda n, ns: _add(
        n.conf(runtimeConfig={"ips": ["100.64.1.2/24"]}))),
    "missing ipam plugin": (104, "hztnothere", lambda n, ns: _add(_ipam(n, type="hztnothere"))),
    "unreadable resolvConf": (5, "resolvConf", lambda n, ns: _add(
        _ipam(n, resolvConf="/nonexistent/resolv.conf"))),
    # failures after the veth exists: must be rolled back
    "route gateway unreachable": (100, "configure eth0", lambda n, ns: _add(
        _ipam(n, routes=[{"dst": "100.65.0.0/16", "gw": "100.66.0.1"}]))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_table(node: Node, case: str) -> None:
    code, words, make = CASES[case]
    # a network already in use: a bridge with one container on it
    first = node.make_netns()
    node.add(node.conf(), first)
    ns = node.make_netns()
    before = node.snapshot(), _container_state(ns)
    command, conf, kw = make(node, ns)
    kw.setdefault("cid", "cid-" + ns)
    kw.setdefault("netns", netns_path(ns))
    out = node.run(command, conf, **kw)
    assert out.rc == 1, out
    assert out.err == "" and "Traceback" not in out.out, out
    assert set(out.data) == {"cniVersion", "code", "msg", "details"}, out
    assert out.code == code, out
    assert words in out.data["msg"] + out.data["details"], out
    assert (node.snapshot(), _container_state(ns)) == before


def _container_state(ns: str) -> tuple[str, str, str]:
    return (ip("-j", "link", "show", netns=ns).stdout, ip("-j", "addr", netns=ns).stdout,
            ip("-j", "route", "show", "table", "all", netns=ns).stdout)


def test_exhausted_range_is_101_and_changes_nothing(node: Node) -> None:
    conf = node.conf(subnet="100.64.1.0/30")  # .1 gateway, .2 the only address
    node.add(conf, node.make_netns())
    ns = node.make_netns()
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 101 and "100.64.1.0/30" in out.data["msg"], out
    assert (node.snapshot(), _container_state(ns)) == before


def test_ifname_already_in_container_is_103(node: Node) -> None:
    ns = node.make_netns()
    ip("link", "add", "eth0", "type", "bridge", netns=ns)
    node.add(node.conf(), node.make_netns())
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", node.conf(), cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 103 and "eth0 already exists" in out.data["msg"], out
    assert (node.snapshot(), _container_state(ns)) == before


def test_duplicate_add_is_103_and_keeps_the_first(node: Node) -> None:
    conf = node.conf()
    ns = node.make_netns()
    first = node.add(conf, ns)
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 103, out
    assert (node.snapshot(), _container_state(ns)) == before
    assert node.reservations() == [first["ips"][0]["address"].split("/")[0]]


def test_existing_default_route_in_container_rolls_back(node: Node) -> None:
    ns = node.make_netns()
    ip("route", "add", "default", "dev", "lo", netns=ns)
    node.add(node.conf(), node.make_netns())
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", node.conf(), cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 100 and "File exists" in out.data["msg"], out
    assert (node.snapshot(), _container_state(ns)) == before


def test_bridge_name_taken_by_non_bridge(node: Node) -> None:
    ip("link", "add", node.bridge, "type", "veth", "peer", "name", node.bridge + "p",
       netns=node.hostns)
    ns = node.make_netns()
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", node.conf(), cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 7 and "not a bridge" in out.data["msg"], out
    assert (node.snapshot(), _container_state(ns)) == before


def test_bridge_with_other_address_needs_force_address(node: Node) -> None:
    node.add(node.conf(subnet="100.64.1.0/24"), node.make_netns())
    other = node.conf(subnet="100.64.2.0/24", name=node.network + "b")
    ns = node.make_netns()
    before = node.snapshot(), _container_state(ns)
    out = node.run("ADD", other, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 7 and "forceAddress" in out.data["details"], out
    assert (node.snapshot(), _container_state(ns)) == before
    node.add(dict(other, forceAddress=True), ns)
    addrs = node.ip_json("addr", "show", "dev", node.bridge)[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in addrs if a["family"] == "inet"] == [
        ("100.64.2.1", 24)]


def test_unusable_store_is_io_error_5_and_logged(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf()
    conf["ipam"]["dataDir"] = "/proc/version"  # a file: the store cannot live under it
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.rc == 1 and out.code == 5 and out.err == "", out
    assert [(l["command"], l.get("code")) for l in node.log_lines()] == [("ADD", 5)]
