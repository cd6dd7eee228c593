"""The ``ip``-like command line of humanz.netlink: ``python3 -m humanz.netlink link|addr|...``.

It speaks iproute2's grammar (a subset) so ``ip`` users feel at home, and shows its results the
way ``ip`` (and ``ip -j``) does. ``--explain`` prints every netlink message sent and received
with the library's one formatter, :mod:`humanz.netlink.explain`, on stderr.

How a command runs, top to bottom:

1. :func:`main` reads the global options (``-n NETNS``, ``-4``/``-6``, ``-j``, ``--explain``)
   and finds the OBJECT and VERB in :data:`COMMANDS` (prefixes work as in ``ip``: ``ip a``);
2. the verb's handler reads its own words with a :class:`Words` cursor, mostly through
   keyword tables (``"mtu": ("mtu", read_mtu)``) — a table per command reads like its usage;
3. the handler calls :class:`~humanz.netlink.rtnl.Rtnl` and, for ``show``, builds one record
   per object shaped like ``ip -j``'s; the human text is rendered from that same record.

Exit status: 0 done; 1 the kernel (or the system) refused, with its message (including the
kernel's extended-ACK text); 2 bad arguments, with one line naming the problem and the usage.
No tracebacks for either.
"""

from __future__ import annotations

from errno import ENODEV

import os
import sys
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from . import uapi
from .errors import NetlinkError

if TYPE_CHECKING:
    from typing import Callable, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

    from .rtnl import Address, Link, Route, Rtnl

    Record = Dict[str, object]
    Reader = Callable[["Words"], object]
    Keywords = Dict[str, Tuple[str, Reader]]
    Handler = Callable[["Context", "Words"], None]

PROG = "python3 -m humanz.netlink"
ALL_TABLES = "all"

SYNOPSIS = ("%s [-n NETNS] [-4|-6] [-j|--json] [--explain] "
            "{link|addr|route|netns} COMMAND (--help for all)" % PROG)


# --------------------------------------------------------------------------------------------
# Errors the command line reports (and how)
# --------------------------------------------------------------------------------------------

class UsageError(Exception):
    """Bad arguments: printed as one line with the command's usage, exit status 2."""

    def __init__(self, problem: str, usage: str) -> None:
        super().__init__("%s; usage: %s" % (problem, usage))


class Refused(Exception):
    """The system said no to something that is not a netlink request (a namespace file, ...):
    printed as one line, exit status 1."""


# --------------------------------------------------------------------------------------------
# Reading words
# --------------------------------------------------------------------------------------------

class Words:
    """The words after OBJECT VERB, read left to right; knows the usage to quote on errors."""

    __slots__ = ("words", "pos", "usage")

    def __init__(self, words: Sequence[str], usage: str) -> None:
        self.words = list(words)
        self.pos = 0
        self.usage = usage

    def more(self) -> bool:
        return self.pos < len(self.words)

    def peek(self) -> str | None:
        return self.words[self.pos] if self.more() else None

    def take(self, what: str) -> str:
        """The next word; ``what`` names it in the error if there is none."""
        if not self.more():
            self.fail("%s is missing" % what)
        word = self.words[self.pos]
        self.pos += 1
        return word

    def take_if(self, word: str) -> bool:
        """Consume the next word if it is ``word`` (an optional keyword such as ``dev``)."""
        if self.peek() == word:
            self.pos += 1
            return True
        return False

    def fail(self, problem: str) -> NoReturn:
        raise UsageError(problem, self.usage)

    def end(self) -> None:
        if self.more():
            self.fail("unexpected argument %r" % self.words[self.pos])


def read_keywords(w: Words, table: Keywords, positional: Reader | None = None,
                  stop: Sequence[str] = ()) -> Record:
    """Read ``keyword value`` pairs (and flags) from ``table`` until the words run out or a
    word in ``stop`` comes. ``positional`` reads the one word that is not a keyword (a route's
    destination, an address); it is stored under ``"positional"``."""
    got: Record = {}
    while w.more() and w.peek() not in stop:
        word = w.peek() or ""
        entry = table.get(word)
        if entry is None:
            if positional is None or "positional" in got:
                w.fail("unknown argument %r" % word)
            got["positional"] = positional(w)
            continue
        w.take(word)
        field, read = entry
        if field in got:
            w.fail("%r repeats or contradicts an earlier argument" % word)
        got[field] = read(w)
    return got


def constant(value: object) -> Reader:
    """A reader for a flag word (``up``, ``onlink``): it consumes nothing, returns ``value``."""
    return lambda w: value


def read_ifname(w: Words) -> str:
    """An interface name as the kernel accepts it: 1-15 bytes, no '/', ':' or whitespace."""
    name = w.take("NAME")
    if (not name or len(name.encode()) >= uapi.IFNAMSIZ or name in (".", "..")
            or any(c in name for c in "/: \t\n")):
        w.fail("%r is not a valid interface name" % name)
    return name


