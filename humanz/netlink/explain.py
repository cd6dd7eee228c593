"""Explain netlink bytes: an annotated dump with offset, raw bytes, field name and value.

This is the one formatter everything uses (the CLI's ``--explain``, the plugin's trace, the
docs). It walks the objects :func:`humanz.netlink.codec.decode` returns — the decoder records
where every struct and attribute sits — so what you read is exactly what the codec understood.
Nesting is shown by indentation; each attribute gets a line for its 4-byte header
(``nla_len``, ``nla_type``) and lines for its payload, so one can point at the 4 bytes of
IFLA_NET_NS_FD inside VETH_INFO_PEER.

Bytes mean something only within a netlink protocol: pass the protocol's schema
(``protocol=nf_uapi.NETFILTER``) to explain anything other than rtnetlink.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from . import codec, uapi
from .errors import DecodeError
from .uapi import ROUTE

if TYPE_CHECKING:
    from typing import Callable, List, Optional, TextIO, Tuple

    from .uapi import ProtocolSchema

    Row = Tuple[Optional[int], bytes, int, str, str]   # offset, bytes, depth, label, value

BYTES_PER_LINE = 8
LABEL_WIDTH = 34

# <linux/netlink.h>: which names the nlmsg_flags bits above 0xff carry depends on the request
_COMMON_FLAGS = {uapi.NLM_F_REQUEST: "REQUEST", uapi.NLM_F_MULTI: "MULTI",
                 uapi.NLM_F_ACK: "ACK", uapi.NLM_F_ECHO: "ECHO",
                 uapi.NLM_F_DUMP_INTR: "DUMP_INTR", uapi.NLM_F_DUMP_FILTERED: "DUMP_FILTERED"}
_GET_FLAGS = {0x100: "ROOT", 0x200: "MATCH", 0x400: "ATOMIC"}
_NEW_FLAGS = {0x100: "REPLACE", 0x200: "EXCL", 0x400: "CREATE", 0x800: "APPEND"}
_DEL_FLAGS = {0x100: "NONREC", 0x200: "BULK"}
_ACK_FLAGS = {0x100: "CAPPED", 0x200: "ACK_TLVS"}
_VERB_FLAGS = {"NEW": _NEW_FLAGS, "SET": _NEW_FLAGS, "DEL": _DEL_FLAGS, "GET": _GET_FLAGS}


def explain(data: bytes, direction: str = "", label: str | None = None,
            protocol: ProtocolSchema = ROUTE) -> str:
    """The annotated dump of every message in ``data`` (one datagram of ``protocol``)."""
    title = " ".join(p for p in (direction, "(%s)" % label if label else "") if p)
    try:
        messages = codec.decode(data, protocol)
    except DecodeError as e:
        rows = _hex_rows(0, data, 0, "undecodable", str(e))
        return _render(title + " %d bytes" % len(data), rows)
    out = []
    for m in messages:
        head = "%s %s, %d bytes" % (title, m.type_name, m.length) if title else \
            "%s, %d bytes" % (m.type_name, m.length)
        out.append(_render(head.strip(), message_rows(data, m)))
    return "\n".join(out)


def tracer(stream: TextIO | None = None) -> Callable[..., None]:
    """A ``trace`` callable for ``Rtnl(trace=...)`` or ``Nft(trace=...)`` that prints each
    datagram's dump. Sockets of protocols other than NETLINK_ROUTE pass their schema as a 4th
    argument (see :class:`~humanz.netlink.nlsocket.NetlinkSocket`)."""
    def trace(direction: str, label: str, data: bytes,
              protocol: ProtocolSchema = ROUTE) -> None:
        print(explain(data, direction, label, protocol), file=stream or sys.stderr)
    return trace


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

def message_rows(data: bytes, m: codec.Message) -> list[Row]:
    rows = _struct_rows(data, m.header, 0, m.type, m.protocol)
    if m.fixed is not None:
        if m.type in (uapi.NLMSG_ERROR, uapi.NLMSG_DONE):
            rows += _error_rows(data, m)
        else:
            rows.append((None, b"", 0, m.fixed.spec.name, ""))
            rows += _struct_rows(data, m.fixed, 1, m.type, m.protocol)
            end = m.fixed.offset + m.fixed.spec.size      # rtgenmsg is 1 byte, padded to 4
            pad = data[end:min(codec.align(end), m.offset + m.length)]
            if pad:
                rows.append((end, pad, 1, "(padding to 4 bytes)", ""))
    if m.request is not None:
        rows.append((None, b"", 0, "the request this answers (its nlmsghdr)", ""))
        rows += _struct_rows(data, m.request, 1, m.request.values[1], m.protocol)
    rows += _attr_rows(data, m.attrs, 0)
    if m.raw:
        start = m.offset + m.length - len(m.raw)
        rows += _hex_rows(start, m.raw, 0, "(payload not decoded)", "")
    return rows


def _error_rows(data: bytes, m: codec.Message) -> list[Row]:
    assert m.fixed is not None
    err = m.fixed.values[0]
    if err != 0:
        meaning = _errno_text(err)
    else:
        meaning = "ok (an ACK)" if m.type == uapi.NLMSG_ERROR else "ok (end of the dump)"
    raw = data[m.fixed.offset:m.fixed.offset + 4]
    return [(m.fixed.offset, raw, 0, "error", "%d %s" % (err, meaning))]


def _errno_text(err: int) -> str:
    import errno as errno_module
    name = errno_module.errorcode.get(-err, "?")
    return "(%s: %s)" % (name, os.strerror(-err))


def _struct_rows(data: bytes, s: codec.Struct, depth: int, msg_type: int = 0,
                 protocol: ProtocolSchema = ROUTE) -> list[Row]:
    """One row per field; ``msg_type`` and ``protocol`` name an nlmsghdr's type and flags."""
    rows: list[Row] = []
    for (name, fmt, names), at, size, value in zip(s.spec.fields, s.spec.offsets, s.spec.sizes,
                                                   s.values):
        raw = data[s.offset + at:s.offset + at + size]
        if name == "nlmsg_type":
            shown = _named(value, protocol.message_names)
        elif name == "nlmsg_flags":
            shown = _flags_text(value, _nlmsg_flag_names(msg_type, protocol))
        else:
            shown = _named(value, names)
        if fmt.startswith(">"):
            shown += " (big-endian)"
        rows.append((s.offset + at, raw, depth, name, shown))
    return rows


