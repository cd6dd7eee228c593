"""The sans-IO codec, the explain formatter and the socket layer's protocol logic, without root.

- the uapi tables agree with the Linux headers in /usr/include (parsed here, not trusted);
- the decoder's rules: alignment, type masking, unknown attributes kept, switches, errors;
- the socket layer against a scripted fake kernel: sequence numbers, multipart dumps,
  NLM_F_DUMP_INTR redone (bounded), truncated datagrams detected, errors in NLMSG_DONE.
"""

from __future__ import annotations

import glob
import os
import struct
import sys
from typing import Callable

import pytest

from humanz.netlink import codec, explain, uapi
from humanz.netlink.errors import DecodeError, NetlinkError
from humanz.netlink.nlsocket import DUMP_TRIES, NetlinkSocket

LITTLE = sys.byteorder == "little"


# --------------------------------------------------------------------------------------------
# The tables match the headers
# --------------------------------------------------------------------------------------------

HEADERS = ["linux/netlink.h", "linux/rtnetlink.h", "linux/if_link.h", "linux/if_addr.h",
           "linux/veth.h", "linux/if_bridge.h", "linux/if.h", "linux/mount.h",
           "linux/sched.h", "linux/magic.h"]


def _strip_comments(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _evaluate(expr: str, names: dict[str, int]) -> int | None:
    expr = expr.strip().rstrip("UuLl") if expr.strip()[:1].isdigit() else expr.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ ()<>|+-~x")
    if not expr or set(expr) - allowed:
        return None
    try:
        value = eval(expr, {"__builtins__": {}}, dict(names))  # headers are trusted input
    except Exception:
        return None
    return value if isinstance(value, int) else None


def parse_header_numbers() -> dict[str, int]:
    """Every enum member and numeric #define in the headers humanz mirrors."""
    names: dict[str, int] = {}
    paths = ["/usr/include/" + h for h in HEADERS]
    paths += glob.glob("/usr/include/*/bits/socket.h")
    for path in paths:
        text = _strip_comments(open(path).read())
        lines = text.splitlines()
        for line in lines:
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0] == "#define":
                value = _evaluate(parts[2], names)
                if value is not None:
                    names.setdefault(parts[1], value)
        body = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        at = 0
        while True:
            start = body.find("enum", at)
            if start < 0:
                break
            open_brace, close_brace = body.find("{", start), body.find("}", start)
            if open_brace < 0 or close_brace < open_brace:
                break
            counter = 0
            for entry in body[open_brace + 1:close_brace].split(","):
                entry = entry.strip()
                if not entry:
                    continue
                name, _, expr = entry.partition("=")
                name = name.strip()
                if expr:
                    value = _evaluate(expr, names)
                    if value is None:
                        break
                    counter = value
                names.setdefault(name, counter)
                counter += 1
            at = close_brace + 1
    return names


def test_uapi_numbers_match_headers() -> None:
    header = parse_header_numbers()
    checked = 0
    mismatches = []
    for attr_set in uapi.ATTR_SETS.values():
        if attr_set.name == "IFLA_AF_SPEC":
            continue                 # keyed by AF_* numbers, checked below as constants
        for spec in attr_set.by_number.values():
            if spec.name in header:
                checked += 1
                if header[spec.name] != spec.number:
                    mismatches.append((spec.name, spec.number, header[spec.name]))
    for name in dir(uapi):
        value = getattr(uapi, name)
        if name.isupper() and isinstance(value, int) and name in header:
            checked += 1
            expected = header[name] & 0xFFFF if name == "NLA_TYPE_MASK" else header[name]
            if expected != value:            # (NLA_TYPE_MASK is a C int applied to a __u16)
                mismatches.append((name, value, header[name]))
    assert mismatches == []
    assert checked > 250
    # the ones the operations depend on were all found in the headers
    for name in ("IFLA_NET_NS_FD", "VETH_INFO_PEER", "IFLA_BRPORT_ISOLATED", "IFA_FLAGS",
                 "RTA_TABLE", "NLMSGERR_ATTR_OFFS", "NETLINK_GET_STRICT_CHK", "IFF_PROMISC",
                 "RTNH_F_ONLINK", "NLA_F_NESTED", "RTM_SETLINK", "AF_BRIDGE", "MS_SHARED"):
        assert name in header


