"""IP address arithmetic on plain ints: strict parsing and formatting of IPv4/IPv6 text and CIDRs.

Addresses are ``(family, value)`` pairs: ``family`` is 4 or 6 and ``value`` the address as an
unsigned int (32 or 128 bits). The text conversion is the C library's ``inet_pton``/``inet_ntop``
through ``_socket``; the ``ipaddress`` module is avoided on purpose because importing it costs
about 3 ms in a plugin that is exec'd once per pod.

Parsing is strict, as glibc's ``inet_pton`` is: ``"1.2.3"``, ``"01.2.3.4"`` (a leading zero
that some tools read as octal), ``"0x1.2.3.4"``, surrounding spaces and zone ids such as
``"fe80::1%eth0"`` are all rejected. Parse errors are ``ValueError``; callers that know which
configuration field they were reading turn them into a ``RangeError`` naming it.
"""

from __future__ import annotations

import _socket

_AF = {4: _socket.AF_INET, 6: _socket.AF_INET6}
_BITS = {4: 32, 6: 128}
_DIGITS = "0123456789"


def bits(family: int) -> int:
    """Address width of ``family`` in bits: 32 for IPv4, 128 for IPv6."""
    return _BITS[family]


def parse_ip(text: str) -> tuple[int, int]:
    """Parse an address such as ``"100.64.0.1"`` or ``"fd00::1"`` into ``(family, value)``.

    A ``":"`` anywhere makes it IPv6 (this includes ``"::ffff:1.2.3.4"``). Raises
    ``ValueError`` for anything ``inet_pton`` refuses.
    """
    if not isinstance(text, str):
        raise ValueError("an IP address must be a string, not %s" % type(text).__name__)
    family = 6 if ":" in text else 4
    try:
        packed = _socket.inet_pton(_AF[family], text)
    except (OSError, ValueError, UnicodeError):
        raise ValueError("%r is not a valid IPv%d address" % (text, family)) from None
    return family, int.from_bytes(packed, "big")


def format_ip(family: int, value: int) -> str:
    """Canonical text of an address: dotted quad, or compressed lower-case IPv6."""
    return _socket.inet_ntop(_AF[family], value.to_bytes(_BITS[family] // 8, "big"))


def parse_prefixlen(text: str, family: int) -> int:
    """Parse the part after ``/``: decimal digits only, no sign, no leading zero, in range."""
    if not text or any(c not in _DIGITS for c in text) or (len(text) > 1 and text[0] == "0"):
        raise ValueError("%r is not a valid prefix length" % text)
    prefixlen = int(text)
    if prefixlen > _BITS[family]:
        raise ValueError("prefix length /%d is longer than an IPv%d address" % (prefixlen, family))
    return prefixlen


def parse_cidr(text: str) -> tuple[int, int, int]:
    """Parse ``"addr/len"`` into ``(family, value, prefixlen)``.

    ``value`` is the address exactly as written, host bits included, so that a caller can
    tell ``"100.64.1.0/24"`` from ``"100.64.1.5/24"`` (see ``host_bits``).
    """
    if not isinstance(text, str):
        raise ValueError("a CIDR must be a string, not %s" % type(text).__name__)
    addr, slash, length = text.partition("/")
    if not slash:
        raise ValueError("%r is not a CIDR: the /prefix-length is missing" % text)
    family, value = parse_ip(addr)
    return family, value, parse_prefixlen(length, family)


def format_cidr(family: int, value: int, prefixlen: int) -> str:
    """``"addr/len"`` text of an address and a prefix length."""
    return "%s/%d" % (format_ip(family, value), prefixlen)


def netmask(family: int, prefixlen: int) -> int:
    """The mask with the top ``prefixlen`` bits set, as an int."""
    width = _BITS[family]
    return ((1 << prefixlen) - 1) << (width - prefixlen)


def network(family: int, value: int, prefixlen: int) -> int:
    """First address of the prefix containing ``value`` (host bits cleared)."""
    return value & netmask(family, prefixlen)


def last(family: int, value: int, prefixlen: int) -> int:
    """Last address of the prefix containing ``value`` (host bits all set)."""
    return network(family, value, prefixlen) | ((1 << (_BITS[family] - prefixlen)) - 1)


def host_bits(family: int, value: int, prefixlen: int) -> int:
    """The host part of ``value``: 0 exactly when ``value`` is the network address."""
    return value & ~netmask(family, prefixlen) & ((1 << _BITS[family]) - 1)
