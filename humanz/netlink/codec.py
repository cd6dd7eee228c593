"""Netlink bytes ⇄ small Python objects, with no sockets: the sans-IO core of humanz.netlink.

A netlink message is a 16-byte ``nlmsghdr``, a fixed C struct chosen by the message type
(``ifinfomsg`` for links, ``ifaddrmsg`` for addresses, ``rtmsg`` for routes), then a run of
type-length-value *attributes*, each 4-byte aligned, some holding further attributes.
Everything this module knows about numbers comes from a protocol's schema
(:class:`~humanz.netlink.uapi.ProtocolSchema`): :data:`~humanz.netlink.uapi.ROUTE` unless the
caller names another (``protocol=nf_uapi.NETFILTER``), because a message type means something
only within its protocol.

Decoding records where each piece sits (``offset``, ``length``) so that the explain formatter
walks the very same objects instead of parsing a second time. Decoding any byte string either
returns messages or raises :class:`~humanz.netlink.errors.DecodeError`; unknown attributes are
kept (as raw bytes with their number), never dropped.

Speed matters (a dump of 10,000 routes is 10,000 messages): the decoder walks each message
once and keeps, per nest, a name → value dict of first occurrences (:class:`Attrs`); the
:class:`Attr` objects with their offsets are made (by the same walk, recording) only when
someone iterates over them.
"""

from __future__ import annotations

import struct
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton

from . import uapi
from .errors import DecodeError
from .uapi import ROUTE, AttrSet, AttrSpec, ProtocolSchema, StructSpec

if TYPE_CHECKING:
    from typing import Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

    Buffer = Union[bytes, bytearray, memoryview]
    # What an attribute decodes to.
    Value = Union[int, str, bytes, bool, "Attrs", "Struct", "StructAttrs"]
    # What the encoder accepts: a name (or a raw number) and a value; nested values are lists.
    Item = Tuple[Union[str, int], object]
    # What the decoder walked to make an Attrs: data, start, end, attribute set, family,
    # nesting depth, protocol (the arguments of _walk_attrs)
    Where = Tuple[bytes, int, int, AttrSet, int, int, ProtocolSchema]

_HDR = struct.Struct("=IHHII")     # struct nlmsghdr
_NLA = struct.Struct("=HH")        # struct nlattr: nla_len, nla_type
NLA_HDRLEN = 4                     # <linux/netlink.h>: its size
_SCALARS = {kind: struct.Struct(fmt) for kind, fmt in uapi.SCALAR_FORMATS.items()}
_SWITCHES = (uapi.SWITCH, uapi.SWITCH_F)
_FLAGGED = (uapi.NESTED_F, uapi.SWITCH_F)   # sent with NLA_F_NESTED in nla_type
MAX_DEPTH = 16                     # nests deeper than this are refused, not recursed into


def align(n: int) -> int:
    """Round up to the 4-byte boundary netlink pads every message and attribute to."""
    return (n + 3) & ~3


# --------------------------------------------------------------------------------------------
# Decoded objects
# --------------------------------------------------------------------------------------------

class Struct:
    """A decoded fixed C struct: field values by name, and where the struct started."""

    __slots__ = ("spec", "values", "offset")

    def __init__(self, spec: StructSpec, values: tuple[int, ...], offset: int) -> None:
        self.spec = spec
        self.values = values        # in the order of spec.fields
        self.offset = offset

    def __getitem__(self, field: str) -> int:
        return self.values[self.spec.index[field]]      # KeyError for a field it lacks

    def as_dict(self) -> dict[str, int]:
        return {f[0]: v for f, v in zip(self.spec.fields, self.values)}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Struct) and other.spec is self.spec
                and other.values == self.values)

    def __repr__(self) -> str:
        return "%s(%s)" % (self.spec.name, ", ".join(
            "%s=%d" % (f[0], v) for f, v in zip(self.spec.fields, self.values)))


class StructAttrs:
    """A value that is a whole struct followed by attributes (VETH_INFO_PEER)."""

    __slots__ = ("struct", "attrs")

    def __init__(self, struct_: Struct, attrs: Attrs) -> None:
        self.struct = struct_
        self.attrs = attrs

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, StructAttrs) and other.struct == self.struct
                and other.attrs == self.attrs)

    def __repr__(self) -> str:
        return "StructAttrs(%r, %r)" % (self.struct, self.attrs)


