"""The ip-like CLI (``python3 -m humanz.netlink``) against the real kernel, checked with iproute2.

Everything happens in throwaway namespaces (``make_netns``); links are named ``hzt...`` and
addresses come from 100.64.0.0/10 and fd00::/8. What the CLI creates, ``ip -j`` must show with
the same values, and what the CLI shows (``--json``) must equal what ``ip -j`` shows.
Argument errors are checked in-process (no kernel involved); everything else runs the module
as a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

import pytest

from conftest import unique_name
from humanz.netlink import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 60


def hz(*args: str, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI (optionally ``-n NS``) in a fresh interpreter."""
    cmd = [sys.executable, "-m", "humanz.netlink"] + (["-n", ns] if ns else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT)


def hz_ok(*args: str, ns: str | None = None) -> str:
    """Run the CLI, insist on success, return its stdout."""
    done = hz(*args, ns=ns)
    assert done.returncode == 0, (args, done.stderr)
    assert done.stderr == ""
    return done.stdout


def hz_json(*args: str, ns: str | None = None) -> Any:
    return json.loads(hz_ok("--json", *args, ns=ns))


def ip_json(*args: str, ns: str | None = None) -> Any:
    """What iproute2 says, as JSON (``ip -j [-n NS] ARGS``)."""
    cmd = ["ip", "-j"] + (["-n", ns] if ns else []) + list(args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return json.loads(done.stdout or "[]")


def by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["ifname"]: r for r in records}


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1, nothing on stdout, one line on stderr carrying the kernel's words."""
    assert done.returncode == 1, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0]


# --------------------------------------------------------------------------------------------
# What the CLI makes, ip shows; what the CLI shows equals what ip shows
# --------------------------------------------------------------------------------------------

# ip -j link show without -d has no linkinfo; the CLI always adds linkinfo.info_kind
OURS_ONLY_LINK = {"linkinfo"}
# addr_info keys ip has and humanz's Address does not carry (yet)
IP_ONLY_ADDR = {"label", "broadcast", "valid_life_time", "preferred_life_time"}
# route keys ip has and humanz's Route does not carry (yet)
IP_ONLY_ROUTE = {"prefsrc", "pref"}


def still(read_theirs: Callable[[], Any], read_ours: Callable[[], Any],
          tries: int = 40) -> tuple[Any, Any]:
    """(ip's view, the CLI's view) taken while the kernel's state held still: ip reads the same
    before and after the CLI does, so both saw one state (bounded retries).

    The kernel applies a carrier change to a link's operstate (and to IFF_RUNNING, which ip
    shows as NO-CARRIER) from a deferred work item, linkwatch, that runs at most once a second
    for most devices: right after ``link set up`` a bridge without a working port shows
    ``state UNKNOWN`` and then, up to a second later (longer on a loaded machine), ``state DOWN``
    with NO-CARRIER. Two reads a moment apart can agree while that change is still pending, so
    the comparison itself is bracketed instead.
    """
    for _ in range(tries):
        before = read_theirs()
        ours = read_ours()
        after = read_theirs()
        if before == after:
            return after, ours
        time.sleep(0.05)
    pytest.fail("the kernel's view kept changing under the comparison: %r" % (after,))


def assert_links_equal(ns: str, *args: str) -> None:
    """``--json link show ARGS`` equals ``ip -j link show ARGS`` (read with the links still)."""
    theirs, ours = still(lambda: ip_json("link", "show", *args, ns=ns),
                         lambda: hz_json("link", "show", *args, ns=ns))
    mine = {r["ifname"]: {k: v for k, v in r.items() if k not in OURS_ONLY_LINK}
            for r in ours}
    assert mine == by_name(theirs)


