"""nf_tables messages as bytes: fixtures with every field commented, both directions; fuzzing.

Netlink headers are in host byte order (these machines are little-endian); nf_tables attribute
values are big-endian. The batch markers were checked against what ``nft --debug=mnl`` sends
("extra header 00 00 00 0a": family 0, version 0, res_id 10 in network order).
"""

from __future__ import annotations

import glob
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from humanz.netlink import codec, uapi
from humanz.netlink import nf_uapi as nf
from humanz.netlink.nf_uapi import NETFILTER
from humanz.netlink import nftables as n
from humanz.netlink.errors import DecodeError
from humanz.netlink.explain import explain

assert sys.byteorder == "little", "the fixtures spell host-order fields little-endian"

INET = nf.NFPROTO_INET

# A transaction creating table inet "humanz": BEGIN, NEWTABLE, END in one datagram.
BATCH_ADD_TABLE = bytes.fromhex(
    # NFNL_MSG_BATCH_BEGIN
    "14000000"      # nlmsg_len 20
    "1000"          # nlmsg_type 0x10 NFNL_MSG_BATCH_BEGIN
    "0100"          # nlmsg_flags NLM_F_REQUEST
    "64000000"      # nlmsg_seq 100
    "00000000"      # nlmsg_pid 0
    "00"            #   nfgen_family NFPROTO_UNSPEC
    "00"            #   version NFNETLINK_V0
    "000a"          #   res_id NFNL_SUBSYS_NFTABLES (10), big-endian
    # NFT_MSG_NEWTABLE
    "20000000"      # nlmsg_len 32
    "000a"          # nlmsg_type 0x0a00: subsystem 10 << 8 | NFT_MSG_NEWTABLE 0
    "0504"          # nlmsg_flags REQUEST|ACK (0x05) | NLM_F_CREATE (0x400)
    "65000000"      # nlmsg_seq 101
    "00000000"      # nlmsg_pid
    "01"            #   nfgen_family NFPROTO_INET
    "00"            #   version
    "0000"          #   res_id 0
    "0b000100"      #   nla_len 11, NFTA_TABLE_NAME
    "68756d616e7a00"  # "humanz\0"
    "00"            #   padding to 4 bytes
    # NFNL_MSG_BATCH_END
    "14000000" "1100" "0100" "66000000" "00000000"   # len 20, type 0x11, REQUEST, seq 102
    "00" "00" "000a"                                 # nfgenmsg as in BEGIN
)

# A rule "ip daddr != 100.96.0.0" (just the cmp) with the comment "hi", appended to t/c.
NEWRULE_CMP = bytes.fromhex(
    "60000000"      # nlmsg_len 96
    "060a"          # nlmsg_type 0x0a06 NFT_MSG_NEWRULE
    "050c"          # flags REQUEST|ACK | NLM_F_CREATE 0x400 | NLM_F_APPEND 0x800
    "07000000"      # seq 7
    "00000000"      # pid
    "01" "00" "0000"  # nfgenmsg: inet, v0, res_id 0
    "06000100" "74000000"   # NFTA_RULE_TABLE "t\0" + 2 pad
    "06000200" "63000000"   # NFTA_RULE_CHAIN "c\0" + 2 pad
    "30000480"      # nla_len 48, NFTA_RULE_EXPRESSIONS | NLA_F_NESTED
    "2c000180"      #   nla_len 44, NFTA_LIST_ELEM | NLA_F_NESTED
    "08000100" "636d7000"   # NFTA_EXPR_NAME "cmp\0"
    "20000280"      #     nla_len 32, NFTA_EXPR_DATA | NLA_F_NESTED (the "cmp" set)
    "08000100" "00000001"   # NFTA_CMP_SREG = NFT_REG_1, big-endian
    "08000200" "00000001"   # NFTA_CMP_OP = NFT_CMP_NEQ
    "0c000380"              # NFTA_CMP_DATA | NLA_F_NESTED
    "08000100" "64600000"   # NFTA_DATA_VALUE 100.96.0.0
    "09000700"      # nla_len 9, NFTA_RULE_USERDATA
    "00" "03" "686900"      # libnftnl TLV: type 0 (comment), length 3, "hi\0"
    "000000"        # padding
)

