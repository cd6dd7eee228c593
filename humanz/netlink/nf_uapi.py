"""The nf_tables vocabulary (NETLINK_NETFILTER): message types, nfgenmsg, NFTA_* attribute sets.

Each table mirrors one Linux uapi header — ``linux/netfilter/nfnetlink.h``,
``linux/netfilter/nf_tables.h``, ``linux/netfilter.h`` — and is declared once, in the same form
as :mod:`humanz.netlink.uapi`'s rtnetlink tables, so the same codec encodes and decodes both and
the explain formatter shows both. Importing this module *registers* these tables with
:mod:`humanz.netlink.uapi` (``MESSAGES``, ``MESSAGE_NAMES``, ``ATTR_SETS``, ``STRUCTS``); it
adds names, it never changes an existing one.

Byte order: nf_tables puts almost every integer attribute in **network byte order** (``BE32``,
``BE64`` below; carried as 4/8 bytes until the core codec has big-endian integer kinds), unlike
rtnetlink. ``nfgenmsg.res_id`` is a ``__be16`` inside a struct: the
struct codec packs fields in host order, so the value to put there is ``be16(n)``.
"""

from __future__ import annotations

import sys

from . import uapi
from .uapi import (BYTES, NESTED_F, STRING, SWITCH_F, AttrSet, StructSpec)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .uapi import AttrDecl

# Big-endian integers. The core codec's kinds are U32/U64 in host order and BE16 only; until it
# has BE32/BE64 these attributes are declared as BYTES, and nftables.py converts with
# be32()/be64() (encode) and from_be() (decode). The names say what the bytes are.
BE32 = BYTES
BE64 = BYTES


def be32(n: int) -> bytes:
    """A (possibly negative) C int as the 4 big-endian bytes of a BE32 attribute."""
    return (n & 0xFFFFFFFF).to_bytes(4, "big")


