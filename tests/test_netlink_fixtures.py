"""Byte-exact netlink fixtures, one per message kind, every field commented.

Read these as the protocol's textbook: each fixture is a message as it crosses the socket,
written out byte by byte (little-endian host order, as on x86-64 and arm64), and each test
checks both directions — the encoder produces exactly these bytes, and the decoder reads them
back into exactly these values. The received messages (dump replies, errors) were captured from
a real kernel (6.x) and trimmed only of the sender's port id.

Layout reminders:
  nlmsghdr  = len u32, type u16, flags u16, seq u32, pid u32                    (16 bytes)
  nlattr    = nla_len u16 (header + payload, padding excluded), nla_type u16    (4 bytes)
  every message and attribute starts on a 4-byte boundary; padding is zeros.
"""

from __future__ import annotations

import sys

import pytest

from humanz.netlink import codec, explain, uapi
from humanz.netlink.errors import NetlinkError
from humanz.netlink.nlsocket import NetlinkSocket
from humanz.netlink.rtnl import Rtnl

pytestmark = pytest.mark.skipif(sys.byteorder != "little",
                                reason="fixtures are written in little-endian host order")

CREATE = uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | uapi.NLM_F_EXCL | uapi.NLM_F_CREATE  # 0x605


def hexbytes(text: str) -> bytes:
    """The bytes written in ``text``: hex pairs, ``#`` starts a comment."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


# --------------------------------------------------------------------------------------------
# RTM_NEWLINK: create a bridge  (ip link add cni0 mtu 1500 up type bridge)
# --------------------------------------------------------------------------------------------

BRIDGE_ADD = hexbytes("""
    44 00 00 00     # nlmsg_len = 68
    10 00           # nlmsg_type = RTM_NEWLINK (16)
    05 06           # nlmsg_flags = REQUEST|ACK|EXCL|CREATE: fail if it exists
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0 (we leave it to the kernel)
    # struct ifinfomsg
    00              # ifi_family = AF_UNSPEC
    00              # __ifi_pad (the byte C inserts before the u16)
    00 00           # ifi_type = 0 (the kernel decides: ARPHRD_ETHER)
    00 00 00 00     # ifi_index = 0: a new link, named by IFLA_IFNAME
    01 00 00 00     # ifi_flags = IFF_UP
    01 00 00 00     # ifi_change = IFF_UP: only this bit of ifi_flags is meant
    # attributes
    09 00 03 00     # IFLA_IFNAME, nla_len 9 = 4 header + 5 payload
    63 6e 69 30 00  #   "cni0" and its NUL
    00 00 00        #   padding to 4 bytes (not counted in nla_len)
    08 00 04 00     # IFLA_MTU, nla_len 8
    dc 05 00 00     #   1500 (u32)
    10 00 12 00     # IFLA_LINKINFO (18), nla_len 16: a nest
    0b 00 01 00     #   IFLA_INFO_KIND, nla_len 11
    62 72 69 64 67 65 00  # "bridge"
    00              #   padding
""")


def test_bridge_add_encodes_exactly() -> None:
    data = codec.encode(uapi.RTM_NEWLINK, CREATE, 1, {"ifi_flags": 1, "ifi_change": 1}, [
        ("IFLA_IFNAME", "cni0"), ("IFLA_MTU", 1500),
        ("IFLA_LINKINFO", [("IFLA_INFO_KIND", "bridge")])])
    assert data == BRIDGE_ADD


def test_bridge_add_decodes_exactly() -> None:
    [m] = codec.decode(BRIDGE_ADD)
    assert (m.length, m.type, m.flags, m.seq, m.pid) == (68, uapi.RTM_NEWLINK, 0x605, 1, 0)
    assert m.fixed is not None
    assert m.fixed.as_dict() == {"ifi_family": 0, "__ifi_pad": 0, "ifi_type": 0,
                                 "ifi_index": 0, "ifi_flags": 1, "ifi_change": 1}
    assert [(a.name, a.offset, a.length) for a in m.attrs] == [
        ("IFLA_IFNAME", 0x20, 9), ("IFLA_MTU", 0x2C, 8), ("IFLA_LINKINFO", 0x34, 16)]
    assert m.attrs.get("IFLA_IFNAME") == "cni0"
    assert m.attrs.get("IFLA_MTU") == 1500
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None and info.get("IFLA_INFO_KIND") == "bridge"


def test_rtnl_bridge_add_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.bridge_add("cni0", mtu=1500, up=True)
    assert kernel.sent == [BRIDGE_ADD]


# --------------------------------------------------------------------------------------------
# RTM_NEWLINK: a veth pair whose peer is born in another namespace, enslaved and up
#   (ip link add veth1 master <3> up type veth peer name eth0 netns <fd 7>)
# --------------------------------------------------------------------------------------------

VETH_ADD = hexbytes("""
    70 00 00 00     # nlmsg_len = 112
    10 00           # nlmsg_type = RTM_NEWLINK
    05 06           # nlmsg_flags = REQUEST|ACK|EXCL|CREATE
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0
    # struct ifinfomsg of the local end "veth1"
    00 00 00 00     # ifi_family AF_UNSPEC, __ifi_pad, ifi_type 0
    00 00 00 00     # ifi_index = 0 (new)
    01 00 00 00     # ifi_flags = IFF_UP (allowed here; not for the peer: ENOTCONN)
    01 00 00 00     # ifi_change = IFF_UP
    0a 00 03 00     # IFLA_IFNAME, nla_len 10
    76 65 74 68 31 00  # "veth1"
    00 00           #   padding
    08 00 0a 00     # IFLA_MASTER (10), nla_len 8
    03 00 00 00     #   ifindex 3: the bridge
    3c 00 12 00     # IFLA_LINKINFO, nla_len 60
    09 00 01 00     #   IFLA_INFO_KIND, nla_len 9
    76 65 74 68 00  #     "veth"
    00 00 00        #     padding
    2c 00 02 00     #   IFLA_INFO_DATA, nla_len 44: its set is chosen by the kind (veth.h)
    28 00 01 00     #     VETH_INFO_PEER, nla_len 40: a whole ifinfomsg, then IFLA_*
    00 00 00 00     #       peer ifinfomsg: family, pad, type
    00 00 00 00     #       ifi_index 0
    00 00 00 00     #       ifi_flags 0
    00 00 00 00     #       ifi_change 0
    09 00 03 00     #       IFLA_IFNAME, nla_len 9
    65 74 68 30 00  #         "eth0"
    00 00 00        #         padding
    08 00 1c 00     #       IFLA_NET_NS_FD (28), nla_len 8
    07 00 00 00     #         fd 7: the namespace the peer is created in  <-- these 4 bytes
