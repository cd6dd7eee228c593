"""ADD on a real kernel: connectivity, result shapes, the seed's config, chaining, options."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from plugin_harness import (Node, container_addrs, container_links, netns_path, node,  # noqa: F401
                            ping, sysctl)

VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def test_two_containers_get_distinct_addresses_and_reach_each_other(node: Node) -> None:
    conf = node.conf(subnet="100.64.1.0/24")
    a, b = node.make_netns(), node.make_netns()
    ra, rb = node.add(conf, a), node.add(conf, b)
    ip_a = ra["ips"][0]["address"].split("/")[0]
    ip_b = rb["ips"][0]["address"].split("/")[0]
    assert ip_a != ip_b
    assert ra["ips"][0]["gateway"] == "100.64.1.1"
    assert ping(a, ip_b) and ping(b, ip_a)
    assert ping(a, "100.64.1.1") and ping(b, "100.64.1.1")
    # the host end of each pair hangs off the bridge, up
    ports = [l for l in node.ip_json("link", "show") if l.get("master") == node.bridge]
    assert sorted(p["ifname"] for p in ports) == sorted(
        [ra["interfaces"][1]["name"], rb["interfaces"][1]["name"]])
    assert all("UP" in p["flags"] for p in ports)


def test_result_describes_what_was_made(node: Node) -> None:
    ns = node.make_netns()
    res = node.add(node.conf(), ns)
    bridge, host, cont = res["interfaces"]
    assert bridge["name"] == node.bridge and "sandbox" not in bridge
    assert host["name"].startswith("veth") and len(host["name"]) == 12
    assert cont == {"name": "eth0", "mac": cont["mac"], "sandbox": netns_path(ns)}
    link = container_links(ns)
    eth0 = next(l for l in link if l["ifname"] == "eth0")
    assert eth0["address"] == cont["mac"] and eth0["link_type"] == "ether"
    assert res["ips"] == [{"interface": 2, "address": container_addrs(ns)[0],
                           "gateway": "100.64.1.1"}]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "100.64.1.1"}]
    host_link = next(l for l in node.ip_json("link", "show") if l["ifname"] == host["name"])
    assert host_link["address"] == host["mac"]
    br = node.ip_json("addr", "show", "dev", node.bridge)[0]
    assert br["address"] == bridge["mac"]
    assert ("100.64.1.1", 24) in [(i["local"], i["prefixlen"]) for i in br["addr_info"]]
    routes = node.ip_json("route", "show", netns=ns)
    assert {"dst": "default", "gateway": "100.64.1.1"}.items() <= routes[0].items()
    assert sysctl("net.ipv4.conf.eth0.arp_notify", ns) == "1"
    assert sysctl("net.ipv4.ip_forward", node.hostns) == "1"


@pytest.mark.parametrize("version", VERSIONS)
def test_result_shape_in_every_spec_version(node: Node, version: str) -> None:
    conf = node.conf(version=version)
    conf["ipam"]["ranges"].append([{"subnet": "fd00:64:1::/64"}])
    ns = node.make_netns()
    res = node.add(conf, ns)
    assert res["cniVersion"] == version
    assert res["dns"] == {}
    if version in ("0.1.0", "0.2.0"):
        assert set(res) == {"cniVersion", "ip4", "ip6", "dns"}
        assert res["ip4"]["ip"] == "100.64.1.2/24" and res["ip4"]["gateway"] == "100.64.1.1"
        assert res["ip4"]["routes"] == [{"dst": "0.0.0.0/0", "gw": "100.64.1.1"}]
        assert res["ip6"]["ip"] == "fd00:64:1::2/64"
        assert res["ip6"]["routes"] == [{"dst": "::/0", "gw": "fd00:64:1::1"}]
        return
    assert set(res) == {"cniVersion", "interfaces", "ips", "routes", "dns"}
    v4, v6 = res["ips"]
    if version in ("0.3.0", "0.3.1", "0.4.0"):
        assert (v4["version"], v6["version"]) == ("4", "6")
    else:
        assert "version" not in v4 and "version" not in v6
    assert v6 == dict(v6, address="fd00:64:1::2/64", gateway="fd00:64:1::1", interface=2)
    if version == "1.1.0":
        assert all(i["mtu"] == 1500 for i in res["interfaces"])
    else:
        assert all("mtu" not in i for i in res["interfaces"])
    assert sorted(container_addrs(ns)) == ["100.64.1.2/24", "fd00:64:1::2/64"]
    assert ping(ns, "fd00:64:1::1")


def test_seed_config_unchanged(node: Node) -> None:
    """The seed's config byte for byte: its store and log land in /run/humanz and /var/log,
    which the harness bind-mounts from test directories in a private mount namespace."""
    seed = ('{"cniVersion":"0.3.1","name":"humanz-cni","type":"humanz-cni",'
            '"bridge":"humanz-cni0","network":"100.100.0.0/16","subnet":"100.100.1.0/24"}')
    dirs = {"/run/humanz": str(node.tmp / "run-humanz"), "/var/log": str(node.tmp / "var-log")}
    for d in dirs.values():
        os.mkdir(d)
    ns = node.make_netns()
    out = node.run("ADD", seed, cid="seed1", netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out
    res = json.loads(out.out)
    assert res["cniVersion"] == "0.3.1"
    assert res["ips"] == [{"version": "4", "interface": 2, "address": "100.100.1.2/24",
                           "gateway": "100.100.1.1"}]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "100.100.1.1"}]
    br = node.ip_json("addr", "show", "dev", "humanz-cni0")[0]
    assert ("100.100.1.1", 24) in [(i["local"], i["prefixlen"]) for i in br["addr_info"]]
    assert ping(ns, "100.100.1.1")
    store = node.tmp / "run-humanz" / "networks" / "humanz-cni"
    assert (store / "100.100.1.2").exists()
    log = (node.tmp / "var-log" / "humanz-cni.log").read_text().splitlines()
    assert json.loads(log[0])["result"] == "ok"
    out = node.run("DEL", seed, cid="seed1", netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out
    assert not (store / "100.100.1.2").exists()
    assert [l["ifname"] for l in container_links(ns)] == ["lo"]


def test_chained_prev_result_is_kept_and_extended(node: Node) -> None:
    ns = node.make_netns()
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "lo"}],
            "ips": [{"address": "100.64.9.9/32", "interface": 0}],
            "dns": {"nameservers": ["100.64.0.53"]}}
    res = node.add(node.conf(prevResult=prev), ns)
    assert [i["name"] for i in res["interfaces"]][0] == "lo"
    assert len(res["interfaces"]) == 4
    assert res["ips"][0] == {"address": "100.64.9.9/32", "interface": 0}
    assert res["ips"][1]["interface"] == 3
    assert res["dns"] == {"nameservers": ["100.64.0.53"]}


def test_options_mtu_mac_hairpin_dns_routes_static_ip(node: Node, tmp_path: Any) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# test\nnameserver 100.64.0.53\nsearch a.example b.example\n"
                      "options ndots:2\n")
    conf = node.conf(mtu=1400, hairpinMode=True)
    conf["ipam"]["routes"] = [{"dst": "100.65.0.0/16"}, {"dst": "100.66.0.0/16",
                                                          "gw": "100.64.1.254"}]
    conf["ipam"]["resolvConf"] = str(resolv)
    conf["args"] = {"cni": {"ips": ["100.64.1.77"]}}
    conf["runtimeConfig"] = {"mac": "02:00:00:00:aa:01"}
    ns = node.make_netns()
    res = node.add(conf, ns)
    assert res["ips"][0]["address"] == "100.64.1.77/24"
    eth0 = next(l for l in container_links(ns) if l["ifname"] == "eth0")
    assert eth0["address"] == "02:00:00:00:aa:01" and eth0["mtu"] == 1400
    assert res["dns"] == {"nameservers": ["100.64.0.53"], "search": ["a.example", "b.example"],
                          "options": ["ndots:2"]}
    routes = {(r["dst"], r.get("gateway")) for r in node.ip_json("route", "show", netns=ns)}
    assert {("100.65.0.0/16", "100.64.1.1"), ("100.66.0.0/16", "100.64.1.254"),
            ("default", "100.64.1.1")} <= routes
    host = res["interfaces"][1]["name"]
    port = node.ip_json("-d", "link", "show", "dev", host)[0]
    assert port["linkinfo"]["info_slave_data"]["hairpin"] is True
    bridge = node.ip_json("link", "show", "dev", node.bridge)[0]
    assert bridge["mtu"] == 1400


def test_cni_args_ip_and_mac(node: Node) -> None:
    ns = node.make_netns()
    res = node.add(node.conf(), ns, args="IgnoreUnknown=1;K8S_POD_NAME=p;IP=100.64.1.9;"
                                          "MAC=02:00:00:00:bb:02;Other=x")
    assert res["ips"][0]["address"] == "100.64.1.9/24"
    assert res["interfaces"][2]["mac"] == "02:00:00:00:bb:02"


def test_layer2_only_bridge(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf(ipam={}, isGateway=False, isDefaultGateway=False)
    res = node.add(conf, ns)
    assert "ips" not in res and len(res["interfaces"]) == 3
    assert container_addrs(ns) == []
    assert node.delete(conf, ns).rc == 0


def test_promisc_mode_on_the_bridge(node: Node) -> None:
    ns = node.make_netns()
    node.add(node.conf(promiscMode=True), ns)
    bridge = node.ip_json("link", "show", "dev", node.bridge)[0]
    assert "PROMISC" in bridge["flags"]


def test_gateway_off_leaves_bridge_without_address(node: Node) -> None:
    ns = node.make_netns()
    res = node.add(node.conf(isGateway=False, isDefaultGateway=False), ns)
    assert "routes" not in res
    br = node.ip_json("addr", "show", "dev", node.bridge)[0]
    assert [i for i in br["addr_info"] if i["family"] == "inet"] == []


def test_log_line_per_operation(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf()
    node.add(conf, ns)
    node.delete(conf, ns)
    lines = node.log_lines()
    assert [l["command"] for l in lines] == ["ADD", "DEL"]
    add = lines[0]
    assert add["result"] == "ok" and add["containerID"] == "cid-" + ns
    assert add["netns"] == netns_path(ns) and add["ifname"] == "eth0"
    assert add["ips"] == ["100.64.1.2/24"] and add["durationMs"] >= 0
    assert add["time"].endswith("Z")