def test_struct_sizes_match_c() -> None:
    # sizeof() of each struct as the kernel defines it
    assert uapi.NLMSGHDR.size == 16
    assert uapi.IFINFOMSG.size == 16          # the pad byte after ifi_family is real
    assert uapi.IFINFOMSG.offsets == (0, 1, 2, 4, 8, 12)
    assert uapi.IFADDRMSG.size == 8
    assert uapi.RTMSG.size == 12
    assert uapi.IFA_CACHEINFO_STRUCT.size == 16


# --------------------------------------------------------------------------------------------
# Decoder rules
# --------------------------------------------------------------------------------------------

def _link_msg(attrs: bytes, family: int = 0, msg_type: int = uapi.RTM_NEWLINK) -> bytes:
    body = struct.pack("=BBHiII", family, 0, 0, 5, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), msg_type, 0, 9, 0) + body


def _nla(number: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), number) + payload + bytes(-len(payload) % 4)


def test_type_is_masked_and_flags_kept() -> None:
    data = _link_msg(_nla(uapi.NLA_F_NET_BYTEORDER | 4, struct.pack("=I", 1400)))
    [m] = codec.decode(data)
    [a] = m.attrs
    assert (a.name, a.number, a.flags, a.value) == ("IFLA_MTU", 4, uapi.NLA_F_NET_BYTEORDER,
                                                    1400)


def test_unknown_attributes_are_kept_not_dropped() -> None:
    data = _link_msg(_nla(999, b"\x01\x02\x03") + _nla(3, b"lo\0"))
    [m] = codec.decode(data)
    unknown, name = m.attrs
    assert (unknown.number, unknown.spec, unknown.value, unknown.name) == \
        (999, None, b"\x01\x02\x03", "IFLA#999")
    assert name.value == "lo"
    assert "unknown to humanz" in explain.explain(data)


def test_repeated_attribute_get_reads_the_first_iteration_shows_every_one() -> None:
    # get/find answer with the first attribute of a name (one dict look-up); iterating gives
    # every attribute in wire order with its offset, unknown ones included
    data = _link_msg(_nla(4, struct.pack("=I", 1400)) + _nla(999, b"x")
                     + _nla(4, struct.pack("=I", 9000)))
    [m] = codec.decode(data)
    assert m.attrs.get("IFLA_MTU") == 1400 and m.attrs.get_int("IFLA_MTU") == 1400
    assert m.attrs.get_str("IFLA_MTU") is None and m.attrs.get("IFLA_IFNAME") is None
    assert [(a.name, a.value, a.offset, a.length) for a in m.attrs] == [
        ("IFLA_MTU", 1400, 32, 8), ("IFLA#999", b"x", 40, 5), ("IFLA_MTU", 9000, 48, 8)]
    first = m.attrs.find("IFLA_MTU")
    assert first is not None and (first.value, first.offset) == (1400, 32)
    assert m.attrs.find("IFLA_IFNAME") is None
    assert len(m.attrs) == 3 and m.attrs[2].value == 9000


def test_empty_attribute_lists_are_false() -> None:
    [m] = codec.decode(_link_msg(b""))
    assert not m.attrs and len(m.attrs) == 0 and list(m.attrs) == []
    assert not codec.Attrs() and codec.Attrs() == m.attrs
    [m] = codec.decode(_link_msg(_nla(999, b"")))     # only an unknown one: still there
    assert m.attrs and len(m.attrs) == 1


def test_unknown_message_type_keeps_payload() -> None:
    data = struct.pack("=IHHII", 20, 0x99, 0, 1, 0) + b"abcd"
    [m] = codec.decode(data)
    assert m.fixed is None and m.raw == b"abcd" and m.type_name == "type 153"