""")


def test_veth_with_peer_in_netns_encodes_exactly() -> None:
    data = codec.encode(uapi.RTM_NEWLINK, CREATE, 1, {"ifi_flags": 1, "ifi_change": 1}, [
        ("IFLA_IFNAME", "veth1"), ("IFLA_MASTER", 3),
        ("IFLA_LINKINFO", [
            ("IFLA_INFO_KIND", "veth"),
            ("IFLA_INFO_DATA", [
                ("VETH_INFO_PEER", ({}, [("IFLA_IFNAME", "eth0"), ("IFLA_NET_NS_FD", 7)])),
            ]),
        ])])
    assert data == VETH_ADD


def test_veth_with_peer_in_netns_decodes_exactly() -> None:
    [m] = codec.decode(VETH_ADD)
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None
    data = info.get_attrs("IFLA_INFO_DATA")
    assert data is not None
    peer = data.find("VETH_INFO_PEER")
    assert peer is not None and isinstance(peer.value, codec.StructAttrs)
    assert peer.value.struct.as_dict()["ifi_index"] == 0
    assert peer.value.struct.offset == 0x4C
    fd = peer.value.attrs.find("IFLA_NET_NS_FD")
    assert fd is not None
    assert (fd.value, fd.offset, fd.length) == (7, 0x68, 8)
    assert VETH_ADD[fd.offset + 4:fd.offset + 8] == b"\x07\x00\x00\x00"
    assert peer.value.attrs.get("IFLA_IFNAME") == "eth0"


def test_rtnl_veth_add_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.veth_add("veth1", "eth0", peer_ns_fd=7, master=3, up=True)
    assert kernel.sent == [VETH_ADD]


def test_explain_points_at_the_namespace_fd() -> None:
    text = explain.explain(VETH_ADD, "send", "host")
    lines = text.splitlines()
    fd_header = [line for line in lines if "IFLA_NET_NS_FD" in line]
    assert len(fd_header) == 1
    assert fd_header[0].split()[:5] == ["0068", "08", "00", "1c", "00"]
    value_line = lines[lines.index(fd_header[0]) + 1]
    assert value_line.split() == ["006c", "07", "00", "00", "00", "7"]
    # nesting by indentation: IFLA_LINKINFO > IFLA_INFO_DATA > VETH_INFO_PEER > IFLA_NET_NS_FD
    depths = [_label_depth(lines, name) for name in
              ("IFLA_LINKINFO", "IFLA_INFO_DATA", "VETH_INFO_PEER", "IFLA_NET_NS_FD")]
    assert depths == sorted(set(depths)) and len(set(depths)) == 4


def _label_depth(lines: list[str], name: str) -> int:
    """Indentation of the field-name column (after "  OFFS  " and the 23-char bytes column)."""
    line = next(line for line in lines if name in line)
    label_column = line[33:]
    return len(label_column) - len(label_column.lstrip())


# --------------------------------------------------------------------------------------------
# RTM_NEWADDR: IPv4 with broadcast  (ip addr add 100.64.0.5/24 brd + dev <2>)
# --------------------------------------------------------------------------------------------

ADDR4_ADD = hexbytes("""
    30 00 00 00     # nlmsg_len = 48
    14 00           # nlmsg_type = RTM_NEWADDR (20)
    05 06           # nlmsg_flags = REQUEST|ACK|EXCL|CREATE
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0
    # struct ifaddrmsg
    02              # ifa_family = AF_INET
    18              # ifa_prefixlen = 24
    00              # ifa_flags = 0
    00              # ifa_scope = RT_SCOPE_UNIVERSE
    02 00 00 00     # ifa_index = 2
    08 00 02 00     # IFA_LOCAL (2): the interface's own address
    64 40 00 05     #   100.64.0.5 (network byte order, as addresses always are)
    08 00 01 00     # IFA_ADDRESS (1): same as IFA_LOCAL unless point-to-point
    64 40 00 05     #   100.64.0.5
    08 00 04 00     # IFA_BROADCAST (4)
    64 40 00 ff     #   100.64.0.255
