"""CHECK, GC and STATUS of the bridge plugin: the commands that inspect or tidy, never attach.

They live apart from humanz/bridge.py so that ADD and DEL, which run once per pod, do not load
their code. The shared plumbing (named steps, the trace, the netlink sockets, prevResult) stays
in humanz.bridge, which is already loaded whenever these run.

- CHECK compares the container's network with prevResult (code 105 naming the difference):
  the reservation in the store, the masquerade rules (ipMasq), the bridge, the veth and its
  host end on the bridge, the addresses and the routes;
- GC releases every reservation and masquerade rule of an attachment that is not in
  ``cni.dev/valid-attachments``, and keeps going on errors;
- STATUS succeeds when an ADD could succeed now, code 50 when the IPAM cannot serve one.
"""

from __future__ import annotations

from humanz.bridge import (_collect, _Links, _nft, _note, _previous_result, _split_cidr, _step,
                           check_netns, traced)
from humanz.cni.errors import (CHECK_FAILED, INVALID_CONFIG, IO_FAILURE, NOT_AVAILABLE,
                               CNIError)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from humanz.cni.config import NetConf
    from humanz.cni.result import Result
    from humanz.cni.skel import Request
    from humanz.netlink.rtnl import Link


# ============================================================================================
# CHECK
# ============================================================================================

@traced
def cmd_check(req: Request, conf: NetConf) -> None:
    """Compare the container's network with prevResult, like the reference plugin does."""
    prev = _previous_result(conf)
    if prev is None:
        raise CNIError(INVALID_CONFIG, "prevResult: required by CHECK")
    _step("check CNI_NETNS", check_netns, req)
    _step("check addresses are reserved", check_reservation, req, conf, prev)
    if conf.ip_masq:
        _step("check masquerade rules", check_masquerade, req, conf, prev)
    links = _step("open netlink sockets", _Links, req.netns)
    try:
        _step("check interfaces", check_links, links, req, conf, prev)
    finally:
        links.close()


def check_reservation(req: Request, conf: NetConf, prev: Result) -> None:
    kind = conf.ipam.kind
    if kind == "delegate":
        from humanz.cni import delegate
        delegate.execute(conf.ipam.type, "CHECK", req.env, req.path, req.stdin)
    elif kind == "builtin":
        from humanz.ipam import allocator
        held = set(allocator.held(conf.ipam.data_dir, conf.name, req.container_id,
                                  req.ifname))
        for ip in prev.ips:
            if ip.ip not in held:
                raise _drift("address %s is not reserved for container %s, %s in the store"
                             % (ip.ip, req.container_id, req.ifname))


def check_masquerade(req: Request, conf: NetConf, prev: Result) -> None:
    from humanz import ipmasq
    note = ipmasq.comment(conf.name, req.container_id, req.ifname)
    with _nft() as client:
        absent = ipmasq.missing(client, note, [ip.address for ip in prev.ips])
    if absent:
        raise _drift("no masquerade rule for %s (comment %r in table inet %s chain %s)"
                     % (", ".join(absent), note, ipmasq.TABLE, ipmasq.CHAIN))


def check_links(links: _Links, req: Request, conf: NetConf, prev: Result) -> None:
    """Bridge, container veth (name, kind, MAC), its peer on the bridge, addresses, routes."""
    index = _container_interface_index(req, prev)
    want = prev.interfaces[index]
    bridge = links.host.link_find(conf.bridge)
    if bridge is None or bridge.kind != "bridge":
        raise _drift("bridge %s does not exist" % conf.bridge if bridge is None else
                     "%s is not a bridge (kind %s)" % (conf.bridge, bridge.kind))
    link = links.container.link_find(req.ifname)
    if link is None:
        raise _drift("interface %s does not exist in %s" % (req.ifname, req.netns))
    if link.kind != "veth":
        raise _drift("interface %s in %s is not a veth (kind %s)"
                     % (req.ifname, req.netns, link.kind))
    if want.mac and (link.mac or "").lower() != want.mac.lower():
        raise _drift("interface %s has MAC %s, prevResult says %s"
                     % (req.ifname, link.mac, want.mac))
    _check_peer(links, req, prev, link, bridge)
    _check_addresses(links, req, prev, index, link)
    _check_routes(links, prev, link)


def _container_interface_index(req: Request, prev: Result) -> int:
    for i, intf in enumerate(prev.interfaces):
        if intf.name == req.ifname and intf.sandbox == req.netns:
            return i
    raise _drift("prevResult has no interface %s with sandbox %s" % (req.ifname, req.netns))


