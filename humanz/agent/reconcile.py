"""Reconciliation: from the set of nodes to the state this node should be in, and the steps there.

Level-based, never edge-based: each pass looks at the *whole* node set and the host as they are
now, so it does not matter which events were missed, or whether the agent just restarted.

- **Own node**: the plugin installed for the host's Python, then the conflist for the node's
  pod CIDRs — in that order, because the kubelet marks the node Ready as soon as a conf exists.
  No pod CIDR yet, or no usable host Python: no conf (the node stays NotReady), a log line.
- **Masquerade** (``masquerade.ensure``): humanz's nftables chains for the cluster CIDR.
- **Other nodes**: one route per pod CIDR via the node's InternalIP of the same family. Routes
  are marked with humanz's routing protocol number (``RTPROT_HUMANZ``), so the agent can tell
  its routes from everyone else's: routes marked so that no longer match a node (it left, its
  CIDR or address changed) are deleted, and nothing unmarked is ever touched — except that a
  route to exactly a node's pod CIDR is *replaced*, since that destination is humanz's to route.

``desired_routes`` and ``plan_routes`` are pure (unit-tested with fakes); ``Reconciler`` does the
I/O through an ``Rtnl``-like object (``routes()``, ``route_add``, ``route_del``).
"""

from __future__ import annotations

import logging
import os

from humanz.agent import hostfiles, masquerade

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Protocol

    from humanz.agent.masquerade import NftLike
    from humanz.agent.model import Cidr, Node

    class RouteLike(Protocol):
        """What the planner reads of a dumped route (humanz.netlink.rtnl.Route has these)."""
        family: int
        dst: str | None
        dst_len: int
        gateway: str | None
        table: int
        protocol: int

    class RtnlLike(Protocol):
        """The part of humanz.netlink.rtnl.Rtnl the reconciler uses."""
        def routes(self, family: int | None = ..., table: int | None = ...) -> list[Any]: ...
        def route_add(self, dst: str | None, prefixlen: int = ..., *, gateway: str | None = ...,
                      protocol: int | None = ..., family: int | None = ...,
                      replace: bool = ...) -> None: ...
        def route_del(self, dst: str | None, prefixlen: int = ..., *,
                      gateway: str | None = ..., family: int | None = ...) -> None: ...

__all__ = ["RTPROT_HUMANZ", "RT_TABLE_MAIN", "RouteAction", "desired_routes", "plan_routes",
           "Settings", "Reconciler"]

log = logging.getLogger("humanz.agent.reconcile")

# humanz's routing protocol number (rtmsg.rtm_protocol). linux/rtnetlink.h says values above
# RTPROT_STATIC (4) are not interpreted by the kernel and lists the ones in use (up to
# RTPROT_EIGRP 192); /etc/iproute2/rt_protos lists the same. 104 is in neither, nor is it the
# number Calico's routes carry (80). 104 is ASCII "h", for humanz. `ip route show proto 104`
# lists the agent's routes.
RTPROT_HUMANZ = 104
RT_TABLE_MAIN = 254   # linux/rtnetlink.h: enum rt_class_t


class RouteAction:
    """One step: ``add`` (a replace: creates or updates) or ``del`` of a route to ``dst/len``."""

    __slots__ = ("op", "family", "dst", "prefixlen", "gateway", "reason")

    def __init__(self, op: str, family: int, dst: str, prefixlen: int, gateway: str | None,
                 reason: str) -> None:
        self.op = op
        self.family = family
        self.dst = dst
        self.prefixlen = prefixlen
        self.gateway = gateway
        self.reason = reason

    def key(self) -> tuple[str, int, str, int, str | None]:
        return self.op, self.family, self.dst, self.prefixlen, self.gateway

    def __repr__(self) -> str:
        return "RouteAction(%s %s/%d via %s: %s)" % (self.op, self.dst, self.prefixlen,
                                                     self.gateway, self.reason)