def read_number(w: Words, what: str, low: int, high: int) -> int:
    word = w.take(what)
    try:
        value = int(word, 0)
    except ValueError:
        w.fail("%s must be a number, not %r" % (what, word))
    if not low <= value <= high:
        w.fail("%s must be between %d and %d, not %d" % (what, low, high, value))
    return value


def read_mtu(w: Words) -> int:
    return read_number(w, "MTU", 68, 0xFFFFFFFF)


def read_metric(w: Words) -> int:
    return read_number(w, "METRIC", 0, 0xFFFFFFFF)


def read_checked(w: Words, what: str, check: Callable[[str], object], problem: str) -> str:
    """The next word, as typed, if ``check`` accepts it; else fail with ``problem % word``."""
    word = w.take(what)
    try:
        check(word)
    except ValueError:
        w.fail(problem % word)
    return word


def read_mac(w: Words) -> str:
    from .codec import parse_mac
    return read_checked(w, "MAC", parse_mac, "%r is not a MAC address (aa:bb:cc:dd:ee:ff)")


def read_on_off(w: Words) -> bool:
    word = w.take("on|off")
    if word not in ("on", "off"):
        w.fail("expected on or off, not %r" % word)
    return word == "on"


def read_ip(w: Words) -> str:
    from .codec import parse_ip
    return read_checked(w, "ADDRESS", parse_ip, "%r is not an IP address")


def read_prefix(w: Words) -> str:
    """``ADDR[/PLEN]`` (checked; returned as typed, split later by :func:`split_prefix`)."""
    word = w.take("ADDR/PLEN")
    try:
        split_prefix(word)
    except ValueError as e:
        w.fail(str(e))
    return word


def read_destination(w: Words) -> str:
    """A route's destination: ``default`` or ``ADDR[/PLEN]``."""
    if w.take_if("default"):
        return "default"
    return read_prefix(w)


def split_prefix(text: str) -> tuple[str, int, int]:
    """``"100.64.0.0/10"`` → ("100.64.0.0", 10, 4); no ``/PLEN`` means a host (/32, /128)."""
    from .codec import parse_ip
    addr, slash, plen_text = text.partition("/")
    try:
        family = 6 if parse_ip(addr)[0] == uapi.AF_INET6 else 4
    except ValueError:
        raise ValueError("%r is not an IP address" % addr) from None
    longest = 32 if family == 4 else 128
    if not slash:
        return addr, longest, family
    if not plen_text.isdigit() or int(plen_text) > longest:
        raise ValueError("%r: the prefix length must be 0..%d" % (text, longest))
    return addr, int(plen_text), family


def read_named_number(w: Words, what: str, names: dict[int, str], high: int) -> int:
    """A number or one of its names (``main``, ``static``, ``link``) as ``ip`` prints them."""
    word = w.take(what)
    for number, name in names.items():
        if word == name:
            return number
    if word.isdigit() and int(word) <= high:
        return int(word)
    w.fail("%s must be a number up to %d or one of %s, not %r" % (
        what, high, ", ".join(sorted(set(names.values()))), word))


def read_table(w: Words) -> int:
    return read_named_number(w, "TABLE", TABLE_NAMES, 0xFFFFFFFF)


def read_table_or_all(w: Words) -> object:
    if w.take_if(ALL_TABLES):
        return ALL_TABLES
    return read_table(w)


def read_protocol(w: Words) -> int:
    return read_named_number(w, "PROTO", PROTOCOL_NAMES, 255)


def read_scope(w: Words) -> int:
    if w.take_if("universe"):          # the kernel's name for what ip calls "global"
        return uapi.RT_SCOPE_UNIVERSE
    return read_named_number(w, "SCOPE", SCOPE_NAMES, 255)


def read_netns(w: Words) -> str:
    """A namespace as ``ip`` takes it: a name under /run/netns, a path, or a process id."""
    word = w.take("NETNS")
    try:
        return netns_path(word)
    except ValueError as e:
        w.fail(str(e))


def read_netns_name(w: Words) -> str:
    word = w.take("NAME")
    if not word or word in (".", "..") or "/" in word or "\0" in word:
        w.fail("%r is not a valid namespace name" % word)
    return word


def netns_path(word: str) -> str:
    if word.isdigit():
        return "/proc/%s/ns/net" % word
    if "/" in word:
        return word
    if word in ("", ".", ".."):
        raise ValueError("%r is not a valid namespace name" % word)
    return "/run/netns/" + word


def read_optional_dev(w: Words) -> str | None:
    """``[dev] NAME`` or nothing (``ip link show``, ``ip link show dev eth0``, ``... eth0``)."""
    if w.take_if("dev") or w.more():
        return read_ifname(w)
    return None