def _check_peer(links: _Links, req: Request, prev: Result, link: Link, bridge: Link) -> None:
    from humanz.netlink.errors import NetlinkError
    if link.link is None:
        raise _drift("veth %s has no peer" % req.ifname)
    try:
        peer = links.host.link_get(link.link)
    except NetlinkError:
        raise _drift("the host end of %s (ifindex %d) is gone" % (req.ifname, link.link)) \
            from None
    if peer.kind != "veth":
        raise _drift("the host end of %s (ifindex %d, %s) is not a veth"
                     % (req.ifname, link.link, peer.name))
    if peer.master != bridge.index:
        raise _drift("host end %s of %s is not enslaved to bridge %s"
                     % (peer.name, req.ifname, bridge.name))
    host_names = [i.name for i in prev.interfaces if not i.sandbox and i.name != bridge.name]
    if host_names and peer.name not in host_names:
        raise _drift("the host end of %s is %s, prevResult says %s"
                     % (req.ifname, peer.name, ", ".join(host_names)))


def _check_addresses(links: _Links, req: Request, prev: Result, index: int,
                     link: Link) -> None:
    present = {(a.address, a.prefixlen) for a in links.container.addrs(link=link.index)}
    for ip in prev.ips:
        if ip.interface not in (None, index):
            continue
        if (_canonical_ip(ip.ip), ip.prefixlen) not in present:
            raise _drift("address %s is missing on %s" % (ip.address, req.ifname))


def _check_routes(links: _Links, prev: Result, link: Link) -> None:
    routes = links.container.routes()
    for want in prev.routes:
        dst, plen = _split_cidr(want.dst)
        gw = _canonical_ip(want.gw) if want.gw else None
        found = any(r.family == want.family and r.dst_len == plen
                    and (plen == 0 or r.dst == dst) and (gw is None or r.gateway == gw)
                    for r in routes)
        if not found:
            raise _drift("route %s%s is missing in the container"
                         % (want.dst, " via %s" % want.gw if want.gw else ""))


def _drift(msg: str) -> CNIError:
    return CNIError(CHECK_FAILED, msg)


# ============================================================================================
# GC and STATUS
# ============================================================================================

def cmd_gc(req: Request, conf: NetConf) -> list[str]:
    """Release every reservation (and, with ipMasq, every masquerade rule) not in
    cni.dev/valid-attachments; the addresses released. Keeps going on errors."""
    errors: list[CNIError] = []
    if conf.ip_masq:
        _collect(errors, "garbage-collect masquerade rules", gc_masquerade, conf)
    released = _gc_addresses(req, conf)
    if errors:
        raise errors[0]
    return released


def gc_masquerade(conf: NetConf) -> None:
    from humanz import ipmasq
    with _nft() as client:
        removed = ipmasq.gc(client, conf.name, conf.valid_attachments or set())
    _note("nft", "removed masquerade rules %s" % (", ".join(map(repr, removed)) or "none"))


def _gc_addresses(req: Request, conf: NetConf) -> list[str]:
    kind = conf.ipam.kind
    if kind == "delegate":
        from humanz.cni import delegate
        _step("ipam plugin GC", delegate.execute, conf.ipam.type, "GC", req.env, req.path,
              req.stdin)
        return []
    if kind != "builtin":
        return []
    from humanz.ipam import allocator
    released, errors = _step("garbage-collect addresses", allocator.gc, conf.ipam.data_dir,
                             conf.name, conf.valid_attachments or set())
    if errors:
        raise CNIError(IO_FAILURE, "GC released %d address(es) and hit %d error(s): %s"
                       % (len(released), len(errors), errors[0]), "; ".join(errors))
    return released


def cmd_status(req: Request, conf: NetConf) -> None:
    """Succeed when an ADD could succeed now; code 50 when the IPAM cannot serve one."""
    kind = conf.ipam.kind
    if kind == "delegate":
        from humanz.cni import delegate
        delegate.execute(conf.ipam.type, "STATUS", req.env, req.path, req.stdin)
    elif kind == "builtin":
        from humanz.ipam import allocator
        from humanz.ipam.errors import IPAMError
        try:
            allocator.status(conf.ipam.data_dir, conf.name, conf.ipam.range_sets)
        except IPAMError as err:
            raise CNIError(NOT_AVAILABLE, "cannot serve ADD: %s" % err) from None


def _canonical_ip(text: str) -> str:
    from humanz.ipam.addr import format_ip, parse_ip
    return format_ip(*parse_ip(text))