""")


def test_addr4_add_both_directions() -> None:
    fields = {"ifa_family": 2, "ifa_prefixlen": 24, "ifa_index": 2}
    attrs = [("IFA_LOCAL", "100.64.0.5"), ("IFA_ADDRESS", "100.64.0.5"),
             ("IFA_BROADCAST", "100.64.0.255")]
    assert codec.encode(uapi.RTM_NEWADDR, CREATE, 1, fields, attrs) == ADDR4_ADD
    [m] = codec.decode(ADDR4_ADD)
    assert m.fixed is not None
    assert m.fixed.as_dict() == {"ifa_family": 2, "ifa_prefixlen": 24, "ifa_flags": 0,
                                 "ifa_scope": 0, "ifa_index": 2}
    assert [(a.name, a.value) for a in m.attrs] == attrs


def test_rtnl_addr4_add_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.addr_add(2, "100.64.0.5", 24)
    assert kernel.sent == [ADDR4_ADD]


# --------------------------------------------------------------------------------------------
# RTM_NEWADDR: IPv6 without duplicate address detection  (ip addr add fd00::5/64 dev <2> nodad)
# --------------------------------------------------------------------------------------------

ADDR6_ADD = hexbytes("""
    48 00 00 00     # nlmsg_len = 72
    14 00           # nlmsg_type = RTM_NEWADDR
    05 06           # nlmsg_flags = REQUEST|ACK|EXCL|CREATE
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0
    0a              # ifa_family = AF_INET6 (10)
    40              # ifa_prefixlen = 64
    02              # ifa_flags = IFA_F_NODAD (fits in the 8-bit field)
    00              # ifa_scope = universe
    02 00 00 00     # ifa_index = 2
    14 00 02 00     # IFA_LOCAL, nla_len 20
    fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05   # fd00::5
    14 00 01 00     # IFA_ADDRESS, nla_len 20
    fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05   # fd00::5
    08 00 08 00     # IFA_FLAGS (8): all 32 flag bits
    02 00 00 00     #   IFA_F_NODAD
""")


def test_addr6_nodad_both_directions() -> None:
    fields = {"ifa_family": 10, "ifa_prefixlen": 64, "ifa_flags": 2, "ifa_index": 2}
    attrs = [("IFA_LOCAL", "fd00::5"), ("IFA_ADDRESS", "fd00::5"), ("IFA_FLAGS", 2)]
    assert codec.encode(uapi.RTM_NEWADDR, CREATE, 1, fields, attrs) == ADDR6_ADD
    [m] = codec.decode(ADDR6_ADD)
    assert m.fixed is not None and m.fixed["ifa_flags"] == uapi.IFA_F_NODAD
    assert [(a.name, a.value) for a in m.attrs] == attrs


def test_rtnl_addr6_add_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.addr_add(2, "fd00::5", 64, nodad=True)
    assert kernel.sent == [ADDR6_ADD]


# --------------------------------------------------------------------------------------------
# RTM_NEWROUTE: default route in table 1000 with a metric
#   (ip route add default via 100.64.0.1 dev <2> table 1000 metric 100)
# --------------------------------------------------------------------------------------------

ROUTE_ADD = hexbytes("""
    3c 00 00 00     # nlmsg_len = 60
    18 00           # nlmsg_type = RTM_NEWROUTE (24)
    05 06           # nlmsg_flags = REQUEST|ACK|EXCL|CREATE
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0
    # struct rtmsg
    02              # rtm_family = AF_INET
    00              # rtm_dst_len = 0: the default route (no RTA_DST)
    00              # rtm_src_len
    00              # rtm_tos
    00              # rtm_table = RT_TABLE_UNSPEC: 1000 does not fit in 8 bits ...
    03              # rtm_protocol = RTPROT_BOOT (what `ip route add` uses)
    00              # rtm_scope = RT_SCOPE_UNIVERSE (there is a gateway)
    01              # rtm_type = RTN_UNICAST
    00 00 00 00     # rtm_flags
    08 00 0f 00     # RTA_TABLE (15) ... so it goes here, as a u32
    e8 03 00 00     #   1000
    08 00 05 00     # RTA_GATEWAY (5)
    64 40 00 01     #   100.64.0.1
    08 00 04 00     # RTA_OIF (4)
    02 00 00 00     #   ifindex 2
    08 00 06 00     # RTA_PRIORITY (6): the metric
    64 00 00 00     #   100