# A nat base chain at hook postrouting, priority -100 (negative: two's complement, big-endian).
NEWCHAIN_BASE = bytes.fromhex(
    "4c000000" "030a" "0504" "03000000" "00000000"   # len 76, NFT_MSG_NEWCHAIN, CREATE, seq 3
    "01" "00" "0000"                                 # inet
    "06000100" "74000000"                            # NFTA_CHAIN_TABLE "t"
    "09000300" "706f737400000000"                    # NFTA_CHAIN_NAME "post" + pad
    "14000480"                                       # NFTA_CHAIN_HOOK | NLA_F_NESTED
    "08000100" "00000004"                            #   NFTA_HOOK_HOOKNUM NF_INET_POST_ROUTING
    "08000200" "ffffff9c"                            #   NFTA_HOOK_PRIORITY -100
    "08000700" "6e617400"                            # NFTA_CHAIN_TYPE "nat"
    "08000500" "00000001"                            # NFTA_CHAIN_POLICY NF_ACCEPT
)


def test_batch_encodes_exactly() -> None:
    data, seqs = n.batch_bytes([n.add_table(INET, "humanz")], 100)
    assert data == BATCH_ADD_TABLE
    assert seqs == [101]


def test_rule_encodes_exactly_and_decodes_back() -> None:
    op = n.add_rule(INET, "t", "c", [n.cmp(nf.NFT_CMP_NEQ, bytes([100, 96, 0, 0]))],
                    comment="hi")
    assert op.encode(7) == NEWRULE_CMP
    (m,) = codec.decode(NEWRULE_CMP, NETFILTER)
    rule = n.Rule(m)
    assert (rule.family, rule.table, rule.chain, rule.comment) == (INET, "t", "c", "hi")
    ((name, data),) = rule.exprs
    assert name == "cmp"
    assert data.get("NFTA_CMP_OP") == nf.NFT_CMP_NEQ
    assert data.get_attrs("NFTA_CMP_DATA").get("NFTA_DATA_VALUE") == b"\x64\x60\x00\x00"  # type: ignore[union-attr]


def test_base_chain_encodes_exactly_and_decodes_back() -> None:
    op = n.add_chain(INET, "t", "post", nf.NF_INET_POST_ROUTING, -100, "nat", nf.NF_ACCEPT)
    assert op.encode(3) == NEWCHAIN_BASE
    chain = n.Chain(codec.decode(NEWCHAIN_BASE, NETFILTER)[0])
    assert (chain.table, chain.name, chain.hook, chain.priority, chain.type, chain.policy) == (
        "t", "post", nf.NF_INET_POST_ROUTING, -100, "nat", nf.NF_ACCEPT)


def test_explain_names_every_nf_field() -> None:
    text = explain(NEWRULE_CMP, "send", protocol=NETFILTER)
    for word in ("NFT_MSG_NEWRULE", "nfgenmsg", "nfgen_family", "inet", "NFTA_RULE_EXPRESSIONS",
                 "NFTA_EXPR_NAME", '"cmp"', "NFTA_CMP_OP", "NFTA_DATA_VALUE",
                 "NFTA_RULE_USERDATA"):
        assert word in text, word


def test_batch_markers_are_not_rtnetlink_messages() -> None:
    """0x10/0x11 are NFNL_MSG_BATCH_BEGIN/END on NETLINK_NETFILTER (RTM_NEWLINK/DELLINK on
    NETLINK_ROUTE): each protocol's schema names its own messages."""
    begin, _, end = codec.decode(BATCH_ADD_TABLE, NETFILTER)
    assert (begin.type_name, end.type_name) == ("NFNL_MSG_BATCH_BEGIN", "NFNL_MSG_BATCH_END")
    assert begin.fixed is not None
    assert begin.fixed.as_dict() == {"nfgen_family": 0, "version": 0,
                                     "res_id": nf.NFNL_SUBSYS_NFTABLES}   # big-endian field
    text = explain(BATCH_ADD_TABLE, "send", protocol=NETFILTER)
    assert "NFNL_MSG_BATCH_BEGIN" in text and "RTM_NEWLINK" not in text
    assert "res_id" in text and "10 (big-endian)" in text
    assert "NFT_MSG_NEWTABLE" in text and "CREATE" in text     # NEW flags named as NEW's
    # the rtnetlink tables were left alone by importing nf_uapi
    assert uapi.ROUTE.message_name(0x10) == "RTM_NEWLINK"
    assert "NFTA_RULE" not in uapi.ATTR_SETS and "nfgenmsg" not in uapi.STRUCTS
    assert set(nf.MESSAGES) & set(uapi.MESSAGES) == {0x10, 0x11}      # the numbers collide