# Typed look-ups in what read_keywords returned (the readers above made the values).

def opt_int(got: Record, key: str) -> int | None:
    value = got.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def opt_str(got: Record, key: str) -> str | None:
    value = got.get(key)
    return value if isinstance(value, str) else None


def opt_bool(got: Record, key: str) -> bool | None:
    value = got.get(key)
    return value if isinstance(value, bool) else None


# --------------------------------------------------------------------------------------------
# Names ip prints for numbers (iproute2's /etc/iproute2 tables and its built-in names)
# --------------------------------------------------------------------------------------------

TABLE_NAMES = {253: "default", 254: "main", 255: "local"}    # <linux/rtnetlink.h> rt_class_t
PROTOCOL_NAMES = dict(uapi.PROTOCOL_NAMES)
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
LINKMODE_NAMES = {0: "DEFAULT", 1: "DORMANT", 2: "TESTING"}  # <linux/if.h> IF_LINK_MODE_*

# <linux/if.h> net_device_flags, in the order `ip link` prints them; RUNNING is never shown
# (its absence on an UP link is shown as NO-CARRIER).
IFF_DEBUG, IFF_NOTRAILERS = 1 << 2, 1 << 5
IFF_PORTSEL, IFF_AUTOMEDIA, IFF_DYNAMIC = 1 << 13, 1 << 14, 1 << 15
LINK_FLAG_ORDER = (
    (uapi.IFF_LOOPBACK, "LOOPBACK"), (uapi.IFF_BROADCAST, "BROADCAST"),
    (uapi.IFF_POINTOPOINT, "POINTOPOINT"), (uapi.IFF_MULTICAST, "MULTICAST"),
    (uapi.IFF_NOARP, "NOARP"), (uapi.IFF_ALLMULTI, "ALLMULTI"), (uapi.IFF_PROMISC, "PROMISC"),
    (uapi.IFF_MASTER, "MASTER"), (uapi.IFF_SLAVE, "SLAVE"), (IFF_DEBUG, "DEBUG"),
    (IFF_DYNAMIC, "DYNAMIC"), (IFF_AUTOMEDIA, "AUTOMEDIA"), (IFF_PORTSEL, "PORTSEL"),
    (IFF_NOTRAILERS, "NOTRAILERS"), (uapi.IFF_UP, "UP"), (uapi.IFF_LOWER_UP, "LOWER_UP"),
    (uapi.IFF_DORMANT, "DORMANT"), (uapi.IFF_ECHO, "ECHO"),
)

# <linux/if_addr.h> IFA_F_* as `ip addr` names them (IFA_F_SECONDARY is "temporary" for IPv6;
# an address without IFA_F_PERMANENT is shown as "dynamic")
ADDR_FLAG_WORDS = (
    (uapi.IFA_F_NODAD, "nodad"), (uapi.IFA_F_OPTIMISTIC, "optimistic"),
    (uapi.IFA_F_DADFAILED, "dadfailed"), (uapi.IFA_F_HOMEADDRESS, "home"),
    (uapi.IFA_F_DEPRECATED, "deprecated"), (uapi.IFA_F_TENTATIVE, "tentative"),
    (uapi.IFA_F_MANAGETEMPADDR, "mngtmpaddr"), (uapi.IFA_F_NOPREFIXROUTE, "noprefixroute"),
    (uapi.IFA_F_MCAUTOJOIN, "autojoin"), (uapi.IFA_F_STABLE_PRIVACY, "stable-privacy"),
)

# <linux/rtnetlink.h> RTNH_F_* / RTM_F_* in rtm_flags, as `ip route` names them
ROUTE_FLAG_WORDS = (
    (uapi.RTNH_F_DEAD, "dead"), (uapi.RTNH_F_ONLINK, "onlink"),
    (uapi.RTNH_F_PERVASIVE, "pervasive"), (uapi.RTNH_F_OFFLOAD, "offload"),
    (uapi.RTM_F_NOTIFY, "notify"), (uapi.RTNH_F_LINKDOWN, "linkdown"),
)


def name_or_number(names: dict[int, str], value: int) -> str:
    return names.get(value, str(value))


# --------------------------------------------------------------------------------------------
# The running command: options, the one Rtnl, output
# --------------------------------------------------------------------------------------------

class Options:
    """The global options before OBJECT."""

    __slots__ = ("netns", "family", "json", "explain", "help")

    def __init__(self) -> None:
        self.netns: str | None = None     # namespace path (-n)
        self.family: int | None = None    # 4 or 6 (-4 / -6)
        self.json = False
        self.explain = False
        self.help = False