def test_bridge_and_veth_with_peer_in_another_netns_as_ip_shows_them(
        make_netns: Callable[[], str]) -> None:
    ns, other = make_netns(), make_netns()
    br, veth, peer = unique_name("br"), unique_name("va"), unique_name("vb")
    hz_ok("link", "add", br, "type", "bridge", ns=ns)
    hz_ok("link", "add", veth, "type", "veth", "peer", "name", peer, "netns", other, ns=ns)
    hz_ok("link", "set", veth, "master", br, "mtu", "1400", "up", ns=ns)
    hz_ok("link", "set", br, "up", ns=ns)

    theirs = by_name(ip_json("-d", "link", "show", ns=ns))
    assert theirs[br]["linkinfo"]["info_kind"] == "bridge"
    assert theirs[veth]["linkinfo"]["info_kind"] == "veth"
    assert theirs[veth]["master"] == br and theirs[veth]["mtu"] == 1400
    assert "UP" in theirs[veth]["flags"] and "UP" in theirs[br]["flags"]
    assert "link_netnsid" in theirs[veth]           # its peer is in the other namespace
    there = by_name(ip_json("link", "show", ns=other))
    assert there[peer]["link_index"] == theirs[veth]["ifindex"]
    assert "UP" not in there[peer]["flags"]          # the peer stays down: nothing changes

    assert_links_equal(ns)
    assert_links_equal(other)
    assert_links_equal(ns, "dev", veth)
    ours = hz_json("link", "show", "dev", veth, ns=ns)
    assert [r["ifname"] for r in ours] == [veth]
    assert ours[0]["linkinfo"] == {"info_kind": "veth"}


def test_addresses_v4_and_v6_as_ip_shows_them(netns: str) -> None:
    br = unique_name("br")
    hz_ok("link", "add", br, "type", "bridge", ns=netns)
    hz_ok("addr", "add", "100.64.7.1/24", "dev", br, ns=netns)
    hz_ok("addr", "add", "fd00:7::1/64", "dev", br, "nodad", ns=netns)

    theirs = ip_json("addr", "show", "dev", br, ns=netns)[0]["addr_info"]
    assert [(a["family"], a["local"], a["prefixlen"]) for a in theirs] == [
        ("inet", "100.64.7.1", 24), ("inet6", "fd00:7::1", 64)]
    assert theirs[1].get("nodad") is True
    ours = hz_json("addr", "show", "dev", br, ns=netns)
    assert len(ours) == 1 and ours[0]["ifname"] == br
    assert ours[0]["addr_info"] == [{k: v for k, v in a.items() if k not in IP_ONLY_ADDR}
                                    for a in theirs]
    # the whole namespace, every link, both families; then one family
    everything = hz_json("addr", "show", ns=netns)
    for mine, ip_link in zip(everything, ip_json("addr", "show", ns=netns)):
        assert mine["ifname"] == ip_link["ifname"]
        assert mine["addr_info"] == [{k: v for k, v in a.items() if k not in IP_ONLY_ADDR}
                                     for a in ip_link["addr_info"]]
    v6 = hz_json("-6", "addr", "show", ns=netns)
    assert [r["ifname"] for r in v6] == [r["ifname"] for r in ip_json("-6", "addr", ns=netns)]
    assert br in [r["ifname"] for r in v6]
    assert {a["family"] for r in v6 for a in r["addr_info"]} == {"inet6"}


def _routed_bridge(ns: str) -> str:
    """A bridge that is up (no carrier, routes are "linkdown") with one address of each family."""
    br = unique_name("br")
    hz_ok("link", "add", br, "type", "bridge", ns=ns)
    hz_ok("link", "set", br, "up", ns=ns)
    hz_ok("addr", "add", "100.64.0.1/24", "dev", br, ns=ns)
    hz_ok("addr", "add", "fd00::1/64", "dev", br, "nodad", ns=ns)
    return br