def desired_routes(own_name: str, nodes: Iterable[Node],
                   ) -> tuple[dict[tuple[int, str, int], tuple[str, str]], list[str]]:
    """The routes to other nodes' pod CIDRs, and notes on nodes that cannot be routed (yet)."""
    routes: dict[tuple[int, str, int], tuple[str, str]] = {}
    notes: list[str] = []
    own_cidrs: set[str] = set()
    others: list[Node] = []
    for node in sorted(nodes, key=lambda n: n.name):
        if node.name == own_name:
            own_cidrs = {str(c) for c in node.pod_cidrs}
        else:
            others.append(node)
    for node in others:
        if not node.pod_cidrs:
            notes.append("node %s has no podCIDR yet; no route to it" % node.name)
        for cidr in node.pod_cidrs:
            gateway = node.internal_ip(cidr.family)
            key = (cidr.family, cidr.address, cidr.prefixlen)
            if gateway is None:
                notes.append("node %s has no IPv%d InternalIP; no route to its %s"
                             % (node.name, cidr.family, cidr))
            elif str(cidr) in own_cidrs:
                notes.append("node %s claims this node's pod CIDR %s; ignored"
                             % (node.name, cidr))
            elif key in routes:
                notes.append("nodes %s and %s both claim pod CIDR %s; routing to %s"
                             % (routes[key][1], node.name, cidr, routes[key][1]))
            else:
                routes[key] = (gateway, node.name)
    return routes, notes


def plan_routes(current: Iterable[RouteLike],
                wanted: dict[tuple[int, str, int], tuple[str, str]]) -> list[RouteAction]:
    """The deletes and adds that turn the current humanz routes into the wanted ones.

    ``current`` may hold every route of the host: only main-table routes marked
    ``RTPROT_HUMANZ`` are considered ours. Deletes come first, so that a CIDR moving between
    nodes never has two routes in flight.
    """
    have: dict[tuple[int, str, int], str | None] = {}
    deletes: list[RouteAction] = []
    for route in current:
        if route.protocol != RTPROT_HUMANZ or route.table != RT_TABLE_MAIN or route.dst is None:
            continue
        key = (route.family, route.dst, route.dst_len)
        want = wanted.get(key)
        if want is None:
            deletes.append(RouteAction("del", route.family, route.dst, route.dst_len,
                                       route.gateway, "no node has this pod CIDR any more"))
        elif key in have or want[0] != route.gateway:
            deletes.append(RouteAction("del", route.family, route.dst, route.dst_len,
                                       route.gateway, "node %s is now via %s" % (want[1], want[0])))
        else:
            have[key] = route.gateway
    adds = [RouteAction("add", family, dst, plen, gateway, "pod CIDR of node %s" % name)
            for (family, dst, plen), (gateway, name) in sorted(wanted.items())
            if (family, dst, plen) not in have]
    return deletes + adds


class Settings:
    """What the agent was told: who it is, the cluster network, and where the host files go."""

    __slots__ = ("node_name", "cluster_cidrs", "bridge", "network_name", "conf_path", "bin_dir",
                 "plugin_name", "host_root", "mtu")

    def __init__(self, node_name: str, cluster_cidrs: list[Cidr], *, bridge: str = "humanz0",
                 network_name: str = "humanz",
                 conf_path: str = "/etc/cni/net.d/10-humanz.conflist",
                 bin_dir: str = "/opt/cni/bin", plugin_name: str = "humanz-cni",
                 host_root: str = "/host", mtu: int | None = None) -> None:
        self.node_name = node_name
        self.cluster_cidrs = cluster_cidrs
        self.bridge = bridge
        self.network_name = network_name
        self.conf_path = conf_path
        self.bin_dir = bin_dir
        self.plugin_name = plugin_name
        self.host_root = host_root
        self.mtu = mtu