class Context:
    """What a handler works with: the options, one Rtnl (made on first use), the output."""

    __slots__ = ("opts", "_rtnl")

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self._rtnl: Rtnl | None = None

    def rtnl(self) -> Rtnl:
        """The netlink socket of this command, in ``-n``'s namespace, tracing if --explain."""
        if self._rtnl is None:
            from .rtnl import Rtnl
            trace = None
            if self.opts.explain:
                from .explain import tracer
                trace = tracer(sys.stderr)
            try:
                self._rtnl = Rtnl(self.opts.netns, trace)
            except OSError as e:
                if isinstance(e, NetlinkError):
                    raise
                raise Refused("cannot open network namespace %s: %s" % (
                    self.opts.netns, e.strerror)) from None
        return self._rtnl

    def close(self) -> None:
        if self._rtnl is not None:
            self._rtnl.close()

    def show(self, records: list[Record], render: Callable[[Record], list[str]]) -> None:
        """Print ``records`` as ``ip -j`` does (one JSON line) or as text via ``render``."""
        if self.opts.json:
            import json
            print(json.dumps(records, separators=(",", ":")))
            return
        for record in records:
            for line in render(record):
                print(line)


def open_netns(path: str) -> int:
    """An fd of the namespace at ``path`` for IFLA_NET_NS_FD; the caller closes it."""
    from . import netns
    try:
        return netns.open_fd(path)
    except OSError as e:
        raise Refused("cannot open network namespace %s: %s" % (path, e.strerror)) from None


class Known:
    """Links of the namespace by ifindex, to name masters, veth peers and route devices.

    Filled from a dump when we have one; otherwise asks the kernel once per unknown index.
    """

    __slots__ = ("rt", "by_index")

    def __init__(self, rt: Rtnl, links: Sequence[Link] = ()) -> None:
        self.rt = rt
        self.by_index: dict[int, Link | None] = {link.index: link for link in links}

    def get(self, index: int) -> Link | None:
        if index not in self.by_index:
            try:
                self.by_index[index] = self.rt.link_get(index)
            except NetlinkError as e:
                if e.errno != ENODEV:
                    raise
                self.by_index[index] = None
        return self.by_index[index]

    def name(self, index: int) -> str:
        link = self.get(index)
        return link.name if link is not None else "if%d" % index


# --------------------------------------------------------------------------------------------
# link
# --------------------------------------------------------------------------------------------

LINK_ADD_OPTIONS: Keywords = {"mtu": ("mtu", read_mtu), "address": ("mac", read_mac)}
VETH_PEER_OPTIONS: Keywords = {"netns": ("netns", read_netns), "address": ("mac", read_mac)}
LINK_SETTINGS: Keywords = {
    "up": ("up", constant(True)),
    "down": ("up", constant(False)),
    "master": ("master", read_ifname),
    "nomaster": ("master", constant(0)),
    "mtu": ("mtu", read_mtu),
    "address": ("mac", read_mac),
    "name": ("name", read_ifname),
    "netns": ("netns", read_netns),
    "promisc": ("promisc", read_on_off),
}


def link_show(ctx: Context, w: Words) -> None:
    name = read_optional_dev(w)
    w.end()
    rt = ctx.rtnl()
    links = rt.links() if name is None else [rt.link_get(name)]
    known = Known(rt, links)
    ctx.show([link_record(link, known) for link in links], render_link)


def link_add(ctx: Context, w: Words) -> None:
    w.take_if("name")
    name = read_ifname(w)
    got = read_keywords(w, LINK_ADD_OPTIONS, stop=("type",))
    if not w.take_if("type"):
        w.fail("type bridge|veth is missing")
    kind = w.take("TYPE")
    mtu, mac = opt_int(got, "mtu"), opt_str(got, "mac")
    if kind == "bridge":
        w.end()
        ctx.rtnl().bridge_add(name, mtu=mtu, mac=mac)
    elif kind == "veth":
        if not w.take_if("peer"):
            w.fail("peer name PEER is missing")
        w.take_if("name")
        peer = read_ifname(w)
        peer_got = read_keywords(w, VETH_PEER_OPTIONS)
        veth_add(ctx, name, peer, mtu, mac, opt_str(peer_got, "mac"),
                 opt_str(peer_got, "netns"))
    else:
        w.fail("unsupported type %r (bridge or veth)" % kind)


def veth_add(ctx: Context, name: str, peer: str, mtu: int | None, mac: str | None,
             peer_mac: str | None, peer_netns: str | None) -> None:
    """One RTM_NEWLINK; with ``peer_netns`` the peer is born there (IFLA_NET_NS_FD)."""
    rt = ctx.rtnl()
    if peer_netns is None:
        rt.veth_add(name, peer, mtu=mtu, mac=mac, peer_mac=peer_mac)
        return
    fd = open_netns(peer_netns)
    try:
        rt.veth_add(name, peer, peer_ns_fd=fd, mtu=mtu, mac=mac, peer_mac=peer_mac)
    finally:
        os.close(fd)