def be64(n: int) -> bytes:
    return (n & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")


def from_be(value: object, signed: bool = False) -> int | None:
    """The integer in a BE32/BE64 attribute's bytes (None if absent or not 4/8 bytes)."""
    if not isinstance(value, bytes) or len(value) not in (4, 8):
        return None
    return int.from_bytes(value, "big", signed=signed)

# <linux/netlink.h>
NETLINK_NETFILTER = 12

# <linux/netfilter/nfnetlink.h>
NFNETLINK_V0 = 0
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = uapi.NLMSG_MIN_TYPE          # 0x10 — same number as RTM_NEWLINK!
NFNL_MSG_BATCH_END = uapi.NLMSG_MIN_TYPE + 1        # 0x11


def be16(n: int) -> int:
    """The host-order u16 whose bytes are ``n`` in network order (for nfgenmsg.res_id)."""
    return int.from_bytes(n.to_bytes(2, "big"), sys.byteorder)


# <linux/netfilter/nf_tables.h> enum nf_tables_msg_types; on the wire the type is
# (NFNL_SUBSYS_NFTABLES << 8) | message.
NFT_MSG_NEWTABLE = 0
NFT_MSG_GETTABLE = 1
NFT_MSG_DELTABLE = 2
NFT_MSG_NEWCHAIN = 3
NFT_MSG_GETCHAIN = 4
NFT_MSG_DELCHAIN = 5
NFT_MSG_NEWRULE = 6
NFT_MSG_GETRULE = 7
NFT_MSG_DELRULE = 8
NFT_MSG_NEWGEN = 15
NFT_MSG_GETGEN = 16


def nft_type(msg: int) -> int:
    """The nlmsg_type of nf_tables message ``msg``."""
    return (NFNL_SUBSYS_NFTABLES << 8) | msg


# <linux/netfilter.h> enum: nfgen_family values (NFPROTO_*)
NFPROTO_UNSPEC = 0
NFPROTO_INET = 1
NFPROTO_IPV4 = 2
NFPROTO_ARP = 3
NFPROTO_NETDEV = 5
NFPROTO_BRIDGE = 7
NFPROTO_IPV6 = 10
NFPROTO_NAMES = {0: "unspec", 1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge",
                 10: "ip6"}

# <linux/netfilter.h> enum nf_inet_hooks
NF_INET_PRE_ROUTING = 0
NF_INET_LOCAL_IN = 1
NF_INET_FORWARD = 2
NF_INET_LOCAL_OUT = 3
NF_INET_POST_ROUTING = 4
HOOK_NAMES = {0: "prerouting", 1: "input", 2: "forward", 3: "output", 4: "postrouting"}

# <linux/netfilter.h>: verdicts
NF_DROP = 0
NF_ACCEPT = 1
# <linux/netfilter/nf_tables.h> enum nft_verdicts (negative: sent as a two's-complement be32)
NFT_CONTINUE = -1
NFT_BREAK = -2
NFT_JUMP = -3
NFT_GOTO = -4
NFT_RETURN = -5

# <linux/netfilter_ipv4.h> enum nf_ip_hook_priorities (the ones nft calls filter and srcnat)
NF_IP_PRI_FILTER = 0
NF_IP_PRI_NAT_SRC = 100

# <linux/netfilter/nf_tables.h> enum nft_registers
NFT_REG_VERDICT = 0
NFT_REG_1 = 1
NFT_REG32_00 = 8

# <linux/netfilter/nf_tables.h> enum nft_cmp_ops
NFT_CMP_EQ = 0
NFT_CMP_NEQ = 1
NFT_CMP_LT = 2
NFT_CMP_LTE = 3
NFT_CMP_GT = 4
NFT_CMP_GTE = 5

# <linux/netfilter/nf_tables.h> enum nft_payload_bases
NFT_PAYLOAD_LL_HEADER = 0
NFT_PAYLOAD_NETWORK_HEADER = 1
NFT_PAYLOAD_TRANSPORT_HEADER = 2

# <linux/netfilter/nf_tables.h> enum nft_meta_keys (the ones humanz matches on)
NFT_META_PROTOCOL = 1
NFT_META_IIF = 4
NFT_META_OIF = 5
NFT_META_IIFNAME = 6
NFT_META_OIFNAME = 7
NFT_META_NFPROTO = 15
NFT_META_L4PROTO = 16

# <linux/netfilter/nf_tables.h> enum nft_bitwise_ops
NFT_BITWISE_MASK_XOR = 0

# <linux/netfilter/nf_tables.h> enum nft_chain_flags, enum nft_table_flags
NFT_CHAIN_BASE = 1 << 0
NFT_TABLE_F_DORMANT = 0x1

# <linux/netfilter/nfnetlink.h> struct nfgenmsg — 4 bytes after nlmsghdr in every message
NFGENMSG = StructSpec("nfgenmsg", (
    ("nfgen_family", "B", NFPROTO_NAMES),   # NFPROTO_*: which family's tables
    ("version", "B", None),                 # NFNETLINK_V0
    ("res_id", "H", None),                  # __be16: the subsystem in batch begin/end; use be16()
))
uapi.STRUCTS.setdefault(NFGENMSG.name, NFGENMSG)


def _declare(name: str, header: str, decls: dict[int, AttrDecl]) -> AttrSet:
    """An attribute set registered with the core's table (names are NFTA_*: no clashes)."""
    attr_set = AttrSet(name, header, decls)
    uapi.ATTR_SETS.setdefault(name, attr_set)
    return uapi.ATTR_SETS[name]


_H = "linux/netfilter/nf_tables.h"

# enum nft_table_attributes
NFTA_TABLE = _declare("NFTA_TABLE", _H, {
    1: ("NFTA_TABLE_NAME", STRING),
    2: ("NFTA_TABLE_FLAGS", BE32),
    3: ("NFTA_TABLE_USE", BE32),           # number of chains (kernel → us)
    4: ("NFTA_TABLE_HANDLE", BE64),
    5: ("NFTA_TABLE_PAD", BYTES),
    6: ("NFTA_TABLE_USERDATA", BYTES),
    7: ("NFTA_TABLE_OWNER", BE32),
})

# enum nft_hook_attributes
NFTA_HOOK = _declare("NFTA_HOOK", _H, {
    1: ("NFTA_HOOK_HOOKNUM", BE32),        # NF_INET_*
    2: ("NFTA_HOOK_PRIORITY", BE32),       # signed, two's complement
    3: ("NFTA_HOOK_DEV", STRING),
    4: ("NFTA_HOOK_DEVS", BYTES),
})

# enum nft_chain_attributes
NFTA_CHAIN = _declare("NFTA_CHAIN", _H, {
    1: ("NFTA_CHAIN_TABLE", STRING),
    2: ("NFTA_CHAIN_HANDLE", BE64),
    3: ("NFTA_CHAIN_NAME", STRING),
    4: ("NFTA_CHAIN_HOOK", NESTED_F, "NFTA_HOOK"),   # only base chains
    5: ("NFTA_CHAIN_POLICY", BE32),        # NF_ACCEPT / NF_DROP
    6: ("NFTA_CHAIN_USE", BE32),
    7: ("NFTA_CHAIN_TYPE", STRING),        # "filter", "nat", "route"
    8: ("NFTA_CHAIN_COUNTERS", BYTES),
    9: ("NFTA_CHAIN_PAD", BYTES),
    10: ("NFTA_CHAIN_FLAGS", BE32),
    11: ("NFTA_CHAIN_ID", BE32),
    12: ("NFTA_CHAIN_USERDATA", BYTES),
})

# enum nft_rule_attributes
NFTA_RULE = _declare("NFTA_RULE", _H, {
    1: ("NFTA_RULE_TABLE", STRING),
    2: ("NFTA_RULE_CHAIN", STRING),
    3: ("NFTA_RULE_HANDLE", BE64),
    4: ("NFTA_RULE_EXPRESSIONS", NESTED_F, "NFTA_LIST"),
    5: ("NFTA_RULE_COMPAT", BYTES),
    6: ("NFTA_RULE_POSITION", BE64),
    7: ("NFTA_RULE_USERDATA", BYTES),      # opaque to the kernel; nft keeps comments here
    8: ("NFTA_RULE_PAD", BYTES),
    9: ("NFTA_RULE_ID", BE32),
    10: ("NFTA_RULE_POSITION_ID", BE32),
    11: ("NFTA_RULE_CHAIN_ID", BE32),
})

# enum nft_list_attributes: a list of expressions
NFTA_LIST = _declare("NFTA_LIST", _H, {
    1: ("NFTA_LIST_ELEM", NESTED_F, "NFTA_EXPR"),
})

# enum nft_expression_attributes: the name picks the set of NFTA_EXPR_DATA
NFTA_EXPR = _declare("NFTA_EXPR", _H, {
    1: ("NFTA_EXPR_NAME", STRING),
    2: ("NFTA_EXPR_DATA", SWITCH_F, ("NFTA_EXPR_NAME", {
        "payload": "NFTA_PAYLOAD", "meta": "NFTA_META", "cmp": "NFTA_CMP",
        "bitwise": "NFTA_BITWISE", "immediate": "NFTA_IMMEDIATE", "masq": "NFTA_MASQ",
        "counter": "NFTA_COUNTER"})),
})

# enum nft_payload_attributes
NFTA_PAYLOAD = _declare("NFTA_PAYLOAD", _H, {
    1: ("NFTA_PAYLOAD_DREG", BE32),
    2: ("NFTA_PAYLOAD_BASE", BE32),        # NFT_PAYLOAD_*_HEADER
    3: ("NFTA_PAYLOAD_OFFSET", BE32),
    4: ("NFTA_PAYLOAD_LEN", BE32),
    5: ("NFTA_PAYLOAD_SREG", BE32),
    6: ("NFTA_PAYLOAD_CSUM_TYPE", BE32),
    7: ("NFTA_PAYLOAD_CSUM_OFFSET", BE32),
    8: ("NFTA_PAYLOAD_CSUM_FLAGS", BE32),
})

# enum nft_meta_attributes
NFTA_META = _declare("NFTA_META", _H, {
    1: ("NFTA_META_DREG", BE32),
    2: ("NFTA_META_KEY", BE32),            # NFT_META_*
    3: ("NFTA_META_SREG", BE32),
})

# enum nft_cmp_attributes
NFTA_CMP = _declare("NFTA_CMP", _H, {
    1: ("NFTA_CMP_SREG", BE32),
    2: ("NFTA_CMP_OP", BE32),              # NFT_CMP_*
    3: ("NFTA_CMP_DATA", NESTED_F, "NFTA_DATA"),
})

# enum nft_bitwise_attributes
NFTA_BITWISE = _declare("NFTA_BITWISE", _H, {
    1: ("NFTA_BITWISE_SREG", BE32),
    2: ("NFTA_BITWISE_DREG", BE32),
    3: ("NFTA_BITWISE_LEN", BE32),
    4: ("NFTA_BITWISE_MASK", NESTED_F, "NFTA_DATA"),
    5: ("NFTA_BITWISE_XOR", NESTED_F, "NFTA_DATA"),
    6: ("NFTA_BITWISE_OP", BE32),
    7: ("NFTA_BITWISE_DATA", NESTED_F, "NFTA_DATA"),
})

# enum nft_immediate_attributes
NFTA_IMMEDIATE = _declare("NFTA_IMMEDIATE", _H, {
    1: ("NFTA_IMMEDIATE_DREG", BE32),
    2: ("NFTA_IMMEDIATE_DATA", NESTED_F, "NFTA_DATA"),
})

# enum nft_data_attributes: a value or a verdict
NFTA_DATA = _declare("NFTA_DATA", _H, {
    1: ("NFTA_DATA_VALUE", BYTES),
    2: ("NFTA_DATA_VERDICT", NESTED_F, "NFTA_VERDICT"),
})

# enum nft_verdict_attributes
NFTA_VERDICT = _declare("NFTA_VERDICT", _H, {
    1: ("NFTA_VERDICT_CODE", BE32),        # NF_ACCEPT / NF_DROP / NFT_* (negative, be32)
    2: ("NFTA_VERDICT_CHAIN", STRING),
    3: ("NFTA_VERDICT_CHAIN_ID", BE32),
})

# enum nft_masq_attributes
NFTA_MASQ = _declare("NFTA_MASQ", _H, {
    1: ("NFTA_MASQ_FLAGS", BE32),
    2: ("NFTA_MASQ_REG_PROTO_MIN", BE32),
    3: ("NFTA_MASQ_REG_PROTO_MAX", BE32),
})

# enum nft_counter_attributes
NFTA_COUNTER = _declare("NFTA_COUNTER", _H, {
    1: ("NFTA_COUNTER_BYTES", BE64),
    2: ("NFTA_COUNTER_PACKETS", BE64),
    3: ("NFTA_COUNTER_PAD", BYTES),
})

# enum nft_gen_attributes
NFTA_GEN = _declare("NFTA_GEN", _H, {
    1: ("NFTA_GEN_ID", BE32),
    2: ("NFTA_GEN_PROC_PID", BE32),
    3: ("NFTA_GEN_PROC_NAME", STRING),
})

# Message schemas: nlmsg_type → (nfgenmsg, attribute set). The batch markers (0x10, 0x11)
# are NOT registered: on NETLINK_ROUTE those numbers are RTM_NEWLINK/RTM_DELLINK, and the
# core's table is keyed by type alone (see nftables.py, which packs them from NFGENMSG).
MESSAGES: dict[int, tuple[StructSpec, AttrSet]] = {
    nft_type(NFT_MSG_NEWTABLE): (NFGENMSG, NFTA_TABLE),
    nft_type(NFT_MSG_GETTABLE): (NFGENMSG, NFTA_TABLE),
    nft_type(NFT_MSG_DELTABLE): (NFGENMSG, NFTA_TABLE),
    nft_type(NFT_MSG_NEWCHAIN): (NFGENMSG, NFTA_CHAIN),
    nft_type(NFT_MSG_GETCHAIN): (NFGENMSG, NFTA_CHAIN),
    nft_type(NFT_MSG_DELCHAIN): (NFGENMSG, NFTA_CHAIN),
    nft_type(NFT_MSG_NEWRULE): (NFGENMSG, NFTA_RULE),
    nft_type(NFT_MSG_GETRULE): (NFGENMSG, NFTA_RULE),
    nft_type(NFT_MSG_DELRULE): (NFGENMSG, NFTA_RULE),
    nft_type(NFT_MSG_NEWGEN): (NFGENMSG, NFTA_GEN),
    nft_type(NFT_MSG_GETGEN): (NFGENMSG, NFTA_GEN),
}
MESSAGE_NAMES = {
    nft_type(NFT_MSG_NEWTABLE): "NFT_MSG_NEWTABLE", nft_type(NFT_MSG_GETTABLE): "NFT_MSG_GETTABLE",
    nft_type(NFT_MSG_DELTABLE): "NFT_MSG_DELTABLE", nft_type(NFT_MSG_NEWCHAIN): "NFT_MSG_NEWCHAIN",
    nft_type(NFT_MSG_GETCHAIN): "NFT_MSG_GETCHAIN", nft_type(NFT_MSG_DELCHAIN): "NFT_MSG_DELCHAIN",
    nft_type(NFT_MSG_NEWRULE): "NFT_MSG_NEWRULE", nft_type(NFT_MSG_GETRULE): "NFT_MSG_GETRULE",
    nft_type(NFT_MSG_DELRULE): "NFT_MSG_DELRULE", nft_type(NFT_MSG_NEWGEN): "NFT_MSG_NEWGEN",
    nft_type(NFT_MSG_GETGEN): "NFT_MSG_GETGEN",
}
for _type, _schema in MESSAGES.items():
    uapi.MESSAGES.setdefault(_type, _schema)
    uapi.MESSAGE_NAMES.setdefault(_type, MESSAGE_NAMES[_type])