def test_string_without_nul_is_accepted() -> None:
    # iproute2 sends IFLA_INFO_KIND without its NUL; the kernel accepts both
    data = _link_msg(_nla(18, _nla(1, b"veth")))
    [m] = codec.decode(data)
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None and info.get("IFLA_INFO_KIND") == "veth"


def test_info_data_set_follows_the_kind_whatever_the_order() -> None:
    peer = struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0) + _nla(3, b"p0\0")
    data_first = _nla(2, _nla(1, peer)) + _nla(1, b"veth\0")
    [m] = codec.decode(_link_msg(_nla(18, data_first)))
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None
    inner = info.get_attrs("IFLA_INFO_DATA")
    assert inner is not None
    value = inner.get("VETH_INFO_PEER")
    assert isinstance(value, codec.StructAttrs) and value.attrs.get("IFLA_IFNAME") == "p0"


def test_info_data_of_an_unknown_kind_stays_bytes() -> None:
    data = _link_msg(_nla(18, _nla(1, b"wireguard\0") + _nla(2, b"\x01\x02")))
    [m] = codec.decode(data)
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None and info.get("IFLA_INFO_DATA") == b"\x01\x02"


def test_protinfo_depends_on_the_message_family() -> None:
    port = _nla(12 | uapi.NLA_F_NESTED, _nla(4, b"\x01"))
    [m] = codec.decode(_link_msg(port, family=uapi.AF_BRIDGE))
    protinfo = m.attrs.get_attrs("IFLA_PROTINFO")
    assert protinfo is not None and protinfo.get("IFLA_BRPORT_MODE") == 1
    inet6 = _nla(12, _nla(1, struct.pack("=I", 0x80000000)))
    [m] = codec.decode(_link_msg(inet6, family=uapi.AF_INET6))
    protinfo = m.attrs.get_attrs("IFLA_PROTINFO")
    assert protinfo is not None and protinfo.get("IFLA_INET6_FLAGS") == 0x80000000


def test_several_messages_in_one_datagram() -> None:
    one = _link_msg(_nla(3, b"a\0"))
    [a, b] = codec.decode(one + one)
    assert (a.offset, b.offset) == (0, len(one))
    assert b.attrs.find("IFLA_IFNAME") is not None
    assert b.attrs.find("IFLA_IFNAME").offset == len(one) + 32  # type: ignore[union-attr]


@pytest.mark.parametrize("data, why", [
    (b"\x10\x00\x00", "truncated nlmsghdr"),
    (struct.pack("=IHHII", 12, 16, 0, 0, 0), "nlmsg_len 12"),
    (struct.pack("=IHHII", 64, 16, 0, 0, 0), "nlmsg_len 64"),
    (struct.pack("=IHHII", 20, 16, 0, 0, 0) + bytes(4), "truncated ifinfomsg"),
    (_link_msg(struct.pack("=HH", 3, 4)), "attribute length 3"),
    (_link_msg(struct.pack("=HH", 40, 4) + bytes(4)), "attribute length 40"),
    (_link_msg(b"\x08\x00"), "truncated attribute header"),
    (_link_msg(_nla(4, b"\x01\x02")), "IFLA_MTU: u32 needs 4 bytes, got 2"),
    (_link_msg(_nla(1, b"")[:0] + _nla(18, _nla(2, b"x"))), None),
    (struct.pack("=IHHII", 32, 20, 0, 0, 0) + struct.pack("=BBBBI", 2, 0, 0, 0, 1)
     + _nla(1, b"\x01\x02\x03"), "IFA_ADDRESS: an IP address has 4 or 16 bytes"),
    (struct.pack("=IHHII", 18, 2, 0, 0, 0) + b"\x00\x00", "truncated nlmsgerr"),
])
def test_malformed_input_raises_decode_error(data: bytes, why: str | None) -> None:
    if why is None:
        codec.decode(data)      # a nest holding raw bytes of an unknown kind: fine
        return
    with pytest.raises(DecodeError) as caught:
        codec.decode(data)
    assert why in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_nesting_depth_is_bounded() -> None:
    # VETH_INFO_PEER → IFLA_LINKINFO → IFLA_INFO_DATA → VETH_INFO_PEER ... forever
    inner = b""
    for _ in range(40):
        peer = struct.pack("=BBHiII", 0, 0, 0, 0, 0, 0) + inner
        inner = _nla(18, _nla(1, b"veth\0") + _nla(2, _nla(1, peer)))
    with pytest.raises(DecodeError, match="nested more than"):
        codec.decode(_link_msg(inner))


