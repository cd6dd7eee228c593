"""Links, bridge ports, addresses and routes as typed method calls: ``Rtnl`` and its results.

``Rtnl(ns)`` owns one NETLINK_ROUTE socket living in namespace ``ns`` (a path, an fd, or None
for the caller's own). Each method builds one request from the tables in
:mod:`~humanz.netlink.uapi`, sends it, and either returns typed objects (``Link``,
``Address``, ``Route``) or raises :class:`~humanz.netlink.errors.NetlinkError` saying what was
being done and what the kernel answered. No method dumps a table it does not need to: a link
given by name is looked up with one RTM_GETLINK only where the kernel needs its index.

Choices worth knowing (they follow iproute2 unless said otherwise):

- addresses: IFA_LOCAL and IFA_ADDRESS both carry the address (no peer). For IPv4 with a
  prefix shorter than /31 the broadcast address is set too (IFA_BROADCAST, like
  ``ip addr add ... brd +`` and like the reference CNI plugins); ``ip addr add`` alone would
  leave it out.
- routes: protocol defaults to "boot", the table to main; an IPv4 route without a gateway gets
  scope link, anything else scope universe. Tables above 255 go in RTA_TABLE (rtm_table = 0).
- links in another namespace: a namespace gives every namespace it has dealt with a number,
  its netnsid (``netnsid_of``; creating a veth across two namespaces assigns one). ``link_get``,
  ``link_find`` and ``link_del`` take ``netnsid=`` and then act in that namespace from this
  socket (IFLA_TARGET_NETNSID, linux/if_link.h), with no socket or thread living there.
  RTM_GETLINK honours it since Linux 4.15, RTM_DELLINK since 4.16; an older kernel would
  ignore the attribute and act in the socket's own namespace, so ``link_get`` checks that the
  answer carries it back and ``link_del`` refuses (EOPNOTSUPP) on kernels before 4.16.
"""

from __future__ import annotations

from errno import ENODEV, EOPNOTSUPP

import os
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from . import uapi
from .codec import parse_ip
from .errors import NetlinkError
from .nlsocket import NamespaceOperations, NetlinkSocket

if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Union

    from .codec import Attrs, Item, Message

    LinkRef = Union[int, str]

TARGET_NETNSID_DELLINK = (4, 16)   # first Linux whose RTM_DELLINK honours IFLA_TARGET_NETNSID
_FAMILY_OF_VERSION = {4: uapi.AF_INET, 6: uapi.AF_INET6}
_VERSION_OF_FAMILY = {uapi.AF_INET: 4, uapi.AF_INET6: 6}


# --------------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------------

class Link:
    """A network interface as RTM_NEWLINK describes it."""

    __slots__ = ("index", "name", "kind", "flags", "mtu", "mac", "master", "operstate",
                 "link", "link_netnsid", "attrs")

    def __init__(self, m: Message) -> None:
        assert m.fixed is not None
        a = m.attrs
        info = a.get_attrs("IFLA_LINKINFO")
        self.index: int = m.fixed["ifi_index"]
        self.name: str = a.get_str("IFLA_IFNAME") or ""
        self.kind: str | None = None if info is None else info.get_str("IFLA_INFO_KIND")
        self.flags: int = m.fixed["ifi_flags"]
        self.mtu: int = a.get_int("IFLA_MTU") or 0
        self.mac: str | None = a.get_str("IFLA_ADDRESS")
        self.master: int | None = a.get_int("IFLA_MASTER")
        self.operstate: str = uapi.OPERSTATE_NAMES.get(a.get_int("IFLA_OPERSTATE") or 0,
                                                       "UNKNOWN")
        self.link: int | None = a.get_int("IFLA_LINK")   # a veth's peer ifindex
        self.link_netnsid: int | None = a.get_int("IFLA_LINK_NETNSID")
        self.attrs: Attrs = a

    @property
    def up(self) -> bool:
        """Administratively up (IFF_UP), whatever the carrier says."""
        return bool(self.flags & uapi.IFF_UP)

    def __repr__(self) -> str:
        return "Link(%d %s kind=%s mtu=%d mac=%s master=%s %s)" % (
            self.index, self.name, self.kind, self.mtu, self.mac, self.master, self.operstate)


