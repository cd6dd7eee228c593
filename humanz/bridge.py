"""The humanz plugin: ADD and DEL of a container on a Linux bridge, and the shared plumbing.

CHECK, GC and STATUS are in humanz/upkeep.py (``cmd_check``, ``cmd_gc`` and ``cmd_status`` here
forward to it), so that ADD and DEL, run once per pod, do not load their code.

Each command is a short list of named steps. A step that the kernel refuses becomes CNI error
100 naming the step ("create veth: File exists (kernel: ...)"); IPAM problems keep the IPAM's
code (101 exhausted, 102 requested address unavailable, 5 store, 7 config).

ADD, in order (anything after "reserve addresses" is undone if a later step fails):

1. check CNI_NETNS      a network namespace, and not our own unless CNI_NETNS_OVERRIDE is set
2. check CNI_IFNAME     absent in the container (code 103, nothing changed)
3. reserve addresses    built-in IPAM, or the ipam plugin named by ipam.type (delegation)
   masquerade           with ipMasq: one nftables rule per pod address (humanz/ipmasq.py)
4. ensure bridge        create it if missing, MTU, up, promisc, the gateway address
5. create veth          from the container's side, host end born in the host namespace in the
                        same message, named veth + 8 hex (retried on a clash)
6. attach host end      enslaved to the bridge and up; hairpin / port isolation
7. configure container  addresses (IPv6 without DAD), routes, arp_notify
8. enable forwarding    ip_forward when the bridge is a gateway

The bridge itself is shared by every container of the network and is never removed.
With ipMasq, DEL removes the attachment's masquerade rules (found by their comment, so even
without a namespace), GC those of attachments no longer valid, CHECK verifies they exist.

Trace mode (``"trace"`` in the config, or HUMANZ_TRACE in the environment) records every step,
netlink message, IPAM decision and sysctl of ADD, DEL and CHECK: see humanz/trace.py. When it
is off, nothing of it is imported.
"""

from __future__ import annotations

from errno import EEXIST, ENOENT, ESRCH, ENODEV, EOPNOTSUPP, EADDRNOTAVAIL

import os

from humanz.cni.config import TRACE_ENV
from humanz.cni.errors import (IFNAME_EXISTS, INVALID_CONFIG, INVALID_ENV, IO_FAILURE, KERNEL,
                               CNIError)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    # humanz.cni.result is imported where a result is built or read (ADD, CHECK): DEL
    # does not pay for it
    from humanz.cni.result import DNS, IPConfig, Result, Route

    from humanz.cni.config import NetConf
    from humanz.cni.skel import Request
    from humanz.netlink.nftables import Nft
    from humanz.netlink.nlsocket import Trace as NetlinkTrace
    from humanz.netlink.rtnl import Link, Rtnl
    from humanz.trace import Trace

    T = TypeVar("T")

IFF_PROMISC = 0x100          # linux/if.h: net_device_flags
HOST_NETNS = "/proc/self/ns/net"  # the main thread's namespace: the host's
VETH_NAME_TRIES = 16         # "veth" + 8 random hex digits clash with odds 1 in 4 billion

# Result interface indexes: what ADD returns, in this order.
BRIDGE_IF, HOST_IF, CONTAINER_IF = 0, 1, 2


# ============================================================================================
# Trace mode: humanz/trace.py, imported only when the config or HUMANZ_TRACE asks for it
# ============================================================================================

_trace: Trace | None = None   # the running operation's trace, when tracing


