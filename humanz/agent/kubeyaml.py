"""Read the small subset of YAML that kubeconfig files are written in (there is no YAML in stdlib).

``kubectl`` and ``kubeadm`` write kubeconfigs as block YAML: nested mappings, sequences of
mappings (``- name: x``, also at the same indentation as their key), plain or quoted scalars,
``{}``/``[]`` and comments. That is what this module reads. Everything else YAML allows —
anchors and aliases, tags, block scalars (``|``, ``>``), non-empty flow collections, multi-line
plain scalars, several documents — is refused with a ``YAMLSubsetError`` naming the line, never
guessed at. A kubeconfig in JSON form (JSON is YAML too) is read by ``json`` instead; see
``load``.

Scalars stay strings, except ``true``/``false`` (booleans) and ``null``/``~`` (None): the
kubeconfig fields the agent reads are strings and one boolean.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["YAMLSubsetError", "load"]


class YAMLSubsetError(ValueError):
    """The text is not in the YAML subset this module reads; the message names the line."""


class _Line:
    """One meaningful line: its number (1-based), indentation and text without the comment."""

    __slots__ = ("number", "indent", "text")

    def __init__(self, number: int, indent: int, text: str) -> None:
        self.number = number
        self.indent = indent
        self.text = text


def load(text: str) -> Any:
    """Parse a kubeconfig: JSON when it starts with ``{``, else the block-YAML subset."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise YAMLSubsetError("invalid JSON: %s" % e) from None
    lines = _meaningful_lines(text)
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0].indent)
    if end != len(lines):
        raise _error(lines[end], "unexpected indentation")
    return value


def _error(line: _Line, message: str) -> YAMLSubsetError:
    return YAMLSubsetError("line %d: %s: %r" % (line.number, message, line.text))


def _meaningful_lines(text: str) -> list[_Line]:
    """Lines without comments, blanks and a leading ``---``; tabs in indentation refused."""
    lines: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = _strip_comment(raw).rstrip()
        stripped = body.lstrip(" ")
        if not stripped:
            continue
        if stripped.startswith("\t") or (body != stripped and "\t" in body[:len(body) - len(stripped)]):
            raise YAMLSubsetError("line %d: tab in indentation" % number)
        if stripped in ("---", "..."):
            if lines:
                raise YAMLSubsetError("line %d: only one document is supported" % number)
            continue
        lines.append(_Line(number, len(body) - len(stripped), stripped))
    return lines


def _strip_comment(raw: str) -> str:
    """Cut a ``#`` comment that starts the line or follows a space, outside quotes."""
    quote = ""
    for i, ch in enumerate(raw):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or raw[i - 1] in " :-[{,"):
            quote = ch
        elif ch == "#" and (i == 0 or raw[i - 1] in " \t"):
            return raw[:i]
    return raw


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    """Parse the block (sequence, mapping or lone scalar) whose lines start at ``indent``."""
    line = lines[i]
    if _is_item(line.text):
        return _sequence(lines, i, indent)
    if _split_key(line) is not None:
        return _mapping(lines, i, indent)
    return _scalar(line, line.text), i + 1


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while i < len(lines) and lines[i].indent == indent and _is_item(lines[i].text):
        line = lines[i]
        rest = line.text[1:].lstrip(" ")
        if not rest:                        # "-" alone: the item is the indented block below
            if i + 1 < len(lines) and lines[i + 1].indent > indent:
                item, i = _block(lines, i + 1, lines[i + 1].indent)
            else:
                item, i = None, i + 1
        else:                               # "- key: v": a block starting inside the item line
            inner = indent + len(line.text) - len(rest)
            lines[i] = _Line(line.number, inner, rest)
            item, i = _block(lines, i, inner)
        items.append(item)
    return items, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent and not _is_item(lines[i].text):
        line = lines[i]
        split = _split_key(line)
        if split is None:
            raise _error(line, "expected 'key: value'")
        key, rest = split
        if key in result:
            raise _error(line, "duplicate key %r" % key)
        i += 1
        if rest:
            result[key] = _scalar(line, rest)
        elif i < len(lines) and (lines[i].indent > indent
                                 or (lines[i].indent == indent and _is_item(lines[i].text))):
            result[key], i = _block(lines, i, lines[i].indent)
        else:
            result[key] = None
    if i < len(lines) and lines[i].indent > indent:
        raise _error(lines[i], "unexpected indentation")
    return result, i


def _split_key(line: _Line) -> tuple[str, str] | None:
    """``"key: value"`` → (key, value text); None when the line is not a mapping entry."""
    text = line.text
    if text[0] in "'\"":
        end = _closing_quote(text)
        if end < 0 or not text[end + 1:].startswith(":"):
            return None
        key = _scalar(line, text[:end + 1])
        rest = text[end + 2:]
    else:
        colon = text.find(": ")
        if colon < 0:
            if not text.endswith(":"):
                return None
            colon = len(text) - 1
        key, rest = text[:colon], text[colon + 1:]
    if rest and not rest.startswith(" "):
        return None
    return str(key), rest.strip()


def _closing_quote(text: str) -> int:
    """Index of the quote closing the one at text[0] (``''`` and ``\\"`` are escapes), or -1."""
    quote = text[0]
    i = 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1:i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


def _scalar(line: _Line, text: str) -> Any:
    """A scalar value: quoted string, ``{}``/``[]``, boolean, null, or a plain string."""
    if text[0] == '"':
        if _closing_quote(text) != len(text) - 1:
            raise _error(line, "unterminated or trailing text after a double-quoted string")
        try:
            return json.loads(text)
        except ValueError:
            raise _error(line, "unsupported escape in a double-quoted string") from None
    if text[0] == "'":
        if _closing_quote(text) != len(text) - 1:
            raise _error(line, "unterminated or trailing text after a single-quoted string")
        return text[1:-1].replace("''", "'")
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if text[0] in "{[&*!|>%@`":
        raise _error(line, "unsupported YAML (flow collection, anchor, alias, tag or block "
                           "scalar); write the kubeconfig in plain block style or as JSON")
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text in ("null", "Null", "NULL", "~"):
        return None
    return text