class Address:
    """An interface address as RTM_NEWADDR describes it; ``family`` is 4 or 6."""

    __slots__ = ("family", "index", "address", "prefixlen", "local", "flags", "scope")

    def __init__(self, m: Message) -> None:
        assert m.fixed is not None
        a = m.attrs
        self.family: int = _VERSION_OF_FAMILY.get(m.fixed["ifa_family"], 0)
        self.index: int = m.fixed["ifa_index"]
        self.local: str | None = a.get_str("IFA_LOCAL")
        self.address: str = a.get_str("IFA_ADDRESS") or self.local or ""
        self.prefixlen: int = m.fixed["ifa_prefixlen"]
        flags = a.get_int("IFA_FLAGS")
        self.flags: int = m.fixed["ifa_flags"] if flags is None else flags
        self.scope: int = m.fixed["ifa_scope"]

    def __repr__(self) -> str:
        return "Address(%s/%d dev %d flags=%#x scope=%d)" % (
            self.address, self.prefixlen, self.index, self.flags, self.scope)


class Route:
    """A route as RTM_NEWROUTE describes it. ``dst`` None means the default route;
    ``metric`` None means the kernel reported no RTA_PRIORITY."""

    __slots__ = ("family", "dst", "dst_len", "gateway", "oif", "table", "metric",
                 "protocol", "scope", "type", "flags")

    def __init__(self, m: Message) -> None:
        assert m.fixed is not None
        # struct rtmsg, field by field (uapi.RTMSG): a dump builds thousands of these
        family, dst_len, _src_len, _tos, rtm_table, protocol, scope, rtm_type, flags = \
            m.fixed.values
        # attribute name → value of its first occurrence, read straight from the dict: the
        # table uapi.RTA fixes each kind (RTA_DST, RTA_GATEWAY: IP → text; the others: u32)
        a: dict[str, Any] = m.attrs.first
        self.family: int = _VERSION_OF_FAMILY.get(family, 0)
        self.dst_len: int = dst_len
        self.dst: str | None = a.get("RTA_DST")
        self.gateway: str | None = a.get("RTA_GATEWAY")
        self.oif: int | None = a.get("RTA_OIF")
        table = a.get("RTA_TABLE")               # the full id; rtm_table has only 8 bits
        self.table: int = rtm_table if table is None else table
        self.metric: int | None = a.get("RTA_PRIORITY")
        self.protocol: int = protocol
        self.scope: int = scope
        self.type: int = rtm_type
        self.flags: int = flags

    def __repr__(self) -> str:
        dst = "default" if self.dst is None else "%s/%d" % (self.dst, self.dst_len)
        return "Route(%s via %s dev %s table %d metric %s)" % (
            dst, self.gateway, self.oif, self.table, self.metric)


# --------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------