class Attr:
    """One decoded attribute: its number, flags, spec (None if unknown), value and position."""

    __slots__ = ("number", "flags", "spec", "set_name", "value", "offset", "length")

    def __init__(self, number: int, flags: int, spec: AttrSpec | None, set_name: str,
                 value: Value, offset: int, length: int) -> None:
        self.number = number        # nla_type & NLA_TYPE_MASK
        self.flags = flags          # NLA_F_NESTED / NLA_F_NET_BYTEORDER bits as received
        self.spec = spec
        self.set_name = set_name    # the attribute set it was read in
        self.value = value
        self.offset = offset        # of the 4-byte nlattr header, in the decoded buffer
        self.length = length        # nla_len: header + payload, padding excluded

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else "%s#%d" % (self.set_name, self.number)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Attr) and other.number == self.number
                and other.value == self.value)

    def __repr__(self) -> str:
        return "%s=%r" % (self.name, self.value)


class Attrs:
    """The attributes of one message or nest: a sequence of :class:`Attr` in wire order, with
    look-ups by attribute name.

    Decoding walks the attributes once and keeps ``first``: the value of the first attribute
    of each known name, which ``get``/``get_int``/``get_str``/``get_attrs`` read with one dict
    look-up. The :class:`Attr` objects (every attribute in wire order, unknown ones included,
    with offsets) are what iterating, ``len`` and ``find`` give: they are made the first time
    someone asks (the explain formatter, the CLI) by walking the same bytes again with the
    same function. So reading 10,000 routes into ``Route`` objects makes no Attr at all.
    (That is why an Attrs keeps a reference to the datagram it was decoded from.)
    """

    __slots__ = ("first", "_where", "_attrs")

    def __init__(self, first: dict[str, Value] | None = None,
                 where: Where | None = None) -> None:
        self.first: dict[str, Value] = {} if first is None else first
        self._where = where         # what the decoder walked, to walk it again; None = empty
        self._attrs: list[Attr] | None = None if where else []

    def _list(self) -> list[Attr]:
        """The Attr objects, made once (the bytes were decoded before: this cannot fail)."""
        if self._attrs is None:
            assert self._where is not None
            attrs: list[Attr] = []
            _walk_attrs(*self._where, record=attrs)
            self._attrs = attrs
        return self._attrs

    def __iter__(self) -> Iterator[Attr]:
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())

    def __bool__(self) -> bool:
        if self._attrs is not None or self._where is None:
            return bool(self._attrs)
        _, start, end = self._where[:3]
        return end > start      # decoding checked it: any bytes there hold an attribute

    def __getitem__(self, index: int) -> Attr:
        return self._list()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attrs):
            return self._list() == other._list()
        return isinstance(other, list) and self._list() == other

    def __repr__(self) -> str:
        return repr(self._list())

    def find(self, name: str) -> Attr | None:
        """The first attribute called ``name``, or None."""
        if name not in self.first:
            return None
        return next(a for a in self._list() if a.spec is not None and a.spec.name == name)

    def get(self, name: str) -> Value | None:
        """The value of the first attribute called ``name``, or None."""
        return self.first.get(name)

    def get_int(self, name: str) -> int | None:
        v = self.first.get(name)
        return v if isinstance(v, int) else None

    def get_str(self, name: str) -> str | None:
        v = self.first.get(name)
        return v if isinstance(v, str) else None

    def get_attrs(self, name: str) -> Attrs | None:
        v = self.first.get(name)
        return v if isinstance(v, Attrs) else None