""")


def test_route_table_1000_both_directions() -> None:
    fields = {"rtm_family": 2, "rtm_protocol": 3, "rtm_type": 1}
    attrs = [("RTA_TABLE", 1000), ("RTA_GATEWAY", "100.64.0.1"), ("RTA_OIF", 2),
             ("RTA_PRIORITY", 100)]
    assert codec.encode(uapi.RTM_NEWROUTE, CREATE, 1, fields, attrs) == ROUTE_ADD
    [m] = codec.decode(ROUTE_ADD)
    assert m.fixed is not None
    assert m.fixed.as_dict() == {"rtm_family": 2, "rtm_dst_len": 0, "rtm_src_len": 0,
                                 "rtm_tos": 0, "rtm_table": 0, "rtm_protocol": 3,
                                 "rtm_scope": 0, "rtm_type": 1, "rtm_flags": 0}
    assert [(a.name, a.value) for a in m.attrs] == attrs


def test_rtnl_route_add_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.route_add("default", gateway="100.64.0.1", oif=2, table=1000, metric=100)
    assert kernel.sent == [ROUTE_ADD]


# --------------------------------------------------------------------------------------------
# RTM_SETLINK for AF_BRIDGE: hairpin and isolation of a bridge port
#   (bridge link set dev <5> hairpin on isolated on)
# --------------------------------------------------------------------------------------------

BRPORT_SET = hexbytes("""
    34 00 00 00     # nlmsg_len = 52
    13 00           # nlmsg_type = RTM_SETLINK (19)
    05 00           # nlmsg_flags = REQUEST|ACK
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid = 0
    07              # ifi_family = AF_BRIDGE: handled by the bridge, not the core
    00 00 00        # __ifi_pad, ifi_type
    05 00 00 00     # ifi_index = 5: the port
    00 00 00 00     # ifi_flags
    00 00 00 00     # ifi_change
    14 00 0c 80     # IFLA_PROTINFO (12) | NLA_F_NESTED (0x8000): without the flag the
                    #   kernel would read the payload as an old-style u8 port state
    05 00 04 00     #   IFLA_BRPORT_MODE (4), nla_len 5
    01              #     1 = BRIDGE_MODE_HAIRPIN
    00 00 00        #     padding
    05 00 21 00     #   IFLA_BRPORT_ISOLATED (33), nla_len 5
    01              #     1 = isolated
    00 00 00        #     padding
""")


def test_brport_set_both_directions() -> None:
    data = codec.encode(uapi.RTM_SETLINK, uapi.NLM_F_REQUEST | uapi.NLM_F_ACK, 1,
                        {"ifi_family": uapi.AF_BRIDGE, "ifi_index": 5},
                        [("IFLA_PROTINFO", [("IFLA_BRPORT_MODE", 1),
                                            ("IFLA_BRPORT_ISOLATED", 1)])])
    assert data == BRPORT_SET
    [m] = codec.decode(BRPORT_SET)
    protinfo = m.attrs.find("IFLA_PROTINFO")
    assert protinfo is not None and protinfo.flags == uapi.NLA_F_NESTED
    assert isinstance(protinfo.value, codec.Attrs)
    assert [(a.name, a.value) for a in protinfo.value] == [
        ("IFLA_BRPORT_MODE", 1), ("IFLA_BRPORT_ISOLATED", 1)]


def test_rtnl_brport_set_sends_these_bytes() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.brport_set(5, hairpin=True, isolated=True)
    assert kernel.sent == [BRPORT_SET]


# --------------------------------------------------------------------------------------------
# Received: NLMSG_ERROR with an extended ACK (ip link add with a 24-character name)
# --------------------------------------------------------------------------------------------

ERROR_EXT_ACK = hexbytes("""
    68 00 00 00     # nlmsg_len = 104
    02 00           # nlmsg_type = NLMSG_ERROR (2)
    00 03           # nlmsg_flags = NLM_F_CAPPED (0x100: our request is not echoed, thanks to
                    #   NETLINK_CAP_ACK) | NLM_F_ACK_TLVS (0x200: attributes follow)
    01 00 00 00     # nlmsg_seq = 1: answers our request number 1
    00 00 00 00     # nlmsg_pid = 0 (in a real capture: our port id)
    de ff ff ff     # error = -34 (-ERANGE); 0 would mean success
    50 00 00 00     # the request's nlmsghdr: nlmsg_len 80
    10 00           #   nlmsg_type RTM_NEWLINK
    05 06           #   nlmsg_flags REQUEST|ACK|EXCL|CREATE
    01 00 00 00     #   nlmsg_seq 1
    00 00 00 00     #   nlmsg_pid 0
    27 00 01 00     # NLMSGERR_ATTR_MSG (1), nla_len 39
    41 74 74 72 69 62 75 74 65 20 66 61 69 6c 65 64 20 70 6f 6c 69 63 79 20
    76 61 6c 69 64 61 74 69 6f 6e 00   # "Attribute failed policy validation"
    00              #   padding
    08 00 02 00     # NLMSGERR_ATTR_OFFS (2)
    20 00 00 00     #   32: the offending attribute starts at byte 32 of our request
    14 00 04 80     # NLMSGERR_ATTR_POLICY (4) | NLA_F_NESTED: the policy it failed
    08 00 07 00 0f 00 00 00   # (NL_POLICY_TYPE_ATTR_MAX_LENGTH = 15)
    08 00 01 00 0b 00 00 00   # (NL_POLICY_TYPE_ATTR_TYPE = NL_ATTR_TYPE_NUL_STRING)