def assert_routes_equal(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert ours == [{k: v for k, v in r.items() if k not in IP_ONLY_ROUTE} for r in theirs]


def test_routes_in_main_and_table_1000_as_ip_shows_them(netns: str) -> None:
    br = _routed_bridge(netns)
    hz_ok("route", "add", "100.65.0.0/16", "via", "100.64.0.2", "dev", br,
          "table", "1000", "metric", "7", ns=netns)
    hz_ok("route", "add", "100.66.0.5", "dev", br, "metric", "5", "proto", "static",
          ns=netns)
    hz_ok("route", "add", "default", "via", "100.64.0.254", ns=netns)
    hz_ok("route", "add", "fd01::/64", "via", "fd00::2", "dev", br, "onlink", ns=netns)
    hz_ok("route", "add", "fd02::/64", "dev", br, "metric", "300", "table", "1000", ns=netns)

    t1000 = ip_json("route", "show", "table", "1000", ns=netns)
    assert t1000[0]["dst"] == "100.65.0.0/16" and t1000[0]["gateway"] == "100.64.0.2"
    assert t1000[0]["metric"] == 7 and t1000[0]["dev"] == br
    main = {r["dst"]: r for r in ip_json("route", "show", ns=netns)}
    assert main["100.66.0.5"]["protocol"] == "static" and main["100.66.0.5"]["metric"] == 5
    assert main["default"]["gateway"] == "100.64.0.254"
    v6 = {r["dst"]: r for r in ip_json("-6", "route", "show", ns=netns)}
    assert "onlink" in v6["fd01::/64"]["flags"]

    for args in (("route", "show"), ("route", "show", "table", "1000"),
                 ("route", "show", "table", "all"), ("-6", "route", "show"),
                 ("-6", "route", "show", "table", "1000"), ("route", "show", "table", "local")):
        assert_routes_equal(hz_json(*args, ns=netns), ip_json(*args, ns=netns))


def test_human_output_reads_like_ip(netns: str) -> None:
    br = _routed_bridge(netns)
    hz_ok("route", "add", "100.65.0.0/16", "via", "100.64.0.2", "table", "1000", "metric",
          "7", ns=netns)
    # link show: both lines exactly as ip prints them
    theirs, ours = still(lambda: ip_text("link", "show", ns=netns),
                         lambda: hz_ok("link", "show", ns=netns).splitlines())
    assert ours == theirs
    # addr show: ip's lines, but ip adds brd/label to IPv4 and a lifetime line per address
    theirs, ours = still(lambda: ip_text("addr", "show", "dev", br, ns=netns),
                         lambda: hz_ok("addr", "show", "dev", br, ns=netns).splitlines())
    assert ours[:2] == theirs[:2]
    assert ours[2] == "    inet 100.64.0.1/24 scope global"
    assert theirs[2].startswith("    inet 100.64.0.1/24 brd 100.64.0.255 scope global")
    assert ours[3] == theirs[4].rstrip() == "    inet6 fd00::1/64 scope global nodad"
    # route show: ip's lines, less "src ADDR" and "pref medium" (Route does not carry them)
    for args in (("route", "show", "table", "all"), ("-6", "route", "show")):
        ours = hz_ok(*args, ns=netns).splitlines()
        assert ours == [drop_words(line, "src", "pref") for line in ip_text(*args, ns=netns)]
    everything = hz_ok("route", "show", "table", "all", ns=netns)
    assert "100.65.0.0/16 via 100.64.0.2 dev %s table 1000 metric 7" % br in everything


def ip_text(*args: str, ns: str | None = None) -> list[str]:
    """``ip [-n NS] ARGS`` output lines, trailing blanks removed."""
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    return [line.rstrip() for line in done.stdout.splitlines()]


def drop_words(line: str, *keys: str) -> str:
    """``line`` without each ``KEY VALUE`` pair named in ``keys``."""
    words = line.split()
    kept = []
    i = 0
    while i < len(words):
        if words[i] in keys:
            i += 2
            continue
        kept.append(words[i])
        i += 1
    indent = line[:len(line) - len(line.lstrip())]
    return indent + " ".join(kept)


# --------------------------------------------------------------------------------------------
# Every subcommand
# --------------------------------------------------------------------------------------------

def test_link_set_each_setting(make_netns: Callable[[], str]) -> None:
    ns, other = make_netns(), make_netns()
    br, veth, peer = unique_name("br"), unique_name("va"), unique_name("vb")
    renamed = unique_name("rn")
    hz_ok("link", "add", br, "type", "bridge", ns=ns)
    hz_ok("link", "add", "name", veth, "type", "veth", "peer", "name", peer, ns=ns)
    hz_ok("link", "set", "dev", veth, "master", br, ns=ns)
    assert by_name(ip_json("link", "show", ns=ns))[veth]["master"] == br
    hz_ok("link", "set", veth, "nomaster", ns=ns)
    assert "master" not in by_name(ip_json("link", "show", ns=ns))[veth]
    hz_ok("link", "set", veth, "mtu", "1280", "address", "02:00:00:64:00:07", ns=ns)
    got = by_name(ip_json("link", "show", ns=ns))[veth]
    assert (got["mtu"], got["address"]) == (1280, "02:00:00:64:00:07")
    hz_ok("link", "set", veth, "up", ns=ns)
    assert "UP" in by_name(ip_json("link", "show", ns=ns))[veth]["flags"]
    hz_ok("link", "set", veth, "down", ns=ns)
    assert "UP" not in by_name(ip_json("link", "show", ns=ns))[veth]["flags"]
    hz_ok("link", "set", veth, "promisc", "on", ns=ns)
    assert "PROMISC" in by_name(ip_json("link", "show", ns=ns))[veth]["flags"]
    hz_ok("link", "set", veth, "name", renamed, ns=ns)
    names = by_name(ip_json("link", "show", ns=ns))
    assert renamed in names and veth not in names
    hz_ok("link", "set", renamed, "netns", other, ns=ns)
    assert renamed in by_name(ip_json("link", "show", ns=other))
    assert renamed not in by_name(ip_json("link", "show", ns=ns))
    # back again, the namespace given as a path this time
    hz_ok("link", "set", renamed, "netns", "/run/netns/" + ns, ns=other)
    assert renamed in by_name(ip_json("link", "show", ns=ns))
    hz_ok("link", "del", renamed, ns=ns)                 # a veth goes with its peer
    names = by_name(ip_json("link", "show", ns=ns))
    assert renamed not in names and peer not in names
    hz_ok("link", "delete", "dev", br, ns=ns)
    assert br not in by_name(ip_json("link", "show", ns=ns))


def test_link_add_with_mtu_and_address(netns: str) -> None:
    br = unique_name("br")
    hz_ok("link", "add", br, "mtu", "1450", "address", "02:00:00:64:00:09", "type", "bridge",
          ns=netns)
    got = ip_json("link", "show", "dev", br, ns=netns)[0]
    assert (got["mtu"], got["address"]) == (1450, "02:00:00:64:00:09")


def test_addr_del(netns: str) -> None:
    br = unique_name("br")
    hz_ok("link", "add", br, "type", "bridge", ns=netns)
    hz_ok("addr", "add", "dev", br, "100.64.9.1/24", ns=netns)    # dev first works too
    hz_ok("addr", "add", "fd00:9::1/64", "dev", br, "nodad", ns=netns)
    hz_ok("addr", "del", "100.64.9.1/24", "dev", br, ns=netns)
    hz_ok("address", "delete", "fd00:9::1/64", "dev", br, ns=netns)
    assert ip_json("addr", "show", "dev", br, ns=netns)[0]["addr_info"] == []


def test_route_replace_and_del(netns: str) -> None:
    br = _routed_bridge(netns)
    hz_ok("route", "add", "100.67.0.0/16", "via", "100.64.0.2", ns=netns)
    hz_ok("route", "replace", "100.67.0.0/16", "via", "100.64.0.3", ns=netns)
    main = {r["dst"]: r for r in ip_json("route", "show", ns=netns)}
    assert main["100.67.0.0/16"]["gateway"] == "100.64.0.3"
    hz_ok("route", "del", "100.67.0.0/16", ns=netns)
    hz_ok("route", "add", "100.68.0.0/16", "dev", br, "table", "1000", "scope", "link",
          ns=netns)
    hz_ok("route", "del", "100.68.0.0/16", "table", "1000", ns=netns)
    hz_ok("-6", "route", "add", "default", "dev", br, "metric", "9", ns=netns)
    assert [r["dst"] for r in ip_json("-6", "route", "show", "default", ns=netns)] == [
        "default"]
    hz_ok("-6", "route", "del", "default", "dev", br, "metric", "9", ns=netns)
    assert ip_json("-6", "route", "show", "default", ns=netns) == []
    assert "100.67.0.0/16" not in {r["dst"] for r in ip_json("route", "show", ns=netns)}
    assert ip_json("route", "show", "table", "1000", ns=netns) == []


def test_netns_add_list_del() -> None:
    name = unique_name("cn")
    try:
        hz_ok("netns", "add", name)
        assert os.path.exists("/run/netns/" + name)
        assert name in hz_ok("netns", "list").split()
        assert {"name": name} in hz_json("netns", "list")
        assert name in [n["name"] for n in ip_json("netns", "list")]
        # the new namespace works: the CLI can make a bridge in it
        hz_ok("link", "add", unique_name("br"), "type", "bridge", ns=name)
        hz_ok("netns", "del", name)
        assert name not in hz_ok("netns", "list").split()
    finally:
        if os.path.exists("/run/netns/" + name):
            subprocess.run(["ip", "netns", "del", name], timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# Refusals: exit 1 with the kernel's (or the system's) message
# --------------------------------------------------------------------------------------------

def test_kernel_refusals_exit_1_with_the_kernels_message(netns: str) -> None:
    br = unique_name("br")
    hz_ok("link", "add", br, "type", "bridge", ns=netns)
    assert_refused(hz("link", "add", br, "type", "bridge", ns=netns), "File exists", br)
    hz_ok("addr", "add", "100.64.3.1/24", "dev", br, ns=netns)
    assert_refused(hz("addr", "add", "100.64.3.1/24", "dev", br, ns=netns),
                   "File exists", "(kernel: ", "Address already assigned")
    missing = unique_name("no")
    assert_refused(hz("link", "set", missing, "up", ns=netns), "No such device", missing)
    assert_refused(hz("link", "del", missing, ns=netns), "No such device")
    assert_refused(hz("addr", "add", "100.64.3.9/24", "dev", missing, ns=netns),
                   "No such device")
    assert_refused(hz("link", "show", "dev", missing, ns=netns), "No such device")
    assert_refused(hz("route", "add", "100.70.0.0/16", "via", "100.99.0.1", ns=netns),
                   "Network is unreachable", "(kernel: ")


def test_system_refusals_exit_1(netns: str) -> None:
    missing = unique_name("no")
    assert_refused(hz("link", "show", ns=missing), "network namespace", missing)
    assert_refused(hz("link", "add", unique_name("va"), "type", "veth", "peer", "name",
                      unique_name("vb"), "netns", missing, ns=netns), missing)
    assert_refused(hz("netns", "add", netns), "File exists", netns)
    assert_refused(hz("netns", "del", missing), missing)


# --------------------------------------------------------------------------------------------
# Bad arguments: exit 2, one line, no kernel involved
# --------------------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ([], "OBJECT"),
    (["frobnicate"], "unknown object"),
    (["-x", "link"], "unknown option"),
    (["-n"], "NETNS is missing"),
    (["link", "explode"], "unknown link command"),
    (["link", "add", "hztx"], "type bridge|veth is missing"),
    (["link", "add", "hztx", "type", "vxlan"], "unsupported type"),
    (["link", "add", "hztx", "type", "veth"], "peer name PEER is missing"),
    (["link", "add", "hztx", "type", "veth", "peer", "name"], "NAME is missing"),
    (["link", "add", "hztx", "type", "bridge", "extra"], "unexpected argument"),
    (["link", "add", "hzt-name-far-too-long", "type", "bridge"], "not a valid interface name"),
    (["link", "set", "hztx"], "nothing to set"),
    (["link", "set", "hztx", "mtu"], "MTU is missing"),
    (["link", "set", "hztx", "mtu", "big"], "MTU must be a number"),
    (["link", "set", "hztx", "mtu", "12"], "MTU must be between"),
    (["link", "set", "hztx", "address", "zz:00"], "not a MAC address"),
    (["link", "set", "hztx", "up", "down"], "contradicts"),
    (["link", "set", "hztx", "promisc", "maybe"], "expected on or off"),
    (["link", "set", "hztx", "sideways"], "unknown argument"),
    (["link", "del"], "NAME is missing"),
    (["addr", "add", "100.64.0.1/24"], "dev NAME is missing"),
    (["addr", "add", "dev", "hztx"], "ADDR/PLEN is missing"),
    (["addr", "add", "100.64.0.300/24", "dev", "hztx"], "not an IP address"),
    (["addr", "add", "100.64.0.1/33", "dev", "hztx"], "prefix length"),
    (["addr", "del", "fd00::1/129", "dev", "hztx"], "prefix length"),
    (["addr", "del", "100.64.0.1/24", "dev", "hztx", "nodad"], "unknown argument"),
    (["route", "add"], "DST"),
    (["route", "add", "100.64.0.0/10", "via", "nowhere"], "not an IP address"),
    (["route", "add", "100.64.0.0/10", "table", "twelve"], "TABLE must be"),
    (["route", "add", "100.64.0.0/10", "proto", "carrier-pigeon"], "PROTO must be"),
    (["route", "add", "100.64.0.0/10", "scope", "galaxy"], "SCOPE must be"),
    (["route", "add", "100.64.0.0/10", "100.65.0.0/16"], "unknown argument"),
    (["route", "del", "default", "onlink"], "unknown argument"),
    (["route", "show", "table"], "TABLE is missing"),
    (["netns", "add"], "NAME is missing"),
    (["netns", "add", "a/b"], "not a valid namespace name"),
    (["-n", "hztnone", "netns", "list"], "-n does not apply"),
]


@pytest.mark.parametrize("args,problem", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(args: list[str], problem: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and problem in lines[0]
    assert "; usage: " in lines[0]


def test_bad_arguments_as_a_user_sees_them() -> None:
    done = hz("link", "set", "hztx", "mtu", "big")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("error: MTU must be a number, not 'big'; usage: link set NAME "
                           "{ up | down | master BR | nomaster | mtu N | address MAC | "
                           "name NEW | netns NS | promisc on|off } ...\n")


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for _, verbs in cli.COMMANDS:
        for _, _, _, usage in verbs:
            assert usage in out


@pytest.mark.parametrize("words,expected", [
    (["l"], ("link", "show")), (["a"], ("address", "show")), (["addr", "a"],
                                                              ("address", "add")),
    (["r", "del"], ("route", "delete")), (["link", "ls"], ("link", "show")),
    (["netns", "show"], ("netns", "list")), (["ro", "rep"], ("route", "replace")),
])
def test_abbreviations_find_the_command_like_ip(words: list[str],
                                                expected: tuple[str, str]) -> None:
    names = [name for name, _ in cli.COMMANDS]
    obj = cli.find(words[0], names)
    assert obj is not None
    obj_name, verbs = cli.COMMANDS[obj]
    verb = 0 if len(words) == 1 else cli.find(words[1], [v[0] for v in verbs],
                                                [v[1] for v in verbs])
    assert verb is not None
    assert (obj_name, verbs[verb][0]) == expected


# --------------------------------------------------------------------------------------------
# --explain and --json
# --------------------------------------------------------------------------------------------

def test_explain_shows_the_netns_fd_inside_veth_info_peer(make_netns: Callable[[], str]) -> None:
    ns, other = make_netns(), make_netns()
    veth, peer = unique_name("va"), unique_name("vb")
    done = hz("--explain", "link", "add", veth, "type", "veth", "peer", "name", peer,
              "netns", other, ns=ns)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("send (/run/netns/%s) RTM_NEWLINK" % ns)
    assert any(line.startswith("recv (/run/netns/%s) NLMSG_ERROR" % ns) for line in lines)
    peer_at = next(i for i, line in enumerate(lines) if "VETH_INFO_PEER" in line)
    fd_at = next(i for i, line in enumerate(lines) if "IFLA_NET_NS_FD" in line)
    assert fd_at > peer_at
    # nested inside the peer: the label column is indented further
    assert lines[fd_at].index("IFLA_NET_NS_FD") > lines[peer_at].index("VETH_INFO_PEER")
    assert "nla_len=8 nla_type=28" in lines[fd_at]
    # the next line holds the 4 bytes of the fd: offset, 4 hex bytes, the decoded number
    offset, *raw = lines[fd_at + 1].split()
    assert len(raw) == 5 and raw[4] == str(int.from_bytes(bytes.fromhex("".join(raw[:4])),
                                                         sys.byteorder))
    assert int(offset, 16) == int(lines[fd_at].split()[0], 16) + 4
    assert peer in by_name(ip_json("link", "show", ns=other))


def test_explain_with_json_keeps_stdout_parseable(netns: str) -> None:
    done = hz("--explain", "--json", "link", "show", "dev", "lo", ns=netns)
    assert done.returncode == 0
    assert [r["ifname"] for r in json.loads(done.stdout)] == ["lo"]
    assert "RTM_GETLINK" in done.stderr and "RTM_NEWLINK" in done.stderr


def test_json_of_every_show_parses(netns: str) -> None:
    for args in (("link", "show"), ("addr", "show"), ("route", "show"),
                 ("route", "show", "table", "all"), ("-6", "route", "show")):
        assert isinstance(hz_json(*args, ns=netns), list)
    assert isinstance(hz_json("netns", "list"), list)