class Message:
    """One decoded netlink message.

    ``length``, ``type``, ``flags``, ``seq`` and ``pid`` are the nlmsghdr's fields (``header``
    gives them as a :class:`Struct`); ``fixed`` the type's struct (or None for control messages
    and unknown types); ``attrs`` its attributes. For NLMSG_ERROR and NLMSG_DONE, ``error`` is
    the (negative or zero) errno, ``request`` the echoed header of the request an NLMSG_ERROR
    answers, and ``attrs`` the extended-ACK attributes. ``raw`` is any payload left undecoded.
    ``protocol`` is the schema it was decoded with (it names the type).
    """

    __slots__ = ("length", "type", "flags", "seq", "pid", "offset", "fixed", "attrs", "error",
                 "request", "raw", "protocol")

    def __init__(self, header: tuple[int, ...], offset: int, fixed: Struct | None,
                 attrs: Attrs, error: int | None = None, request: Struct | None = None,
                 raw: bytes = b"", protocol: ProtocolSchema = ROUTE) -> None:
        self.length, self.type, self.flags, self.seq, self.pid = header   # struct nlmsghdr
        self.offset = offset
        self.fixed = fixed
        self.attrs = attrs
        self.error = error
        self.request = request
        self.raw = raw
        self.protocol = protocol

    @property
    def header(self) -> Struct:
        """The nlmsghdr as a Struct (for the explain formatter, which shows every field)."""
        return Struct(uapi.NLMSGHDR, (self.length, self.type, self.flags, self.seq, self.pid),
                      self.offset)

    @property
    def type_name(self) -> str:
        return self.protocol.message_name(self.type)

    def __repr__(self) -> str:
        parts = [self.type_name, "flags=%#x" % self.flags, "seq=%d" % self.seq]
        if self.error is not None:
            parts.append("error=%d" % self.error)
        if self.fixed is not None:
            parts.append(repr(self.fixed))
        if self.attrs:
            parts.append(repr(self.attrs))
        return "<%s>" % " ".join(parts)


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

def decode(buf: Buffer, protocol: ProtocolSchema = ROUTE) -> list[Message]:
    """Decode every message in ``buf`` (one datagram may hold several), in order."""
    data = bytes(buf)
    messages = []
    pos = 0
    while pos < len(data):
        message = decode_message(data, pos, protocol)
        messages.append(message)
        pos += align(message.length)
    return messages


def decode_message(data: bytes, pos: int = 0, protocol: ProtocolSchema = ROUTE) -> Message:
    """Decode the one message starting at ``data[pos]``, a message of ``protocol``."""
    if len(data) - pos < _HDR.size:
        raise DecodeError("truncated nlmsghdr: %d bytes" % (len(data) - pos), pos)
    header = _HDR.unpack_from(data, pos)
    length, msg_type = header[0], header[1]
    if length < _HDR.size or pos + length > len(data):
        raise DecodeError("nlmsg_len %d does not fit in %d bytes" % (length, len(data) - pos),
                          pos)
    body, end = pos + _HDR.size, pos + length
    if msg_type == uapi.NLMSG_ERROR:
        return _decode_error(data, header, pos, body, end, protocol)
    if msg_type == uapi.NLMSG_DONE:
        return _decode_done(data, header, pos, body, end, protocol)
    schema = protocol.messages.get(msg_type)
    if schema is None:
        return Message(header, pos, None, Attrs(), raw=data[body:end], protocol=protocol)
    spec, attr_set = schema
    fixed = _decode_struct(data, body, end, spec)
    family = fixed.values[0]   # rtnetlink's structs and nfgenmsg all start with a family byte
    attrs = _decode_attrs(data, body + align(spec.size), end, attr_set, family, 0, protocol)
    return Message(header, pos, fixed, attrs, protocol=protocol)


def _decode_error(data: bytes, header: tuple[int, ...], pos: int, body: int, end: int,
                  protocol: ProtocolSchema) -> Message:
    """NLMSG_ERROR: errno, the request's header, maybe its payload, then extended-ACK TLVs."""
    err = _decode_struct(data, body, end, uapi.NLMSGERR)
    request = _decode_struct(data, body + 4, end, uapi.NLMSGHDR)
    at = body + 4 + _HDR.size
    error = err.values[0]
    if error != 0 and not header[2] & uapi.NLM_F_CAPPED:
        # without NETLINK_CAP_ACK the kernel quotes our whole request back
        at = min(end, at + align(max(request.values[0] - _HDR.size, 0)))
    attrs, raw = _decode_ack_tlvs(data, header, at, end, protocol)
    return Message(header, pos, err, attrs, error=error, request=request, raw=raw,
                   protocol=protocol)


def _decode_done(data: bytes, header: tuple[int, ...], pos: int, body: int, end: int,
                 protocol: ProtocolSchema) -> Message:
    """NLMSG_DONE: ends a dump; may carry an errno and extended-ACK TLVs (strict dumps)."""
    if end - body < 4:
        return Message(header, pos, None, Attrs(), raw=data[body:end], protocol=protocol)
    err = _decode_struct(data, body, end, uapi.NLMSGERR)
    attrs, raw = _decode_ack_tlvs(data, header, body + 4, end, protocol)
    return Message(header, pos, err, attrs, error=err.values[0], raw=raw, protocol=protocol)