def traced(cmd: Callable[[Request, NetConf], T]) -> Callable[[Request, NetConf], T]:
    """Run ``cmd`` with the trace on when asked; the trace is written when it ends."""
    def run(req: Request, conf: NetConf) -> T:
        global _trace
        if not (conf.trace or req.env.get(TRACE_ENV)):
            return cmd(req, conf)
        from humanz import trace
        path = trace.target(conf.trace, req.env, conf.log_file)
        if not path:
            return cmd(req, conf)
        _trace = trace.Trace(path, req.command)
        _trace.exec_env(req.env, req.stdin)
        outcome = "interrupted"
        try:
            value = cmd(req, conf)
            from humanz.cni.result import Result
            if isinstance(value, Result):
                from humanz.cni.jsonlite import dumps
                _trace.note("result", dumps(value.to_dict(conf.cni_version)))
            outcome = "ok"
            return value
        except CNIError as err:
            outcome = "error %d: %s" % (err.code, err.msg)
            raise
        except Exception as err:
            outcome = "error: a bug in humanz: %s: %s" % (type(err).__name__, err)
            raise
        finally:
            _trace.finish(outcome)
            _trace = None
    run.__name__, run.__qualname__, run.__doc__ = cmd.__name__, cmd.__qualname__, cmd.__doc__
    return run


def _note(word: str, text: str) -> None:
    """Add a line to the trace, if tracing."""
    if _trace is not None:
        _trace.note(word, text)


def _netlink_trace() -> NetlinkTrace | None:
    """The ``trace`` callable for a new Rtnl or Nft: the trace's, or None."""
    return _trace.netlink if _trace is not None else None


def _nft() -> Nft:
    """ipMasq's NETLINK_NETFILTER socket, in the host namespace; traced like the Rtnl ones."""
    from humanz.netlink.nftables import Nft
    _note("socket", "NETLINK_NETFILTER socket in the host namespace (the plugin's own)")
    return Nft(trace=_netlink_trace())


# ============================================================================================
# ADD
# ============================================================================================

@traced
def cmd_add(req: Request, conf: NetConf) -> Result:
    """Attach the container to the bridge; the result, appended to prevResult if any."""
    previous = _previous_result(conf)
    _step("check CNI_NETNS", check_netns, req)
    undo = _Undo()
    links = _step("open netlink sockets", _Links, req.netns)
    try:
        _step("check CNI_IFNAME", refuse_existing_ifname, links, req)
        addrs = _step("reserve addresses", reserve_addresses, req, conf, undo)
        if conf.ip_masq:
            _step("masquerade pod addresses", add_masquerade, req, conf, addrs, undo)
        bridge = _step("ensure bridge %s" % conf.bridge, ensure_bridge, links.host, conf, addrs)
        pair = _step("create veth", make_veth, links, req, conf, undo)
        _step("attach host end %s" % pair.host_name, attach_host_end, links.host, pair,
              bridge, conf)
        _step("configure %s in the container" % req.ifname, configure_container, links, req,
              conf, pair, addrs)
        _step("enable forwarding", enable_forwarding, conf, addrs)
        result = build_result(req, bridge, pair, addrs)
    except BaseException as err:
        undo.run(err)
        raise
    finally:
        links.close()
    return result.appended_to(previous) if previous is not None else result


class Addressing:
    """What the IPAM step decided: addresses (with gateways), routes and DNS for the pod."""

    __slots__ = ("ips", "routes", "dns")

    def __init__(self, ips: list[IPConfig], routes: list[Route], dns: DNS) -> None:
        self.ips = ips
        self.routes = routes
        self.dns = dns


class VethPair:
    """The pair ADD made: host end (name, Link) and container end (Link)."""

    __slots__ = ("host_name", "host", "container")

    def __init__(self, host_name: str, host: Link, container: Link) -> None:
        self.host_name = host_name
        self.host = host
        self.container = container


def check_netns(req: Request) -> None:
    """CNI_NETNS must be a network namespace, and not the plugin's own one (which would put
    the "container" end in the host) unless CNI_NETNS_OVERRIDE says so."""
    from humanz.netlink import netns
    if not netns.is_netns(req.netns):
        what = "does not exist" if not os.path.exists(req.netns) else \
            "is not a network namespace"
        raise CNIError(INVALID_ENV, "CNI_NETNS: %s %s" % (req.netns, what))
    if netns.same_as_current(req.netns) and not req.env.get("CNI_NETNS_OVERRIDE"):
        raise CNIError(INVALID_ENV, "CNI_NETNS: %s is the plugin's own network namespace"
                       % req.netns, "set CNI_NETNS_OVERRIDE=1 to allow this")