def test_decode_errors_are_explained_not_raised() -> None:
    text = explain.explain(b"\x10\x00\x00")
    assert "undecodable" in text and "truncated nlmsghdr" in text


# --------------------------------------------------------------------------------------------
# Encoder rules
# --------------------------------------------------------------------------------------------

def test_encoder_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="IFLA_NOPE is not an attribute of IFLA"):
        codec.encode(uapi.RTM_NEWLINK, 0, 1, {}, [("IFLA_NOPE", 1)])
    with pytest.raises(ValueError, match="ifinfomsg has no field nope"):
        codec.encode(uapi.RTM_NEWLINK, 0, 1, {"nope": 1})


def test_encoder_passes_raw_numbered_attributes() -> None:
    data = codec.encode(uapi.RTM_NEWLINK, 0, 1, {}, [(999, b"\xaa")])
    assert data[32:] == struct.pack("=HH", 5, 999) + b"\xaa\0\0\0"
    # nla_len excludes the padding; nlmsg_len includes the last attribute's padding
    assert struct.unpack_from("=I", data)[0] == 40


def test_address_helpers() -> None:
    assert codec.parse_ip("100.64.0.1") == (2, b"\x64\x40\x00\x01")
    assert codec.parse_ip("fd00::1")[0] == 10
    with pytest.raises(ValueError):
        codec.parse_ip("100.64.0.256")
    assert codec.parse_mac("02:00:00:00:00:0a") == b"\x02\0\0\0\0\x0a"
    for bad in ("02:00", "zz:00:00:00:00:00", "1ff:0:0:0:0:0"):
        with pytest.raises(ValueError):
            codec.parse_mac(bad)


def test_attr_path_at_finds_nested_attributes() -> None:
    data = codec.encode(uapi.RTM_NEWLINK, 0, 1, {}, [
        ("IFLA_IFNAME", "a"),
        ("IFLA_LINKINFO", [("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", [
            ("VETH_INFO_PEER", ({}, [("IFLA_IFNAME", "b")]))])])])
    [m] = codec.decode(data)
    info = m.attrs.get_attrs("IFLA_LINKINFO")
    assert info is not None
    inner = info.get_attrs("IFLA_INFO_DATA")
    assert inner is not None
    peer = inner.get("VETH_INFO_PEER")
    assert isinstance(peer, codec.StructAttrs)
    name = peer.attrs.find("IFLA_IFNAME")
    assert name is not None
    assert codec.attr_path_at(data, name.offset) == \
        "IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME"
    assert codec.attr_path_at(data, 32) == "IFLA_IFNAME"
    assert codec.attr_path_at(data, 33) is None


def test_netlink_error_text_and_pickling() -> None:
    import pickle
    e = NetlinkError(17, "add address 100.64.0.5/24 to eth0", "Address already assigned")
    assert str(e) == ("add address 100.64.0.5/24 to eth0: File exists "
                      "(kernel: Address already assigned)")
    assert isinstance(e, OSError) and e.errno == 17 and e.strerror == os.strerror(17)
    again = pickle.loads(pickle.dumps(e))
    assert (again.errno, again.doing, again.kernel_msg) == (17, e.doing, e.kernel_msg)
    assert str(NetlinkError(19)) == "No such device"