def _decode_ack_tlvs(data: bytes, header: tuple[int, ...], pos: int, end: int,
                     protocol: ProtocolSchema) -> tuple[Attrs, bytes]:
    if header[2] & uapi.NLM_F_ACK_TLVS:
        return _decode_attrs(data, pos, end, uapi.NLMSGERR_ATTRS, 0, 0, protocol), b""
    return Attrs(), data[pos:end]


def _decode_struct(data: bytes, pos: int, end: int, spec: StructSpec) -> Struct:
    if end - pos < spec.size:
        raise DecodeError("truncated %s: %d of %d bytes" % (spec.name, max(end - pos, 0),
                                                            spec.size), pos)
    return Struct(spec, spec.unpack_from(data, pos), pos)


def _decode_attrs(data: bytes, pos: int, end: int, attr_set: AttrSet, family: int,
                  depth: int, protocol: ProtocolSchema) -> Attrs:
    """The attributes in ``data[pos:end]``, members of ``attr_set``, decoded (and checked)."""
    first = _walk_attrs(data, pos, end, attr_set, family, depth, protocol)
    return Attrs(first, (data, pos, end, attr_set, family, depth, protocol))


def _walk_attrs(data: bytes, pos: int, end: int, attr_set: AttrSet, family: int, depth: int,
                protocol: ProtocolSchema, record: list[Attr] | None = None) -> dict[str, Value]:
    """Walk the attributes in ``data[pos:end]`` once: check each header, decode each value,
    and return the first value of each name; with ``record``, also append an :class:`Attr`
    per attribute to it (what explain and iteration need; a dump does not).

    A SWITCH attribute whose set a sibling chooses (IFLA_INFO_DATA by IFLA_INFO_KIND) waits
    until the walk has seen every sibling, whatever their order; then it is decoded.
    """
    if depth > MAX_DEPTH:
        raise DecodeError("attributes nested more than %d deep" % MAX_DEPTH, pos)
    first: dict[str, Value] = {}
    by_number = attr_set.by_number
    waiting = []                    # (spec, offset, nla_len, its Attr if recording)
    while pos < end:
        if end - pos < NLA_HDRLEN:
            raise DecodeError("truncated attribute header in %s" % attr_set.name, pos)
        nla_len, nla_type = _NLA.unpack_from(data, pos)
        if nla_len < NLA_HDRLEN or pos + nla_len > end:
            raise DecodeError("attribute length %d does not fit in %s" % (nla_len,
                                                                        attr_set.name), pos)
        number = nla_type & uapi.NLA_TYPE_MASK
        spec = by_number.get(number)
        attr = None
        if record is not None:
            attr = Attr(number, nla_type & ~uapi.NLA_TYPE_MASK, spec, attr_set.name, b"", pos,
                        nla_len)
            record.append(attr)
        if spec is None:
            if attr is not None:
                attr.value = data[pos + 4:pos + nla_len]      # unknown: kept as bytes
        elif spec.switch_key is None or spec.switch_key == "family":
            value = _decode_value(data, pos + 4, pos + nla_len, spec, family, depth, first,
                                  protocol)
            if spec.name not in first:
                first[spec.name] = value
            if attr is not None:
                attr.value = value
        else:
            waiting.append((spec, pos, nla_len, attr))
        pos += (nla_len + 3) & ~3               # align(nla_len), without a call
    for spec, at, nla_len, waiting_attr in waiting:
        value = _decode_value(data, at + 4, at + nla_len, spec, family, depth, first, protocol)
        first.setdefault(spec.name, value)
        if waiting_attr is not None:
            waiting_attr.value = value
    return first


def _switch_set(spec: AttrSpec, family: int, siblings: Mapping[str, object],
                protocol: ProtocolSchema) -> AttrSet | None:
    """The attribute set a SWITCH attribute holds, given the message family / its siblings."""
    choices = spec.switch or {}
    key = spec.switch_key
    selector = family if key == "family" else siblings.get(key or "")
    name = choices.get(selector) or choices.get("*")
    return protocol.attr_sets[name] if name else None