def refuse_existing_ifname(links: _Links, req: Request) -> None:
    """The spec: ADD must fail when CNI_IFNAME already exists in the container."""
    if links.container.link_find(req.ifname) is not None:
        raise CNIError(IFNAME_EXISTS, "interface %s already exists in %s"
                       % (req.ifname, req.netns))


def reserve_addresses(req: Request, conf: NetConf, undo: _Undo) -> Addressing:
    """Addresses, routes and DNS from the IPAM; gateways and the default route filled in."""
    from humanz.cni.result import DNS
    kind = conf.ipam.kind
    if kind == "builtin":
        addrs = _builtin_reserve(req, conf, undo)
    elif kind == "delegate":
        addrs = _delegated_reserve(req, conf, undo)
    else:
        addrs = Addressing([], [], DNS())
    if conf.dns is not None and not conf.dns.is_empty():
        addrs.dns = conf.dns  # the network's dns field wins over the IPAM's (reference)
    if conf.is_gateway:
        _default_gateways(addrs)
    if conf.is_default_gateway:
        _add_default_routes(addrs)
    return addrs


def ensure_bridge(host: Rtnl, conf: NetConf, addrs: Addressing) -> Link:
    """The bridge exists, is a bridge, is up (promisc if asked), has the gateway addresses."""
    from humanz.netlink.errors import NetlinkError
    link = host.link_find(conf.bridge)
    if link is None:
        try:
            # An explicit MAC keeps the bridge's address (the pods' gateway MAC) stable: the
            # kernel would otherwise switch it to the lowest MAC among its ports.
            host.bridge_add(conf.bridge, mtu=conf.mtu or None, mac=random_mac(), up=True)
        except NetlinkError as err:
            if err.errno != EEXIST:  # another ADD made it a moment ago: fine
                raise
        link = host.link_get(conf.bridge)
    if link.kind != "bridge":
        raise CNIError(INVALID_CONFIG, "bridge: link %s exists and is not a bridge (kind %s)"
                       % (conf.bridge, link.kind or "none"))
    if conf.mtu and link.mtu != conf.mtu:
        host.link_set(link.index, mtu=conf.mtu)
    if not link.up:
        host.link_set(link.index, up=True)
    if conf.promisc_mode and not link.flags & IFF_PROMISC:
        host.link_set(link.index, promisc=True)
    if conf.is_gateway:
        for ip in addrs.ips:
            _ensure_gateway_address(host, link, conf, ip)
    return link


def make_veth(links: _Links, req: Request, conf: NetConf, undo: _Undo) -> VethPair:
    """One RTM_NEWLINK sent from the container's namespace creates CNI_IFNAME there and its
    peer directly in the host namespace (never moved, never visible elsewhere)."""
    from humanz.netlink import netns
    from humanz.netlink.errors import NetlinkError
    host_fd = netns.open_fd(HOST_NETNS)
    _note("netns", "fd %d = %s, the host namespace, for IFLA_NET_NS_FD" % (host_fd, HOST_NETNS))
    try:
        for _ in range(VETH_NAME_TRIES):
            host_name = "veth" + os.urandom(4).hex()
            try:
                # echo: the kernel answers with the new eth0 (Linux >= 6.3), no link_get
                echoed = links.container.veth_add(req.ifname, host_name, peer_ns_fd=host_fd,
                                                  mtu=conf.mtu or None, mac=conf.mac,
                                                  echo=True)
            except NetlinkError as err:
                if err.errno != EEXIST:
                    raise
                if links.container.link_find(req.ifname) is not None:
                    raise CNIError(IFNAME_EXISTS, "interface %s already exists in %s"
                                   % (req.ifname, req.netns)) from None
                continue  # the host name is taken: draw another
            undo.add("delete veth %s" % host_name, links.host.link_del, host_name)
            # The host end is read from the host's socket (its echo went to the host): that
            # read also makes the host give the container's namespace a netnsid, which DEL
            # uses to delete the veth from the host.
            return VethPair(host_name, links.host.link_get(host_name),
                            echoed or links.container.link_get(req.ifname))
    finally:
        os.close(host_fd)
    raise CNIError(KERNEL, "no free host veth name after %d tries" % VETH_NAME_TRIES)


