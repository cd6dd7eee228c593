"""ipMasq: the plugin's masquerade rules, checked with ``nft -j`` and with real traffic.

The plugin runs in a throwaway "host" namespace (plugin_harness.Node). An "outside" namespace
hangs off that node by a veth and knows no route to the pod subnets: a pod's datagram reaches
it either way, but only masquerade makes it arrive from the node's address — which is what a
small UDP receiver in the outside namespace reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import ip, unique_name
from plugin_harness import TIMEOUT, Node, netns_path, node  # noqa: F401

from humanz import ipmasq
from humanz.netlink import nftables as n
from humanz.netlink.nf_uapi import NFPROTO_INET

CLUSTER4 = "100.64.0.0/20"           # the config's network: 100.64.200.0/24 is outside it
NODE4, OUTSIDE4 = "100.64.200.1", "100.64.200.2"
NODE6, OUTSIDE6 = "fd00:200::1", "fd00:200::2"


def masq_conf(node: Node, dual: bool = False, **fields: Any) -> dict[str, Any]:
    ranges = [[{"subnet": "100.64.1.0/24"}]]
    if dual:
        ranges.append([{"subnet": "fd00:64:1::/64"}])
    settings: dict[str, Any] = {"network": CLUSTER4, "ipMasq": True, "ipam": {
        "type": "humanz", "ranges": ranges, "dataDir": node.data_dir}}
    settings.update(fields)
    return node.conf(version="1.1.0", **settings)


def plugin_rules(node: Node) -> list[dict[str, Any]]:
    """The rules of the plugin's chain, as ``nft -j list ruleset`` in the node shows them."""
    return [r for r in _ruleset(node) if r.get("table") == ipmasq.TABLE
            and r.get("chain") == ipmasq.CHAIN]