def link_set(ctx: Context, w: Words) -> None:
    w.take_if("dev")
    name = read_ifname(w)
    got = read_keywords(w, LINK_SETTINGS)
    if not got:
        w.fail("nothing to set")
    master = got.get("master")
    master_ref = master if isinstance(master, (int, str)) else None
    netns = opt_str(got, "netns")
    fd = None if netns is None else open_netns(netns)
    try:
        ctx.rtnl().link_set(name, up=opt_bool(got, "up"), mtu=opt_int(got, "mtu"),
                            mac=opt_str(got, "mac"), master=master_ref,
                            name=opt_str(got, "name"), ns_fd=fd,
                            promisc=opt_bool(got, "promisc"))
    finally:
        if fd is not None:
            os.close(fd)


def link_del(ctx: Context, w: Words) -> None:
    w.take_if("dev")
    name = read_ifname(w)
    w.end()
    ctx.rtnl().link_del(name)


def link_record(link: Link, known: Known) -> Record:
    """What ``ip -j link show`` prints for ``link`` (plus ``linkinfo.info_kind`` as ``-d``)."""
    a = link.attrs
    r: Record = {"ifindex": link.index}
    peer = _local_peer(link, known)
    if link.link is not None and link.link_netnsid is not None:
        r["link_index"] = link.link                 # the peer lives in another namespace
    elif link.link is not None:
        r["link"] = None if not link.link else (peer.name if peer else "if%d" % link.link)
    r["ifname"] = link.name
    r["flags"] = link_flag_words(link.flags, peer_down=peer is not None and not peer.up)
    r["mtu"] = link.mtu
    qdisc = a.get_str("IFLA_QDISC")
    if qdisc is not None:
        r["qdisc"] = qdisc
    if link.master:
        r["master"] = known.name(link.master)
    r["operstate"] = link.operstate
    r["linkmode"] = name_or_number(LINKMODE_NAMES, a.get_int("IFLA_LINKMODE") or 0)
    group = a.get_int("IFLA_GROUP") or 0
    r["group"] = "default" if group == 0 else str(group)
    txqlen = a.get_int("IFLA_TXQLEN")
    if txqlen is not None:
        r["txqlen"] = txqlen
    r["link_type"] = link_type(link)
    if link.mac is not None:
        r["address"] = link.mac
    broadcast = a.get_str("IFLA_BROADCAST")
    if broadcast is not None:
        r["broadcast"] = broadcast
    if link.link_netnsid is not None:
        r["link_netnsid"] = link.link_netnsid
    if link.kind is not None:
        r["linkinfo"] = {"info_kind": link.kind}
    return r


def _local_peer(link: Link, known: Known) -> Link | None:
    """The link at the other end (IFLA_LINK) when it is in this namespace, else None."""
    if not link.link or link.link_netnsid is not None:
        return None
    return known.get(link.link)


def link_flag_words(flags: int, peer_down: bool) -> list[str]:
    words = ["NO-CARRIER"] if flags & uapi.IFF_UP and not flags & uapi.IFF_RUNNING else []
    words += [word for bit, word in LINK_FLAG_ORDER if flags & bit]
    if peer_down:
        words.append("M-DOWN")      # the other end of this veth is down
    return words


def link_type(link: Link) -> str:
    """ip's link/TYPE word; Link carries no ifi_type, so it is told from flags and MAC."""
    if link.flags & uapi.IFF_LOOPBACK:
        return "loopback"
    if link.mac is not None and len(link.mac) == 17:
        return "ether"
    return "none"


def render_link(r: Record) -> list[str]:
    """``ip link show``'s two lines, from a :func:`link_record`."""
    words = ["%s: %s%s: <%s> mtu %s" % (r["ifindex"], r["ifname"], _at_peer(r),
                                        ",".join(_strings(r["flags"])), r["mtu"])]
    for key, word in (("qdisc", "qdisc"), ("master", "master"), ("operstate", "state"),
                      ("linkmode", "mode"), ("group", "group"), ("txqlen", "qlen")):
        if key in r:
            words.append("%s %s" % (word, r[key]))
    return [" ".join(words), _link_layer_line(r)]


def _at_peer(r: Record) -> str:
    if "link_index" in r:
        return "@if%s" % r["link_index"]
    if "link" in r:
        return "@%s" % ("NONE" if r["link"] is None else r["link"])
    return ""


def _link_layer_line(r: Record) -> str:
    line = "    link/%s" % r["link_type"]
    if "address" in r:
        line += " %s" % r["address"]
    if "broadcast" in r:
        line += " brd %s" % r["broadcast"]
    if "link_netnsid" in r:
        line += " link-netnsid %s" % r["link_netnsid"]
    return line


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


# --------------------------------------------------------------------------------------------
# addr
# --------------------------------------------------------------------------------------------