def attach_host_end(host: Rtnl, pair: VethPair, bridge: Link, conf: NetConf) -> None:
    """Enslave the host end to the bridge and bring it up, then the bridge-port options."""
    host.link_set(pair.host.index, master=bridge.index, up=True)
    if conf.hairpin_mode or conf.port_isolation:
        host.brport_set(pair.host.index, hairpin=conf.hairpin_mode or None,
                        isolated=conf.port_isolation or None)


def configure_container(links: _Links, req: Request, conf: NetConf, pair: VethPair,
                        addrs: Addressing) -> None:
    """arp_notify, addresses, link up, routes: in that order, so that bringing the link up
    announces the addresses (a gratuitous ARP) and the routes' gateways are reachable.

    arp_notify goes by netlink on the container's socket, in its own RTM_NEWLINK: the kernel
    applies IFLA_AF_SPEC after the IFF_UP of the same message, too late for the link-up.
    """
    from humanz.netlink.uapi import IPV4_DEVCONF_ARP_NOTIFY
    ct = links.container
    index = pair.container.index
    _note("sysctl", "net/ipv4/conf/%s/arp_notify = 1 (in the container, by netlink)"
          % req.ifname)
    ct.link_set(index, inet_conf={IPV4_DEVCONF_ARP_NOTIFY: 1})
    if any(ip.family == 6 for ip in addrs.ips):
        from humanz.netlink import netns
        netns.run_in(req.netns, _container_ipv6_on, req.ifname)
    for ip in addrs.ips:
        ct.addr_add(index, ip.ip, ip.prefixlen, nodad=ip.family == 6 and not conf.enable_dad)
    ct.link_set(index, up=True)
    gateways = {ip.family: ip.gateway for ip in reversed(addrs.ips) if ip.gateway}
    for route in addrs.routes:
        dst, plen = _split_cidr(route.dst)
        ct.route_add(None if plen == 0 else dst, plen, family=route.family, oif=index,
                     gateway=route.gw or gateways.get(route.family),
                     metric=route.priority or None)


def enable_forwarding(conf: NetConf, addrs: Addressing) -> None:
    """A gateway bridge routes the pods' traffic: turn on forwarding for their families."""
    from humanz.netlink import netns
    if not conf.is_gateway:
        return
    families = {ip.family for ip in addrs.ips}
    for family, key in ((4, "net/ipv4/ip_forward"), (6, "net/ipv6/conf/all/forwarding")):
        if family in families and netns.sysctl_get(key) != "1":
            _note("sysctl", "%s = 1 (in the host)" % key)
            netns.sysctl_set(key, "1")
        elif family in families:
            _note("sysctl", "%s is 1 already (in the host)" % key)


def build_result(req: Request, bridge: Link, pair: VethPair, addrs: Addressing) -> Result:
    from humanz.cni.result import Interface, IPConfig, Result
    interfaces = [Interface(bridge.name, bridge.mac or "", mtu=bridge.mtu),
                  Interface(pair.host_name, pair.host.mac or "", mtu=pair.host.mtu),
                  Interface(req.ifname, pair.container.mac or "", req.netns,
                            mtu=pair.container.mtu)]
    ips = [IPConfig(ip.address, ip.gateway, CONTAINER_IF) for ip in addrs.ips]
    return Result(interfaces, ips, addrs.routes, addrs.dns)