class Rtnl(NamespaceOperations):
    """rtnetlink operations on one socket in one network namespace: ``Rtnl(ns, trace)``."""

    __slots__ = ()
    socket_class = NetlinkSocket

    # -- plumbing ------------------------------------------------------------------------------

    def _do(self, msg_type: int, flags: int, fixed: dict[str, int], attrs: list[Item],
            doing: str) -> list[Message]:
        return self.sock.request(msg_type, flags, fixed, attrs, doing + self._where)

    def _dump(self, msg_type: int, fixed: dict[str, int], attrs: list[Item],
              doing: str) -> list[Message]:
        return self.sock.dump(msg_type, fixed, attrs, doing + self._where)

    def index_of(self, link: LinkRef) -> int:
        """The ifindex of ``link``: itself if an int, else one RTM_GETLINK by name."""
        return link if isinstance(link, int) else self.link_get(link).index

    # -- links ---------------------------------------------------------------------------------

    def link_get(self, link: LinkRef, *, netnsid: int | None = None) -> Link:
        """The link with this index or name; NetlinkError(ENODEV) if there is none.

        With ``netnsid``, the link in the namespace that this socket's namespace knows by that
        id (see ``netnsid_of``); EOPNOTSUPP if the kernel answered from this namespace instead.
        """
        fixed, attrs = _link_ref(link, netnsid)
        attrs.append(("IFLA_EXT_MASK", uapi.RTEXT_FILTER_SKIP_STATS))
        doing = "get link %s%s" % (link, _in_netnsid(netnsid))
        replies = self._do(uapi.RTM_GETLINK, 0, fixed, attrs, doing)
        for m in replies:
            if m.type == uapi.RTM_NEWLINK:
                if netnsid is not None and m.attrs.get_int("IFLA_TARGET_NETNSID") != netnsid:
                    raise NetlinkError(EOPNOTSUPP, doing + self._where,
                                       "the kernel ignored IFLA_TARGET_NETNSID")
                return Link(m)
        raise NetlinkError(ENODEV, doing + self._where, "no reply")

    def link_find(self, name: str, *, netnsid: int | None = None) -> Link | None:
        """The link called ``name`` (in namespace ``netnsid``, if given), or None."""
        try:
            return self.link_get(name, netnsid=netnsid)
        except NetlinkError as e:
            if e.errno == ENODEV:
                return None
            raise

    def netnsid_of(self, ns: str | int) -> int | None:
        """The id this socket's namespace gives namespace ``ns`` (a path or an open fd), or
        None if it has given it none yet (RTM_GETNSID with NETNSA_FD; asking assigns none)."""
        from . import netns
        fd = netns.open_fd(ns) if isinstance(ns, str) else ns
        try:
            replies = self._do(uapi.RTM_GETNSID, 0, {}, [("NETNSA_FD", fd)],
                               "get the netnsid of %s" % ns)
        finally:
            if isinstance(ns, str):
                os.close(fd)
        for m in replies:
            if m.type == uapi.RTM_NEWNSID:
                nsid = m.attrs.get_int("NETNSA_NSID")
                return None if nsid is None or nsid == uapi.NETNSA_NSID_NOT_ASSIGNED else nsid
        return None

    def links(self) -> list[Link]:
        """Every link in the namespace."""
        replies = self._dump(uapi.RTM_GETLINK, {},
                             [("IFLA_EXT_MASK", uapi.RTEXT_FILTER_SKIP_STATS)], "list links")
        return [Link(m) for m in replies if m.type == uapi.RTM_NEWLINK]

    def bridge_add(self, name: str, *, mtu: int | None = None, mac: str | None = None,
                   up: bool = False) -> None:
        """Create a bridge (fails with EEXIST if ``name`` exists)."""
        attrs: list[Item] = [("IFLA_IFNAME", name)]
        attrs += _optional(("IFLA_MTU", mtu), ("IFLA_ADDRESS", mac))
        attrs.append(("IFLA_LINKINFO", [("IFLA_INFO_KIND", "bridge")]))
        self._do(uapi.RTM_NEWLINK, uapi.NLM_F_CREATE | uapi.NLM_F_EXCL, _up_flags(up), attrs,
                 "add bridge %s" % name)

    def veth_add(self, name: str, peer: str, *, peer_ns_fd: int | None = None,
                 mtu: int | None = None, mac: str | None = None, peer_mac: str | None = None,
                 master: LinkRef | None = None, up: bool = False,
                 echo: bool = False) -> Link | None:
        """Create a veth pair in one RTM_NEWLINK; the peer is born in ``peer_ns_fd``.

        ``mtu`` applies to both ends; ``mac``/``master``/``up`` apply to ``name`` (this end),
        ``peer_mac`` to the peer. The peer cannot be brought up
        in this message (the kernel answers ENOTCONN): do it from its own namespace.

        With ``echo``, the request carries NLM_F_ECHO and the kernel sends back the link it
        made in this socket's namespace (``name``; the peer's notice goes to its own
        namespace): returned, which spares a link_get. Linux honours the flag on RTM_NEWLINK
        since 6.3; older kernels send nothing back, and None is returned.
        """
        peer_attrs: list[Item] = [("IFLA_IFNAME", peer)]
        peer_attrs += _optional(("IFLA_MTU", mtu), ("IFLA_ADDRESS", peer_mac),
                                ("IFLA_NET_NS_FD", peer_ns_fd))
        attrs: list[Item] = [("IFLA_IFNAME", name)]
        attrs += _optional(("IFLA_MTU", mtu), ("IFLA_ADDRESS", mac),
                           ("IFLA_MASTER", None if master is None else self.index_of(master)))
        attrs.append(("IFLA_LINKINFO", [
            ("IFLA_INFO_KIND", "veth"),
            ("IFLA_INFO_DATA", [("VETH_INFO_PEER", ({}, peer_attrs))]),
        ]))
        where = "" if peer_ns_fd is None else " in netns fd %d" % peer_ns_fd
        flags = uapi.NLM_F_CREATE | uapi.NLM_F_EXCL | (uapi.NLM_F_ECHO if echo else 0)
        replies = self._do(uapi.RTM_NEWLINK, flags, _up_flags(up), attrs,
                           "add veth %s (peer %s%s)" % (name, peer, where))
        for m in replies:
            if m.type == uapi.RTM_NEWLINK and m.attrs.get_str("IFLA_IFNAME") == name:
                return Link(m)
        return None

    def link_set(self, link: LinkRef, *, up: bool | None = None, mtu: int | None = None,
                 mac: str | None = None, master: LinkRef | None = None,
                 name: str | None = None, ns_fd: int | None = None,
                 promisc: bool | None = None, inet_conf: dict[int, int] | None = None) -> None:
        """Change a link: state, MTU, MAC, master (0 = none), name, namespace, promiscuity,
        and IPv4 settings (``inet_conf``: {IPV4_DEVCONF_* number: value}, what
        /proc/sys/net/ipv4/conf/<link>/ holds; IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF).

        The kernel applies IFLA_AF_SPEC *after* the state change of the same message, so a
        setting that acts on link-up (arp_notify) must be sent before, not with, ``up``.
        """
        if name is not None:
            link = self.index_of(link)       # a rename needs the index to find the link
        fixed, attrs = _link_ref(link)
        changes = []
        for bit, on, word in ((uapi.IFF_UP, up, ("up", "down")),
                              (uapi.IFF_PROMISC, promisc, ("promisc on", "promisc off"))):
            if on is not None:
                fixed["ifi_change"] = fixed.get("ifi_change", 0) | bit
                fixed["ifi_flags"] = fixed.get("ifi_flags", 0) | (bit if on else 0)
                changes.append(word[0] if on else word[1])
        master_index = None if master is None else self.index_of(master)
        extra = _optional(("IFLA_MTU", mtu), ("IFLA_ADDRESS", mac),
                          ("IFLA_MASTER", master_index), ("IFLA_IFNAME", name),
                          ("IFLA_NET_NS_FD", ns_fd))
        if not extra and not changes and not inet_conf:
            return
        attrs += extra
        changes += ["%s %s" % (str(k)[5:].lower(), v) for k, v in extra]
        if inet_conf:
            attrs.append(("IFLA_AF_SPEC", [("AF_INET", [("IFLA_INET_CONF",
                                                          _devconf(inet_conf))])]))
            changes += ["ipv4 conf %d = %d" % kv for kv in sorted(inet_conf.items())]
        self._do(uapi.RTM_NEWLINK, 0, fixed, attrs,
                 "set link %s %s" % (link, " ".join(changes)))

    def link_del(self, link: LinkRef, *, netnsid: int | None = None) -> None:
        """Delete a link (for a veth, both ends go); with ``netnsid``, the link in that
        namespace (EOPNOTSUPP before Linux 4.16, whose RTM_DELLINK would ignore the id and
        delete the link of that index or name in this socket's own namespace)."""
        doing = "delete link %s%s" % (link, _in_netnsid(netnsid))
        if netnsid is not None and _kernel_version() < TARGET_NETNSID_DELLINK:
            raise NetlinkError(EOPNOTSUPP, doing + self._where, "IFLA_TARGET_NETNSID needs "
                               "Linux >= %d.%d" % TARGET_NETNSID_DELLINK)
        fixed, attrs = _link_ref(link, netnsid)
        self._do(uapi.RTM_DELLINK, 0, fixed, attrs, doing)

    def brport_set(self, link: LinkRef, *, hairpin: bool | None = None,
                   isolated: bool | None = None) -> None:
        """Set bridge-port options of ``link`` (which must be enslaved to a bridge)."""
        port: list[Item] = []
        words = []
        for attr, word, on in (("IFLA_BRPORT_MODE", "hairpin", hairpin),
                               ("IFLA_BRPORT_ISOLATED", "isolated", isolated)):
            if on is not None:
                port.append((attr, int(on)))
                words.append("%s %s" % (word, "on" if on else "off"))
        if not port:
            return
        fixed = {"ifi_family": uapi.AF_BRIDGE, "ifi_index": self.index_of(link)}
        self._do(uapi.RTM_SETLINK, 0, fixed, [("IFLA_PROTINFO", port)],
                 "set bridge port %s %s" % (link, " ".join(words)))

    # -- addresses -----------------------------------------------------------------------------

    def addr_add(self, link: LinkRef, addr: str, prefixlen: int, *, nodad: bool = False,
                 replace: bool = False) -> None:
        """Add (or with ``replace``, add-or-update) ``addr/prefixlen`` on ``link``."""
        family, raw = parse_ip(addr)
        flags = uapi.IFA_F_NODAD if nodad else 0
        fixed = {"ifa_family": family, "ifa_prefixlen": prefixlen, "ifa_flags": flags,
                 "ifa_index": self.index_of(link)}
        attrs: list[Item] = [("IFA_LOCAL", addr), ("IFA_ADDRESS", addr)]
        if family == uapi.AF_INET and prefixlen < 31:
            attrs.append(("IFA_BROADCAST", _broadcast(raw, prefixlen)))
        if flags:
            attrs.append(("IFA_FLAGS", flags))
        how = uapi.NLM_F_REPLACE if replace else uapi.NLM_F_EXCL
        self._do(uapi.RTM_NEWADDR, uapi.NLM_F_CREATE | how, fixed, attrs,
                 "add address %s/%d to %s" % (addr, prefixlen, link))

    def addr_del(self, link: LinkRef, addr: str, prefixlen: int) -> None:
        """Remove ``addr/prefixlen`` from ``link``."""
        family, _ = parse_ip(addr)
        fixed = {"ifa_family": family, "ifa_prefixlen": prefixlen,
                 "ifa_index": self.index_of(link)}
        self._do(uapi.RTM_DELADDR, 0, fixed, [("IFA_LOCAL", addr), ("IFA_ADDRESS", addr)],
                 "delete address %s/%d from %s" % (addr, prefixlen, link))

    def addrs(self, link: LinkRef | None = None, family: int | None = None) -> list[Address]:
        """Addresses, optionally of one link and/or one family (4 or 6)."""
        index = None if link is None else self.index_of(link)
        fixed = {"ifa_family": _af(family), "ifa_index": index or 0}
        replies = self._dump(uapi.RTM_GETADDR, fixed, [], "list addresses")
        found = [Address(m) for m in replies if m.type == uapi.RTM_NEWADDR]
        return [a for a in found if (index is None or a.index == index)
                and (family is None or a.family == family)]

    # -- routes --------------------------------------------------------------------------------

    def route_add(self, dst: str | None, prefixlen: int = 0, *, gateway: str | None = None,
                  oif: LinkRef | None = None, table: int | None = None,
                  metric: int | None = None, protocol: int | None = None,
                  scope: int | None = None, onlink: bool = False, family: int | None = None,
                  replace: bool = False) -> None:
        """Add (or replace) a unicast route; ``dst`` None or "default" = the default route."""
        af = _route_family(dst, gateway, family)
        if scope is None:
            scope = uapi.RT_SCOPE_LINK if (af == uapi.AF_INET and gateway is None) \
                else uapi.RT_SCOPE_UNIVERSE
        fixed = {"rtm_family": af, "rtm_dst_len": _dst_len(dst, prefixlen),
                 "rtm_protocol": uapi.RTPROT_BOOT if protocol is None else protocol,
                 "rtm_scope": scope, "rtm_type": uapi.RTN_UNICAST,
                 "rtm_flags": uapi.RTNH_F_ONLINK if onlink else 0}
        attrs = self._route_attrs(fixed, dst, gateway, oif, table, metric)
        how = uapi.NLM_F_REPLACE if replace else uapi.NLM_F_EXCL
        self._do(uapi.RTM_NEWROUTE, uapi.NLM_F_CREATE | how, fixed, attrs,
                 "%s route %s" % ("replace" if replace else "add",
                                  _route_text(dst, prefixlen, gateway, oif, table, metric)))

    def route_del(self, dst: str | None, prefixlen: int = 0, *, gateway: str | None = None,
                  oif: LinkRef | None = None, table: int | None = None,
                  metric: int | None = None, family: int | None = None) -> None:
        """Delete the route matching what is given (unset fields match anything)."""
        af = _route_family(dst, gateway, family)
        fixed = {"rtm_family": af, "rtm_dst_len": _dst_len(dst, prefixlen),
                 "rtm_scope": uapi.RT_SCOPE_NOWHERE}
        attrs = self._route_attrs(fixed, dst, gateway, oif, table, metric)
        self._do(uapi.RTM_DELROUTE, 0, fixed, attrs,
                 "delete route %s" % _route_text(dst, prefixlen, gateway, oif, table, metric))

    def routes(self, family: int | None = None, table: int | None = None) -> list[Route]:
        """Routes of one family (4 or 6) or both, of one table or all tables."""
        fixed = {"rtm_family": _af(family)}
        attrs: list[Item] = []
        if table is not None:
            attrs.append(("RTA_TABLE", table))   # with strict checking the kernel filters
        replies = self._dump(uapi.RTM_GETROUTE, fixed, attrs, "list routes")
        found = [Route(m) for m in replies if m.type == uapi.RTM_NEWROUTE]
        return [r for r in found if r.family in (4, 6)
                and (family is None or r.family == family)
                and (table is None or r.table == table)]

    def _route_attrs(self, fixed: dict[str, int], dst: str | None, gateway: str | None,
                     oif: LinkRef | None, table: int | None, metric: int | None) -> list[Item]:
        table = uapi.RT_TABLE_MAIN if table is None else table
        fixed["rtm_table"] = table if table < 256 else uapi.RT_TABLE_UNSPEC
        attrs: list[Item] = []
        if not _is_default(dst):
            attrs.append(("RTA_DST", dst))
        if table >= 256:
            attrs.append(("RTA_TABLE", table))
        attrs += _optional(("RTA_GATEWAY", gateway),
                           ("RTA_OIF", None if oif is None else self.index_of(oif)),
                           ("RTA_PRIORITY", metric))
        return attrs


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _link_ref(link: LinkRef, netnsid: int | None = None) -> tuple[dict[str, int], list[Item]]:
    """How a request names a link: ifi_index for an int, IFLA_IFNAME for a name; first
    IFLA_TARGET_NETNSID when it is in another namespace."""
    attrs: list[Item] = [] if netnsid is None else [("IFLA_TARGET_NETNSID", netnsid)]
    if isinstance(link, int):
        return {"ifi_index": link}, attrs
    attrs.append(("IFLA_IFNAME", link))
    return {}, attrs