ADDR_OPTIONS: Keywords = {"dev": ("dev", read_ifname), "nodad": ("nodad", constant(True))}
ADDR_DEL_OPTIONS: Keywords = {"dev": ("dev", read_ifname)}


def addr_show(ctx: Context, w: Words) -> None:
    name = read_optional_dev(w)
    w.end()
    rt = ctx.rtnl()
    links = rt.links() if name is None else [rt.link_get(name)]
    addrs = rt.addrs(None if name is None else links[0].index, ctx.opts.family)
    known = Known(rt, links)
    records = []
    for link in links:
        mine = [addr_record(a) for a in addrs if a.index == link.index]
        if mine or ctx.opts.family is None:
            record = link_record(link, known)
            del record["linkmode"]              # ip addr does not show it
            record["addr_info"] = mine
            records.append(record)
    ctx.show(records, render_addrs)


def addr_add(ctx: Context, w: Words) -> None:
    addr, plen, dev, got = _addr_words(w, ADDR_OPTIONS)
    ctx.rtnl().addr_add(dev, addr, plen, nodad=bool(got.get("nodad")))


def addr_del(ctx: Context, w: Words) -> None:
    addr, plen, dev, _ = _addr_words(w, ADDR_DEL_OPTIONS)
    ctx.rtnl().addr_del(dev, addr, plen)


def _addr_words(w: Words, table: Keywords) -> tuple[str, int, str, Record]:
    """``ADDR/PLEN dev NAME [nodad]`` in any order, as ``ip addr add`` takes it."""
    got = read_keywords(w, table, positional=read_prefix)
    prefix, dev = opt_str(got, "positional"), opt_str(got, "dev")
    if prefix is None:
        w.fail("ADDR/PLEN is missing")
    if dev is None:
        w.fail("dev NAME is missing")
    addr, plen, _ = split_prefix(prefix)
    return addr, plen, dev, got


def addr_record(a: Address) -> Record:
    """One entry of ``ip -j addr``'s ``addr_info``."""
    r: Record = {"family": "inet" if a.family == 4 else "inet6",
                 "local": a.local or a.address, "prefixlen": a.prefixlen,
                 "scope": name_or_number(SCOPE_NAMES, a.scope)}
    if a.flags & uapi.IFA_F_SECONDARY:
        r["secondary" if a.family == 4 else "temporary"] = True
    if not a.flags & uapi.IFA_F_PERMANENT:
        r["dynamic"] = True
    for bit, word in ADDR_FLAG_WORDS:
        if a.flags & bit:
            r[word] = True
    return r


def render_addrs(r: Record) -> list[str]:
    """``ip addr show``'s block for one link: its two link lines, one line per address."""
    lines = render_link(r)
    infos = r.get("addr_info")
    for info in infos if isinstance(infos, list) else []:
        flags = [k for k, v in info.items() if v is True]
        lines.append("    %s %s/%s scope %s%s" % (info["family"], info["local"],
                                                 info["prefixlen"], info["scope"],
                                                 "".join(" " + f for f in flags)))
    return lines


# --------------------------------------------------------------------------------------------
# route
# --------------------------------------------------------------------------------------------

ROUTE_OPTIONS: Keywords = {
    "via": ("gateway", read_ip),
    "dev": ("dev", read_ifname),
    "oif": ("dev", read_ifname),
    "metric": ("metric", read_metric),
    "priority": ("metric", read_metric),
    "preference": ("metric", read_metric),
    "table": ("table", read_table),
    "proto": ("protocol", read_protocol),
    "protocol": ("protocol", read_protocol),
    "scope": ("scope", read_scope),
    "onlink": ("onlink", constant(True)),
}
ROUTE_MATCH: Keywords = {k: v for k, v in ROUTE_OPTIONS.items()
                         if v[0] in ("gateway", "dev", "metric", "table")}
ROUTE_SHOW_OPTIONS: Keywords = {"table": ("table", read_table_or_all)}


def route_show(ctx: Context, w: Words) -> None:
    got = read_keywords(w, ROUTE_SHOW_OPTIONS)
    wanted = got.get("table", uapi.RT_TABLE_MAIN)
    table = wanted if isinstance(wanted, int) else None
    family = ctx.opts.family
    if family is None and table is not None:
        family = 4               # like ip: one table means IPv4 unless -6; "all" means both
    rt = ctx.rtnl()
    routes = rt.routes(family, table)
    known = Known(rt)
    records = [route_record(r, known, show_table=table is None) for r in routes]
    ctx.show(records, render_route)


def route_add(ctx: Context, w: Words) -> None:
    _route_change(ctx, w, replace=False)


def route_replace(ctx: Context, w: Words) -> None:
    _route_change(ctx, w, replace=True)