def _ruleset(node: Node) -> list[dict[str, Any]]:
    out = subprocess.run(["ip", "netns", "exec", node.hostns, "nft", "-j", "list", "ruleset"],
                         capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    return [item["rule"] for item in json.loads(out)["nftables"] if "rule" in item]


def note(node: Node, ns: str, ifname: str = "eth0") -> str:
    return "net=%s id=cid-%s/%s" % (node.network, ns, ifname)


def comments(node: Node) -> list[str]:
    return sorted(r.get("comment", "") for r in plugin_rules(node))


def attach_outside(node: Node) -> str:
    """An "outside" namespace on a veth from the node, with no route to the pod subnets."""
    outside = node.make_netns()
    here, there = unique_name("on"), unique_name("oo")
    ip("link", "add", here, "netns", node.hostns, "type", "veth", "peer", "name", there,
       "netns", outside)
    for ns, dev, addrs in ((node.hostns, here, (NODE4 + "/24", NODE6 + "/64")),
                           (outside, there, (OUTSIDE4 + "/24", OUTSIDE6 + "/64"))):
        for addr in addrs:
            ip("addr", "add", addr, "dev", dev, "nodad", netns=ns)
        ip("link", "set", dev, "up", netns=ns)
    return outside


RECEIVER = """
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5555))
s.settimeout(15)
print("ready", flush=True)
data, peer = s.recvfrom(100)
print(peer[0], flush=True)
"""

SENDER = """
import socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
for _ in range(30):
    try:
        s.sendto(b"hello", (sys.argv[1], 5555))
    except OSError:
        pass
    time.sleep(0.2)
"""


def source_seen_by(outside: str, pod: str, address: str) -> str:
    """Send UDP from ``pod`` to ``address`` in ``outside``; the source address it arrived from."""
    receiver = subprocess.Popen(["ip", "netns", "exec", outside, sys.executable, "-c", RECEIVER,
                                 address], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        sender = subprocess.Popen(["ip", "netns", "exec", pod, sys.executable, "-c", SENDER,
                                   address], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            seen = receiver.stdout.readline().strip()
        finally:
            sender.kill()
            sender.wait(timeout=TIMEOUT)
        receiver.wait(timeout=TIMEOUT)
        return seen
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------

def test_outside_sees_the_node_address_v4_and_v6(node: Node) -> None:
    conf = masq_conf(node, dual=True)
    outside = attach_outside(node)
    pod = node.make_netns()
    res = node.add(conf, pod)
    assert [ip_["address"] for ip_ in res["ips"]] == ["100.64.1.2/24", "fd00:64:1::2/64"]
    assert source_seen_by(outside, pod, OUTSIDE4) == NODE4
    assert source_seen_by(outside, pod, OUTSIDE6) == NODE6

    rules = plugin_rules(node)
    assert [r["comment"] for r in rules] == [note(node, pod)] * 2    # one per pod address
    v4, v6 = rules
    assert v4["expr"][:2] == [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": "100.64.1.2"}},
        {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                   "right": {"prefix": {"addr": "100.64.0.0", "len": 20}}}}]
    assert v4["expr"][-1] == {"masquerade": None}
    # no network of its family in the config: the pod's own subnet stays unmasqueraded
    assert v6["expr"][1] == {"match": {"op": "!=", "left": {"payload": {
        "protocol": "ip6", "field": "daddr"}}, "right": {"prefix": {"addr": "fd00:64:1::",
                                                                     "len": 64}}}}
    assert v4["expr"][2]["counter"]["packets"] >= 1 and v6["expr"][2]["counter"]["packets"] >= 1

    out = node.delete(conf, pod)
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    assert plugin_rules(node) == []


def test_without_ip_masq_the_outside_sees_the_pod(node: Node) -> None:
    """The control experiment: same set-up, ipMasq false, no rule, the pod's own address."""
    outside = attach_outside(node)
    pod = node.make_netns()
    node.add(masq_conf(node, ipMasq=False), pod)
    ip("route", "add", "100.64.1.0/24", "via", NODE4, netns=outside)   # so it can answer
    assert source_seen_by(outside, pod, OUTSIDE4) == "100.64.1.2"
    assert plugin_rules(node) == []


def test_one_rule_per_attachment_del_with_and_without_netns(node: Node) -> None:
    conf = masq_conf(node)
    a, b, c = node.make_netns(), node.make_netns(), node.make_netns()
    for ns in (a, b, c):
        node.add(conf, ns)
    # a chain of the node agent in the same table: the plugin leaves it alone
    with n.Nft(netns_path(node.hostns)) as client:
        client.commit([n.add_chain(NFPROTO_INET, ipmasq.TABLE, "agent-postrouting"),
                       n.add_rule(NFPROTO_INET, ipmasq.TABLE, "agent-postrouting",
                                  [n.counter()], comment="humanz agent: not the plugin's")])
    assert comments(node) == sorted(note(node, ns) for ns in (a, b, c))

    out = node.delete(conf, a)                        # with its namespace
    assert out.rc == 0, out
    out = node.delete(conf, "", cid="cid-" + b)       # no CNI_NETNS at all (containerd does it)
    assert out.rc == 0, out
    assert comments(node) == [note(node, c)]
    out = node.delete(conf, "", cid="cid-" + b)       # repeated: nothing left, still fine
    assert out.rc == 0, out
    assert "humanz agent: not the plugin's" in [r.get("comment") for r in _ruleset(node)]


def test_gc_removes_the_rules_of_invalid_attachments_only(node: Node) -> None:
    conf = masq_conf(node)
    a, b = node.make_netns(), node.make_netns()
    node.add(conf, a)
    node.add(conf, b)
    other = ipmasq.comment("hztothernet", "x", "eth0")    # another network's rule
    with n.Nft(netns_path(node.hostns)) as client:
        ipmasq.add(client, other, ["100.64.9.9/24"], None)
    valid = [{"containerID": "cid-" + a, "ifname": "eth0"}]
    out = node.run("GC", dict(conf, **{"cni.dev/valid-attachments": valid}))
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    assert comments(node) == sorted([note(node, a), other])
    assert node.reservations() == ["100.64.1.2"]


def test_check_verifies_the_rule(node: Node) -> None:
    conf = masq_conf(node)
    pod = node.make_netns()
    res = node.add(conf, pod)
    conf = dict(conf, prevResult=res)
    out = node.run("CHECK", conf, cid="cid-" + pod, netns=netns_path(pod))
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    (rule,) = plugin_rules(node)
    subprocess.run(["ip", "netns", "exec", node.hostns, "nft", "delete", "rule", "inet",
                    ipmasq.TABLE, ipmasq.CHAIN, "handle", str(rule["handle"])],
                   check=True, timeout=TIMEOUT)
    out = node.run("CHECK", conf, cid="cid-" + pod, netns=netns_path(pod))
    assert out.code == 105 and "no masquerade rule for 100.64.1.2/24" in out.data["msg"], out


def test_failed_add_leaves_no_rule(node: Node) -> None:
    """ADD masquerades right after reserving the addresses; a later step fails (the bridge
    name is taken by a veth) and the rollback removes the rule again."""
    ip("link", "add", node.bridge, "type", "veth", "peer", "name", unique_name("p"),
       netns=node.hostns)
    pod = node.make_netns()
    out = node.run("ADD", masq_conf(node), cid="cid-" + pod, netns=netns_path(pod))
    assert out.rc != 0 and "not a bridge" in out.out, out
    assert plugin_rules(node) == []
    assert node.reservations() == []


def test_repeated_add_replaces_the_rule(node: Node) -> None:
    conf = masq_conf(node)
    pod = node.make_netns()
    node.add(conf, pod)
    node.delete(conf, pod)
    node.add(conf, pod)
    with n.Nft(netns_path(node.hostns)) as client:     # an ADD again over a leftover rule
        ipmasq.add(client, note(node, pod), ["100.64.1.2/24"], CLUSTER4)
    assert comments(node) == [note(node, pod)]


def test_long_names_give_comments_nft_accepts() -> None:
    short = ipmasq.comment("net", "c" * 64, "eth0")
    assert short == "net=net id=%s/eth0" % ("c" * 64)
    long_ = ipmasq.comment("n" * 100, "c" * 100, "eth0")
    assert len(long_) <= n.COMMENT_MAX and long_.startswith("net=~") and " id=~" in long_
    assert long_ == ipmasq.comment("n" * 100, "c" * 100, "eth0")     # stable: GC relies on it
    assert long_ != ipmasq.comment("n" * 100, "c" * 100, "eth1")