# ---- ADD helpers ----------------------------------------------------------------------------

def add_masquerade(req: Request, conf: NetConf, addrs: Addressing, undo: _Undo) -> None:
    """ipMasq: a masquerade rule for each pod address, removed again if ADD fails later."""
    from humanz import ipmasq
    note = ipmasq.comment(conf.name, req.container_id, req.ifname)
    addresses = [ip.address for ip in addrs.ips]
    _note("nft", "masquerade %s leaving %s (rule comment %r, table inet %s chain %s)"
          % (", ".join(addresses), conf.network or "their subnets", note, ipmasq.TABLE,
             ipmasq.CHAIN))
    with _nft() as client:
        ipmasq.add(client, note, addresses, conf.network)
    undo.add("remove masquerade rules", remove_masquerade, req, conf)


def _builtin_reserve(req: Request, conf: NetConf, undo: _Undo) -> Addressing:
    from humanz.cni.result import DNS, IPConfig, Route
    from humanz.ipam import allocator
    ipam = conf.ipam
    allocations = allocator.allocate(ipam.data_dir, conf.name, ipam.range_sets,
                                     req.container_id, req.ifname, ipam.requested_ips)
    undo.add("release addresses", allocator.release, ipam.data_dir, conf.name,
             req.container_id, req.ifname)
    for a in allocations:
        _note("ipam", "reserved %s (gateway %s) for %s %s in %s/%s"
              % (a.cidr(), a.gateway, req.container_id, req.ifname, ipam.data_dir, conf.name))
    ips = [IPConfig(a.cidr(), a.gateway) for a in allocations]
    routes = [Route(r.cidr(), r.gw) for r in ipam.routes]
    dns = read_resolv_conf(ipam.resolv_conf) if ipam.resolv_conf else DNS()
    return Addressing(ips, routes, dns)


def _delegated_reserve(req: Request, conf: NetConf, undo: _Undo) -> Addressing:
    from humanz.cni.result import IPConfig
    from humanz.cni import delegate
    out = delegate.execute(conf.ipam.type, "ADD", req.env, req.path, req.stdin)
    # Registered before the answer is read: an unusable answer must still be given back.
    undo.add("ipam plugin DEL", delegate.execute, conf.ipam.type, "DEL", req.env, req.path,
             req.stdin)
    result = delegate.read_result(conf.ipam.type, out, conf.cni_version)
    _note("ipam", "plugin %s ADD gave %s" % (conf.ipam.type,
                                             ", ".join(ip.address for ip in result.ips)))
    if not result.ips:
        raise CNIError(INVALID_CONFIG, "ipam plugin %s returned no addresses"
                       % conf.ipam.type)
    ips = [IPConfig(ip.address, ip.gateway) for ip in result.ips]
    return Addressing(ips, list(result.routes), result.dns)


def _default_gateways(addrs: Addressing) -> None:
    """A gateway bridge without an IPAM-given gateway uses the subnet's first address."""
    from humanz.ipam import addr
    for ip in addrs.ips:
        if not ip.gateway:
            family, value, plen = addr.parse_cidr(ip.address)
            ip.gateway = addr.format_ip(family, addr.network(family, value, plen) + 1)


def _add_default_routes(addrs: Addressing) -> None:
    """isDefaultGateway: a default route via each family's gateway, unless the IPAM gave the
    same one; a default route via another gateway makes the option meaningless (code 7)."""
    from humanz.cni.result import Route
    seen: set[int] = set()
    for ip in addrs.ips:
        if ip.family in seen or not ip.gateway:
            continue
        seen.add(ip.family)
        default = "0.0.0.0/0" if ip.family == 4 else "::/0"
        existing = [r for r in addrs.routes if r.dst == default]
        if any(r.gw and r.gw != ip.gateway for r in existing):
            raise CNIError(INVALID_CONFIG, "isDefaultGateway: the IPAM already sets a default "
                           "route via %s" % next(r.gw for r in existing if r.gw))
        if not existing:
            addrs.routes.append(Route(default, ip.gateway))