def _route_change(ctx: Context, w: Words, replace: bool) -> None:
    got = read_keywords(w, ROUTE_OPTIONS, positional=read_destination)
    dst, plen = _destination(w, got)
    ctx.rtnl().route_add(dst, plen, gateway=opt_str(got, "gateway"), oif=opt_str(got, "dev"),
                         table=opt_int(got, "table"), metric=opt_int(got, "metric"),
                         protocol=opt_int(got, "protocol"), scope=opt_int(got, "scope"),
                         onlink=bool(got.get("onlink")), family=ctx.opts.family or 4,
                         replace=replace)


def route_del(ctx: Context, w: Words) -> None:
    got = read_keywords(w, ROUTE_MATCH, positional=read_destination)
    dst, plen = _destination(w, got)
    ctx.rtnl().route_del(dst, plen, gateway=opt_str(got, "gateway"), oif=opt_str(got, "dev"),
                         table=opt_int(got, "table"), metric=opt_int(got, "metric"),
                         family=ctx.opts.family or 4)


def _destination(w: Words, got: Record) -> tuple[str | None, int]:
    """The route's (dst, prefixlen); ("default" → None, 0)."""
    text = opt_str(got, "positional")
    if text is None:
        w.fail("DST (ADDR/PLEN or default) is missing")
    if text == "default":
        return None, 0
    addr, plen, _ = split_prefix(text)
    return addr, plen


def route_record(route: Route, known: Known, show_table: bool) -> Record:
    """What ``ip -j route`` prints for ``route`` (``table`` only when listing all tables)."""
    r: Record = {}
    if route.type != uapi.RTN_UNICAST:
        r["type"] = name_or_number(uapi.ROUTE_TYPE_NAMES, route.type)
    r["dst"] = route_dst_text(route)
    if route.gateway is not None:
        r["gateway"] = route.gateway
    if route.oif is not None:
        r["dev"] = known.name(route.oif)
    if show_table and route.table != uapi.RT_TABLE_MAIN:
        r["table"] = name_or_number(TABLE_NAMES, route.table)
    if route.protocol != uapi.RTPROT_BOOT:
        r["protocol"] = name_or_number(PROTOCOL_NAMES, route.protocol)
    if route.scope != uapi.RT_SCOPE_UNIVERSE:
        r["scope"] = name_or_number(SCOPE_NAMES, route.scope)
    if route.metric is not None:
        r["metric"] = route.metric
    r["flags"] = [word for bit, word in ROUTE_FLAG_WORDS if route.flags & bit]
    return r


def route_dst_text(route: Route) -> str:
    """``default``, a host address alone, or ``ADDR/PLEN`` — as ``ip route`` writes it."""
    if route.dst is None:
        return "default"
    if route.dst_len == (32 if route.family == 4 else 128):
        return route.dst
    return "%s/%d" % (route.dst, route.dst_len)


def render_route(r: Record) -> list[str]:
    """One ``ip route`` line from a :func:`route_record`."""
    words = [str(r["type"])] if "type" in r else []
    words.append(str(r["dst"]))
    for key, word in (("gateway", "via"), ("dev", "dev"), ("table", "table"),
                      ("protocol", "proto"), ("scope", "scope"), ("metric", "metric")):
        if key in r:
            words.append("%s %s" % (word, r[key]))
    words += _strings(r["flags"])
    return [" ".join(words)]


# --------------------------------------------------------------------------------------------
# netns
# --------------------------------------------------------------------------------------------

def netns_list(ctx: Context, w: Words) -> None:
    from . import netns
    w.end()
    ctx.show([{"name": name} for name in netns.list_names()], lambda r: [str(r["name"])])


def netns_add(ctx: Context, w: Words) -> None:
    from . import netns
    name = read_netns_name(w)
    w.end()
    try:
        netns.add(name)
    except OSError as e:
        raise Refused("cannot create network namespace %s: %s" % (name, e.strerror)) from None


def netns_del(ctx: Context, w: Words) -> None:
    from . import netns
    name = read_netns_name(w)
    w.end()
    try:
        netns.delete(name)
    except OSError as e:
        raise Refused("cannot delete network namespace %s: %s" % (name, e.strerror)) from None


# --------------------------------------------------------------------------------------------
# The command table and main
# --------------------------------------------------------------------------------------------