def test_big_endian_kinds_round_trip() -> None:
    """BE32/BE64/SBE32 attributes decode to ints: a negative priority, a 64-bit handle."""
    op = n.del_rule(INET, "t", "c", 0x0102030405060708)
    (m,) = codec.decode(op.encode(5), NETFILTER)
    assert m.attrs.get("NFTA_RULE_HANDLE") == 0x0102030405060708
    assert op.encode(5).find(bytes.fromhex("0102030405060708")) > 0      # network order
    chain = n.Chain(codec.decode(n.add_chain(INET, "t", "c", 0, -300).encode(1), NETFILTER)[0])
    assert chain.priority == -300


def test_verdicts_and_expressions_round_trip() -> None:
    exprs = [n.meta(nf.NFT_META_NFPROTO), n.cmp(nf.NFT_CMP_EQ, b"\x02"),
             n.payload(nf.NFT_PAYLOAD_NETWORK_HEADER, 12, 4),
             n.bitwise(b"\xff\xff\x00\x00"), n.counter(), n.masq(),
             n.immediate_verdict(nf.NFT_JUMP, "elsewhere")]
    rule = n.Rule(codec.decode(n.add_rule(INET, "t", "c", exprs).encode(1), NETFILTER)[0])
    assert rule.expr_names() == ["meta", "cmp", "payload", "bitwise", "counter", "masq",
                                 "immediate"]
    verdict = rule.exprs[-1][1].get_attrs("NFTA_IMMEDIATE_DATA")
    assert verdict is not None
    code = verdict.get_attrs("NFTA_DATA_VERDICT")
    assert code is not None
    assert code.get("NFTA_VERDICT_CODE") == nf.NFT_JUMP
    assert code.get_str("NFTA_VERDICT_CHAIN") == "elsewhere"
    assert rule.counter() == (0, 0)


def test_comment_userdata_layout_and_limits() -> None:
    assert n.comment_userdata("net=humanz id=abc/eth0") == b"\x00\x17net=humanz id=abc/eth0\x00"
    assert n.comment_of(b"\x01\x02xy" + n.comment_userdata("second tlv")) == "second tlv"
    assert n.comment_of(b"\x00\x09short") is None
    assert n.comment_of(None) is None
    try:
        n.comment_userdata("x" * 128)
    except ValueError as e:
        assert "longer than 127" in str(e)
    else:
        raise AssertionError("a too long comment was accepted")


def test_nf_numbers_match_the_headers() -> None:
    """Every NFTA_*/NFT_*/NF_*/NFPROTO_* number declared equals the header's."""
    header: dict[str, int] = {}
    paths = ["/usr/include/linux/netfilter/nf_tables.h", "/usr/include/linux/netfilter.h",
             "/usr/include/linux/netfilter/nfnetlink.h", "/usr/include/linux/netfilter_ipv4.h"]
    for path in paths + glob.glob("/usr/include/linux/netlink.h"):
        _read_header(path, header)
    checked = 0
    for set_name in ("NFNL_BATCH", "NFTA_TABLE", "NFTA_HOOK", "NFTA_CHAIN", "NFTA_RULE", "NFTA_LIST",
                     "NFTA_EXPR", "NFTA_PAYLOAD", "NFTA_META", "NFTA_CMP", "NFTA_BITWISE",
                     "NFTA_IMMEDIATE", "NFTA_DATA", "NFTA_VERDICT", "NFTA_MASQ", "NFTA_COUNTER",
                     "NFTA_GEN"):
        for spec in nf.ATTR_SETS[set_name].by_number.values():
            assert header[spec.name] == spec.number, spec.name
            checked += 1
    for name in dir(nf):
        value = getattr(nf, name)
        if name.isupper() and isinstance(value, int) and name in header:
            assert header[name] == value, name
            checked += 1
    assert checked > 120


