"""Address ranges as host-local defines them, canonicalised and checked once, then plain ints.

A *range* is one ``{"subnet", "rangeStart", "rangeEnd", "gateway"}`` entry of an ``ipam.ranges``
set; a *range set* is a list of ranges of one family from which one address is handed out; a
configuration with an IPv4 set and an IPv6 set gives every attachment one address of each
(dual-stack).

Canonicalisation (the rules of the reference host-local plugin, plus a few sanity checks):

- ``subnet`` must be a network address: ``100.64.1.5/24`` (host bits set) is refused, naming
  the network address it probably meant.
- The subnet must leave room for a network address, a gateway and one more address: an IPv4
  prefix longer than /30 (/31, /32) or an IPv6 prefix longer than /126 (/127, /128) is too small.
- ``gateway`` defaults to network+1. It must lie inside the subnet and may be neither the
  network address nor the IPv4 broadcast address. It is never handed out, even when it lies
  inside rangeStart..rangeEnd.
- ``rangeStart`` defaults to network+1 (host-local's default; the gateway is then skipped, so
  the first address handed out is network+2). ``rangeEnd`` defaults to the IPv4 broadcast
  address minus one, or, for IPv6, the **last address of the subnet**: IPv6 has no broadcast
  and host-local hands the last address out too, so we do the same. Both must lie in the
  subnet, may not be the network address (nor the IPv4 broadcast), and rangeStart <= rangeEnd.
- A range whose only address is its gateway is refused: it could never hand anything out.
- Within a set all ranges have one family; no two ranges anywhere in a configuration may
  overlap (compared by their rangeStart..rangeEnd spans, as host-local does).
"""

from __future__ import annotations

from humanz.ipam import addr
from humanz.ipam.errors import RangeError


class Range:
    """One canonical range; every address is an int of the range's ``family`` (4 or 6)."""

    __slots__ = ("family", "network", "prefixlen", "start", "end", "gateway")

    def __init__(self, family: int, network: int, prefixlen: int, start: int, end: int,
                 gateway: int) -> None:
        self.family = family
        self.network = network
        self.prefixlen = prefixlen
        self.start = start
        self.end = end
        self.gateway = gateway

    @classmethod
    def parse(cls, subnet: str, range_start: str | None = None, range_end: str | None = None,
              gateway: str | None = None) -> Range:
        """Canonicalise one configured range; raises ``RangeError(field, message)``."""
        family, network, prefixlen = _parse_subnet(subnet)
        last = addr.last(family, network, prefixlen)
        broadcast = last if family == 4 else None
        first_host = network + 1
        last_host = last - 1 if family == 4 else last
        subnet_text = addr.format_cidr(family, network, prefixlen)

        def inside(field: str, text: str | None, default: int) -> int:
            if text is None:
                return default
            value = _parse_member(field, text, family)
            if not network <= value <= last:
                raise RangeError(field, "%s is outside subnet %s" % (text, subnet_text))
            if value == network:
                raise RangeError(field, "%s is the network address of subnet %s"
                                 % (text, subnet_text))
            if value == broadcast:
                raise RangeError(field, "%s is the broadcast address of subnet %s"
                                 % (text, subnet_text))
            return value

        gw = inside("gateway", gateway, first_host)
        start = inside("rangeStart", range_start, first_host)
        end = inside("rangeEnd", range_end, last_host)
        if start > end:
            raise RangeError("rangeEnd", "%s comes before rangeStart %s"
                             % (addr.format_ip(family, end), addr.format_ip(family, start)))
        if start == end == gw:
            raise RangeError("rangeStart", "the range %s-%s holds only the gateway, nothing to "
                             "hand out" % (addr.format_ip(family, start),
                                           addr.format_ip(family, end)))
        return cls(family, network, prefixlen, start, end, gw)

    def subnet_text(self) -> str:
        """``"100.64.1.0/24"``."""
        return addr.format_cidr(self.family, self.network, self.prefixlen)

    def format(self, value: int) -> str:
        """Text of an address of this range's family."""
        return addr.format_ip(self.family, value)

    def contains(self, ip: int | str) -> bool:
        """True when ``ip`` (an int of this family, or text) lies within rangeStart..rangeEnd.

        The gateway counts as contained (it is in the span) even though it is never handed
        out; use ``allocatable`` to ask whether an address could be given to a container.
        """
        if isinstance(ip, str):
            try:
                family, value = addr.parse_ip(ip)
            except ValueError:
                return False
            if family != self.family:
                return False
        else:
            value = ip
        return self.start <= value <= self.end

    def allocatable(self, value: int) -> bool:
        """True when ``value`` may be handed out: inside the span and not the gateway."""
        return self.start <= value <= self.end and value != self.gateway

    def size(self) -> int:
        """How many addresses this range can hand out (the span minus the gateway)."""
        span = self.end - self.start + 1
        return span - 1 if self.start <= self.gateway <= self.end else span

    def overlaps(self, other: Range) -> bool:
        """True when both spans share at least one address (same family only)."""
        return (self.family == other.family
                and self.start <= other.end and other.start <= self.end)

    def describe(self) -> str:
        """``"100.64.1.0/24 (100.64.1.1-100.64.1.254, gateway 100.64.1.1)"`` for messages."""
        return "%s (%s-%s, gateway %s)" % (self.subnet_text(), self.format(self.start),
                                            self.format(self.end), self.format(self.gateway))

    def _key(self) -> tuple[int, int, int, int, int, int]:
        return (self.family, self.network, self.prefixlen, self.start, self.end, self.gateway)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Range) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Range(%s)" % self.describe()