# --------------------------------------------------------------------------------------------
# The socket layer against a scripted kernel
# --------------------------------------------------------------------------------------------

class ScriptedKernel:
    """A stand-in for the socket: ``answer(request) -> datagrams`` decides each reply."""

    def __init__(self, answer: Callable[[codec.Message], list[bytes]]) -> None:
        self.answer = answer
        self.requests: list[codec.Message] = []
        self.queue: list[bytes] = []

    def sendto(self, data: bytes, address: object) -> int:
        [request] = codec.decode(data)
        self.requests.append(request)
        self.queue += self.answer(request)
        return len(data)

    def recv_into(self, buf: bytearray, nbytes: int, flags: int) -> int:
        data = self.queue.pop(0)
        n = min(len(data), nbytes)
        buf[:n] = data[:n]
        return len(data)            # like MSG_TRUNC: the real length, even if cut

    def close(self) -> None:
        pass


def scripted_socket(answer: Callable[[codec.Message], list[bytes]],
                    buffer: int = 65536) -> tuple[NetlinkSocket, ScriptedKernel]:
    kernel = ScriptedKernel(answer)
    sock = NetlinkSocket.__new__(NetlinkSocket)
    sock._sock = kernel  # type: ignore[assignment]
    sock.protocol = uapi.ROUTE
    sock._seq = 0
    sock._buf = bytearray(buffer)
    sock.label = "test"
    sock.trace = None
    return sock, kernel


def _msg(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 77) + body


def _entry(seq: int, index: int, flags: int = uapi.NLM_F_MULTI) -> bytes:
    return codec.encode(uapi.RTM_NEWLINK, flags, seq, {"ifi_index": index},
                        [("IFLA_IFNAME", "if%d" % index)], pid=77)


def _done(seq: int, error: int = 0, flags: int = uapi.NLM_F_MULTI) -> bytes:
    return _msg(uapi.NLMSG_DONE, flags, seq, struct.pack("=i", error))


def _ack(seq: int, error: int = 0, text: str | None = None) -> bytes:
    body = struct.pack("=i", error) + struct.pack("=IHHII", 32, 16, 5, seq, 0)
    flags = uapi.NLM_F_CAPPED
    if text is not None:
        body += _nla(1, text.encode() + b"\0")       # NLMSGERR_ATTR_MSG
        flags |= uapi.NLM_F_ACK_TLVS
    return _msg(uapi.NLMSG_ERROR, flags, seq, body)


def test_request_adds_request_and_ack_flags_and_counts_seq() -> None:
    sock, kernel = scripted_socket(lambda r: [_ack(r.seq)])
    sock.request(uapi.RTM_NEWLINK, uapi.NLM_F_CREATE, {}, [("IFLA_IFNAME", "x")])
    sock.request(uapi.RTM_DELLINK, 0, {}, [("IFLA_IFNAME", "x")])
    assert [(r.seq, r.flags) for r in kernel.requests] == [
        (1, uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | uapi.NLM_F_CREATE),
        (2, uapi.NLM_F_REQUEST | uapi.NLM_F_ACK)]


def test_stale_replies_of_other_sequence_numbers_are_skipped() -> None:
    # an old request's error and entries arrive before the answer to ours: ignored
    sock, kernel = scripted_socket(
        lambda r: [_ack(r.seq - 1, -17, "stale") + _entry(r.seq + 5, 1), _entry(r.seq, 2, 0),
                   _ack(r.seq)])
    replies = sock.request(uapi.RTM_GETLINK, 0, {"ifi_index": 2})
    assert [m.fixed["ifi_index"] for m in replies if m.fixed] == [2]


