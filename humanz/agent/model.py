"""Node: the few fields of a Kubernetes Node object the agent needs, and CIDR text helpers.

A Node is read from the API's JSON (``spec.podCIDRs`` — or the older single ``spec.podCIDR`` —
and the ``InternalIP`` entries of ``status.addresses``). Addresses and CIDRs are kept as
canonical text (what ``inet_ntop`` prints), so that a CIDR from the API and a route dumped from
the kernel compare equal as plain strings. Parsing uses ``_socket.inet_pton``, not
``ipaddress``.
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Node", "Cidr", "parse_cidr", "parse_ip", "ip_family"]


def ip_family(text: str) -> int:
    """4 or 6 for an address in text form; ValueError when it is neither."""
    family = _socket.AF_INET6 if ":" in text else _socket.AF_INET
    try:
        _socket.inet_pton(family, text)
    except (OSError, ValueError):
        raise ValueError("not an IP address: %r" % text) from None
    return 6 if family == _socket.AF_INET6 else 4


def parse_ip(text: str) -> str:
    """The canonical text of an address ("fd00:0::1" → "fd00::1"); ValueError if invalid."""
    family = _socket.AF_INET6 if ip_family(text) == 6 else _socket.AF_INET
    return _socket.inet_ntop(family, _socket.inet_pton(family, text))


class Cidr:
    """A network in CIDR form: family (4|6), canonical network address text, prefix length."""

    __slots__ = ("family", "address", "prefixlen")

    def __init__(self, family: int, address: str, prefixlen: int) -> None:
        self.family = family
        self.address = address
        self.prefixlen = prefixlen

    def __str__(self) -> str:
        return "%s/%d" % (self.address, self.prefixlen)

    def __repr__(self) -> str:
        return "Cidr(%r)" % str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cidr) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse_cidr(text: str) -> Cidr:
    """Parse "10.244.1.0/24"; host bits must be zero (the API never sends them set)."""
    addr, slash, plen_text = text.strip().partition("/")
    if not slash or not plen_text.isdigit():
        raise ValueError("not a CIDR (address/prefix): %r" % text)
    family = ip_family(addr)
    prefixlen = int(plen_text)
    bits = 32 if family == 4 else 128
    if prefixlen > bits:
        raise ValueError("prefix length %d too long for IPv%d in %r" % (prefixlen, family, text))
    af = _socket.AF_INET if family == 4 else _socket.AF_INET6
    raw = int.from_bytes(_socket.inet_pton(af, addr), "big")
    host_mask = (1 << (bits - prefixlen)) - 1
    if raw & host_mask:
        raise ValueError("host bits set in %r" % text)
    return Cidr(family, _socket.inet_ntop(af, _socket.inet_pton(af, addr)), prefixlen)


class Node:
    """A cluster node as the agent sees it.

    ``pod_cidrs`` holds the node's pod CIDRs (one per family at most, as Kubernetes allocates
    them); ``internal_ips`` its InternalIP addresses. ``problems`` lists what in the object could
    not be used (a malformed CIDR, say), so that the agent can log it instead of crashing.
    """

    __slots__ = ("name", "pod_cidrs", "internal_ips", "problems")

    def __init__(self, name: str, pod_cidrs: list[Cidr] | None = None,
                 internal_ips: list[str] | None = None,
                 problems: list[str] | None = None) -> None:
        self.name = name
        self.pod_cidrs = pod_cidrs or []
        self.internal_ips = internal_ips or []
        self.problems = problems or []

    def __repr__(self) -> str:
        return "Node(%r, pod_cidrs=%s, internal_ips=%s)" % (
            self.name, [str(c) for c in self.pod_cidrs], self.internal_ips)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Node) and self.name == other.name
                and self.pod_cidrs == other.pod_cidrs
                and self.internal_ips == other.internal_ips)

    def internal_ip(self, family: int) -> str | None:
        """The node's first InternalIP of a family (4|6), or None."""
        for address in self.internal_ips:
            if ip_family(address) == family:
                return address
        return None

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Node:
        """Read a Node from the API's JSON object; bad fields become ``problems``, not errors."""
        metadata = obj.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("node object without metadata.name")
        node = cls(name)
        spec = obj.get("spec") or {}
        texts = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        for text in texts:
            try:
                node.pod_cidrs.append(parse_cidr(str(text)))
            except ValueError as e:
                node.problems.append("spec.podCIDRs: %s" % e)
        for entry in (obj.get("status") or {}).get("addresses") or []:
            if not isinstance(entry, dict) or entry.get("type") != "InternalIP":
                continue
            try:
                node.internal_ips.append(parse_ip(str(entry.get("address", ""))))
            except ValueError as e:
                node.problems.append("status.addresses: %s" % e)
        return node