class Reconciler:
    """Applies the desired state; logs each change once, and each lasting condition once."""

    __slots__ = ("settings", "rtnl", "nft", "build_plugin", "_said", "_plugin", "errors",
                 "conf_written", "plugin_installed")

    def __init__(self, settings: Settings, rtnl: RtnlLike,
                 build_plugin: Callable[[hostfiles.HostPython, str], tuple[bytes, str, str]]
                 = hostfiles.build_plugin, nft: NftLike | None = None) -> None:
        self.settings = settings
        self.rtnl = rtnl
        self.nft = nft
        self.build_plugin = build_plugin
        self._said: set[str] = set()
        self._plugin: tuple[tuple[str, tuple[int, int]], bytes, str, str] | None = None
        self.errors: list[str] = []
        self.conf_written = False
        self.plugin_installed = False

    def reconcile(self, nodes: dict[str, Node]) -> list[str]:
        """One pass over everything; returns the errors of this pass (also in ``errors``)."""
        self.errors = []
        notes: list[str] = []
        own = nodes.get(self.settings.node_name)
        self._own_node(own, notes)
        self._routes(nodes.values(), notes)
        self._masquerade()
        self._say(notes)
        return self.errors

    def _say(self, notes: list[str]) -> None:
        """Log conditions when they appear (not on every pass) and when they clear."""
        current = set(notes)
        for note in notes:
            if note not in self._said:
                log.warning("%s", note)
        for note in sorted(self._said - current):
            log.info("resolved: %s", note)
        self._said = current

    def _error(self, message: str) -> None:
        log.error("%s", message)
        self.errors.append(message)

    # -- own node: plugin file, then conflist ---------------------------------------------------

    def _own_node(self, own: Node | None, notes: list[str]) -> None:
        s = self.settings
        python, reasons = hostfiles.find_host_python(s.host_root)
        if python is None:
            notes.append("no python3 >= %d.%d on the host (looked under %s: %s); the plugin "
                         "cannot run there, so no CNI config is written and the node stays "
                         "NotReady" % (hostfiles.MIN_PYTHON + (s.host_root or "/",
                                                               "; ".join(reasons))))
            return
        if not self._install_plugin(python):
            return
        if own is None:
            notes.append("node %s is not in the API (yet); no CNI config" % s.node_name)
            return
        if not own.pod_cidrs:
            notes.append("node %s has no podCIDR yet (is the controller manager run with "
                         "--allocate-node-cidrs and --cluster-cidr?); waiting, no CNI config"
                         % s.node_name)
            return
        data = hostfiles.conflist(s.network_name, s.bridge, own.pod_cidrs, s.cluster_cidrs,
                                  s.mtu)
        try:
            if hostfiles.atomic_write(s.conf_path, data):
                log.info("wrote %s for pod CIDRs %s", s.conf_path,
                         ", ".join(str(c) for c in own.pod_cidrs))
            self.conf_written = True
        except OSError as e:
            self._error("cannot write %s: %s" % (s.conf_path, e))

    def _install_plugin(self, python: hostfiles.HostPython) -> bool:
        path = os.path.join(self.settings.bin_dir, self.settings.plugin_name)
        try:
            data, stamp, how = self._built(python)
            if not hostfiles.plugin_up_to_date(path, stamp):
                hostfiles.atomic_write(path, data, 0o755)
                log.info("installed %s for %s: %s", path, python.path, how)
        except OSError as e:
            self._error("cannot install the plugin at %s: %s" % (path, e))
            return False
        self.plugin_installed = True
        return True

    def _built(self, python: hostfiles.HostPython) -> tuple[bytes, str, str]:
        """The plugin file for ``python``, built once (the package does not change under us)."""
        key = (python.path, python.version)
        if self._plugin is None or self._plugin[0] != key:
            data, stamp, how = self.build_plugin(python, self.settings.host_root)
            self._plugin = (key, data, stamp, how)
        return self._plugin[1], self._plugin[2], self._plugin[3]

    # -- routes to other nodes ------------------------------------------------------------------

    def _routes(self, nodes: Iterable[Node], notes: list[str]) -> None:
        wanted, route_notes = desired_routes(self.settings.node_name, nodes)
        notes.extend(route_notes)
        try:
            current = self.rtnl.routes()
        except OSError as e:
            self._error("cannot list routes: %s" % e)
            return
        for action in plan_routes(current, wanted):
            self._apply(action)

    # -- nftables: forward accept and masquerade for the pod network ---------------------------

    def _masquerade(self) -> None:
        if self.nft is None:
            return
        cidrs = self.settings.cluster_cidrs
        try:
            if masquerade.ensure(self.nft, cidrs):
                log.info("nftables: table inet %s, chains %s and %s set for %s", masquerade.TABLE,
                         masquerade.POSTROUTING, masquerade.FORWARD,
                         ", ".join(str(c) for c in cidrs))
        except OSError as e:
            self._error("nftables (masquerade/forward for %s): %s"
                        % (", ".join(str(c) for c in cidrs), e))

    def _apply(self, action: RouteAction) -> None:
        try:
            if action.op == "del":
                self.rtnl.route_del(action.dst, action.prefixlen, gateway=action.gateway,
                                    family=action.family)
            else:
                self.rtnl.route_add(action.dst, action.prefixlen, gateway=action.gateway,
                                    protocol=RTPROT_HUMANZ, family=action.family,
                                    replace=True)
        except OSError as e:
            self._error("%s route %s/%d via %s (%s) failed: %s" % (
                "delete" if action.op == "del" else "add", action.dst, action.prefixlen,
                action.gateway, action.reason, e))
            return
        log.info("%s route %s/%d via %s (%s)", "deleted" if action.op == "del" else "added",
                 action.dst, action.prefixlen, action.gateway, action.reason)
