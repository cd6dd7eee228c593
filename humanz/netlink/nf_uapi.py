"""The nf_tables vocabulary (NETLINK_NETFILTER): message types, nfgenmsg, NFTA_* attribute sets.

Each table mirrors one Linux uapi header — ``linux/netfilter/nfnetlink.h``,
``linux/netfilter/nf_tables.h``, ``linux/netfilter.h`` — and is declared once, in the same form
as :mod:`humanz.netlink.uapi`'s rtnetlink tables. They make up :data:`NETFILTER`, the protocol
schema the codec, the socket and the explain formatter are given to speak nf_tables
(``codec.encode(..., protocol=NETFILTER)``); nothing here is added to the rtnetlink tables:
0x10 and 0x11 are RTM_NEWLINK/RTM_DELLINK there and NFNL_MSG_BATCH_BEGIN/END here.

Byte order: nf_tables puts almost every integer attribute in **network byte order** (the
header's ``__be32``/``__be64``: kinds ``BE32``, ``BE64``; ``SBE32`` where the value is a
signed C int), unlike rtnetlink; so is ``nfgenmsg.res_id`` (``">H"``, a ``__be16``).
"""

from __future__ import annotations

from . import uapi
from .uapi import (BE32, BE64, BYTES, NESTED_F, SBE32, STRING, SWITCH_F, AttrSet,
                   ProtocolSchema, StructSpec)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .uapi import AttrDecl

# <linux/netlink.h>
NETLINK_NETFILTER = 12

# <linux/netfilter/nfnetlink.h>
NFNETLINK_V0 = 0
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = uapi.NLMSG_MIN_TYPE          # 0x10 (RTM_NEWLINK on NETLINK_ROUTE)
NFNL_MSG_BATCH_END = uapi.NLMSG_MIN_TYPE + 1        # 0x11


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
    ("res_id", ">H", None),                 # __be16: the subsystem in batch begin/end
))
STRUCTS = {NFGENMSG.name: NFGENMSG}

ATTR_SETS: dict[str, AttrSet] = {}     # NETLINK_NETFILTER's attribute sets, by name


def _declare(name: str, header: str, decls: dict[int, AttrDecl]) -> AttrSet:
    return uapi.declare_into(ATTR_SETS, name, header, decls)


# <linux/netfilter/nfnetlink.h> enum nfnl_batch_attributes — of NFNL_MSG_BATCH_BEGIN
NFNL_BATCH = _declare("NFNL_BATCH", "linux/netfilter/nfnetlink.h", {
    1: ("NFNL_BATCH_GENID", BE32),         # apply only if the ruleset generation is still this
})


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
    2: ("NFTA_HOOK_PRIORITY", SBE32),      # signed (srcnat = 100, dstnat = -100)
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
    1: ("NFTA_VERDICT_CODE", SBE32),       # NF_ACCEPT / NF_DROP / NFT_* (negative)
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

# Message schemas: nlmsg_type → (nfgenmsg, attribute set); every message starts with nfgenmsg.
MESSAGES: dict[int, tuple[StructSpec, AttrSet]] = {
    NFNL_MSG_BATCH_BEGIN: (NFGENMSG, NFNL_BATCH),
    NFNL_MSG_BATCH_END: (NFGENMSG, NFNL_BATCH),
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
    NFNL_MSG_BATCH_BEGIN: "NFNL_MSG_BATCH_BEGIN", NFNL_MSG_BATCH_END: "NFNL_MSG_BATCH_END",
    nft_type(NFT_MSG_NEWTABLE): "NFT_MSG_NEWTABLE", nft_type(NFT_MSG_GETTABLE): "NFT_MSG_GETTABLE",
    nft_type(NFT_MSG_DELTABLE): "NFT_MSG_DELTABLE", nft_type(NFT_MSG_NEWCHAIN): "NFT_MSG_NEWCHAIN",
    nft_type(NFT_MSG_GETCHAIN): "NFT_MSG_GETCHAIN", nft_type(NFT_MSG_DELCHAIN): "NFT_MSG_DELCHAIN",
    nft_type(NFT_MSG_NEWRULE): "NFT_MSG_NEWRULE", nft_type(NFT_MSG_GETRULE): "NFT_MSG_GETRULE",
    nft_type(NFT_MSG_DELRULE): "NFT_MSG_DELRULE", nft_type(NFT_MSG_NEWGEN): "NFT_MSG_NEWGEN",
    nft_type(NFT_MSG_GETGEN): "NFT_MSG_GETGEN",
}

# The protocol: extended and capped ACKs, as for rtnetlink (strict dump checking is
# rtnetlink's and is not asked for).
NETFILTER = ProtocolSchema("NETLINK_NETFILTER", NETLINK_NETFILTER, MESSAGES, MESSAGE_NAMES,
                           ATTR_SETS, STRUCTS, (uapi.NETLINK_EXT_ACK, uapi.NETLINK_CAP_ACK))
