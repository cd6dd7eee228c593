"""humanz.netlink.netns against the real kernel and iproute2's view of namespaces."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import ip, unique_name
from humanz.netlink import netns as ns_mod  # (the fixture `netns` is a namespace name)
from humanz.netlink import uapi
from humanz.netlink.nlsocket import NetlinkSocket


def ip_netns_names() -> list[str]:
    out = ip("-j", "netns", "list").stdout
    return [entry["name"] for entry in json.loads(out or "[]")]


def mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def link_names_in(ns: str | int) -> list[str]:
    def dump() -> list[str]:
        with NetlinkSocket() as sock:
            return [str(m.attrs.get("IFLA_IFNAME")) for m in sock.dump(uapi.RTM_GETLINK)]
    return ns_mod.run_in(ns, dump)


# --------------------------------------------------------------------------------------------
# add / delete / list, as iproute2 sees them
# --------------------------------------------------------------------------------------------

def test_add_list_delete_like_ip_netns() -> None:
    name = unique_name("n")
    path = ns_mod.add(name)
    try:
        assert path == "/run/netns/" + name
        assert ns_mod.is_netns(path) and mounted(path)
        assert name in ns_mod.list_names()
        assert name in ip_netns_names()
        # ip netns exec enters it and finds a fresh namespace: only a loopback, down
        out = subprocess.run(["ip", "netns", "exec", name, "ip", "-j", "link", "show"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        assert [link["ifname"] for link in json.loads(out)] == ["lo"]
        assert link_names_in(path) == ["lo"]
    finally:
        ns_mod.delete(name)
    assert not os.path.exists(path)
    assert not mounted(path)
    assert name not in ns_mod.list_names()
    assert name not in ip_netns_names()


def test_a_namespace_made_by_ip_is_seen_and_deleted() -> None:
    name = unique_name("n")
    ip("netns", "add", name)
    try:
        assert name in ns_mod.list_names()
        assert ns_mod.is_netns("/run/netns/" + name)
    finally:
        ns_mod.delete(name)
    assert name not in ip_netns_names()


def test_add_twice_fails_and_keeps_the_first(netns: str) -> None:
    with pytest.raises(FileExistsError):
        ns_mod.add(netns)
    assert ns_mod.is_netns("/run/netns/" + netns)
    assert netns in ip_netns_names()


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "x\0y"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        ns_mod.add(bad)
    with pytest.raises(ValueError):
        ns_mod.delete(bad)


def test_delete_of_a_missing_namespace_fails() -> None:
    with pytest.raises(FileNotFoundError):
        ns_mod.delete(unique_name("n"))


# --------------------------------------------------------------------------------------------
# Looking at namespace files
# --------------------------------------------------------------------------------------------

def test_is_netns(netns: str, tmp_path: object) -> None:
    assert ns_mod.is_netns("/run/netns/" + netns)
    assert ns_mod.is_netns("/proc/self/ns/net")
    assert not ns_mod.is_netns("/proc/self/ns/mnt")      # a namespace, but not a network one
    assert not ns_mod.is_netns("/etc/hostname")
    assert not ns_mod.is_netns("/run/netns/" + unique_name("missing"))
    assert not ns_mod.is_netns(str(tmp_path))


def test_same_as_current(netns: str) -> None:
    assert ns_mod.same_as_current("/proc/self/ns/net")
    assert ns_mod.same_as_current("/proc/%d/ns/net" % os.getpid())
    assert not ns_mod.same_as_current("/run/netns/" + netns)
    # inside a thread switched into it, it is the current one
    assert ns_mod.run_in("/run/netns/" + netns, ns_mod.same_as_current, "/run/netns/" + netns)


# --------------------------------------------------------------------------------------------
# run_in
# --------------------------------------------------------------------------------------------

def test_run_in_by_path_and_by_fd_leaves_the_caller_alone(netns: str) -> None:
    path = "/run/netns/" + netns
    before = os.stat("/proc/thread-self/ns/net").st_ino
    assert ns_mod.run_in(path, lambda a, b: a + b, 2, 3) == 5
    fd = ns_mod.open_fd(path)
    try:
        inode = ns_mod.run_in(fd, lambda: os.stat("/proc/thread-self/ns/net").st_ino)
    finally:
        os.close(fd)
    assert inode == os.stat(path).st_ino != before
    assert os.stat("/proc/thread-self/ns/net").st_ino == before


def test_run_in_reraises_the_functions_exception(netns: str) -> None:

    def fail() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        ns_mod.run_in("/run/netns/" + netns, fail)
    with pytest.raises(FileNotFoundError):
        ns_mod.run_in("/run/netns/" + unique_name("missing"), fail)


def test_a_socket_made_in_a_namespace_stays_there(netns: str) -> None:
    ip("link", "add", "hztbr", "type", "bridge", netns=netns)
    sock = ns_mod.run_in("/run/netns/" + netns, NetlinkSocket)
    try:
        names = sorted(str(m.attrs.get("IFLA_IFNAME")) for m in sock.dump(uapi.RTM_GETLINK))
    finally:
        sock.close()
    assert names == ["hztbr", "lo"]


# --------------------------------------------------------------------------------------------
# sysctl inside a namespace
# --------------------------------------------------------------------------------------------

def _sysctl_via_ip(ns: str, key: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-n", key], capture_output=True,
                          text=True, timeout=10, check=True).stdout.strip()


def test_sysctl_in_a_namespace(netns: str) -> None:
    path = "/run/netns/" + netns
    host_value = ns_mod.sysctl_get("net/ipv4/conf/lo/arp_notify")
    for value in ("1", "0"):
        ns_mod.sysctl_set("net/ipv4/conf/lo/arp_notify", value, ns=path)
        assert ns_mod.sysctl_get("net/ipv4/conf/lo/arp_notify", ns=path) == value
        assert _sysctl_via_ip(netns, "net.ipv4.conf.lo.arp_notify") == value
    assert ns_mod.sysctl_get("net/ipv4/conf/lo/arp_notify") == host_value   # host untouched
    # dotted keys and fds work too
    ns_mod.sysctl_set("net.ipv4.ip_forward", "1", ns=path)
    fd = ns_mod.open_fd(path)
    try:
        assert ns_mod.sysctl_get("net.ipv4.ip_forward", ns=fd) == "1"
    finally:
        os.close(fd)
    assert _sysctl_via_ip(netns, "net.ipv4.ip_forward") == "1"


def test_sysctl_keys_cannot_escape_proc_sys() -> None:
    for bad in ("../../etc/passwd", "/etc/passwd", "net/../../x"):
        with pytest.raises(ValueError):
            ns_mod.sysctl_get(bad)