def _decode_value(data: bytes, pos: int, end: int, spec: AttrSpec, family: int,
                  depth: int, siblings: Mapping[str, object], protocol: ProtocolSchema) -> Value:
    """Decode one attribute payload ``data[pos:end]`` according to its spec's kind."""
    kind = spec.kind
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        if end - pos != scalar.size:
            raise DecodeError("%s: %s needs %d bytes, got %d" % (
                spec.name, kind, scalar.size, end - pos), pos)
        number: int = scalar.unpack_from(data, pos)[0]
        return number
    if kind == uapi.IP:
        if end - pos == 4:
            return inet_ntop(AF_INET, data[pos:end])
        if end - pos == 16:
            return inet_ntop(AF_INET6, data[pos:end])
        raise DecodeError("%s: an IP address has 4 or 16 bytes, got %d" % (spec.name, end - pos),
                          pos)
    if kind == uapi.STRING:
        raw = data[pos:end]
        nul = raw.find(b"\0")
        return (raw if nul < 0 else raw[:nul]).decode("utf-8", "surrogateescape")
    if kind == uapi.MAC:
        return ":".join("%02x" % b for b in data[pos:end])
    if kind == uapi.FLAG:
        return True
    if kind in (uapi.NESTED, uapi.NESTED_F):
        child = protocol.attr_sets[spec.nested or ""]
        return _decode_attrs(data, pos, end, child, family, depth + 1, protocol)
    if kind == uapi.STRUCT:
        return _decode_struct(data, pos, end, protocol.structs[spec.struct or ""])
    if kind == uapi.STRUCT_ATTRS:
        head = _decode_struct(data, pos, end, protocol.structs[spec.struct or ""])
        child = protocol.attr_sets[spec.nested or ""]
        fam = head.values[0]
        attrs = _decode_attrs(data, pos + align(head.spec.size), end, child, fam, depth + 1,
                              protocol)
        return StructAttrs(head, attrs)
    if kind in _SWITCHES:
        chosen = _switch_set(spec, family, siblings, protocol)
        if chosen is None:
            return data[pos:end]
        return _decode_attrs(data, pos, end, chosen, family, depth + 1, protocol)
    return data[pos:end]   # BYTES


def attr_path_at(data: bytes, offset: int, protocol: ProtocolSchema = ROUTE) -> str | None:
    """The attribute starting at byte ``offset`` of message ``data``, as a path such as
    "IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME" (what NLMSGERR_ATTR_OFFS points
    at), or None if no attribute starts there."""
    try:
        messages = decode(data, protocol)
    except DecodeError:
        return None
    for m in messages:
        found = _find_attr(m.attrs, offset)
        if found:
            return "/".join(found)
    return None


def _find_attr(attrs: Attrs, offset: int) -> list[str]:
    for a in attrs:
        if a.offset == offset:
            return [a.name]
        children = a.value.attrs if isinstance(a.value, StructAttrs) else a.value
        if isinstance(children, Attrs) and a.offset < offset < a.offset + a.length:
            inner = _find_attr(children, offset)
            if inner:
                return [a.name] + inner
    return []


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

def encode(msg_type: int, flags: int = 0, seq: int = 0, fixed: Mapping[str, int] | None = None,
           attrs: Iterable[Item] = (), pid: int = 0, protocol: ProtocolSchema = ROUTE) -> bytes:
    """One message of ``protocol`` as bytes: nlmsghdr, the type's struct (fields default to
    0), attributes.

    ``attrs`` is a sequence of ``(name, value)``; a nested attribute's value is again such a
    sequence, a STRUCT_ATTRS value is ``(struct fields, attributes)``, an IP is text, a MAC is
    "aa:bb:.." text or bytes. A raw ``(number, bytes)`` pair is sent as it is.
    """
    spec, attr_set = protocol.messages[msg_type]
    out = bytearray(_HDR.size)
    fields = dict(fixed or {})
    _encode_struct(out, spec, fields)
    family = fields.get(spec.fields[0][0], 0)
    _encode_attrs(out, attr_set, list(attrs), family, protocol)
    _HDR.pack_into(out, 0, len(out), msg_type, flags, seq, pid)
    return bytes(out)


def _encode_struct(out: bytearray, spec: StructSpec, fields: Mapping[str, int]) -> None:
    unknown = set(fields) - {f[0] for f in spec.fields}
    if unknown:
        raise ValueError("%s has no field %s" % (spec.name, ", ".join(sorted(unknown))))
    out += spec.pack([fields.get(f[0], 0) for f in spec.fields])
    out += bytes(align(len(out)) - len(out))