def _ensure_gateway_address(host: Rtnl, bridge: Link, conf: NetConf, ip: IPConfig) -> None:
    """Put gateway/prefixlen on the bridge. An IPv4 bridge has one address: a different one
    is an error unless forceAddress (then it is replaced); IPv6 may have several as long as
    their subnets do not overlap (the reference plugin's rule)."""
    from humanz.ipam import addr
    from humanz.netlink.errors import NetlinkError
    assert ip.gateway is not None
    family = ip.family
    plen = ip.prefixlen
    gw_value = addr.parse_ip(ip.gateway)[1]
    for have in host.addrs(link=bridge.index, family=family):
        if have.address == ip.gateway:
            return
        have_value = addr.parse_ip(have.address)[1]
        if family == 6 and have.address.startswith("fe80:"):
            continue  # the kernel's link-local address
        short = min(plen, have.prefixlen)
        overlaps = (addr.network(family, gw_value, short)
                    == addr.network(family, have_value, short))
        if family == 4 or overlaps:
            if not conf.force_address:
                raise CNIError(INVALID_CONFIG, "bridge %s already has address %s/%d, not the "
                               "gateway %s/%d" % (bridge.name, have.address, have.prefixlen,
                                                  ip.gateway, plen),
                               "set forceAddress to replace it")
            host.addr_del(bridge.index, have.address, have.prefixlen)
    try:
        host.addr_add(bridge.index, ip.gateway, plen, nodad=family == 6)
    except NetlinkError as err:
        if err.errno != EEXIST:  # a concurrent ADD added it first
            raise


def _container_ipv6_on(ifname: str) -> None:
    """Runs inside the container namespace: make sure IPv6 is on for the interface that gets
    a v6 address (the kernel takes no IPv6 devconf by netlink, so this is a sysctl file)."""
    from humanz.netlink import netns
    try:
        _note("sysctl", "net/ipv6/conf/%s/disable_ipv6 = 0 (in the container)" % ifname)
        netns.sysctl_set("net/ipv6/conf/%s/disable_ipv6" % ifname, "0")
    except OSError:
        pass  # IPv6 compiled out: adding the address will say so


def read_resolv_conf(path: str) -> DNS:
    """ipam.resolvConf (host-local's field): nameserver, domain, search, options lines."""
    from humanz.cni.result import DNS
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise CNIError(IO_FAILURE, "ipam.resolvConf: cannot read %s: %s"
                       % (path, err.strerror or err)) from None
    dns = DNS()
    for line in lines:
        words = line.split()
        if not words or words[0][0] in "#;":
            continue
        key, values = words[0], words[1:]
        if key == "nameserver" and values:
            dns.nameservers.append(values[0])
        elif key == "domain" and values:
            dns.domain = values[0]
        elif key == "search":
            dns.search = values
        elif key == "options":
            dns.options.extend(values)
    return dns


