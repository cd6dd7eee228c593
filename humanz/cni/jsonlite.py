"""JSON in and out without importing ``json`` (whose ``re`` import costs ~8 ms per pod).

Decoding uses the C scanner that ``json`` itself uses (``_json.make_scanner``), so the
grammar is exactly the standard library's, minus NaN/Infinity (not JSON). Encoding handles
the types a CNI result is made of: dict (str keys), list/tuple, str, int, float, bool, None.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not valid JSON" % name)


class _ScannerContext:
    """The attributes ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    __slots__ = ("strict", "object_hook", "object_pairs_hook", "parse_float", "parse_int",
                 "parse_constant", "memo")

    def __init__(self) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = _reject_constant
        self.memo: dict[str, str] = {}


_scan = _json.make_scanner(_ScannerContext())  # type: ignore[arg-type]


def loads(text: str | bytes) -> Any:
    """Parse one JSON document; ``ValueError`` (with the position) if it is not valid JSON."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    start = _skip_space(text, 0)
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError("expected a JSON value at offset %d" % stop.value) from None
    except Exception:
        # The C scanner reports syntax errors with json.decoder's exception class, and some
        # versions (3.11) fail with SystemError when json.decoder is not imported yet. Errors
        # are rare: let the json module find and describe this one.
        return _slow_loads(text)
    end = _skip_space(text, end)
    if end != len(text):
        raise ValueError("extra data after the JSON value at offset %d" % end)
    return value


def _slow_loads(text: str) -> Any:
    import json
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def dumps(value: object) -> str:
    """Compact JSON text for ``value``; ``TypeError``/``ValueError`` for what JSON cannot hold."""
    parts: list[str] = []
    _encode(value, parts, 0)
    return "".join(parts)


_escape = _json.encode_basestring_ascii
_MAX_DEPTH = 100


def _encode(value: object, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError("value nested too deeply for JSON")
    if isinstance(value, str):
        out.append(_escape(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("%r is not valid JSON" % value)
        out.append(float.__repr__(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings, not %r" % (key,))
            if not first:
                out.append(",")
            first = False
            out.append(_escape(key))
            out.append(":")
            _encode(item, out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    else:
        raise TypeError("%s is not JSON serialisable" % type(value).__name__)