""")


def test_error_with_ext_ack_decodes_exactly() -> None:
    [m] = codec.decode(ERROR_EXT_ACK)
    assert m.type == uapi.NLMSG_ERROR and m.seq == 1
    assert m.error == -34
    assert m.request is not None
    assert m.request.as_dict() == {"nlmsg_len": 80, "nlmsg_type": uapi.RTM_NEWLINK,
                                   "nlmsg_flags": 0x605, "nlmsg_seq": 1, "nlmsg_pid": 0}
    assert m.attrs.get("NLMSGERR_ATTR_MSG") == "Attribute failed policy validation"
    assert m.attrs.get("NLMSGERR_ATTR_OFFS") == 32
    policy = m.attrs.find("NLMSGERR_ATTR_POLICY")
    assert policy is not None and policy.flags == uapi.NLA_F_NESTED
    assert isinstance(policy.value, bytes) and len(policy.value) == 16


def test_error_with_ext_ack_becomes_netlink_error() -> None:
    with fake_rtnl(reply=ERROR_EXT_ACK) as (rtnl, kernel):
        with pytest.raises(NetlinkError) as caught:
            rtnl.bridge_add("hzt-this-is-way-too-long")
    e = caught.value
    assert isinstance(e, OSError) and e.errno == 34
    assert e.kernel_msg == "Attribute failed policy validation"
    assert e.kernel_offset == 32
    assert e.doing == "add bridge hzt-this-is-way-too-long"
    assert e.kernel_attr == "IFLA_IFNAME"      # byte 32 of our request
    assert str(e) == ("add bridge hzt-this-is-way-too-long: Numerical result out of range "
                      "(kernel: Attribute failed policy validation, at IFLA_IFNAME)")


# --------------------------------------------------------------------------------------------
# Received: a plain ACK (success)
# --------------------------------------------------------------------------------------------

ACK = hexbytes("""
    24 00 00 00     # nlmsg_len = 36
    02 00           # nlmsg_type = NLMSG_ERROR: acknowledgements are "errors" ...
    00 01           # nlmsg_flags = NLM_F_CAPPED
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid
    00 00 00 00     # error = 0 ... with error 0: success
    44 00 00 00 10 00 05 06 01 00 00 00 00 00 00 00   # the request's nlmsghdr
""")


def test_ack_decodes_exactly() -> None:
    [m] = codec.decode(ACK)
    assert (m.type, m.error, m.flags) == (uapi.NLMSG_ERROR, 0, uapi.NLM_F_CAPPED)
    assert m.request is not None and m.request["nlmsg_len"] == 68
    assert list(m.attrs) == [] and m.raw == b""


# --------------------------------------------------------------------------------------------
# Received: NLMSG_DONE carrying an error (a strict dump request the kernel refused)
# --------------------------------------------------------------------------------------------

DONE_WITH_ERROR = hexbytes("""
    50 00 00 00     # nlmsg_len = 80
    03 00           # nlmsg_type = NLMSG_DONE (3): the dump is over ...
    02 02           # nlmsg_flags = MULTI|ACK_TLVS
    02 00 00 00     # nlmsg_seq = 2
    00 00 00 00     # nlmsg_pid
    ea ff ff ff     # ... and failed: error = -22 (-EINVAL)
    3c 00 01 00     # NLMSGERR_ATTR_MSG, nla_len 60
    69 70 76 34 3a 20 49 6e 76 61 6c 69 64 20 76 61 6c 75 65 73 20 69 6e 20
    68 65 61 64 65 72 20 66 6f 72 20 61 64 64 72 65 73 73 20 64 75 6d 70 20
    72 65 71 75 65 73 74 00   # "ipv4: Invalid values in header for address dump request"
