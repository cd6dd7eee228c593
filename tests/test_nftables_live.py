"""nf_tables through humanz.netlink.nftables on the real kernel, checked with ``nft -j``.

Everything happens in throwaway namespaces (the fixtures in conftest.py): each has its own
nftables ruleset, so nothing here touches the host's. The last test sends real traffic: a
"pod" reaches an "outside" namespace that has no route back to the pod network — only the
agent's masquerade rule makes the reply come back.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any, Callable

import pytest
from conftest import ip

from humanz.agent import masquerade
from humanz.agent.model import parse_cidr
from humanz.netlink import nf_uapi as nf
from humanz.netlink import nftables as n
from humanz.netlink.errors import NetlinkError

INET = nf.NFPROTO_INET


def nft_json(ns: str) -> list[dict[str, Any]]:
    """``nft -j list ruleset`` in ``ns``: the list of objects (tables, chains, rules)."""
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return [item for item in json.loads(out)["nftables"] if "metainfo" not in item]


def nft_text(ns: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                          capture_output=True, text=True, timeout=30, check=True).stdout


def of(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item[kind] for item in items if kind in item]


def test_tables_chains_rules_as_nft_sees_them(netns: str) -> None:
    with n.Nft("/run/netns/" + netns) as client:
        client.commit([
            n.add_table(INET, "hzt"),
            n.add_chain(INET, "hzt", "post", nf.NF_INET_POST_ROUTING, 100, "nat"),
            n.add_chain(INET, "hzt", "fwd", nf.NF_INET_FORWARD, -5, "filter", nf.NF_DROP),
            n.add_chain(INET, "hzt", "plain"),
            n.add_rule(INET, "hzt", "fwd", [
                n.meta(nf.NFT_META_NFPROTO), n.cmp(nf.NFT_CMP_EQ, b"\x02"),
                n.payload(nf.NFT_PAYLOAD_NETWORK_HEADER, 12, 4),
                n.bitwise(b"\xff\xff\xff\x00"), n.cmp(nf.NFT_CMP_EQ, b"\x64\x60\x01\x00"),
                n.counter(), n.immediate_verdict(nf.NF_ACCEPT)],
                comment="net=hzt id=c1/eth0"),
            n.add_rule(INET, "hzt", "fwd", [n.immediate_verdict(nf.NFT_JUMP, "plain")]),
            n.add_rule(INET, "hzt", "post", [n.masq()], comment="masq all"),
        ])
        items = nft_json(netns)
        assert of(items, "table") == [{"family": "inet", "name": "hzt", "handle": 1}]
        chains = {c["name"]: c for c in of(items, "chain")}
        assert (chains["post"]["type"], chains["post"]["hook"], chains["post"]["prio"],
                chains["post"]["policy"]) == ("nat", "postrouting", 100, "accept")
        assert (chains["fwd"]["type"], chains["fwd"]["hook"], chains["fwd"]["prio"],
                chains["fwd"]["policy"]) == ("filter", "forward", -5, "drop")
        assert "hook" not in chains["plain"]
        rules = of(items, "rule")
        fwd = [r for r in rules if r["chain"] == "fwd"]
        assert fwd[0]["comment"] == "net=hzt id=c1/eth0"
        assert fwd[0]["expr"] == [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": {"prefix": {"addr": "100.96.1.0", "len": 24}}}},
            {"counter": {"packets": 0, "bytes": 0}},
            {"accept": None}]
        assert fwd[1]["expr"] == [{"jump": {"target": "plain"}}]
        assert [r["expr"] for r in rules if r["chain"] == "post"] == [[{"masquerade": None}]]
        # read back by humanz, in the same order, with handles nft agrees on
        mine = client.rules(INET, "hzt", "fwd")
        assert [(r.handle, r.comment) for r in mine] == [(r["handle"], r.get("comment"))
                                                         for r in fwd]
        assert mine[0].counter() == (0, 0)
        assert {c.name: (c.hook, c.priority) for c in client.chains(INET, "hzt")} == {
            "post": (4, 100), "fwd": (2, -5), "plain": (None, None)}
        assert [t.name for t in client.tables()] == ["hzt"]


def test_a_failing_transaction_changes_nothing(netns: str) -> None:
    with n.Nft("/run/netns/" + netns) as client:
        client.commit([n.add_table(INET, "hzt"), n.add_chain(INET, "hzt", "c")])
        with pytest.raises(NetlinkError) as info:
            client.commit([n.add_table(INET, "hzt2"),
                           n.add_rule(INET, "hzt", "c", [n.masq()], comment="ok"),
                           n.add_rule(INET, "hzt", "missing", [n.masq()])])
        err = info.value
        assert err.errno == 2
        assert err.doing == "add rule to inet hzt missing in /run/netns/" + netns
        assert err.kernel_attr == "NFTA_RULE_CHAIN"
        assert [t.name for t in client.tables()] == ["hzt"]      # hzt2 was never made
        assert client.rules(INET, "hzt") == []                  # nor the first rule


def test_delete_rule_flush_chain_delete_table(netns: str) -> None:
    with n.Nft("/run/netns/" + netns) as client:
        client.commit([n.add_table(INET, "hzt"), n.add_chain(INET, "hzt", "c")]
                      + [n.add_rule(INET, "hzt", "c", [n.counter()], comment="r%d" % i)
                         for i in range(3)])
        rules = client.rules(INET, "hzt", "c")
        client.commit([n.del_rule(INET, "hzt", "c", rules[1].handle)])
        assert [r.comment for r in client.rules(INET, "hzt", "c")] == ["r0", "r2"]
        client.commit([n.flush_chain(INET, "hzt", "c")])
        assert client.rules(INET, "hzt", "c") == []
        assert [c["name"] for c in of(nft_json(netns), "chain")] == ["c"]
        client.commit([n.del_chain(INET, "hzt", "c"), n.del_table(INET, "hzt")])
        assert nft_json(netns) == []
        assert client.rules(INET, "hzt") == []                  # ENOENT → no rules


def test_agent_rules_are_what_nft_prints_and_converge(netns: str) -> None:
    cidrs = [parse_cidr("100.96.0.0/16"), parse_cidr("fd00:96::/48")]
    with n.Nft("/run/netns/" + netns) as client:
        # a chain of the same table that is not the agent's (e.g. the plugin's ipMasq rules)
        client.commit([n.add_table(INET, "humanz"), n.add_chain(INET, "humanz", "other"),
                       n.add_rule(INET, "humanz", "other", [n.counter()], comment="not mine")])
        assert masquerade.ensure(client, cidrs) is True
        text = nft_text(netns)
        assert ("ip saddr 100.96.0.0/16 ip daddr != 100.96.0.0/16 counter packets 0 bytes 0 "
                "masquerade comment \"humanz agent: masquerade 100.96.0.0/16 leaving the "
                "cluster network\"") in text
        assert "ip6 saddr fd00:96::/48 ip6 daddr != fd00:96::/48 counter" in text
        assert "ip saddr 100.96.0.0/16 accept" in text and "ip6 daddr fd00:96::/48 accept" in text
        assert "type nat hook postrouting priority srcnat; policy accept;" in text
        assert "type filter hook forward priority filter; policy accept;" in text
        assert masquerade.ensure(client, cidrs) is False          # converged: nothing to do
        handles = [r.handle for r in client.rules(INET, "humanz")]
        assert masquerade.ensure(client, cidrs) is False
        assert [r.handle for r in client.rules(INET, "humanz")] == handles
        # the cluster CIDR changes: the agent's chains are refilled, the other one untouched
        assert masquerade.ensure(client, cidrs[:1]) is True
        comments = [r.comment for r in client.rules(INET, "humanz")]
        assert "not mine" in comments
        assert not any(c and "fd00" in c for c in comments)


def test_masquerade_makes_the_outside_answer_the_node(make_netns: Callable[[], str]) -> None:
    pod, node, outside = make_netns(), make_netns(), make_netns()
    ip("link", "add", "hztpod0", "netns", pod, "type", "veth", "peer", "name", "hztnode0",
       "netns", node)
    ip("link", "add", "hztnode1", "netns", node, "type", "veth", "peer", "name", "hztout0",
       "netns", outside)
    for ns, dev, addr in ((pod, "hztpod0", "100.96.1.2/24"), (node, "hztnode0", "100.96.1.1/24"),
                          (node, "hztnode1", "100.64.200.1/24"),
                          (outside, "hztout0", "100.64.200.2/24")):
        ip("addr", "add", addr, "dev", dev, netns=ns)
        ip("link", "set", dev, "up", netns=ns)
    ip("route", "add", "default", "via", "100.96.1.1", netns=pod)
    subprocess.run(["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                   check=True, timeout=30)

    def ping() -> bool:
        return subprocess.run(["ip", "netns", "exec", pod, "ping", "-c", "1", "-W", "2",
                               "100.64.200.2"], capture_output=True, timeout=30).returncode == 0

    # The outside knows no route to 100.96.0.0/16: without masquerade no reply comes back.
    assert not ping()
    with n.Nft("/run/netns/" + node) as client:
        masquerade.ensure(client, [parse_cidr("100.96.0.0/16")])
        assert ping()
        (rule,) = client.rules(INET, masquerade.TABLE, masquerade.POSTROUTING)
        counted = rule.counter()
        assert counted is not None and counted[0] >= 1


def test_trace_hook_gets_the_protocol_and_explains_batches(netns: str) -> None:
    """An nf_tables socket hands its schema to the trace hook, so the explain tracer names
    0x10 NFNL_MSG_BATCH_BEGIN (not RTM_NEWLINK, its number on NETLINK_ROUTE)."""
    import io

    from humanz.netlink.explain import tracer
    seen: list[tuple[Any, ...]] = []
    out = io.StringIO()
    show = tracer(out)

    def hook(*args: Any) -> None:
        seen.append(args)
        show(*args)

    with n.Nft("/run/netns/" + netns, trace=hook) as client:
        client.commit([n.add_table(INET, "hzt")])
    assert seen[0][0] == "send" and {a[0] for a in seen[1:]} == {"recv"}
    assert all(a[3] is nf.NETFILTER for a in seen)
    text = out.getvalue()
    assert "NFNL_MSG_BATCH_BEGIN" in text and "NFT_MSG_NEWTABLE" in text
    assert "NFNL_MSG_BATCH_END" in text and "RTM_" not in text