def random_mac() -> str:
    """A random locally administered unicast MAC (first octet: bit 1 set, bit 0 clear)."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFC) | 0x02
    return ":".join("%02x" % b for b in octets)


# ============================================================================================
# DEL
# ============================================================================================

@traced
def cmd_del(req: Request, conf: NetConf) -> None:
    """Release the reservation whatever else happens, then delete the container's interface
    if its namespace still exists. Succeeds when repeated and when things are already gone."""
    errors: list[CNIError] = []
    _collect(errors, "release addresses", release_addresses, req, conf)
    _collect(errors, "delete %s" % req.ifname, remove_container_interface, req)
    if conf.ip_masq:
        _collect(errors, "remove masquerade rules", remove_masquerade, req, conf)
    if errors:
        first = errors[0]
        details = [first.details] if first.details else []
        raise CNIError(first.code, first.msg, "; ".join(details + [e.msg for e in errors[1:]]))


def release_addresses(req: Request, conf: NetConf) -> None:
    kind = conf.ipam.kind
    if kind == "builtin":
        from humanz.ipam import allocator
        released = allocator.release(conf.ipam.data_dir, conf.name, req.container_id,
                                     req.ifname)
        _note("ipam", "released %s for %s %s in %s/%s"
              % (", ".join(released) or "nothing", req.container_id, req.ifname,
                 conf.ipam.data_dir, conf.name))
    elif kind == "delegate":
        from humanz.cni import delegate
        _note("ipam", "plugin %s DEL" % conf.ipam.type)
        delegate.execute(conf.ipam.type, "DEL", req.env, req.path, req.stdin)


def remove_masquerade(req: Request, conf: NetConf) -> None:
    """ipMasq: delete the attachment's rules, found by their comment (no namespace needed)."""
    from humanz import ipmasq
    note = ipmasq.comment(conf.name, req.container_id, req.ifname)
    with _nft() as client:
        count = ipmasq.remove(client, [note])
    _note("nft", "removed %d masquerade rule(s) commented %r" % (count, note))


def remove_container_interface(req: Request) -> None:
    """Delete CNI_IFNAME (a veth: its host end goes with it) if the namespace still exists.

    Asked from the host namespace when the host knows the container's namespace by a netnsid
    (it does once a veth joins the two, as ADD's does): no thread has to enter the container
    and no socket has to be made there. Otherwise from a socket inside the container.
    """
    from humanz.netlink import netns
    from humanz.netlink.errors import NetlinkError
    if not req.netns or not netns.is_netns(req.netns):
        return  # no namespace, or it is gone: the kernel deleted the veth with it
    if netns.same_as_current(req.netns) and not req.env.get("CNI_NETNS_OVERRIDE"):
        raise CNIError(INVALID_ENV, "CNI_NETNS: %s is the plugin's own network namespace; "
                       "not deleting %s there" % (req.netns, req.ifname),
                       "set CNI_NETNS_OVERRIDE=1 to allow this")
    try:
        if _delete_by_netnsid(req):
            return
        ct = _container_rtnl(req.netns)
    except OSError as err:
        if err.errno in (ENOENT, ESRCH):
            return  # it went away between the check and the open
        raise
    with ct:
        link = ct.link_find(req.ifname)
        if link is None or link.kind != "veth":
            return  # not there, or not ours to delete
        try:
            ct.link_del(link.index)
        except NetlinkError as err:
            if err.errno not in (ENODEV, ENOENT):  # deleted meanwhile
                raise


def _delete_by_netnsid(req: Request) -> bool:
    """From the host namespace: find the container's netnsid (RTM_GETNSID), then its veth
    CNI_IFNAME there (RTM_GETLINK) and delete it (RTM_DELLINK), both with IFLA_TARGET_NETNSID.
    False when this cannot be done that way (no netnsid, a kernel too old for it)."""
    from humanz.netlink.errors import NetlinkError
    from humanz.netlink.rtnl import Rtnl
    _note("socket", "NETLINK_ROUTE socket in the host namespace (the plugin's own)")
    with Rtnl(trace=_netlink_trace()) as host:
        nsid = host.netnsid_of(req.netns)
        if nsid is None:
            _note("netns", "the host has no netnsid for %s: deleting from inside it"
                  % req.netns)
            return False
        _note("netns", "the host knows %s as netnsid %d" % (req.netns, nsid))
        try:
            link = host.link_find(req.ifname, netnsid=nsid)
            if link is not None and link.kind == "veth":
                host.link_del(link.index, netnsid=nsid)
        except NetlinkError as err:
            if err.errno == EOPNOTSUPP:
                return False
            if err.errno not in (ENODEV, ENOENT):  # deleted meanwhile
                raise
    return True


def _container_rtnl(netns_path: str) -> Rtnl:
    from humanz.netlink.rtnl import Rtnl
    _note("socket", "NETLINK_ROUTE socket in %s (made by a thread that entered it)"
          % netns_path)
    return Rtnl(netns_path, _netlink_trace())