""")


def test_done_with_error_decodes_exactly() -> None:
    [m] = codec.decode(DONE_WITH_ERROR)
    assert (m.type, m.seq, m.error) == (uapi.NLMSG_DONE, 2, -22)
    assert m.attrs.get("NLMSGERR_ATTR_MSG") == \
        "ipv4: Invalid values in header for address dump request"


def test_done_with_error_raises() -> None:
    with fake_rtnl(dump=[DONE_WITH_ERROR], first_seq=2) as (rtnl, kernel):
        with pytest.raises(NetlinkError) as caught:
            rtnl.addrs()
    assert caught.value.errno == 22
    assert caught.value.kernel_msg == "ipv4: Invalid values in header for address dump request"


# --------------------------------------------------------------------------------------------
# Received: a dump reply (RTM_GETADDR), one address, then NLMSG_DONE
# --------------------------------------------------------------------------------------------

ADDR_DUMP_REPLY = hexbytes("""
    50 00 00 00     # nlmsg_len = 80
    14 00           # nlmsg_type = RTM_NEWADDR: dump entries are "new" messages
    02 00           # nlmsg_flags = NLM_F_MULTI: part of a multipart reply
    02 00 00 00     # nlmsg_seq = 2
    00 00 00 00     # nlmsg_pid
    02              # ifa_family = AF_INET
    18              # ifa_prefixlen = 24
    80              # ifa_flags = IFA_F_PERMANENT
    00              # ifa_scope = universe
    02 00 00 00     # ifa_index = 2
    08 00 01 00     # IFA_ADDRESS
    64 40 00 05     #   100.64.0.5
    08 00 02 00     # IFA_LOCAL
    64 40 00 05     #   100.64.0.5
    0a 00 03 00     # IFA_LABEL, nla_len 10
    68 7a 74 64 30 00   # "hztd0"
    00 00           #   padding
    08 00 08 00     # IFA_FLAGS
    80 00 00 00     #   IFA_F_PERMANENT
    14 00 06 00     # IFA_CACHEINFO (6): struct ifa_cacheinfo
    ff ff ff ff     #   ifa_prefered = forever
    ff ff ff ff     #   ifa_valid = forever
    92 3d 01 00     #   cstamp = 81298 (1/100 s since boot)
    92 3d 01 00     #   tstamp = 81298
""")

DUMP_DONE = hexbytes("""
    14 00 00 00     # nlmsg_len = 20
    03 00           # nlmsg_type = NLMSG_DONE
    02 00           # nlmsg_flags = MULTI
    02 00 00 00     # nlmsg_seq = 2
    00 00 00 00     # nlmsg_pid
    00 00 00 00     # error = 0: the dump ended well
""")


def test_dump_reply_decodes_exactly() -> None:
    [m] = codec.decode(ADDR_DUMP_REPLY)
    assert (m.type, m.flags, m.seq) == (uapi.RTM_NEWADDR, uapi.NLM_F_MULTI, 2)
    assert m.fixed is not None
    assert m.fixed.as_dict() == {"ifa_family": 2, "ifa_prefixlen": 24, "ifa_flags": 0x80,
                                 "ifa_scope": 0, "ifa_index": 2}
    cache = m.attrs.get("IFA_CACHEINFO")
    assert isinstance(cache, codec.Struct)
    assert cache.as_dict() == {"ifa_prefered": 0xFFFFFFFF, "ifa_valid": 0xFFFFFFFF,
                               "cstamp": 81298, "tstamp": 81298}
    assert [(a.name, a.value) for a in m.attrs][:4] == [
        ("IFA_ADDRESS", "100.64.0.5"), ("IFA_LOCAL", "100.64.0.5"), ("IFA_LABEL", "hztd0"),
        ("IFA_FLAGS", 0x80)]
    [done] = codec.decode(DUMP_DONE)
    assert (done.type, done.error) == (uapi.NLMSG_DONE, 0)


def test_dump_reply_encodes_exactly() -> None:
    data = codec.encode(uapi.RTM_NEWADDR, uapi.NLM_F_MULTI, 2,
                        {"ifa_family": 2, "ifa_prefixlen": 24, "ifa_flags": 0x80,
                         "ifa_index": 2},
                        [("IFA_ADDRESS", "100.64.0.5"), ("IFA_LOCAL", "100.64.0.5"),
                         ("IFA_LABEL", "hztd0"), ("IFA_FLAGS", 0x80),
                         ("IFA_CACHEINFO", {"ifa_prefered": 0xFFFFFFFF,
                                            "ifa_valid": 0xFFFFFFFF,
                                            "cstamp": 81298, "tstamp": 81298})])
    assert data == ADDR_DUMP_REPLY


def test_dump_reply_through_rtnl_gives_typed_addresses() -> None:
    # one datagram may carry several messages: here the entry and NLMSG_DONE together
    with fake_rtnl(dump=[ADDR_DUMP_REPLY + DUMP_DONE], first_seq=2) as (rtnl, kernel):
        [a] = rtnl.addrs()
    assert (a.family, a.index, a.address, a.prefixlen, a.local, a.flags, a.scope) == \
        (4, 2, "100.64.0.5", 24, "100.64.0.5", 0x80, 0)


# --------------------------------------------------------------------------------------------
# RTM_GETNSID: which id does this namespace give the namespace open on fd 4?
#   (ip netns list-id, for one namespace) — and the kernel's answer, RTM_NEWNSID
# --------------------------------------------------------------------------------------------

GETNSID = hexbytes("""
    1c 00 00 00     # nlmsg_len = 28
    5a 00           # nlmsg_type = RTM_GETNSID (90)
    05 00           # nlmsg_flags = REQUEST|ACK (a plain get, no dump)
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid
    # struct rtgenmsg: one byte ...
    00              # rtgen_family = AF_UNSPEC
    00 00 00        # ... padded to 4: attributes start at NLMSG_ALIGN(1)
    08 00 03 00     # NETNSA_FD (3), nla_len 8
    04 00 00 00     #   fd 4: an open namespace file (/run/netns/NAME, /proc/PID/ns/net)