def _devconf(settings: dict[int, int]) -> bytes:
    """IFLA_INET_CONF of a request: one attribute per setting, type = its IPV4_DEVCONF_*
    number, value a u32 (struct nlattr: len 8, type; then the value; host byte order)."""
    import struct
    return b"".join(struct.pack("=HHI", 8, number, value)
                    for number, value in sorted(settings.items()))


def _in_netnsid(netnsid: int | None) -> str:
    return "" if netnsid is None else " in netnsid %d" % netnsid


def _kernel_version() -> tuple[int, int]:
    """(major, minor) of the running kernel, from uname's release ("6.18.44-...")."""
    major, _, rest = os.uname().release.partition(".")
    minor = rest.split(".")[0].split("-")[0]
    return (int(major) if major.isdigit() else 0), (int(minor) if minor.isdigit() else 0)


def _up_flags(up: bool) -> dict[str, int]:
    return {"ifi_flags": uapi.IFF_UP, "ifi_change": uapi.IFF_UP} if up else {}


def _optional(*pairs: tuple[str, object]) -> list[Item]:
    """The (name, value) pairs whose value is not None."""
    return [(k, v) for k, v in pairs if v is not None]


def _af(version: int | None) -> int:
    if version is None:
        return uapi.AF_UNSPEC
    if version in _FAMILY_OF_VERSION:
        return _FAMILY_OF_VERSION[version]
    if version in _VERSION_OF_FAMILY:   # an AF_* number given directly
        return version
    raise ValueError("family must be 4 or 6, not %r" % (version,))


