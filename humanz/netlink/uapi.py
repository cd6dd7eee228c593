"""The rtnetlink vocabulary: every kernel structure and attribute set humanz speaks, as tables.

Each table mirrors one Linux uapi header and is declared exactly once; the codec, the
explain formatter and the operations all read these tables, nothing else knows a number.
Hold this file next to the header named in each comment and the numbers line up (the test
``test_uapi_numbers_match_headers`` checks them against ``/usr/include/linux``).

Byte order: netlink carries integers in the *host's* byte order ("=" in ``struct`` terms),
except where the header says ``__be16``/``__be32``/``__be64``: attributes of kind ``BE16``,
``BE32``, ``BE64`` (and ``SBE32``), and struct fields whose format starts with ``">"``.

A :class:`ProtocolSchema` bundles one netlink protocol's vocabulary — its socket number, its
message table, its attribute sets and structs. :data:`ROUTE` (NETLINK_ROUTE) is declared at
the end of this file; other protocols declare theirs in their own module
(``nf_uapi.NETFILTER``) and never add to the tables here: message numbers are only unique
within one protocol (0x10 is RTM_NEWLINK here and NFNL_MSG_BATCH_BEGIN on NETLINK_NETFILTER).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

if TYPE_CHECKING:
    from typing import Callable, Dict, Optional, Sequence, Tuple, Union

    Buffer = Union[bytes, bytearray, memoryview]

# --------------------------------------------------------------------------------------------
# Constants outside the tables
# --------------------------------------------------------------------------------------------

# <bits/socket.h>: address families used by rtnetlink
AF_UNSPEC = 0
AF_INET = 2
AF_BRIDGE = 7
AF_INET6 = 10
AF_NETLINK = 16
FAMILY_NAMES = {AF_UNSPEC: "AF_UNSPEC", AF_INET: "AF_INET", AF_BRIDGE: "AF_BRIDGE",
                AF_INET6: "AF_INET6"}

# <linux/netlink.h>: the protocol number, socket options at SOL_NETLINK
NETLINK_ROUTE = 0
SOL_NETLINK = 270              # <linux/socket.h>; Python < 3.12 does not define it
NETLINK_CAP_ACK = 10           # error replies quote only the request's header, not its body
NETLINK_EXT_ACK = 11           # error replies carry NLMSGERR_ATTR_* (the kernel's reason)
NETLINK_GET_STRICT_CHK = 12    # the kernel validates dump requests instead of ignoring junk

# <linux/netlink.h>: nlmsg_flags
NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP_FILTERED = 0x20
# ... modifiers to GET requests
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_ATOMIC = 0x400
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# ... modifiers to NEW requests
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
# ... flags of an NLMSG_ERROR acknowledgement
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

# <linux/netlink.h>: control message types (below NLMSG_MIN_TYPE)
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
NLMSG_MIN_TYPE = 0x10

# <linux/netlink.h>: attribute header flags and alignment
NLA_F_NESTED = 1 << 15
NLA_F_NET_BYTEORDER = 1 << 14
NLA_TYPE_MASK = 0x3FFF         # ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) on a __u16
NLA_ALIGNTO = 4
NLMSG_ALIGNTO = 4

# <linux/rtnetlink.h>: message types
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26
RTM_NEWNSID = 88               # the ids a namespace gives other namespaces (net_namespace.h)
RTM_DELNSID = 89
RTM_GETNSID = 90
# the control messages every netlink protocol shares (their numbers are below NLMSG_MIN_TYPE)
CONTROL_MESSAGE_NAMES = {NLMSG_NOOP: "NLMSG_NOOP", NLMSG_ERROR: "NLMSG_ERROR",
                         NLMSG_DONE: "NLMSG_DONE", NLMSG_OVERRUN: "NLMSG_OVERRUN"}
MESSAGE_NAMES = {
    **CONTROL_MESSAGE_NAMES,
    RTM_NEWLINK: "RTM_NEWLINK", RTM_DELLINK: "RTM_DELLINK", RTM_GETLINK: "RTM_GETLINK",
    RTM_SETLINK: "RTM_SETLINK",
    RTM_NEWADDR: "RTM_NEWADDR", RTM_DELADDR: "RTM_DELADDR", RTM_GETADDR: "RTM_GETADDR",
    RTM_NEWROUTE: "RTM_NEWROUTE", RTM_DELROUTE: "RTM_DELROUTE", RTM_GETROUTE: "RTM_GETROUTE",
    RTM_NEWNSID: "RTM_NEWNSID", RTM_DELNSID: "RTM_DELNSID", RTM_GETNSID: "RTM_GETNSID",
}

# <linux/rtnetlink.h>: rtm_table (values > 255 only fit in RTA_TABLE)
RT_TABLE_UNSPEC = 0
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
TABLE_NAMES = {0: "unspec", 252: "compat", 253: "default", 254: "main", 255: "local"}

# <linux/rtnetlink.h>: rtm_protocol
RTPROT_UNSPEC = 0
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
RTPROT_STATIC = 4
PROTOCOL_NAMES = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static",
                  16: "dhcp", 9: "ra"}

# <linux/rtnetlink.h>: enum rt_scope_t (rtm_scope and ifa_scope)
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_SITE = 200
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255
SCOPE_NAMES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

# <linux/rtnetlink.h>: rtm_type
RTN_UNSPEC = 0
RTN_UNICAST = 1
RTN_LOCAL = 2
ROUTE_TYPE_NAMES = {0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast",
                    5: "multicast", 6: "blackhole", 7: "unreachable", 8: "prohibit",
                    9: "throw", 10: "nat", 11: "xresolve"}

# <linux/rtnetlink.h>: rtm_flags / rtnh_flags
RTNH_F_DEAD = 1
RTNH_F_PERVASIVE = 2
RTNH_F_ONLINK = 4
RTNH_F_OFFLOAD = 8
RTNH_F_LINKDOWN = 16
RTM_F_NOTIFY = 0x100
RTM_F_CLONED = 0x200
ROUTE_FLAG_NAMES = {RTNH_F_DEAD: "DEAD", RTNH_F_PERVASIVE: "PERVASIVE",
                    RTNH_F_ONLINK: "ONLINK", RTNH_F_OFFLOAD: "OFFLOAD",
                    RTNH_F_LINKDOWN: "LINKDOWN", RTM_F_NOTIFY: "NOTIFY",
                    RTM_F_CLONED: "CLONED"}

# <linux/rtnetlink.h>: IFLA_EXT_MASK bits
RTEXT_FILTER_VF = 1 << 0
RTEXT_FILTER_SKIP_STATS = 1 << 3

# <linux/if.h>: ifi_flags (net_device_flags)
IFF_UP = 1 << 0
IFF_BROADCAST = 1 << 1
IFF_LOOPBACK = 1 << 3
IFF_POINTOPOINT = 1 << 4
IFF_RUNNING = 1 << 6
IFF_NOARP = 1 << 7
IFF_PROMISC = 1 << 8
IFF_ALLMULTI = 1 << 9
IFF_MASTER = 1 << 10
IFF_SLAVE = 1 << 11
IFF_MULTICAST = 1 << 12
IFF_LOWER_UP = 1 << 16
IFF_DORMANT = 1 << 17
IFF_ECHO = 1 << 18
LINK_FLAG_NAMES = {IFF_UP: "UP", IFF_BROADCAST: "BROADCAST", IFF_LOOPBACK: "LOOPBACK",
                   IFF_POINTOPOINT: "POINTOPOINT", IFF_RUNNING: "RUNNING",
                   IFF_NOARP: "NOARP", IFF_PROMISC: "PROMISC", IFF_ALLMULTI: "ALLMULTI",
                   IFF_MASTER: "MASTER", IFF_SLAVE: "SLAVE", IFF_MULTICAST: "MULTICAST",
                   IFF_LOWER_UP: "LOWER_UP", IFF_DORMANT: "DORMANT", IFF_ECHO: "ECHO"}

# <linux/if.h>: IFLA_OPERSTATE values (RFC 2863), named as `ip link` prints them
OPERSTATE_NAMES = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN",
                   4: "TESTING", 5: "DORMANT", 6: "UP"}
IFNAMSIZ = 16                  # names are at most 15 bytes plus the NUL

# <linux/if_addr.h>: ifa_flags (low 8 bits) and IFA_FLAGS (all 32)
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
IFA_F_STABLE_PRIVACY = 0x800
ADDR_FLAG_NAMES = {IFA_F_SECONDARY: "SECONDARY", IFA_F_NODAD: "NODAD",
                   IFA_F_OPTIMISTIC: "OPTIMISTIC", IFA_F_DADFAILED: "DADFAILED",
                   IFA_F_HOMEADDRESS: "HOMEADDRESS", IFA_F_DEPRECATED: "DEPRECATED",
                   IFA_F_TENTATIVE: "TENTATIVE", IFA_F_PERMANENT: "PERMANENT",
                   IFA_F_MANAGETEMPADDR: "MANAGETEMPADDR",
                   IFA_F_NOPREFIXROUTE: "NOPREFIXROUTE", IFA_F_MCAUTOJOIN: "MCAUTOJOIN",
                   IFA_F_STABLE_PRIVACY: "STABLE_PRIVACY"}

# <linux/if_bridge.h>: IFLA_BRPORT_MODE values
BRIDGE_MODE_VEB = 0
BRIDGE_MODE_HAIRPIN = 1

# <linux/sched.h> and <linux/nsfs.h>, <linux/magic.h>: namespaces
CLONE_NEWNET = 0x40000000
NS_GET_NSTYPE = 0xB703         # _IO(NSIO 0xb7, 0x3)
NSFS_MAGIC = 0x6E736673

# --------------------------------------------------------------------------------------------
# Fixed structures: (C field name, struct format character, value names or None)
#   The format is in host byte order; a leading ">" marks a big-endian (__be16, ...) field.
#   A value-names table is either {value: name} (an enumeration) or ("flags", {bit: name}).
# --------------------------------------------------------------------------------------------

if TYPE_CHECKING:
    Names = Union[Dict[int, str], Tuple[str, Dict[int, str]]]
    Field = Tuple[str, str, Optional[Names]]


class StructSpec:
    """One C struct: its name, its fields in order, their offsets and sizes, and how to pack it.

    C structs in netlink have no padding between these fields, so each field sits right after
    the previous one. A struct whose fields are all in host order is packed with one
    ``struct.Struct``; one with a big-endian field (nfgenmsg's ``res_id``) field by field.
    """

    __slots__ = ("name", "fields", "index", "size", "offsets", "sizes", "unpack_from", "_whole",
                 "_parts")

    def __init__(self, name: str, fields: tuple[Field, ...]) -> None:
        self.name = name
        self.fields = fields
        self.index = {f[0]: i for i, f in enumerate(fields)}   # field name → position
        parts = [struct.Struct(f[1] if f[1].startswith(">") else "=" + f[1]) for f in fields]
        self.sizes = tuple(p.size for p in parts)
        self.offsets = tuple(sum(self.sizes[:i]) for i in range(len(fields)))
        self.size = sum(self.sizes)
        mixed = any(f[1].startswith(">") for f in fields)
        self._whole = None if mixed else struct.Struct("=" + "".join(f[1] for f in fields))
        self._parts = tuple(zip(parts, self.offsets)) if mixed else ()
        # unpack_from(data, pos): the field values of the struct at data[pos] (the caller
        # checked the length). For a host-order struct it is struct.Struct's own method: the
        # decoder calls it once per message, so no Python function in between.
        self.unpack_from: Callable[[Buffer, int], tuple[int, ...]] = (
            self._unpack_parts if self._whole is None else self._whole.unpack_from)

    def _unpack_parts(self, data: Buffer, pos: int) -> tuple[int, ...]:
        return tuple(part.unpack_from(data, pos + at)[0] for part, at in self._parts)

    def pack(self, values: Sequence[int]) -> bytes:
        if self._whole is not None:
            return self._whole.pack(*values)
        return b"".join(part.pack(v) for (part, _), v in zip(self._parts, values))


LINK_FLAGS = ("flags", LINK_FLAG_NAMES)

# <linux/netlink.h> struct nlmsghdr — 16 bytes at the start of every message
NLMSGHDR = StructSpec("nlmsghdr", (
    ("nlmsg_len", "I", None),     # whole message, header included, padding excluded
    ("nlmsg_type", "H", None),    # named by the message's protocol (ProtocolSchema)
    ("nlmsg_flags", "H", None),   # named by the explain formatter (meaning depends on type)
    ("nlmsg_seq", "I", None),
    ("nlmsg_pid", "I", None),     # sender's port id; 0 = the kernel
))

# <linux/netlink.h> struct nlmsgerr — payload of NLMSG_ERROR: errno (negative) + request header
NLMSGERR = StructSpec("nlmsgerr", (
    ("error", "i", None),
))

# <linux/rtnetlink.h> struct ifinfomsg — 16 bytes, note the pad byte after the family
IFINFOMSG = StructSpec("ifinfomsg", (
    ("ifi_family", "B", FAMILY_NAMES),
    ("__ifi_pad", "B", None),
    ("ifi_type", "H", None),      # ARPHRD_* (1 = ether, 772 = loopback)
    ("ifi_index", "i", None),
    ("ifi_flags", "I", LINK_FLAGS),
    ("ifi_change", "I", LINK_FLAGS),  # which ifi_flags bits a request changes
))

# <linux/if_addr.h> struct ifaddrmsg — 8 bytes
IFADDRMSG = StructSpec("ifaddrmsg", (
    ("ifa_family", "B", FAMILY_NAMES),
    ("ifa_prefixlen", "B", None),
    ("ifa_flags", "B", ("flags", ADDR_FLAG_NAMES)),
    ("ifa_scope", "B", SCOPE_NAMES),
    ("ifa_index", "I", None),
))

# <linux/rtnetlink.h> struct rtmsg — 12 bytes
RTMSG = StructSpec("rtmsg", (
    ("rtm_family", "B", FAMILY_NAMES),
    ("rtm_dst_len", "B", None),
    ("rtm_src_len", "B", None),
    ("rtm_tos", "B", None),
    ("rtm_table", "B", TABLE_NAMES),   # RT_TABLE_UNSPEC when the table is in RTA_TABLE
    ("rtm_protocol", "B", PROTOCOL_NAMES),
    ("rtm_scope", "B", SCOPE_NAMES),
    ("rtm_type", "B", ROUTE_TYPE_NAMES),
    ("rtm_flags", "I", ("flags", ROUTE_FLAG_NAMES)),
))

# <linux/if_addr.h> struct ifa_cacheinfo — value of IFA_CACHEINFO
IFA_CACHEINFO_STRUCT = StructSpec("ifa_cacheinfo", (
    ("ifa_prefered", "I", None),  # seconds left; 0xffffffff = forever
    ("ifa_valid", "I", None),
    ("cstamp", "I", None),        # hundredths of seconds since boot
    ("tstamp", "I", None),
))

# <linux/rtnetlink.h> struct rtgenmsg — 1 byte (attributes follow at 4): RTM_*NSID's header
RTGENMSG = StructSpec("rtgenmsg", (
    ("rtgen_family", "B", FAMILY_NAMES),
))

STRUCTS = {s.name: s for s in (NLMSGHDR, NLMSGERR, IFINFOMSG, IFADDRMSG, RTMSG,
                               IFA_CACHEINFO_STRUCT, RTGENMSG)}

# --------------------------------------------------------------------------------------------
# Attribute value kinds
# --------------------------------------------------------------------------------------------

U8 = "u8"
U16 = "u16"
U32 = "u32"
S32 = "s32"
U64 = "u64"
BE16 = "be16"          # __be16: network byte order (ports, VLAN protocol)
BE32 = "be32"          # __be32 (nf_tables puts nearly every integer in network byte order)
SBE32 = "sbe32"        # a __be32 that carries a signed C int (hook priorities, verdict codes)
BE64 = "be64"          # __be64 (nf_tables handles, counters)
STRING = "string"      # NUL-terminated text
BYTES = "bytes"        # opaque; shown as hex
MAC = "mac"            # link-layer address, "aa:bb:cc:dd:ee:ff"
IP = "ip"              # 4 or 16 bytes, "100.64.0.1" / "fd00::1"
FLAG = "flag"          # present or not, no payload
NESTED = "nested"      # arg: the attribute-set name of the children
NESTED_F = "nested+F"  # as NESTED, and sent with NLA_F_NESTED set (the kernel requires it)
STRUCT = "struct"      # arg: the struct name; the payload is exactly that struct
STRUCT_ATTRS = "struct+attrs"  # arg: (struct name, set name): a struct, then attributes
SWITCH = "switch"      # arg: (key, {key value: set name}); key "family" = the message family,
                       # otherwise the name of a sibling attribute holding a string
SWITCH_F = "switch+F"  # as SWITCH, and sent with NLA_F_NESTED set

SCALAR_FORMATS = {U8: "=B", U16: "=H", U32: "=I", S32: "=i", U64: "=Q",
                  BE16: ">H", BE32: ">I", SBE32: ">i", BE64: ">Q"}

if TYPE_CHECKING:
    AttrDecl = Union[Tuple[str, str], Tuple[str, str, object]]


class AttrSpec:
    """How one attribute type is named, what its value is, and (if nested) what it holds.

    ``nested``: the set of the children (NESTED, STRUCT_ATTRS); ``struct``: the struct name
    (STRUCT, STRUCT_ATTRS); ``switch_key`` and ``switch``: for SWITCH kinds, what selects the
    children's set and the {selector value: set name} table ("*" = any other value).
    """

    __slots__ = ("number", "name", "kind", "nested", "struct", "switch_key", "switch")

    def __init__(self, number: int, name: str, kind: str, arg: object = None) -> None:
        self.number = number
        self.name = name
        self.kind = kind
        self.nested: str | None = None
        self.struct: str | None = None
        self.switch_key: str | None = None
        self.switch: dict[object, str] | None = None
        if isinstance(arg, str):
            if kind == STRUCT:
                self.struct = arg
            else:
                self.nested = arg
        elif isinstance(arg, tuple) and isinstance(arg[1], dict):
            self.switch_key, self.switch = arg[0], arg[1]
        elif isinstance(arg, tuple):
            self.struct, self.nested = arg[0], arg[1]


class AttrSet:
    """A numbered attribute space (one C enum): number → spec, and name → spec for encoding.

    Nested kinds name their children's set (or struct) by name; the names are looked up in
    the attribute sets of the protocol being decoded (``ProtocolSchema.attr_sets``).

    The specs are made from the declarations on first use: importing this module declares
    some 200 attributes, and a plugin run needs only the sets its messages touch.
    """

    __slots__ = ("name", "header", "_decls", "_by_number", "_by_name")

    def __init__(self, name: str, header: str, decls: dict[int, AttrDecl]) -> None:
        self.name = name
        self.header = header
        self._decls = decls
        self._by_number: dict[int, AttrSpec] | None = None
        self._by_name: dict[str, AttrSpec] | None = None

    @property
    def by_number(self) -> dict[int, AttrSpec]:
        """Attribute number → spec (what the decoder looks up)."""
        if self._by_number is None:
            self._by_number = {number: AttrSpec(number, *decl)
                               for number, decl in self._decls.items()}
        return self._by_number

    @property
    def by_name(self) -> dict[str, AttrSpec]:
        """Attribute name → spec (what the encoder looks up)."""
        if self._by_name is None:
            self._by_name = {spec.name: spec for spec in self.by_number.values()}
        return self._by_name


ATTR_SETS: dict[str, AttrSet] = {}     # NETLINK_ROUTE's attribute sets, by name


def declare_into(registry: dict[str, AttrSet], name: str, header: str,
                 decls: dict[int, AttrDecl]) -> AttrSet:
    """Make the attribute set ``name`` (mirroring ``header``) and file it in a protocol's
    ``registry`` of sets: each protocol module declares its own sets this way."""
    attr_set = AttrSet(name, header, decls)
    registry[name] = attr_set
    return attr_set


def _declare(name: str, header: str, decls: dict[int, AttrDecl]) -> AttrSet:
    return declare_into(ATTR_SETS, name, header, decls)


# --------------------------------------------------------------------------------------------
# Attribute sets
# --------------------------------------------------------------------------------------------

# <linux/netlink.h> enum nlmsgerr_attrs — the extended ACK after an NLMSG_ERROR / NLMSG_DONE
NLMSGERR_ATTRS = _declare("NLMSGERR_ATTR", "linux/netlink.h", {
    1: ("NLMSGERR_ATTR_MSG", STRING),      # the kernel's reason, in English
    2: ("NLMSGERR_ATTR_OFFS", U32),        # offset of the offending attribute in our request
    3: ("NLMSGERR_ATTR_COOKIE", BYTES),
    4: ("NLMSGERR_ATTR_POLICY", BYTES),
    5: ("NLMSGERR_ATTR_MISS_TYPE", U32),
    6: ("NLMSGERR_ATTR_MISS_NEST", U32),
})

# <linux/if_link.h> enum IFLA_* — the attributes of RTM_{NEW,DEL,GET,SET}LINK
IFLA = _declare("IFLA", "linux/if_link.h", {
    1: ("IFLA_ADDRESS", MAC),
    2: ("IFLA_BROADCAST", MAC),
    3: ("IFLA_IFNAME", STRING),
    4: ("IFLA_MTU", U32),
    5: ("IFLA_LINK", U32),                 # veth: the peer's ifindex (in IFLA_LINK_NETNSID)
    6: ("IFLA_QDISC", STRING),
    7: ("IFLA_STATS", BYTES),              # struct rtnl_link_stats
    10: ("IFLA_MASTER", U32),              # ifindex of the bridge; 0 = no master
    11: ("IFLA_WIRELESS", BYTES),
    12: ("IFLA_PROTINFO", SWITCH_F, ("family", {AF_BRIDGE: "IFLA_BRPORT",
                                              AF_INET6: "IFLA_INET6"})),
    13: ("IFLA_TXQLEN", U32),
    14: ("IFLA_MAP", BYTES),               # struct rtnl_link_ifmap
    15: ("IFLA_WEIGHT", U32),
    16: ("IFLA_OPERSTATE", U8),            # IF_OPER_*
    17: ("IFLA_LINKMODE", U8),
    18: ("IFLA_LINKINFO", NESTED, "IFLA_INFO"),
    19: ("IFLA_NET_NS_PID", U32),
    20: ("IFLA_IFALIAS", STRING),
    21: ("IFLA_NUM_VF", U32),
    22: ("IFLA_VFINFO_LIST", BYTES),
    23: ("IFLA_STATS64", BYTES),           # struct rtnl_link_stats64
    24: ("IFLA_VF_PORTS", BYTES),
    25: ("IFLA_PORT_SELF", BYTES),
    26: ("IFLA_AF_SPEC", SWITCH, ("family", {AF_BRIDGE: "IFLA_BRIDGE",
                                             "*": "IFLA_AF_SPEC"})),
    27: ("IFLA_GROUP", U32),
    28: ("IFLA_NET_NS_FD", U32),           # an open fd of a network namespace file
    29: ("IFLA_EXT_MASK", U32),            # RTEXT_FILTER_*
    30: ("IFLA_PROMISCUITY", U32),
    31: ("IFLA_NUM_TX_QUEUES", U32),
    32: ("IFLA_NUM_RX_QUEUES", U32),
    33: ("IFLA_CARRIER", U8),
    34: ("IFLA_PHYS_PORT_ID", BYTES),
    35: ("IFLA_CARRIER_CHANGES", U32),
    36: ("IFLA_PHYS_SWITCH_ID", BYTES),
    37: ("IFLA_LINK_NETNSID", S32),        # which namespace IFLA_LINK's index lives in
    38: ("IFLA_PHYS_PORT_NAME", STRING),
    39: ("IFLA_PROTO_DOWN", U8),
    40: ("IFLA_GSO_MAX_SEGS", U32),
    41: ("IFLA_GSO_MAX_SIZE", U32),
    42: ("IFLA_PAD", BYTES),
    43: ("IFLA_XDP", BYTES),
    44: ("IFLA_EVENT", U32),
    45: ("IFLA_NEW_NETNSID", S32),
    46: ("IFLA_TARGET_NETNSID", S32),      # alias IFLA_IF_NETNSID
    47: ("IFLA_CARRIER_UP_COUNT", U32),
    48: ("IFLA_CARRIER_DOWN_COUNT", U32),
    49: ("IFLA_NEW_IFINDEX", S32),
    50: ("IFLA_MIN_MTU", U32),
    51: ("IFLA_MAX_MTU", U32),
    52: ("IFLA_PROP_LIST", NESTED, "IFLA"),  # holds IFLA_ALT_IFNAME entries
    53: ("IFLA_ALT_IFNAME", STRING),
    54: ("IFLA_PERM_ADDRESS", MAC),
    55: ("IFLA_PROTO_DOWN_REASON", BYTES),
    56: ("IFLA_PARENT_DEV_NAME", STRING),
    57: ("IFLA_PARENT_DEV_BUS_NAME", STRING),
    58: ("IFLA_GRO_MAX_SIZE", U32),
    59: ("IFLA_TSO_MAX_SIZE", U32),
    60: ("IFLA_TSO_MAX_SEGS", U32),
    61: ("IFLA_ALLMULTI", U32),
})

# <linux/if_link.h> enum IFLA_INFO_* — inside IFLA_LINKINFO: what kind of device, and its data
IFLA_INFO = _declare("IFLA_INFO", "linux/if_link.h", {
    1: ("IFLA_INFO_KIND", STRING),         # "veth", "bridge", ...
    2: ("IFLA_INFO_DATA", SWITCH, ("IFLA_INFO_KIND", {"veth": "VETH_INFO",
                                                      "bridge": "IFLA_BR"})),
    3: ("IFLA_INFO_XSTATS", BYTES),
    4: ("IFLA_INFO_SLAVE_KIND", STRING),   # "bridge" when the link is a bridge port
    5: ("IFLA_INFO_SLAVE_DATA", SWITCH, ("IFLA_INFO_SLAVE_KIND", {"bridge": "IFLA_BRPORT"})),
})

# <linux/veth.h> enum VETH_INFO_* — inside IFLA_INFO_DATA of a veth
VETH_INFO = _declare("VETH_INFO", "linux/veth.h", {
    1: ("VETH_INFO_PEER", STRUCT_ATTRS, ("ifinfomsg", "IFLA")),  # a whole ifinfomsg + IFLA_*
})

# <linux/if_link.h> enum IFLA_BR_* — inside IFLA_INFO_DATA of a bridge (the ones humanz reads)
IFLA_BR = _declare("IFLA_BR", "linux/if_link.h", {
    1: ("IFLA_BR_FORWARD_DELAY", U32),
    2: ("IFLA_BR_HELLO_TIME", U32),
    3: ("IFLA_BR_MAX_AGE", U32),
    4: ("IFLA_BR_AGEING_TIME", U32),
    5: ("IFLA_BR_STP_STATE", U32),
    6: ("IFLA_BR_PRIORITY", U16),
    7: ("IFLA_BR_VLAN_FILTERING", U8),
    8: ("IFLA_BR_VLAN_PROTOCOL", BE16),
    9: ("IFLA_BR_GROUP_FWD_MASK", U16),
    10: ("IFLA_BR_ROOT_ID", BYTES),        # struct ifla_bridge_id
    11: ("IFLA_BR_BRIDGE_ID", BYTES),
    12: ("IFLA_BR_ROOT_PORT", U16),
    13: ("IFLA_BR_ROOT_PATH_COST", U32),
    14: ("IFLA_BR_TOPOLOGY_CHANGE", U8),
    15: ("IFLA_BR_TOPOLOGY_CHANGE_DETECTED", U8),
    16: ("IFLA_BR_HELLO_TIMER", U64),
    17: ("IFLA_BR_TCN_TIMER", U64),
    18: ("IFLA_BR_TOPOLOGY_CHANGE_TIMER", U64),
    19: ("IFLA_BR_GC_TIMER", U64),
    20: ("IFLA_BR_GROUP_ADDR", MAC),
    21: ("IFLA_BR_FDB_FLUSH", FLAG),
    22: ("IFLA_BR_MCAST_ROUTER", U8),
    23: ("IFLA_BR_MCAST_SNOOPING", U8),
    39: ("IFLA_BR_VLAN_DEFAULT_PVID", U16),
    40: ("IFLA_BR_PAD", BYTES),
})

# <linux/if_link.h> enum IFLA_BRPORT_* — a bridge port's settings (IFLA_PROTINFO of AF_BRIDGE
# messages, or IFLA_INFO_SLAVE_DATA)
IFLA_BRPORT = _declare("IFLA_BRPORT", "linux/if_link.h", {
    1: ("IFLA_BRPORT_STATE", U8),
    2: ("IFLA_BRPORT_PRIORITY", U16),
    3: ("IFLA_BRPORT_COST", U32),
    4: ("IFLA_BRPORT_MODE", U8),           # 1 = hairpin: frames may leave by the port they came
    5: ("IFLA_BRPORT_GUARD", U8),
    6: ("IFLA_BRPORT_PROTECT", U8),
    7: ("IFLA_BRPORT_FAST_LEAVE", U8),
    8: ("IFLA_BRPORT_LEARNING", U8),
    9: ("IFLA_BRPORT_UNICAST_FLOOD", U8),
    10: ("IFLA_BRPORT_PROXYARP", U8),
    11: ("IFLA_BRPORT_LEARNING_SYNC", U8),
    12: ("IFLA_BRPORT_PROXYARP_WIFI", U8),
    13: ("IFLA_BRPORT_ROOT_ID", BYTES),
    14: ("IFLA_BRPORT_BRIDGE_ID", BYTES),
    15: ("IFLA_BRPORT_DESIGNATED_PORT", U16),
    16: ("IFLA_BRPORT_DESIGNATED_COST", U16),
    17: ("IFLA_BRPORT_ID", U16),
    18: ("IFLA_BRPORT_NO", U16),
    19: ("IFLA_BRPORT_TOPOLOGY_CHANGE_ACK", U8),
    20: ("IFLA_BRPORT_CONFIG_PENDING", U8),
    21: ("IFLA_BRPORT_MESSAGE_AGE_TIMER", U64),
    22: ("IFLA_BRPORT_FORWARD_DELAY_TIMER", U64),
    23: ("IFLA_BRPORT_HOLD_TIMER", U64),
    24: ("IFLA_BRPORT_FLUSH", FLAG),
    25: ("IFLA_BRPORT_MULTICAST_ROUTER", U8),
    26: ("IFLA_BRPORT_PAD", BYTES),
    27: ("IFLA_BRPORT_MCAST_FLOOD", U8),
    28: ("IFLA_BRPORT_MCAST_TO_UCAST", U8),
    29: ("IFLA_BRPORT_VLAN_TUNNEL", U8),
    30: ("IFLA_BRPORT_BCAST_FLOOD", U8),
    31: ("IFLA_BRPORT_GROUP_FWD_MASK", U16),
    32: ("IFLA_BRPORT_NEIGH_SUPPRESS", U8),
    33: ("IFLA_BRPORT_ISOLATED", U8),      # 1 = talks only to non-isolated ports
    34: ("IFLA_BRPORT_BACKUP_PORT", U32),
})

# IFLA_AF_SPEC of non-bridge messages: one nest per address family (<bits/socket.h> numbers)
IFLA_AF_SPEC = _declare("IFLA_AF_SPEC", "linux/if_link.h (IFLA_AF_SPEC)", {
    AF_INET: ("AF_INET", NESTED, "IFLA_INET"),
    AF_INET6: ("AF_INET6", NESTED, "IFLA_INET6"),
})

# <linux/if_link.h> enum IFLA_INET_*
IFLA_INET = _declare("IFLA_INET", "linux/if_link.h", {
    1: ("IFLA_INET_CONF", BYTES),          # u32 per IPV4_DEVCONF_* setting
})
# <linux/ip.h> enum IPV4_DEVCONF_* (from FORWARDING = 1): /proc/sys/net/ipv4/conf/<if>/ by
# number. A dump's IFLA_INET_CONF is an array of u32 where setting N sits at index N - 1; a
# request's is a nest of attributes whose TYPE is N and value a u32 (inet_set_link_af).
IPV4_DEVCONF_ARP_NOTIFY = 22

# <linux/if_link.h> enum IFLA_INET6_*
IFLA_INET6 = _declare("IFLA_INET6", "linux/if_link.h", {
    1: ("IFLA_INET6_FLAGS", U32),
    2: ("IFLA_INET6_CONF", BYTES),
    3: ("IFLA_INET6_STATS", BYTES),
    4: ("IFLA_INET6_MCAST", BYTES),
    5: ("IFLA_INET6_CACHEINFO", BYTES),
    6: ("IFLA_INET6_ICMP6STATS", BYTES),
    7: ("IFLA_INET6_TOKEN", IP),
    8: ("IFLA_INET6_ADDR_GEN_MODE", U8),
    9: ("IFLA_INET6_RA_MTU", U32),
})

# <linux/if_bridge.h> enum IFLA_BRIDGE_* — IFLA_AF_SPEC of AF_BRIDGE messages (starts at 0)
IFLA_BRIDGE = _declare("IFLA_BRIDGE", "linux/if_bridge.h", {
    0: ("IFLA_BRIDGE_FLAGS", U16),
    1: ("IFLA_BRIDGE_MODE", U16),
    2: ("IFLA_BRIDGE_VLAN_INFO", BYTES),   # struct bridge_vlan_info
})

# <linux/if_addr.h> enum IFA_* — the attributes of RTM_{NEW,DEL,GET}ADDR
IFA = _declare("IFA", "linux/if_addr.h", {
    1: ("IFA_ADDRESS", IP),                # the prefix address (the peer on point-to-point)
    2: ("IFA_LOCAL", IP),                  # the address of this interface
    3: ("IFA_LABEL", STRING),
    4: ("IFA_BROADCAST", IP),
    5: ("IFA_ANYCAST", IP),
    6: ("IFA_CACHEINFO", STRUCT, "ifa_cacheinfo"),
    7: ("IFA_MULTICAST", IP),
    8: ("IFA_FLAGS", U32),                 # all IFA_F_* bits (ifa_flags holds only 8)
    9: ("IFA_RT_PRIORITY", U32),
    10: ("IFA_TARGET_NETNSID", S32),
    11: ("IFA_PROTO", U8),
})

# <linux/rtnetlink.h> enum rtattr_type_t — the attributes of RTM_{NEW,DEL,GET}ROUTE
RTA = _declare("RTA", "linux/rtnetlink.h", {
    1: ("RTA_DST", IP),
    2: ("RTA_SRC", IP),
    3: ("RTA_IIF", U32),
    4: ("RTA_OIF", U32),                   # output interface index
    5: ("RTA_GATEWAY", IP),
    6: ("RTA_PRIORITY", U32),              # the metric
    7: ("RTA_PREFSRC", IP),
    8: ("RTA_METRICS", NESTED, "RTAX"),
    9: ("RTA_MULTIPATH", BYTES),           # struct rtnexthop array
    11: ("RTA_FLOW", U32),
    12: ("RTA_CACHEINFO", BYTES),          # struct rta_cacheinfo
    15: ("RTA_TABLE", U32),                # the full table id (rtm_table only has 8 bits)
    16: ("RTA_MARK", U32),
    17: ("RTA_MFC_STATS", BYTES),
    18: ("RTA_VIA", BYTES),
    19: ("RTA_NEWDST", BYTES),
    20: ("RTA_PREF", U8),
    21: ("RTA_ENCAP_TYPE", U16),
    22: ("RTA_ENCAP", BYTES),
    23: ("RTA_EXPIRES", U32),
    24: ("RTA_PAD", BYTES),
    25: ("RTA_UID", U32),
    26: ("RTA_TTL_PROPAGATE", U8),
    27: ("RTA_IP_PROTO", U8),
    28: ("RTA_SPORT", BE16),
    29: ("RTA_DPORT", BE16),
    30: ("RTA_NH_ID", U32),
})

# <linux/rtnetlink.h> enum RTAX_* — inside RTA_METRICS
RTAX = _declare("RTAX", "linux/rtnetlink.h", {
    1: ("RTAX_LOCK", U32),
    2: ("RTAX_MTU", U32),
    3: ("RTAX_WINDOW", U32),
    4: ("RTAX_RTT", U32),
    5: ("RTAX_RTTVAR", U32),
    6: ("RTAX_SSTHRESH", U32),
    7: ("RTAX_CWND", U32),
    8: ("RTAX_ADVMSS", U32),
    9: ("RTAX_REORDERING", U32),
    10: ("RTAX_HOPLIMIT", U32),
    11: ("RTAX_INITCWND", U32),
    12: ("RTAX_FEATURES", U32),
    13: ("RTAX_RTO_MIN", U32),
    14: ("RTAX_INITRWND", U32),
    15: ("RTAX_QUICKACK", U32),
    16: ("RTAX_CC_ALGO", STRING),
    17: ("RTAX_FASTOPEN_NO_COOKIE", U32),
})

# <linux/net_namespace.h> enum NETNSA_* — the attributes of RTM_{NEW,DEL,GET}NSID
NETNSA = _declare("NETNSA", "linux/net_namespace.h", {
    1: ("NETNSA_NSID", S32),               # the id; NETNSA_NSID_NOT_ASSIGNED (-1) if none
    2: ("NETNSA_PID", U32),                # the namespace of this process...
    3: ("NETNSA_FD", U32),                 # ...or of this open namespace file
    4: ("NETNSA_TARGET_NSID", S32),
    5: ("NETNSA_CURRENT_NSID", S32),
})
NETNSA_NSID_NOT_ASSIGNED = -1

# --------------------------------------------------------------------------------------------
# Message schemas: message type → (fixed struct, attribute set)
# --------------------------------------------------------------------------------------------

MESSAGES: dict[int, tuple[StructSpec, AttrSet]] = {
    RTM_NEWLINK: (IFINFOMSG, IFLA), RTM_DELLINK: (IFINFOMSG, IFLA),
    RTM_GETLINK: (IFINFOMSG, IFLA), RTM_SETLINK: (IFINFOMSG, IFLA),
    RTM_NEWADDR: (IFADDRMSG, IFA), RTM_DELADDR: (IFADDRMSG, IFA), RTM_GETADDR: (IFADDRMSG, IFA),
    RTM_NEWROUTE: (RTMSG, RTA), RTM_DELROUTE: (RTMSG, RTA), RTM_GETROUTE: (RTMSG, RTA),
    RTM_NEWNSID: (RTGENMSG, NETNSA), RTM_DELNSID: (RTGENMSG, NETNSA),
    RTM_GETNSID: (RTGENMSG, NETNSA),
}

# --------------------------------------------------------------------------------------------
# Protocols: one schema per netlink protocol (socket number)
# --------------------------------------------------------------------------------------------

_VERBS = ("NEW", "DEL", "GET", "SET")


class ProtocolSchema:
    """Everything the codec needs to speak one netlink protocol.

    ``number`` is the socket protocol (NETLINK_ROUTE = 0); ``messages`` maps a message type
    to its fixed struct and attribute set; ``message_names`` names the types (the control
    messages NLMSG_* are added: every protocol shares them); ``attr_sets`` and ``structs``
    resolve the names nested attributes refer to (NLMSGERR_ATTR, for extended ACKs, is
    added); ``socket_options`` are the SOL_NETLINK options a socket of this protocol turns on.
    """

    __slots__ = ("name", "number", "messages", "message_names", "attr_sets", "structs",
                 "socket_options")

    def __init__(self, name: str, number: int,
                 messages: dict[int, tuple[StructSpec, AttrSet]], message_names: dict[int, str],
                 attr_sets: dict[str, AttrSet], structs: dict[str, StructSpec],
                 socket_options: tuple[int, ...]) -> None:
        self.name = name
        self.number = number
        self.messages = messages
        self.message_names = {**CONTROL_MESSAGE_NAMES, **message_names}
        self.attr_sets = {NLMSGERR_ATTRS.name: NLMSGERR_ATTRS, **attr_sets}
        self.structs = {NLMSGHDR.name: NLMSGHDR, NLMSGERR.name: NLMSGERR, **structs}
        self.socket_options = socket_options

    def message_name(self, msg_type: int) -> str:
        return self.message_names.get(msg_type, "type %d" % msg_type)

    def verb(self, msg_type: int) -> str:
        """"NEW", "DEL", "GET" or "SET" as the message's name says (RTM_NEWLINK,
        NFT_MSG_DELRULE), "" for others: it decides what the nlmsg_flags bits above 0xff mean."""
        last = self.message_names.get(msg_type, "").rsplit("_", 1)[-1]
        return next((verb for verb in _VERBS if last.startswith(verb)), "")

    def __repr__(self) -> str:
        return "<netlink protocol %s (%d)>" % (self.name, self.number)


# NETLINK_ROUTE: links, addresses, routes. Strict checking makes the kernel refuse bad dump
# requests instead of ignoring the filters in them.
ROUTE = ProtocolSchema("NETLINK_ROUTE", NETLINK_ROUTE, MESSAGES, MESSAGE_NAMES, ATTR_SETS,
                       STRUCTS, (NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK))