""")

NEWNSID_REPLY = hexbytes("""
    1c 00 00 00     # nlmsg_len = 28
    58 00           # nlmsg_type = RTM_NEWNSID (88): the answer to a GET is a NEW
    00 00           # nlmsg_flags = 0
    01 00 00 00     # nlmsg_seq = 1 (our request's)
    00 00 00 00     # nlmsg_pid (trimmed)
    00 00 00 00     # rtgenmsg: AF_UNSPEC + padding
    08 00 01 00     # NETNSA_NSID (1), nla_len 8
    00 00 00 00     #   0: the first id this namespace handed out (-1: none yet)
""")


def test_getnsid_both_directions() -> None:
    assert codec.encode(uapi.RTM_GETNSID, 5, 1, {}, [("NETNSA_FD", 4)]) == GETNSID
    [m] = codec.decode(NEWNSID_REPLY)
    assert (m.type, m.seq, m.length) == (uapi.RTM_NEWNSID, 1, 28)
    assert m.fixed is not None and m.fixed.as_dict() == {"rtgen_family": 0}
    assert [(a.name, a.offset, a.value) for a in m.attrs] == [("NETNSA_NSID", 0x14, 0)]
    assert codec.encode(uapi.RTM_NEWNSID, 0, 1, {}, [("NETNSA_NSID", 0)]) == NEWNSID_REPLY


def test_rtnl_netnsid_of_sends_these_bytes_and_reads_the_id() -> None:
    with fake_rtnl(dump=[NEWNSID_REPLY + ACK]) as (rtnl, kernel):
        assert rtnl.netnsid_of(4) == 0
    assert kernel.sent == [GETNSID]
    none_yet = codec.encode(uapi.RTM_NEWNSID, 0, 1, {}, [("NETNSA_NSID", -1)])
    with fake_rtnl(dump=[none_yet + ACK]) as (rtnl, kernel):
        assert rtnl.netnsid_of(4) is None


# --------------------------------------------------------------------------------------------
# RTM_DELLINK in another namespace, asked from this one: ifindex 2 of netnsid 0
#   (ip -target-netnsid 0 link del dev <2>: what DEL sends from the host)
# --------------------------------------------------------------------------------------------

DELLINK_TARGET = hexbytes("""
    28 00 00 00     # nlmsg_len = 40
    11 00           # nlmsg_type = RTM_DELLINK (17)
    05 00           # nlmsg_flags = REQUEST|ACK
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid
    00 00 00 00     # ifinfomsg: family, pad, type
    02 00 00 00     # ifi_index = 2: counted in the TARGET namespace, not ours
    00 00 00 00     # ifi_flags
    00 00 00 00     # ifi_change
    08 00 2e 00     # IFLA_TARGET_NETNSID (46), nla_len 8
    00 00 00 00     #   netnsid 0: the namespace our namespace knows by that id
