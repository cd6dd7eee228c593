"""Property tests: the decoder never fails except with DecodeError; encode → decode round-trips.

Inputs: random byte strings, the byte-exact fixtures mutated (bit flips, truncation, spliced
bytes, rewritten length fields), and random well-formed messages built from the tables of each
protocol schema (rtnetlink's uapi.ROUTE and nf_tables' nf_uapi.NETFILTER).
"""

from __future__ import annotations

import struct
from _socket import AF_INET6, inet_ntop
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humanz.netlink import codec, explain, uapi
from humanz.netlink.errors import DecodeError
from humanz.netlink.nf_uapi import NETFILTER

import test_netlink_fixtures as fx

FIXTURES = [fx.BRIDGE_ADD, fx.VETH_ADD, fx.ADDR4_ADD, fx.ADDR6_ADD, fx.ROUTE_ADD,
            fx.BRPORT_SET, fx.ERROR_EXT_ACK, fx.ACK, fx.DONE_WITH_ERROR, fx.ADDR_DUMP_REPLY,
            fx.DUMP_DONE]

PROTOCOLS = [uapi.ROUTE, NETFILTER]

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def decodes_or_raises_decode_error(data: bytes,
                                   protocol: uapi.ProtocolSchema = uapi.ROUTE) -> None:
    """The property: decode returns, or raises DecodeError; explain never raises."""
    try:
        messages = codec.decode(data, protocol)
    except DecodeError:
        pass
    else:
        for m in messages:
            assert m.length >= 16
    assert isinstance(explain.explain(data, protocol=protocol), str)


@SETTINGS
@given(st.binary(max_size=512), st.sampled_from(PROTOCOLS))
def test_random_bytes(data: bytes, protocol: uapi.ProtocolSchema) -> None:
    decodes_or_raises_decode_error(data, protocol)


@st.composite
def plausible_messages(draw: st.DrawFn) -> tuple[bytes, uapi.ProtocolSchema]:
    """A valid header in front of random bytes: gets past the first checks more often."""
    protocol = draw(st.sampled_from(PROTOCOLS))
    msg_type = draw(st.sampled_from(sorted(protocol.messages) + [1, 2, 3, 4, 99]))
    body = draw(st.binary(max_size=300))
    flags = draw(st.integers(0, 0xFFFF))
    return struct.pack("=IHHII", 16 + len(body), msg_type, flags, 1, 0) + body, protocol


