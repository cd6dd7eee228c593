"""humanz.ipam.addr: strict IP text ⇄ int conversion and prefix arithmetic (no kernel)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from humanz.ipam import addr


@pytest.mark.parametrize("text,family,value", [
    ("100.64.0.1", 4, 0x64400001),
    ("0.0.0.0", 4, 0),
    ("255.255.255.255", 4, 0xFFFFFFFF),
    ("fd00::1", 6, (0xFD00 << 112) | 1),
    ("FD00::1", 6, (0xFD00 << 112) | 1),
    ("::", 6, 0),
    ("::ffff:100.64.0.1", 6, (0xFFFF << 32) | 0x64400001),
])
def test_parse_ip_good(text: str, family: int, value: int) -> None:
    assert addr.parse_ip(text) == (family, value)


@pytest.mark.parametrize("text", [
    "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "0x1.2.3.4", "256.1.1.1", " 1.2.3.4",
    "1.2.3.4 ", "1.2.3.4/24", "fe80::1%eth0", ":::", "fd00::1::2", "fd00:::1", "g::1",
    "\uff11.2.3.4", "1.2.3.4\x00", "\udcff::1", "1.2.3.-1",
])
def test_parse_ip_bad(text: str) -> None:
    with pytest.raises(ValueError):
        addr.parse_ip(text)


def test_parse_ip_not_a_string() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        addr.parse_ip(16909060)  # type: ignore[arg-type]


@pytest.mark.parametrize("family,value,text", [
    (4, 0x64400001, "100.64.0.1"),
    (6, (0xFD00 << 112) | 1, "fd00::1"),
    (6, 0, "::"),
    (6, (0xFD00 << 112) | (0xABCD << 64), "fd00:0:0:abcd::"),
])
def test_format_ip(family: int, value: int, text: str) -> None:
    assert addr.format_ip(family, value) == text


@pytest.mark.parametrize("text,expected", [
    ("100.64.1.0/24", (4, 0x64400100, 24)),
    ("100.64.1.5/24", (4, 0x64400105, 24)),  # host bits kept: the caller decides
    ("0.0.0.0/0", (4, 0, 0)),
    ("fd00::/8", (6, 0xFD << 120, 8)),
    ("fd00::1/128", (6, (0xFD00 << 112) | 1, 128)),
])
def test_parse_cidr_good(text: str, expected: tuple[int, int, int]) -> None:
    assert addr.parse_cidr(text) == expected


@pytest.mark.parametrize("text", [
    "100.64.1.0", "100.64.1.0/", "100.64.1.0/33", "100.64.1.0/024", "100.64.1.0/+24",
    "100.64.1.0/ 24", "100.64.1.0/24 ", "100.64.1.0/-1", "100.64.1.0/2x", "fd00::/129",
    "fd00::/1/2", "/24", "100.64.1/24", "100.64.1.0/\u0662\u0664",
])
def test_parse_cidr_bad(text: str) -> None:
    with pytest.raises(ValueError):
        addr.parse_cidr(text)


def test_prefix_arithmetic() -> None:
    value = addr.parse_ip("100.64.1.77")[1]
    assert addr.format_ip(4, addr.network(4, value, 24)) == "100.64.1.0"
    assert addr.format_ip(4, addr.last(4, value, 24)) == "100.64.1.255"
    assert addr.host_bits(4, value, 24) == 77
    assert addr.netmask(4, 24) == 0xFFFFFF00
    assert addr.netmask(4, 0) == 0
    assert addr.netmask(6, 128) == (1 << 128) - 1
    v6 = addr.parse_ip("fd00::1:2")[1]
    assert addr.format_ip(6, addr.last(6, v6, 112)) == "fd00::1:ffff"
    assert addr.format_cidr(6, addr.network(6, v6, 112), 112) == "fd00::1:0/112"


@given(st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_ipv4_round_trip_matches_ipaddress(value: int) -> None:
    text = addr.format_ip(4, value)
    assert text == str(ipaddress.IPv4Address(value))
    assert addr.parse_ip(text) == (4, value)


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_ipv6_round_trip_matches_ipaddress(value: int) -> None:
    text = addr.format_ip(6, value)
    assert addr.parse_ip(text) == (6, value)
    assert int(ipaddress.IPv6Address(text)) == value


@given(st.integers(min_value=0, max_value=(1 << 128) - 1), st.integers(min_value=0, max_value=128))
def test_network_and_last_match_ipaddress(value: int, prefixlen: int) -> None:
    net = ipaddress.IPv6Network((value, prefixlen), strict=False)
    assert addr.network(6, value, prefixlen) == int(net.network_address)
    assert addr.last(6, value, prefixlen) == int(net.broadcast_address)