""")


def test_dellink_in_another_namespace_both_directions() -> None:
    data = codec.encode(uapi.RTM_DELLINK, 5, 1, {"ifi_index": 2},
                        [("IFLA_TARGET_NETNSID", 0)])
    assert data == DELLINK_TARGET
    [m] = codec.decode(DELLINK_TARGET)
    assert m.fixed is not None and m.fixed["ifi_index"] == 2
    assert m.attrs.get("IFLA_TARGET_NETNSID") == 0


def test_rtnl_link_del_in_netnsid_sends_these_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.link_del(2, netnsid=0)
    assert kernel.sent == [DELLINK_TARGET]
    # Before Linux 4.16 RTM_DELLINK ignores IFLA_TARGET_NETNSID and would delete ifindex 2
    # of OUR namespace: refused, nothing sent.
    from humanz.netlink import rtnl as rtnl_module
    monkeypatch.setattr(rtnl_module, "_kernel_version", lambda: (4, 15))
    with fake_rtnl() as (rtnl, kernel):
        with pytest.raises(NetlinkError) as caught:
            rtnl.link_del(2, netnsid=0)
    assert caught.value.errno == 95 and kernel.sent == []


def test_rtnl_link_get_in_netnsid_checks_the_kernel_honoured_it() -> None:
    """A kernel that ignores IFLA_TARGET_NETNSID answers about OUR namespace's link, without
    the attribute in the answer: link_get says so (EOPNOTSUPP) instead of returning it."""
    answer = codec.encode(uapi.RTM_NEWLINK, 0, 1, {"ifi_index": 2},
                          [("IFLA_TARGET_NETNSID", 0), ("IFLA_IFNAME", "eth0")])
    with fake_rtnl(dump=[answer + ACK]) as (rtnl, kernel):
        assert rtnl.link_get("eth0", netnsid=0).index == 2
    assert codec.decode(kernel.sent[0])[0].attrs.get("IFLA_TARGET_NETNSID") == 0
    ignored = codec.encode(uapi.RTM_NEWLINK, 0, 1, {"ifi_index": 2}, [("IFLA_IFNAME", "eth0")])
    with fake_rtnl(dump=[ignored + ACK]) as (rtnl, kernel):
        with pytest.raises(NetlinkError) as caught:
            rtnl.link_get("eth0", netnsid=0)
    assert caught.value.errno == 95


# --------------------------------------------------------------------------------------------
# RTM_NEWLINK: an IPv4 setting of one interface — arp_notify = 1 on ifindex 2
#   (echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify, by netlink: what ADD sends in the pod)
# --------------------------------------------------------------------------------------------

ARP_NOTIFY_SET = hexbytes("""
    34 00 00 00     # nlmsg_len = 52
    10 00           # nlmsg_type = RTM_NEWLINK (no CREATE: a change to an existing link)
    05 00           # nlmsg_flags = REQUEST|ACK
    01 00 00 00     # nlmsg_seq = 1
    00 00 00 00     # nlmsg_pid
    00 00 00 00     # ifinfomsg: family, pad, type
    02 00 00 00     # ifi_index = 2
    00 00 00 00     # ifi_flags = 0 ...
    00 00 00 00     # ifi_change = 0: the state is not touched (IFF_UP in this message would be
                    #   applied BEFORE the setting below, too early for arp_notify to act)
    14 00 1a 00     # IFLA_AF_SPEC (26), nla_len 20: one nest per address family
    10 00 02 00     #   AF_INET (2), nla_len 16
    0c 00 01 00     #     IFLA_INET_CONF (1), nla_len 12: settings, each an attribute ...
    08 00 16 00     #       nla_len 8, nla_type 22 = IPV4_DEVCONF_ARP_NOTIFY (linux/ip.h) ...
    01 00 00 00     #       ... value 1 (u32). (In a dump, IFLA_INET_CONF is instead a plain
                    #       u32 array where setting N is at index N - 1.)
""")


def test_arp_notify_set_both_directions() -> None:
    with fake_rtnl() as (rtnl, kernel):
        rtnl.link_set(2, inet_conf={uapi.IPV4_DEVCONF_ARP_NOTIFY: 1})
    assert kernel.sent == [ARP_NOTIFY_SET]
    [m] = codec.decode(ARP_NOTIFY_SET)
    spec = m.attrs.get_attrs("IFLA_AF_SPEC")
    assert spec is not None
    inet = spec.get_attrs("AF_INET")
    assert inet is not None and inet.get("IFLA_INET_CONF") == bytes.fromhex("0800160001000000")


# --------------------------------------------------------------------------------------------
# A fake kernel for the Rtnl-level checks above
# --------------------------------------------------------------------------------------------

class FakeKernelSocket:
    """Stands in for the netlink socket: records what is sent, answers from a script.

    With ``reply`` it answers each request with those bytes; with ``dump`` it hands out the
    scripted datagrams in order; otherwise it ACKs every request.
    """

    def __init__(self, reply: bytes | None = None, dump: list[bytes] | None = None) -> None:
        self.sent: list[bytes] = []
        self.queue: list[bytes] = []
        self.reply = reply
        self.dump = list(dump or [])

    def sendto(self, data: bytes, address: object) -> int:
        self.sent.append(data)
        if self.dump:
            self.queue += self.dump
            self.dump = []
        elif self.reply is not None:
            self.queue.append(self.reply)
        else:
            seq = codec.decode(data)[0].seq
            ack = bytearray(ACK)
            ack[8:12] = seq.to_bytes(4, sys.byteorder)
            ack[20:36] = data[:16]
            self.queue.append(bytes(ack))
        return len(data)

    def recv_into(self, buf: bytearray, nbytes: int, flags: int) -> int:
        data = self.queue.pop(0)
        buf[:len(data)] = data
        return len(data)

    def close(self) -> None:
        pass


class fake_rtnl:
    """``with fake_rtnl() as (rtnl, kernel)``: an Rtnl wired to a FakeKernelSocket."""

    def __init__(self, reply: bytes | None = None, dump: list[bytes] | None = None,
                 first_seq: int = 1) -> None:
        self.kernel = FakeKernelSocket(reply, dump)
        self.first_seq = first_seq

    def __enter__(self) -> tuple[Rtnl, FakeKernelSocket]:
        rtnl = Rtnl.__new__(Rtnl)
        rtnl.ns = None
        rtnl._where = ""
        sock = NetlinkSocket.__new__(NetlinkSocket)
        sock._sock = self.kernel  # type: ignore[assignment]
        sock.protocol = uapi.ROUTE
        sock._seq = self.first_seq - 1
        sock._buf = bytearray(65536)
        sock.label = ""
        sock.trace = None
        rtnl.sock = sock
        return rtnl, self.kernel

    def __exit__(self, *exc: object) -> None:
        pass
