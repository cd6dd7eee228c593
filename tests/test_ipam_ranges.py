"""humanz.ipam.ranges: host-local canonicalisation and range-set validation (no kernel)."""

from __future__ import annotations

import pytest

from humanz.ipam import addr
from humanz.ipam.errors import RangeError
from humanz.ipam.ranges import Range, validate_range_sets


def ip(text: str) -> int:
    return addr.parse_ip(text)[1]


@pytest.mark.parametrize("args,start,end,gateway", [
    # defaults: start = network+1 (the gateway, skipped when allocating), end = broadcast-1
    (("100.64.1.0/24",), "100.64.1.1", "100.64.1.254", "100.64.1.1"),
    (("100.64.0.0/30",), "100.64.0.1", "100.64.0.2", "100.64.0.1"),
    (("100.64.0.0/10",), "100.64.0.1", "100.127.255.254", "100.64.0.1"),
    # IPv6 has no broadcast: the last address is handed out too, as host-local does
    (("fd00::/120",), "fd00::1", "fd00::ff", "fd00::1"),
    (("fd00::/126",), "fd00::1", "fd00::3", "fd00::1"),
    (("100.64.1.0/24", "100.64.1.10", "100.64.1.20"), "100.64.1.10", "100.64.1.20",
     "100.64.1.1"),
    (("100.64.1.0/24", None, None, "100.64.1.254"), "100.64.1.1", "100.64.1.254",
     "100.64.1.254"),
    (("100.64.1.0/24", "100.64.1.5", "100.64.1.5"), "100.64.1.5", "100.64.1.5", "100.64.1.1"),
    (("fd00::/64", "fd00::a", "fd00::ffff", "fd00::b"), "fd00::a", "fd00::ffff", "fd00::b"),
])
def test_parse_good(args: tuple[str | None, ...], start: str, end: str, gateway: str) -> None:
    rng = Range.parse(*args)  # type: ignore[arg-type]
    assert (rng.format(rng.start), rng.format(rng.end), rng.format(rng.gateway)) == \
        (start, end, gateway)
    assert rng.subnet_text() == args[0]


@pytest.mark.parametrize("args,field,words", [
    (("100.64.1.5/24",), "subnet", "host bits set; the network of a /24 containing it is "
                                   "100.64.1.0/24"),
    (("fd00::1/64",), "subnet", "host bits"),
    (("100.64.1.0/31",), "subnet", "too small"),
    (("100.64.1.1/32",), "subnet", "too small"),
    (("fd00::/127",), "subnet", "too small"),
    (("fd00::1/128",), "subnet", "too small"),
    (("100.64.1.0",), "subnet", "prefix-length is missing"),
    (("100.64.1.0/33",), "subnet", "prefix length"),
    (("1.2.3/24",), "subnet", "not a valid IPv4"),
    (("",), "subnet", "not a CIDR"),
    ((24,), "subnet", "must be a string"),
    (("100.64.1.0/24", "100.64.2.1"), "rangeStart", "outside subnet 100.64.1.0/24"),
    (("100.64.1.0/24", "100.64.1.0"), "rangeStart", "network address"),
    (("100.64.1.0/24", "100.64.1.255"), "rangeStart", "broadcast address"),
    (("100.64.1.0/24", "fd00::1"), "rangeStart", "IPv6 but the subnet is IPv4"),
    (("100.64.1.0/24", "100.64.01.1"), "rangeStart", "not a valid IPv4"),
    (("100.64.1.0/24", None, "100.64.1.255"), "rangeEnd", "broadcast address"),
    (("100.64.1.0/24", None, "100.64.0.255"), "rangeEnd", "outside subnet"),
    (("100.64.1.0/24", "100.64.1.20", "100.64.1.10"), "rangeEnd", "comes before rangeStart"),
    (("100.64.1.0/24", None, None, "100.64.2.1"), "gateway", "outside subnet"),
    (("100.64.1.0/24", None, None, "100.64.1.0"), "gateway", "network address"),
    (("100.64.1.0/24", None, None, "100.64.1.255"), "gateway", "broadcast address"),
    (("100.64.1.0/24", None, None, "fe80::1%eth0"), "gateway", "not a valid IPv6"),
    (("fd00::/64", None, None, "100.64.1.1"), "gateway", "IPv4 but the subnet is IPv6"),
    (("fd00::/64", None, None, "fd01::1"), "gateway", "outside subnet"),
    (("100.64.1.0/24", "100.64.1.1", "100.64.1.1"), "rangeStart", "only the gateway"),
])
def test_parse_bad(args: tuple[object, ...], field: str, words: str) -> None:
    with pytest.raises(RangeError) as caught:
        Range.parse(*args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.detail
    assert str(caught.value).startswith(field + ": ")
    assert caught.value.code == 7


def test_contains_and_size() -> None:
    rng = Range.parse("100.64.1.0/24", "100.64.1.1", "100.64.1.10")
    assert rng.contains("100.64.1.1") and rng.contains("100.64.1.10")
    assert rng.contains(ip("100.64.1.5"))
    assert not rng.contains("100.64.1.11")
    assert not rng.contains("100.64.1.0")
    assert not rng.contains("fd00::1")
    assert not rng.contains("not an address")
    assert not rng.allocatable(rng.gateway)
    assert rng.allocatable(ip("100.64.1.2"))
    assert rng.size() == 9  # 10 addresses minus the gateway
    assert Range.parse("100.64.1.0/24", "100.64.1.100").size() == 155  # gateway outside span
    assert Range.parse("100.64.0.0/29").size() == 5  # .2-.6
    assert Range.parse("fd00::/126").size() == 2  # ::2, ::3
    assert Range.parse("100.64.1.0/24") == Range.parse("100.64.1.0/24", None, "100.64.1.254")
    assert "100.64.1.0/24" in repr(rng)


def test_range_sets_good() -> None:
    validate_range_sets([
        [Range.parse("100.64.1.0/24", "100.64.1.1", "100.64.1.100"),
         Range.parse("100.64.1.0/24", "100.64.1.101", "100.64.1.200"),
         Range.parse("100.64.2.0/24")],
        [Range.parse("fd00::/64")],
    ])


@pytest.mark.parametrize("sets,words", [
    ([], "no address range"),
    ([[]], "range set 0 is empty"),
    ([[Range.parse("100.64.1.0/24"), Range.parse("fd00::/64")]], "mixes IPv4 and IPv6"),
    ([[Range.parse("100.64.1.0/24"), Range.parse("100.64.0.0/16")]],
     "range 1 of set 0 (100.64.0.0/16"),
    ([[Range.parse("100.64.1.0/24", "100.64.1.1", "100.64.1.100"),
       Range.parse("100.64.1.0/24", "100.64.1.100", "100.64.1.200")]], "overlaps range 0 of set 0"),
    ([[Range.parse("fd00::/64")], [Range.parse("fd00::/120")]], "range 0 of set 1"),
])
def test_range_sets_bad(sets: list[list[Range]], words: str) -> None:
    with pytest.raises(RangeError) as caught:
        validate_range_sets(sets)
    assert caught.value.field == "ranges"
    assert words in str(caught.value)