# ============================================================================================
# CHECK, GC and STATUS: in humanz/upkeep.py (ADD and DEL do not load them)
# ============================================================================================

def cmd_check(req: Request, conf: NetConf) -> None:
    """CHECK: humanz.upkeep.cmd_check."""
    from humanz import upkeep
    upkeep.cmd_check(req, conf)


def cmd_gc(req: Request, conf: NetConf) -> list[str]:
    """GC: humanz.upkeep.cmd_gc; the addresses released."""
    from humanz import upkeep
    return upkeep.cmd_gc(req, conf)


def cmd_status(req: Request, conf: NetConf) -> None:
    """STATUS: humanz.upkeep.cmd_status."""
    from humanz import upkeep
    upkeep.cmd_status(req, conf)


# ============================================================================================
# Plumbing: named steps, undo, netlink sockets
# ============================================================================================

def _step(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run one named step; kernel and IPAM failures become CNIErrors that name it."""
    from humanz.ipam.errors import IPAMError
    _note("step", name)
    try:
        return fn(*args)
    except CNIError:
        raise
    except IPAMError as err:
        raise CNIError(err.code, str(err)) from None
    except OSError as err:
        raise CNIError(KERNEL, "%s: %s" % (name, _os_error_text(err))) from None


def _collect(errors: list[CNIError], name: str, fn: Callable[..., object], *args: Any) -> None:
    try:
        _step(name, fn, *args)
    except CNIError as err:
        errors.append(err)


def _os_error_text(err: OSError) -> str:
    """NetlinkError already reads "doing: strerror (kernel: ...)"; other OSErrors get their
    strerror and file name, without Python's "[Errno N]" prefix."""
    from humanz.netlink.errors import NetlinkError
    if isinstance(err, NetlinkError) or not err.strerror:
        return str(err)
    return "%s: %s" % (err.filename, err.strerror) if err.filename else err.strerror


class _Undo:
    """What ADD has made so far, undone newest first when a later step fails."""

    __slots__ = ("actions",)

    def __init__(self) -> None:
        self.actions: list[tuple[str, Callable[..., object], tuple[Any, ...]]] = []

    def add(self, name: str, fn: Callable[..., object], *args: Any) -> None:
        self.actions.append((name, fn, args))

    def run(self, cause: BaseException) -> None:
        """Undo everything; failures of the undo are added to the CNIError's details."""
        problems = []
        for name, fn, args in reversed(self.actions):
            try:
                fn(*args)
            except Exception as err:
                problems.append("rollback: %s failed: %s" % (name, err))
        self.actions = []
        if problems and isinstance(cause, CNIError):
            cause.details = "; ".join(([cause.details] if cause.details else []) + problems)


class _Links:
    """One NETLINK_ROUTE socket in the host namespace, one in the container's."""

    __slots__ = ("host", "container")

    def __init__(self, netns_path: str) -> None:
        from humanz.netlink.rtnl import Rtnl
        _note("socket", "NETLINK_ROUTE socket in the host namespace (the plugin's own)")
        self.host = Rtnl(trace=_netlink_trace())
        try:
            _note("socket", "NETLINK_ROUTE socket in %s (made by a thread that entered it)"
                  % netns_path)
            self.container = Rtnl(netns_path, _netlink_trace())
        except BaseException:
            self.host.close()
            raise

    def close(self) -> None:
        self.container.close()
        self.host.close()


def _previous_result(conf: NetConf) -> Result | None:
    from humanz.cni.result import Result
    if conf.prev_result is None:
        return None
    try:
        return Result.from_dict(conf.prev_result, conf.cni_version, "prevResult")
    except ValueError as err:
        raise CNIError(INVALID_CONFIG, str(err)) from None


def _split_cidr(cidr: str) -> tuple[str, int]:
    address, _, plen = cidr.partition("/")
    return address, int(plen)