def _is_default(dst: str | None) -> bool:
    return dst is None or dst == "default"


def _dst_len(dst: str | None, prefixlen: int) -> int:
    return 0 if _is_default(dst) else prefixlen


def _route_family(dst: str | None, gateway: str | None, family: int | None) -> int:
    """The route's address family: from dst, else gateway, else the ``family`` argument."""
    for text in (dst, gateway):
        if text is not None and text != "default":
            return parse_ip(text)[0]
    if family is None:
        raise ValueError("a default route without a gateway needs family=4 or 6")
    return _af(family)


def _route_text(dst: str | None, prefixlen: int, gateway: str | None, oif: LinkRef | None,
                table: int | None, metric: int | None) -> str:
    words = ["default" if _is_default(dst) else "%s/%d" % (dst, prefixlen)]
    for word, value in (("via", gateway), ("dev", oif), ("table", table), ("metric", metric)):
        if value is not None:
            words.append("%s %s" % (word, value))
    return " ".join(words)


def _broadcast(raw: bytes, prefixlen: int) -> str:
    """The IPv4 broadcast address of ``raw``/``prefixlen`` (all host bits set)."""
    host_bits = (1 << (32 - prefixlen)) - 1
    value = int.from_bytes(raw, "big") | host_bits
    return ".".join(str(b) for b in value.to_bytes(4, "big"))