@SETTINGS
@given(plausible_messages())
def test_valid_header_random_body(message: tuple[bytes, uapi.ProtocolSchema]) -> None:
    decodes_or_raises_decode_error(*message)


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 6))):
        how = draw(st.sampled_from(["flip", "byte", "cut", "splice", "u16"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif how == "cut":
            del data[at:]
        elif how == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif how == "u16" and at + 2 <= len(data):   # hit length / type fields squarely
            data[at:at + 2] = struct.pack("=H", draw(st.integers(0, 0xFFFF)))
    return bytes(data)


@SETTINGS
@given(mutated_fixtures())
def test_mutated_fixtures(data: bytes) -> None:
    decodes_or_raises_decode_error(data)


# --------------------------------------------------------------------------------------------
# Round trips: random attribute lists, by kind, for every message type
# --------------------------------------------------------------------------------------------

IPV4 = st.builds(lambda b: ".".join(str(x) for x in b), st.binary(min_size=4, max_size=4))
IPV6 = st.builds(lambda b: inet_ntop(AF_INET6, b), st.binary(min_size=16, max_size=16))
TEXT = st.text(st.characters(min_codepoint=1, max_codepoint=0xD7FF), max_size=20)  # no NUL


def value_for(spec: uapi.AttrSpec, depth: int,
              protocol: uapi.ProtocolSchema) -> st.SearchStrategy[object]:
    kind = spec.kind
    if kind == uapi.U8:
        return st.integers(0, 0xFF)
    if kind in (uapi.U16, uapi.BE16):
        return st.integers(0, 0xFFFF)
    if kind in (uapi.U32, uapi.BE32):
        return st.integers(0, 0xFFFFFFFF)
    if kind in (uapi.S32, uapi.SBE32):
        return st.integers(-2**31, 2**31 - 1)
    if kind in (uapi.U64, uapi.BE64):
        return st.integers(0, 2**64 - 1)
    if kind == uapi.STRING:
        return TEXT
    if kind == uapi.MAC:
        return st.builds(lambda b: ":".join("%02x" % x for x in b),
                         st.binary(min_size=6, max_size=6))
    if kind == uapi.IP:
        return IPV4 | IPV6
    if kind == uapi.FLAG:
        return st.just(True)
    if kind in (uapi.NESTED, uapi.NESTED_F) and depth < 3:
        return attr_lists(protocol.attr_sets[spec.nested or ""], protocol, depth + 1)
    if kind == uapi.STRUCT:
        s = protocol.structs[spec.struct or ""]
        return st.fixed_dictionaries({f[0]: st.integers(0, 0xFF) for f in s.fields})
    if kind == uapi.STRUCT_ATTRS and depth < 3:
        return st.tuples(st.just({"ifi_index": 3}),
                         attr_lists(protocol.attr_sets[spec.nested or ""], protocol, depth + 1))
    return st.binary(max_size=24)


def attr_lists(attr_set: uapi.AttrSet, protocol: uapi.ProtocolSchema,
               depth: int = 0) -> st.SearchStrategy[list[object]]:
    simple = [s for s in attr_set.by_number.values()
              if s.kind not in (uapi.SWITCH, uapi.SWITCH_F)
              and not (s.kind in (uapi.NESTED, uapi.NESTED_F, uapi.STRUCT_ATTRS) and depth >= 3)]
    one = st.sampled_from(simple).flatmap(
        lambda spec: st.tuples(st.just(spec.name), value_for(spec, depth, protocol)))
    return st.lists(one, max_size=6)


def test_value_for_covers_every_kind_declared() -> None:
    """Every attribute kind of both protocols gets a real strategy, not the bytes fallback."""
    opaque = {uapi.BYTES, uapi.SWITCH, uapi.SWITCH_F}
    fallback = repr(st.binary(max_size=24))
    kinds = {spec.kind for p in PROTOCOLS for s in p.attr_sets.values()
             for spec in s.by_number.values()}
    assert {uapi.BE16, uapi.BE32, uapi.SBE32, uapi.BE64} <= kinds
    for p in PROTOCOLS:
        for attr_set in p.attr_sets.values():
            for spec in attr_set.by_number.values():
                if spec.kind not in opaque:
                    strategy = value_for(spec, 0, p)
                    assert repr(strategy) != fallback, spec.name


def plain(value: object) -> object:
    """A decoded value in the shape the encoder takes."""
    if isinstance(value, codec.Attrs):
        return [(a.name, plain(a.value)) for a in value]
    if isinstance(value, codec.StructAttrs):
        return (value.struct.as_dict(), plain(value.attrs))
    if isinstance(value, codec.Struct):
        return value.as_dict()
    return value


def expected(value: object) -> object:
    """What decoding gives back for an encoder input (text up to its first NUL, etc.)."""
    if isinstance(value, list):
        return [(k, expected(v)) for k, v in value]
    if isinstance(value, tuple):
        fields, attrs = value
        full = {f[0]: 0 for f in uapi.IFINFOMSG.fields}
        full.update(fields)
        return (full, expected(attrs))
    return value


if TYPE_CHECKING:
    Drawn = tuple[uapi.ProtocolSchema, int, int, dict[str, int], list[object]]


@st.composite
def messages(draw: st.DrawFn) -> Drawn:
    protocol = draw(st.sampled_from(PROTOCOLS))
    msg_type = draw(st.sampled_from(sorted(protocol.messages)))
    spec, attr_set = protocol.messages[msg_type]
    fields = {f[0]: draw(st.integers(0, 0xFFFF if size == 2 else 0xFF))
              for f, size in zip(spec.fields, spec.sizes)}
    return (protocol, msg_type, draw(st.integers(0, 0xFFFF)), fields,
            draw(attr_lists(attr_set, protocol)))


@SETTINGS
@given(messages(), st.integers(0, 0xFFFFFFFF))
def test_encode_decode_round_trip(message: Drawn, seq: int) -> None:
    protocol, msg_type, flags, fields, attrs = message
    data = codec.encode(msg_type, flags, seq, fields, attrs,  # type: ignore[arg-type]
                        protocol=protocol)
    assert len(data) % 4 == 0
    [m] = codec.decode(data, protocol)
    assert (m.type, m.flags, m.seq, m.length) == (msg_type, flags, seq, len(data))
    assert m.fixed is not None and m.fixed.as_dict() == fields
    assert plain(m.attrs) == expected(attrs)
    # and the decoded values encode back to the very same bytes
    again = codec.encode(msg_type, flags, seq, m.fixed.as_dict(), plain(m.attrs),  # type: ignore[arg-type]
                         protocol=protocol)
    assert again == data
