"""Rtnl against the real kernel, in throwaway namespaces, checked against iproute2's ``ip -j``.

Every operation of the contract is exercised and then looked at through ``ip``/``bridge``
(never through humanz itself), and the typed results are compared with what ``ip`` reports.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterator

import pytest

from conftest import ip, unique_name
from humanz.netlink import explain, netns as ns_mod, uapi
from humanz.netlink.errors import NetlinkError
from humanz.netlink.rtnl import Rtnl

EEXIST, ENODEV, ESRCH, EINVAL, ERANGE = 17, 19, 3, 22, 34


def ipj(ns: str | None, *args: str) -> Any:
    """``ip -j [-n NS] ARGS`` parsed."""
    out = ip("-j", *args, netns=ns).stdout
    return json.loads(out) if out.strip() else []


def ip_link(ns: str | None, name: str) -> dict[str, Any]:
    [link] = ipj(ns, "-d", "link", "show", "dev", name)
    return link  # type: ignore[no-any-return]


@pytest.fixture
def rtnl(netns: str) -> Iterator[Rtnl]:
    """An Rtnl bound to the throwaway namespace ``netns``."""
    with Rtnl("/run/netns/" + netns) as r:
        yield r


def counting(r: Rtnl) -> list[bytes]:
    """Record every message ``r`` sends (via the trace hook)."""
    sent: list[bytes] = []
    r.sock.trace = lambda direction, label, data: sent.append(data) if direction == "send" \
        else None
    return sent


# --------------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------------

def test_bridge_add_and_get(rtnl: Rtnl, netns: str) -> None:
    rtnl.bridge_add("hztbr0", mtu=1400, mac="02:64:00:00:00:01", up=True)
    seen = ip_link(netns, "hztbr0")
    assert seen["linkinfo"]["info_kind"] == "bridge"
    assert seen["mtu"] == 1400 and seen["address"] == "02:64:00:00:00:01"
    assert "UP" in seen["flags"]
    link = rtnl.link_get("hztbr0")
    assert (link.index, link.name, link.kind, link.mtu, link.mac, link.up, link.operstate) == \
        (seen["ifindex"], "hztbr0", "bridge", 1400, "02:64:00:00:00:01", True,
         seen["operstate"])
    assert link.master is None and link.link is None
    assert rtnl.link_get(link.index).name == "hztbr0"
    assert rtnl.link_find("hztbr0") is not None and rtnl.link_find("hztnone") is None
    assert sorted(l.name for l in rtnl.links()) == \
        sorted(l["ifname"] for l in ipj(netns, "link", "show"))


def test_bridge_add_defaults(rtnl: Rtnl, netns: str) -> None:
    rtnl.bridge_add("hztbr1")
    seen = ip_link(netns, "hztbr1")
    assert "UP" not in seen["flags"] and seen["mtu"] == 1500
    assert rtnl.link_get("hztbr1").up is False


def test_veth_with_peer_born_in_another_namespace(make_netns: Callable[[], str]) -> None:
    host, pod = make_netns(), make_netns()
    with Rtnl("/run/netns/" + host) as h, Rtnl("/run/netns/" + pod) as p:
        h.bridge_add("hztbr0", up=True)
        bridge = h.link_get("hztbr0").index
        fd = ns_mod.open_fd("/run/netns/" + pod)
        try:
            sent = counting(h)
            h.veth_add("hztveth0", "eth0", peer_ns_fd=fd, mtu=1450, mac="02:64:00:00:00:0a",
                       peer_mac="02:64:00:00:00:0b", master=bridge, up=True)
        finally:
            os.close(fd)
        assert len(sent) == 1                       # one RTM_NEWLINK, no look-ups
        local, peer = ip_link(host, "hztveth0"), ip_link(pod, "eth0")
        assert local["linkinfo"]["info_kind"] == peer["linkinfo"]["info_kind"] == "veth"
        assert (local["mtu"], peer["mtu"]) == (1450, 1450)
        assert (local["address"], peer["address"]) == ("02:64:00:00:00:0a",
                                                       "02:64:00:00:00:0b")
        assert local["master"] == "hztbr0" and "UP" in local["flags"]
        assert "UP" not in peer["flags"]            # the peer is brought up from its side
        assert not any(l["ifname"] == "eth0" for l in ipj(host, "link", "show"))
        v = h.link_get("hztveth0")
        assert v.kind == "veth" and v.master == bridge and v.up
        assert v.link == peer["ifindex"]           # the peer's ifindex, in the other netns
        assert v.link_netnsid == local["link_netnsid"]
        p.link_set("eth0", up=True)
        assert "UP" in ip_link(pod, "eth0")["flags"]
        e = p.link_get("eth0")
        assert e.link == local["ifindex"] and e.mac == "02:64:00:00:00:0b"


def test_veth_from_the_pod_with_the_peer_in_the_host(netns: str,
                                                    host_links: Callable[[str], str]) -> None:
    """What the plugin does: create from inside the pod, the host end born in the host."""
    host_name = host_links(unique_name("v"))
    fd = ns_mod.open_fd("/proc/self/ns/net")
    try:
        with Rtnl("/run/netns/" + netns) as pod:
            echoed = pod.veth_add("eth0", host_name, peer_ns_fd=fd, mtu=1400, echo=True)
            read = pod.link_get("eth0")
            assert read.kind == "veth"
            # NLM_F_ECHO: Linux >= 6.3 sends the new local end back; older ones nothing
            release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
            if release >= (6, 3):
                assert echoed is not None
            if echoed is not None:
                assert (echoed.index, echoed.name, echoed.kind, echoed.mtu, echoed.mac,
                        echoed.link) == (read.index, "eth0", "veth", 1400, read.mac, read.link)
    finally:
        os.close(fd)
    assert ip_link(None, host_name)["mtu"] == 1400
    with Rtnl() as host:
        host.link_set(host_name, up=True)
        assert host.link_get(host_name).up
        host.link_del(host_name)
    assert ipj(netns, "link", "show") and all(l["ifname"] != "eth0"
                                                for l in ipj(netns, "link", "show"))


def test_link_in_another_namespace_by_its_netnsid(make_netns: Callable[[], str]) -> None:
    """From a socket in ``host``: the netnsid the host gives ``pod`` (none until a veth joins
    them and the host looks at its end), then the pod's eth0 looked up and deleted by that id
    — no socket in the pod. ``ip netns list-id`` and ``ip link`` in the pod agree."""
    host, pod = make_netns(), make_netns()
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "hztv0", "netns", host,
       netns=pod)
    with Rtnl("/run/netns/" + host) as h:
        assert h.link_get("hztv0").link_netnsid is not None    # this assigned the pod an id
        nsid = h.netnsid_of("/run/netns/" + pod)
        listed = {int(e["nsid"]) for e in ipj(host, "netns", "list-id")}
        assert nsid is not None and nsid in listed
        link = h.link_get("eth0", netnsid=nsid)
        assert (link.index, link.name, link.kind) == \
            (ip_link(pod, "eth0")["ifindex"], "eth0", "veth")
        assert h.link_find("hztnone", netnsid=nsid) is None
        with pytest.raises(NetlinkError) as caught:
            h.link_get("eth0")                                   # not in the host itself
        assert caught.value.errno == ENODEV
        h.link_del(link.index, netnsid=nsid)
        assert h.link_find("eth0", netnsid=nsid) is None and h.link_find("hztv0") is None
    assert all(l["ifname"] != "eth0" for l in ipj(pod, "link", "show"))


def test_netnsid_of_a_namespace_the_host_never_dealt_with(make_netns: Callable[[], str]) -> None:
    host, other = make_netns(), make_netns()
    with Rtnl("/run/netns/" + host) as h:
        fd = ns_mod.open_fd("/run/netns/" + other)
        try:
            assert h.netnsid_of(fd) is None
        finally:
            os.close(fd)
    assert ipj(host, "netns", "list-id") == []             # asking assigned nothing


def test_link_set_each_property(rtnl: Rtnl, netns: str, make_netns: Callable[[], str]) -> None:
    rtnl.bridge_add("hztbr0")
    rtnl.veth_add("hzta", "hztb")
    rtnl.link_set("hzta", mtu=1300, mac="02:64:00:00:00:21", up=True)
    seen = ip_link(netns, "hzta")
    assert (seen["mtu"], seen["address"], "UP" in seen["flags"]) == (1300, "02:64:00:00:00:21",
                                                                      True)
    rtnl.link_set("hzta", master="hztbr0")
    assert ip_link(netns, "hzta")["master"] == "hztbr0"
    assert rtnl.link_get("hzta").master == rtnl.link_get("hztbr0").index
    rtnl.link_set("hzta", master=0)                              # nomaster
    assert "master" not in ip_link(netns, "hzta")
    assert rtnl.link_get("hzta").master is None
    rtnl.link_set("hztb", promisc=True)
    seen = ip_link(netns, "hztb")
    assert "PROMISC" in seen["flags"] and seen["promiscuity"] == 1
    rtnl.link_set("hztb", promisc=False)
    assert ip_link(netns, "hztb")["promiscuity"] == 0
    rtnl.link_set("hzta", name="hztc")
    assert [l["ifname"] for l in ipj(netns, "link", "show")].count("hztc") == 1
    rtnl.link_set("hztc", up=False)
    assert "UP" not in ip_link(netns, "hztc")["flags"]
    other = make_netns()
    fd = ns_mod.open_fd("/run/netns/" + other)
    try:
        rtnl.link_set("hztb", ns_fd=fd)
    finally:
        os.close(fd)
    assert rtnl.link_find("hztb") is None
    assert ip_link(other, "hztb")["linkinfo"]["info_kind"] == "veth"


def test_link_set_inet_conf_writes_the_ipv4_settings(rtnl: Rtnl, netns: str) -> None:
    """arp_notify by netlink, read back where the kernel keeps it: /proc/sys in the namespace
    (so the setting's number is IPV4_DEVCONF_ARP_NOTIFY itself, not an array index)."""
    path = "/run/netns/" + netns
    rtnl.veth_add("hzta", "hztb")
    key = "net/ipv4/conf/hzta/arp_notify"
    assert ns_mod.sysctl_get(key, ns=path) == "0"
    rtnl.link_set("hzta", inet_conf={uapi.IPV4_DEVCONF_ARP_NOTIFY: 1})
    assert ns_mod.sysctl_get(key, ns=path) == "1"
    assert ns_mod.sysctl_get("net/ipv4/conf/hztb/arp_notify", ns=path) == "0"   # only hzta
    assert ns_mod.sysctl_get("net/ipv4/conf/hzta/arp_accept", ns=path) == "0"   # only that one
    rtnl.link_set("hzta", inet_conf={uapi.IPV4_DEVCONF_ARP_NOTIFY: 0}, up=True)
    assert ns_mod.sysctl_get(key, ns=path) == "0" and rtnl.link_get("hzta").up


def test_link_set_with_nothing_to_do_sends_nothing(rtnl: Rtnl) -> None:
    sent = counting(rtnl)
    rtnl.link_set("lo")
    rtnl.brport_set("lo")
    assert sent == []


def test_link_del_removes_both_veth_ends(rtnl: Rtnl, netns: str) -> None:
    rtnl.veth_add("hzta", "hztb")
    rtnl.link_del("hzta")
    names = [l["ifname"] for l in ipj(netns, "link", "show")]
    assert "hzta" not in names and "hztb" not in names
    rtnl.bridge_add("hztbr0")
    rtnl.link_del(rtnl.link_get("hztbr0").index)
    assert rtnl.link_find("hztbr0") is None


# --------------------------------------------------------------------------------------------
# Bridge ports
# --------------------------------------------------------------------------------------------

def test_brport_hairpin_and_isolated(rtnl: Rtnl, netns: str) -> None:
    rtnl.bridge_add("hztbr0", up=True)
    rtnl.veth_add("hzta", "hztb", master="hztbr0", up=True)
    rtnl.brport_set("hzta", hairpin=True, isolated=True)
    [port] = json.loads(ip("-j", "-d", "link", "show", "dev", "hzta", netns=netns).stdout)
    slave = port["linkinfo"]["info_slave_data"]
    assert (slave["hairpin"], slave["isolated"]) == (True, True)
    [bport] = json.loads(_bridge(netns, "-j", "-d", "link", "show", "dev", "hzta"))
    assert (bport["hairpin"], bport["isolated"]) == (True, True)
    # our decoder reads the same from the kernel (IFLA_INFO_SLAVE_DATA → IFLA_BRPORT_*)
    info = rtnl.link_get("hzta").attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None and info.get("IFLA_INFO_SLAVE_KIND") == "bridge"
    data = info.get_attrs("IFLA_INFO_SLAVE_DATA")
    assert data is not None
    assert (data.get("IFLA_BRPORT_MODE"), data.get("IFLA_BRPORT_ISOLATED")) == (1, 1)
    # and through the bridge's own view: an AF_BRIDGE link dump carries IFLA_PROTINFO
    ports = rtnl.sock.dump(uapi.RTM_GETLINK, {"ifi_family": uapi.AF_BRIDGE})
    [mine] = [m for m in ports if m.attrs.get("IFLA_IFNAME") == "hzta"]
    protinfo = mine.attrs.get_attrs("IFLA_PROTINFO")
    assert protinfo is not None
    assert (protinfo.get("IFLA_BRPORT_MODE"), protinfo.get("IFLA_BRPORT_ISOLATED")) == (1, 1)
    rtnl.brport_set("hzta", hairpin=False)
    slave = ip_link(netns, "hzta")["linkinfo"]["info_slave_data"]
    assert (slave["hairpin"], slave["isolated"]) == (False, True)
    rtnl.brport_set("hzta", isolated=False)
    assert ip_link(netns, "hzta")["linkinfo"]["info_slave_data"]["isolated"] is False


def _bridge(ns: str, *args: str) -> str:
    import subprocess
    return subprocess.run(["bridge", "-n", ns] + list(args), capture_output=True, text=True,
                          check=True, timeout=10).stdout


def test_brport_on_a_link_that_is_no_port_fails(rtnl: Rtnl) -> None:
    rtnl.veth_add("hzta", "hztb")
    with pytest.raises(NetlinkError) as caught:
        rtnl.brport_set("hzta", hairpin=True)
    assert caught.value.doing.startswith("set bridge port hzta hairpin on in /run/netns/")


def test_all_links_decode_including_bridge_details(rtnl: Rtnl, netns: str) -> None:
    rtnl.bridge_add("hztbr0", up=True)
    rtnl.veth_add("hzta", "hztb", master="hztbr0", up=True)
    links = {l.name: l for l in rtnl.links()}
    seen = {l["ifname"]: l for l in ipj(netns, "-d", "link", "show")}
    assert set(links) == set(seen)
    for name, link in links.items():
        assert link.index == seen[name]["ifindex"]
        assert link.mtu == seen[name]["mtu"]
        assert link.operstate == seen[name]["operstate"]
        assert link.kind == seen[name].get("linkinfo", {}).get("info_kind")
    info = links["hztbr0"].attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None
    bridge_data = info.get_attrs("IFLA_INFO_DATA")
    assert bridge_data is not None and bridge_data.get("IFLA_BR_STP_STATE") == 0


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------

def _ip_addrs(ns: str, dev: str) -> list[dict[str, Any]]:
    [link] = ipj(ns, "addr", "show", "dev", dev)
    return [a for a in link["addr_info"] if a.get("scope") != "link"]


def test_addresses_v4_and_v6(rtnl: Rtnl, netns: str) -> None:
    rtnl.bridge_add("hztbr0", up=True)
    index = rtnl.link_get("hztbr0").index
    sent = counting(rtnl)
    rtnl.addr_add(index, "100.64.3.1", 24)
    rtnl.addr_add(index, "fd00:3::1", 64, nodad=True)
    assert len(sent) == 2                           # no look-ups with an ifindex
    v4, v6 = _ip_addrs(netns, "hztbr0")
    assert (v4["family"], v4["local"], v4["prefixlen"], v4["broadcast"]) == \
        ("inet", "100.64.3.1", 24, "100.64.3.255")
    assert (v6["family"], v6["local"], v6["prefixlen"], v6.get("nodad")) == \
        ("inet6", "fd00:3::1", 64, True)
    a4 = rtnl.addrs("hztbr0", family=4)
    assert [(a.family, a.index, a.address, a.prefixlen, a.local, a.scope) for a in a4] == \
        [(4, index, "100.64.3.1", 24, "100.64.3.1", 0)]
    a6 = [a for a in rtnl.addrs(index, family=6) if a.scope == 0]
    assert [(a.family, a.address, a.prefixlen) for a in a6] == [(6, "fd00:3::1", 64)]
    assert a6[0].flags & uapi.IFA_F_NODAD
    assert {a.address for a in rtnl.addrs()} >= {"100.64.3.1", "fd00:3::1", "127.0.0.1"} - \
        {"127.0.0.1"}
    rtnl.addr_add("hztbr0", "100.64.3.1", 24, replace=True)     # idempotent with replace
    rtnl.addr_del("hztbr0", "100.64.3.1", 24)
    rtnl.addr_del(index, "fd00:3::1", 64)
    assert _ip_addrs(netns, "hztbr0") == []
    assert rtnl.addrs("hztbr0", family=4) == []


def test_address_errors(rtnl: Rtnl) -> None:
    rtnl.bridge_add("hztbr0")
    rtnl.addr_add("hztbr0", "100.64.4.1", 24)
    with pytest.raises(NetlinkError) as caught:
        rtnl.addr_add("hztbr0", "100.64.4.1", 24)
    e = caught.value
    assert e.errno == EEXIST and isinstance(e, OSError)
    assert e.kernel_msg is not None and "already" in e.kernel_msg
    assert str(e).startswith("add address 100.64.4.1/24 to hztbr0 in /run/netns/")
    with pytest.raises(NetlinkError) as caught:
        rtnl.addr_add("hztbr0", "100.64.4.9", 33)
    assert caught.value.errno == EINVAL
    assert caught.value.kernel_msg == "ipv4: Invalid prefix length"
    with pytest.raises(NetlinkError) as caught:
        rtnl.addr_del("hztbr0", "100.64.4.77", 24)
    assert caught.value.errno in (EINVAL, 99)   # EADDRNOTAVAIL on recent kernels


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------

@pytest.fixture
def routed(rtnl: Rtnl) -> int:
    """A bridge that is up, with 100.64.1.1/24 and fd00:1::1/64; returns its ifindex."""
    rtnl.bridge_add("hztbr0", up=True)
    index = rtnl.link_get("hztbr0").index
    rtnl.addr_add(index, "100.64.1.1", 24)
    rtnl.addr_add(index, "fd00:1::1", 64, nodad=True)
    return index


def test_routes_v4_gateway_table_metric(rtnl: Rtnl, netns: str, routed: int) -> None:
    rtnl.route_add("100.64.50.0", 24, gateway="100.64.1.254")
    rtnl.route_add(None, gateway="100.64.1.254", oif=routed, table=1000, metric=10)
    [r] = ipj(netns, "route", "show", "100.64.50.0/24")
    assert (r["dst"], r["gateway"], r["dev"], r.get("protocol", "boot")) == \
        ("100.64.50.0/24", "100.64.1.254", "hztbr0", "boot")
    [d] = ipj(netns, "route", "show", "table", "1000")
    assert (d["dst"], d["gateway"], d["dev"], d["metric"]) == \
        ("default", "100.64.1.254", "hztbr0", 10)
    [typed] = rtnl.routes(family=4, table=1000)
    assert (typed.family, typed.dst, typed.dst_len, typed.gateway, typed.oif, typed.table,
            typed.metric, typed.protocol, typed.type) == \
        (4, None, 0, "100.64.1.254", routed, 1000, 10, uapi.RTPROT_BOOT, uapi.RTN_UNICAST)
    main = {(r.dst, r.dst_len): r for r in rtnl.routes(4, table=254)}
    assert main[("100.64.50.0", 24)].gateway == "100.64.1.254"
    assert main[("100.64.1.0", 24)].scope == uapi.RT_SCOPE_LINK
    rtnl.route_add(None, gateway="100.64.1.253", table=1000, metric=10, replace=True)
    [d] = ipj(netns, "route", "show", "table", "1000")
    assert d["gateway"] == "100.64.1.253"
    rtnl.route_del("default", table=1000, family=4)
    assert ipj(netns, "route", "show", "table", "1000") == []
    rtnl.route_del("100.64.50.0", 24)
    assert ipj(netns, "route", "show", "100.64.50.0/24") == []


def test_routes_v6(rtnl: Rtnl, netns: str, routed: int) -> None:
    rtnl.route_add("fd00:50::", 64, gateway="fd00:1::fe", oif="hztbr0", metric=300)
    rtnl.route_add("default", gateway="fd00:1::fe")
    [r] = ipj(netns, "-6", "route", "show", "fd00:50::/64")
    assert (r["dst"], r["gateway"], r["dev"], r["metric"]) == \
        ("fd00:50::/64", "fd00:1::fe", "hztbr0", 300)
    [d] = ipj(netns, "-6", "route", "show", "default")
    assert d["gateway"] == "fd00:1::fe"
    typed = {(r.dst, r.dst_len): r for r in rtnl.routes(family=6)}
    assert typed[("fd00:50::", 64)].gateway == "fd00:1::fe"
    assert typed[("fd00:50::", 64)].metric == 300
    assert typed[(None, 0)].gateway == "fd00:1::fe"
    rtnl.route_del("fd00:50::", 64, gateway="fd00:1::fe")
    rtnl.route_del(None, gateway="fd00:1::fe")
    assert ipj(netns, "-6", "route", "show", "fd00:50::/64") == []
    assert ipj(netns, "-6", "route", "show", "default") == []


def test_route_onlink_scope_protocol(rtnl: Rtnl, netns: str, routed: int) -> None:
    # the gateway is not in any on-link subnet: only accepted with onlink
    with pytest.raises(NetlinkError) as caught:
        rtnl.route_add("100.64.60.0", 24, gateway="100.64.99.1", oif=routed)
    assert caught.value.errno == 101 and caught.value.kernel_msg      # ENETUNREACH
    rtnl.route_add("100.64.60.0", 24, gateway="100.64.99.1", oif=routed, onlink=True)
    [r] = ipj(netns, "route", "show", "100.64.60.0/24")
    assert "onlink" in r["flags"]
    typed = [x for x in rtnl.routes(4) if x.dst == "100.64.60.0"]
    assert typed and typed[0].flags & uapi.RTNH_F_ONLINK
    rtnl.route_add("100.64.70.0", 24, oif=routed, protocol=uapi.RTPROT_STATIC,
                   scope=uapi.RT_SCOPE_LINK)
    [r] = ipj(netns, "route", "show", "100.64.70.0/24")
    assert (r["protocol"], r["scope"], r["dev"]) == ("static", "link", "hztbr0")


def test_route_errors(rtnl: Rtnl, routed: int) -> None:
    rtnl.route_add("100.64.80.0", 24, oif=routed)
    with pytest.raises(NetlinkError) as caught:
        rtnl.route_add("100.64.80.0", 24, oif=routed)
    assert caught.value.errno == EEXIST
    assert caught.value.doing.startswith("add route 100.64.80.0/24 dev")
    with pytest.raises(NetlinkError) as caught:
        rtnl.route_del("100.64.81.0", 24)
    assert caught.value.errno == ESRCH
    with pytest.raises(ValueError):
        rtnl.route_add(None)                       # default of which family?


# --------------------------------------------------------------------------------------------
# Errors, tracing, namespaces by fd
# --------------------------------------------------------------------------------------------

def test_link_errors(rtnl: Rtnl) -> None:
    with pytest.raises(NetlinkError) as caught:
        rtnl.link_get("hztmissing")
    assert caught.value.errno == ENODEV
    assert str(caught.value).startswith("get link hztmissing in /run/netns/")
    with pytest.raises(NetlinkError) as caught:
        rtnl.link_get(99999)
    assert caught.value.errno == ENODEV
    rtnl.bridge_add("hztbr0")
    with pytest.raises(NetlinkError) as caught:
        rtnl.bridge_add("hztbr0")
    assert caught.value.errno == EEXIST
    with pytest.raises(NetlinkError) as caught:
        rtnl.bridge_add("hzt-this-is-way-too-long")
    e = caught.value
    assert e.errno == ERANGE and e.kernel_msg == "Attribute failed policy validation"
    assert e.kernel_attr == "IFLA_IFNAME"
    with pytest.raises(NetlinkError) as caught:
        rtnl.link_del("hztmissing")
    assert caught.value.errno == ENODEV


def test_strict_dump_error_arrives_in_done(rtnl: Rtnl) -> None:
    with pytest.raises(NetlinkError) as caught:
        rtnl.sock.dump(uapi.RTM_GETADDR, {"ifa_prefixlen": 8}, doing="list addresses")
    assert caught.value.errno == EINVAL
    assert caught.value.kernel_msg is not None and "dump request" in caught.value.kernel_msg


def test_trace_hook_explains_every_message(netns: str, make_netns: Callable[[], str]) -> None:
    other = make_netns()
    seen: list[tuple[str, str, bytes]] = []
    with Rtnl("/run/netns/" + netns, trace=lambda d, l, b: seen.append((d, l, b))) as r:
        fd = ns_mod.open_fd("/run/netns/" + other)
        try:
            r.veth_add("hzta", "eth0", peer_ns_fd=fd)
        finally:
            os.close(fd)
    assert [(d, l) for d, l, _ in seen] == [("send", "/run/netns/" + netns),
                                            ("recv", "/run/netns/" + netns)]
    text = explain.explain(seen[0][2], "send", seen[0][1])
    assert "IFLA_NET_NS_FD" in text and "VETH_INFO_PEER" in text
    assert "ok (an ACK)" in explain.explain(seen[1][2])


def test_rtnl_by_fd(netns: str) -> None:
    fd = ns_mod.open_fd("/run/netns/" + netns)
    try:
        with Rtnl(fd) as r:
            r.bridge_add("hztbr0")
    finally:
        os.close(fd)
    assert ip_link(netns, "hztbr0")["linkinfo"]["info_kind"] == "bridge"