def validate_range_sets(range_sets: list[list[Range]]) -> None:
    """Check a whole configuration: at least one set, no empty set, one family per set, no
    overlap between any two ranges (inside a set or across sets). Raises ``RangeError("ranges",
    ...)`` naming the set and range indexes as they appear in the configuration."""
    if not range_sets:
        raise RangeError("ranges", "no address range is configured")
    seen: list[tuple[int, int, Range]] = []
    for set_index, ranges in enumerate(range_sets):
        if not ranges:
            raise RangeError("ranges", "range set %d is empty" % set_index)
        family = ranges[0].family
        for range_index, rng in enumerate(ranges):
            if rng.family != family:
                raise RangeError("ranges", "range set %d mixes IPv%d and IPv%d ranges (%s); "
                                 "use one set per family" % (set_index, family, rng.family,
                                                              rng.subnet_text()))
            for other_set, other_index, other in seen:
                if rng.overlaps(other):
                    raise RangeError("ranges", "range %d of set %d (%s) overlaps range %d of "
                                     "set %d (%s)" % (range_index, set_index, rng.describe(),
                                                      other_index, other_set, other.describe()))
            seen.append((set_index, range_index, rng))


def _parse_subnet(subnet: str) -> tuple[int, int, int]:
    """Parse and check the ``subnet`` field: a network address with room to allocate from."""
    if not isinstance(subnet, str):
        raise RangeError("subnet", "must be a string like \"100.64.1.0/24\", not %s"
                         % type(subnet).__name__)
    try:
        family, value, prefixlen = addr.parse_cidr(subnet)
    except ValueError as err:
        raise RangeError("subnet", str(err)) from None
    if addr.host_bits(family, value, prefixlen):
        raise RangeError("subnet", "%s has host bits set; the network of a /%d containing it "
                         "is %s" % (subnet, prefixlen, addr.format_cidr(
                             family, addr.network(family, value, prefixlen), prefixlen)))
    if prefixlen > addr.bits(family) - 2:
        raise RangeError("subnet", "%s is too small to allocate from (IPv%d needs /%d or "
                         "shorter)" % (subnet, family, addr.bits(family) - 2))
    return family, value, prefixlen


def _parse_member(field: str, text: str, family: int) -> int:
    """Parse rangeStart/rangeEnd/gateway text, which must be of the subnet's family."""
    if not isinstance(text, str):
        raise RangeError(field, "must be a string, not %s" % type(text).__name__)
    try:
        got_family, value = addr.parse_ip(text)
    except ValueError as err:
        raise RangeError(field, str(err)) from None
    if got_family != family:
        raise RangeError(field, "%s is IPv%d but the subnet is IPv%d" % (text, got_family, family))
    return value