def _encode_attrs(out: bytearray, attr_set: AttrSet, items: Sequence[Item],
                  family: int, protocol: ProtocolSchema) -> None:
    siblings: dict[str, object] = {}       # the first value of each name, as decoding sees it
    for k, v in items:
        if isinstance(k, str):
            siblings.setdefault(k, v)
    for key, value in items:
        start = len(out)
        out += bytes(4)
        if isinstance(key, int):
            number, nested_flag = key, 0
            if not isinstance(value, (bytes, bytearray)):
                raise TypeError("raw attribute %d needs bytes" % key)
            out += value
        else:
            spec = attr_set.by_name.get(key)
            if spec is None:
                raise ValueError("%s is not an attribute of %s" % (key, attr_set.name))
            number = spec.number
            nested_flag = uapi.NLA_F_NESTED if spec.kind in _FLAGGED else 0
            _encode_value(out, spec, value, family, siblings, protocol)
        _NLA.pack_into(out, start, len(out) - start, number | nested_flag)
        out += bytes(align(len(out)) - len(out))


def _encode_value(out: bytearray, spec: AttrSpec, value: object, family: int,
                  siblings: Mapping[str, object], protocol: ProtocolSchema) -> None:
    kind = spec.kind
    fmt = uapi.SCALAR_FORMATS.get(kind)
    if fmt is not None:
        out += struct.pack(fmt, value)
    elif kind == uapi.STRING:
        out += str(value).encode("utf-8", "surrogateescape") + b"\0"
    elif kind == uapi.MAC:
        out += parse_mac(value)
    elif kind == uapi.IP:
        out += parse_ip(str(value))[1]
    elif kind == uapi.FLAG:
        pass
    elif kind in (uapi.NESTED, uapi.NESTED_F):
        _encode_attrs(out, protocol.attr_sets[spec.nested or ""], _items(value), family, protocol)
    elif kind == uapi.STRUCT:
        _encode_struct(out, protocol.structs[spec.struct or ""], _fields(value))
    elif kind == uapi.STRUCT_ATTRS:
        if not isinstance(value, tuple) or len(value) != 2:
            raise TypeError("%s takes (struct fields, attributes)" % spec.name)
        fields = _fields(value[0])
        s = protocol.structs[spec.struct or ""]
        _encode_struct(out, s, fields)
        _encode_attrs(out, protocol.attr_sets[spec.nested or ""], _items(value[1]),
                      fields.get(s.fields[0][0], 0), protocol)
    elif kind in _SWITCHES:
        chosen = _switch_set(spec, family, siblings, protocol)
        if chosen is None:
            if not isinstance(value, (bytes, bytearray)):
                raise ValueError("%s: no attribute set for this %s; pass bytes" % (
                    spec.name, spec.switch_key))
            out += value
        else:
            _encode_attrs(out, chosen, _items(value), family, protocol)
    elif isinstance(value, (bytes, bytearray)):
        out += value
    else:
        raise TypeError("%s needs bytes" % spec.name)


def _fields(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise TypeError("struct fields are given as a dict of name: int")
    return value


def _items(value: object) -> list[Item]:
    if not isinstance(value, (list, tuple)):
        raise TypeError("nested attributes are given as a list of (name, value)")
    return list(value)


# --------------------------------------------------------------------------------------------
# Address text helpers (no ipaddress module: it costs milliseconds to import)
# --------------------------------------------------------------------------------------------

def parse_ip(text: str) -> tuple[int, bytes]:
    """``"100.64.0.1"`` → (AF_INET, 4 bytes); ``"fd00::1"`` → (AF_INET6, 16 bytes)."""
    family = AF_INET6 if ":" in text else AF_INET
    try:
        return family, inet_pton(family, text)
    except OSError:
        raise ValueError("not an IP address: %r" % text) from None


def parse_mac(value: object) -> bytes:
    """``"aa:bb:cc:dd:ee:ff"`` (or bytes) → 6 bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        raw = bytes(int(part, 16) for part in str(value).split(":"))
    except ValueError:
        raise ValueError("not a MAC address: %r" % (value,)) from None
    if len(raw) != 6:
        raise ValueError("not a MAC address: %r" % (value,))
    return raw