def _read_header(path: str, names: dict[str, int]) -> None:
    """Enum members and simple numeric #defines of a C header (comments stripped)."""
    text = open(path).read()
    while "/*" in text:
        start = text.index("/*")
        end = text.find("*/", start)
        text = text[:start] + text[end + 2 if end >= 0 else len(text):]
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define":
            value = _number(" ".join(parts[2:]), names)
            if value is not None:
                names.setdefault(parts[1], value)
    at = 0
    while text.find("enum", at) >= 0:
        start = text.find("enum", at)
        lo, hi = text.find("{", start), text.find("}", start)
        if lo < 0 or hi < lo:
            break
        counter = 0
        body = "\n".join(line for line in text[lo + 1:hi].splitlines()
                         if not line.lstrip().startswith("#"))
        for entry in body.split(","):
            entry = " ".join(entry.split())
            name, _, expr = entry.partition("=")
            name = name.strip()
            if not name or not name.replace("_", "").isalnum():
                continue
            if expr:
                value = _number(expr, names)
                if value is None:
                    break
                counter = value
            names.setdefault(name, counter)
            counter += 1
        at = hi + 1


def _number(expr: str, names: dict[str, int]) -> int | None:
    expr = expr.strip().replace("(", " ").replace(")", " ").strip()
    words = expr.split()
    if len(words) == 1:
        word = words[0].rstrip("UuLl") if words[0][:1].isdigit() else words[0]
        if word in names:
            return names[word]
        try:
            return int(word, 0)
        except ValueError:
            return None
    if len(words) == 3 and words[1] in ("<<", "+"):
        a, b = _number(words[0], names), _number(words[2], names)
        if a is None or b is None:
            return None
        return a << b if words[1] == "<<" else a + b
    if len(words) == 2 and words[0] == "-":
        v = _number(words[1], names)
        return None if v is None else -v
    return None


# -- fuzzing: the decoder only ever raises DecodeError -------------------------------------------

_NF_TYPES = sorted(nf.MESSAGES)


@st.composite
def _nf_message(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=200))
    msg_type = draw(st.sampled_from(_NF_TYPES))
    length = draw(st.one_of(st.just(16 + 4 + len(body)), st.integers(0, 300)))
    return (length.to_bytes(4, "little") + msg_type.to_bytes(2, "little") + b"\x00\x00"
            + bytes(8) + b"\x01\x00\x00\x00" + body)


@st.composite
def _mutated_fixture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([NEWRULE_CMP, NEWCHAIN_BASE, BATCH_ADD_TABLE])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    return bytes(data[:draw(st.integers(0, len(data)))])


@settings(max_examples=400, deadline=None)
@given(st.one_of(_nf_message(), _mutated_fixture()))
def test_decoder_raises_only_decode_error(data: bytes) -> None:
    try:
        for m in codec.decode(data, NETFILTER):
            if m.type in nf.MESSAGES and m.fixed is not None:
                n.Rule(m) if m.type == nf.nft_type(nf.NFT_MSG_NEWRULE) else None
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["payload", "meta", "cmp", "bitwise", "masq",
                                           "counter", "accept"]),
                          st.integers(0, 255), st.binary(min_size=1, max_size=16)),
                max_size=8),
       st.text(alphabet="abcdefghij-=/ ", max_size=40))
def test_rules_round_trip(spec: list[tuple[str, int, bytes]], comment: str) -> None:
    makers = {"payload": lambda i, b: n.payload(nf.NFT_PAYLOAD_NETWORK_HEADER, i, len(b)),
              "meta": lambda i, b: n.meta(i % 20),
              "cmp": lambda i, b: n.cmp(i % 6, b),
              "bitwise": lambda i, b: n.bitwise(b),
              "masq": lambda i, b: n.masq(),
              "counter": lambda i, b: n.counter(),
              "accept": lambda i, b: n.immediate_verdict(nf.NF_ACCEPT)}
    exprs = [makers[name](i, b) for name, i, b in spec]
    rule = n.Rule(codec.decode(n.add_rule(INET, "t", "c", exprs, comment or None).encode(9),
                               NETFILTER)[0])
    assert rule.expr_names() == [("immediate" if name == "accept" else name)
                                 for name, _, _ in spec]
    assert rule.comment == (comment or None)