def test_error_ack_raises_with_kernel_message_and_doing() -> None:
    sock, _ = scripted_socket(lambda r: [_ack(r.seq, -17, "Address already assigned")])
    with pytest.raises(NetlinkError) as caught:
        sock.request(uapi.RTM_NEWADDR, 0, {}, doing="add address 100.64.0.5/24 to eth0")
    assert caught.value.errno == 17
    assert str(caught.value) == ("add address 100.64.0.5/24 to eth0: File exists "
                                 "(kernel: Address already assigned)")


def test_dump_collects_multipart_until_done() -> None:
    sock, kernel = scripted_socket(lambda r: [_entry(r.seq, 1) + _entry(r.seq, 2),
                                              _entry(r.seq, 3), _done(r.seq)])
    result = sock.dump(uapi.RTM_GETLINK)
    assert [m.fixed["ifi_index"] for m in result if m.fixed] == [1, 2, 3]
    assert kernel.requests[0].flags == uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | uapi.NLM_F_DUMP


def test_dump_error_in_done_raises() -> None:
    sock, _ = scripted_socket(lambda r: [_entry(r.seq, 1), _done(r.seq, -22)])
    with pytest.raises(NetlinkError) as caught:
        sock.dump(uapi.RTM_GETLINK, doing="list links")
    assert caught.value.errno == 22 and caught.value.doing == "list links"


def test_interrupted_dump_is_redone() -> None:
    calls = []

    def answer(r: codec.Message) -> list[bytes]:
        calls.append(r.seq)
        if len(calls) < 3:   # the first two dumps see the table change under them
            return [_entry(r.seq, 1),
                    _entry(r.seq, 2, uapi.NLM_F_MULTI | uapi.NLM_F_DUMP_INTR),
                    _done(r.seq, 0, uapi.NLM_F_MULTI | uapi.NLM_F_DUMP_INTR)]
        return [_entry(r.seq, 1) + _entry(r.seq, 2) + _entry(r.seq, 3), _done(r.seq)]

    sock, _ = scripted_socket(answer)
    result = sock.dump(uapi.RTM_GETLINK)
    assert calls == [1, 2, 3]
    assert [m.fixed["ifi_index"] for m in result if m.fixed] == [1, 2, 3]


def test_a_dump_interrupted_every_time_gives_up() -> None:
    sock, kernel = scripted_socket(
        lambda r: [_entry(r.seq, 1, uapi.NLM_F_MULTI | uapi.NLM_F_DUMP_INTR), _done(r.seq)])
    with pytest.raises(NetlinkError) as caught:
        sock.dump(uapi.RTM_GETLINK, doing="list links")
    assert caught.value.errno == 4
    assert len(kernel.requests) == DUMP_TRIES


def test_truncated_datagram_grows_the_buffer_and_redoes_the_dump() -> None:
    def answer(r: codec.Message) -> list[bytes]:
        # 40 entries in one datagram (~1.3 KB), more than the 256-byte buffer
        return [b"".join(_entry(r.seq, i) for i in range(40)), _done(r.seq)]

    sock, kernel = scripted_socket(answer, buffer=256)
    result = sock.dump(uapi.RTM_GETLINK)
    assert len(result) == 40 and len(kernel.requests) == 2
    assert len(sock._buf) >= 40 * len(_entry(1, 1))


def test_truncated_reply_to_a_request_is_an_error() -> None:
    sock, _ = scripted_socket(lambda r: [b"".join(_entry(r.seq, i, 0) for i in range(40))],
                              buffer=256)
    with pytest.raises(NetlinkError) as caught:
        sock.request(uapi.RTM_GETLINK, 0, {"ifi_index": 1})
    assert caught.value.errno == 90


def test_trace_sees_every_datagram_both_ways() -> None:
    seen: list[tuple[str, str, int]] = []
    sock, _ = scripted_socket(lambda r: [_entry(r.seq, 1), _done(r.seq)])
    sock.trace = lambda direction, label, data: seen.append((direction, label, len(data)))
    sock.dump(uapi.RTM_GETLINK)
    assert [(d, label) for d, label, _ in seen] == [("send", "test"), ("recv", "test"),
                                                    ("recv", "test")]