# OBJECT → verbs in the order a prefix is tried (as in ip: "ip l s" is link show); each verb:
# (name, aliases, handler, usage). The first verb is what OBJECT alone does.
COMMANDS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...], Handler, str], ...]], ...] = (
    ("link", (
        ("show", ("list", "ls", "lst"), link_show, "link show [dev NAME]"),
        ("add", (), link_add, "link add NAME [mtu N] [address MAC] type bridge | "
                              "link add NAME type veth peer name PEER [netns NS]"),
        ("set", (), link_set, "link set NAME { up | down | master BR | nomaster | mtu N | "
                              "address MAC | name NEW | netns NS | promisc on|off } ..."),
        ("delete", (), link_del, "link del NAME"),
    )),
    ("address", (
        ("show", ("list", "ls", "lst"), addr_show, "addr show [dev NAME]"),
        ("add", (), addr_add, "addr add ADDR/PLEN dev NAME [nodad]"),
        ("delete", (), addr_del, "addr del ADDR/PLEN dev NAME"),
    )),
    ("route", (
        ("show", ("list", "ls", "lst"), route_show, "route show [table N|all]"),
        ("add", (), route_add, "route add DST|default [via GW] [dev NAME] [metric N] "
                               "[table N] [proto P] [scope S] [onlink]"),
        ("replace", (), route_replace, "route replace DST|default [via GW] [dev NAME] ..."),
        ("delete", (), route_del, "route del DST|default [via GW] [dev NAME] [metric N] "
                                  "[table N]"),
    )),
    ("netns", (
        ("list", ("show", "ls", "lst"), netns_list, "netns list"),
        ("add", (), netns_add, "netns add NAME"),
        ("delete", (), netns_del, "netns del NAME"),
    )),
)


def usage_text() -> str:
    """The full --help text: the synopsis and every command's usage, from COMMANDS."""
    lines = ["usage: " + SYNOPSIS.replace(" (--help for all)", ""), "",
             "  -n NETNS   work in /run/netns/NETNS (or a path, or a pid's namespace)",
             "  -4, -6     the address family where it cannot be told (route: 4, as in ip)",
             "  -j, --json print what show finds as JSON, shaped like ip -j",
             "  --explain  print every netlink message sent and received, annotated, on stderr",
             ""]
    for _, verbs in COMMANDS:
        lines += ["  " + usage for _, _, _, usage in verbs]
    return "\n".join(lines)


def find(word: str, names: Sequence[str], aliases: Sequence[Sequence[str]] = ()) -> int | None:
    """Which of ``names`` ``word`` means: an exact name or alias, else the first name it
    is a prefix of (``a`` → address, ``del`` → delete)."""
    for i, name in enumerate(names):
        if word == name or (i < len(aliases) and word in aliases[i]):
            return i
    for i, name in enumerate(names):
        if word and name.startswith(word):
            return i
    return None


def parse_options(args: list[str]) -> tuple[Options, list[str]]:
    """The global options at the front of ``args``, and the rest (OBJECT VERB ...)."""
    opts = Options()
    w = Words(args, SYNOPSIS)
    while w.more() and (w.peek() or "").startswith("-"):
        word = w.take("")
        if word in ("-n", "-netns", "--netns"):
            opts.netns = read_netns(w)
        elif word in ("-4", "-6"):
            opts.family = int(word[1])
        elif word in ("-j", "-json", "--json"):
            opts.json = True
        elif word in ("-explain", "--explain"):
            opts.explain = True
        elif word in ("-h", "-help", "--help"):
            opts.help = True
        else:
            w.fail("unknown option %r" % word)
    return opts, w.words[w.pos:]


def run(ctx: Context, args: list[str]) -> None:
    """Find OBJECT and VERB in COMMANDS and run the handler on the remaining words."""
    w = Words(args, SYNOPSIS)
    obj_word = w.take("OBJECT (link, addr, route or netns)")
    obj = find(obj_word, [name for name, _ in COMMANDS])
    if obj is None:
        w.fail("unknown object %r" % obj_word)
    obj_name, verbs = COMMANDS[obj]
    if obj_name == "netns" and ctx.opts.netns is not None:
        w.fail("-n does not apply to netns commands")
    verb = 0
    if w.more():
        verb_word = w.take("COMMAND")
        if verb_word == "help":
            print("\n".join(usage for _, _, _, usage in verbs))
            return
        found = find(verb_word, [v[0] for v in verbs], [v[1] for v in verbs])
        if found is None:
            w.fail("unknown %s command %r" % (obj_name, verb_word))
        verb = found
    _, _, handler, usage = verbs[verb]
    handler(ctx, Words(w.words[w.pos:], usage))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (0 done, 1 refused, 2 bad arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, rest = parse_options(args)
    except UsageError as e:
        return _error(str(e), 2)
    if opts.help:
        print(usage_text())
        return 0
    ctx = Context(opts)
    try:
        run(ctx, rest)
    except UsageError as e:
        return _error(str(e), 2)
    except (NetlinkError, Refused) as e:
        return _error(str(e), 1)
    except BrokenPipeError:
        _silence_stdout()        # `... | head`: the reader left; say nothing more
        return 1
    except OSError as e:
        return _error("%s%s" % (e.strerror or e, ": %s" % e.filename if e.filename else ""), 1)
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()
    return 0


def _error(text: str, status: int) -> int:
    print("error: " + text, file=sys.stderr)
    return status


def _silence_stdout() -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, sys.stdout.fileno())
    os.close(fd)