def _nlmsg_flag_names(msg_type: int, protocol: ProtocolSchema) -> dict[int, str]:
    names = dict(_COMMON_FLAGS)
    if msg_type in (uapi.NLMSG_ERROR, uapi.NLMSG_DONE):
        names.update(_ACK_FLAGS)
    else:
        names.update(_VERB_FLAGS.get(protocol.verb(msg_type), {}))
    return names


def _named(value: int, names: object) -> str:
    if isinstance(names, tuple):
        return _flags_text(value, names[1])
    if isinstance(names, dict) and value in names:
        return "%s (%d)" % (names[value], value)
    return str(value)


def _flags_text(value: int, names: dict[int, str]) -> str:
    parts = [name for bit, name in sorted(names.items()) if value & bit]
    rest = value & ~sum(names)
    if rest:
        parts.append("%#x" % rest)
    return "%s (%#x)" % ("|".join(parts) or "none", value)


def _attr_rows(data: bytes, attrs: codec.Attrs, depth: int) -> list[Row]:
    rows: list[Row] = []
    for a in attrs:
        rows += _one_attr_rows(data, a, depth)
    return rows


def _one_attr_rows(data: bytes, a: codec.Attr, depth: int) -> list[Row]:
    header = data[a.offset:a.offset + 4]
    flags = []
    if a.flags & uapi.NLA_F_NESTED:
        flags.append("NLA_F_NESTED")
    if a.flags & uapi.NLA_F_NET_BYTEORDER:
        flags.append("NLA_F_NET_BYTEORDER")
    about = "nla_len=%d nla_type=%d%s" % (a.length, a.number,
                                          " " + "|".join(flags) if flags else "")
    if a.spec is None:
        about += " (unknown to humanz: kept as bytes)"
    rows: list[Row] = [(a.offset, header, depth, a.name, about)]
    start, end = a.offset + 4, a.offset + a.length
    rows += _value_rows(data, a.value, start, end, depth + 1)
    pad = data[end:min(codec.align(end), len(data))]
    if pad:
        rows.append((end, pad, depth + 1, "(padding to 4 bytes)", ""))
    return rows


def _value_rows(data: bytes, value: object, start: int, end: int, depth: int) -> list[Row]:
    if isinstance(value, codec.Attrs):
        return _attr_rows(data, value, depth)
    if isinstance(value, codec.StructAttrs):
        rows: list[Row] = [(None, b"", depth, value.struct.spec.name, "")]
        rows += _struct_rows(data, value.struct, depth + 1)
        return rows + _attr_rows(data, value.attrs, depth)
    if isinstance(value, codec.Struct):
        return _struct_rows(data, value, depth)
    if start == end:
        return []
    if isinstance(value, str):
        shown = '"%s"' % value
    elif isinstance(value, bytes):
        shown = "(%d bytes)" % len(value)
    else:
        shown = str(value)
    return _hex_rows(start, data[start:end], depth, "", shown)


def _hex_rows(start: int, raw: bytes, depth: int, label: str, value: str) -> list[Row]:
    rows: list[Row] = []
    for i in range(0, max(len(raw), 1), BYTES_PER_LINE):
        chunk = raw[i:i + BYTES_PER_LINE]
        rows.append((start + i, chunk, depth, label if i == 0 else "", value if i == 0 else ""))
    return rows


def _render(title: str, rows: list[Row]) -> str:
    lines = [title]
    for offset, raw, depth, label, value in rows:
        where = "%04x" % offset if offset is not None else "    "
        hexed = " ".join("%02x" % b for b in raw)
        name = "  " * depth + label
        lines.append(("  %s  %-*s  %-*s %s" % (where, BYTES_PER_LINE * 3 - 1, hexed,
                                              LABEL_WIDTH, name, value)).rstrip())
    return "\n".join(lines)
