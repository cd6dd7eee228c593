"""The network configuration on stdin, parsed and checked once, into a ``NetConf``.

Three shapes are accepted (all may carry ``prevResult``, ``runtimeConfig``, ``args``):

- the seed's config: top-level ``subnet`` (and ``network``, the cluster CIDR): built-in IPAM
  on ``subnet``, the bridge acts as gateway and the pod gets a default route through it;
- the reference bridge plugin's fields with an ``ipam`` block in host-local's schema
  (``ranges`` of range sets, legacy ``subnet``/``rangeStart``/``rangeEnd``/``gateway``,
  ``routes``, ``dataDir``, ``resolvConf``); ``ipam.type`` absent or ``humanz`` means the
  built-in IPAM, any other type is a plugin executed from CNI_PATH (see delegate.py);
- no addresses at all (no ``ipam``, no ``subnet``, or ``"ipam": {}``): a layer-2 attachment.

Every problem is a CNIError: 7 naming the field (``ipam.ranges[0][1].rangeEnd: ...``), 2 for
a field whose value humanz understands but does not support yet (``vlan``). DEL and GC read
strictly only what teardown needs (name, the IPAM's type and store, ipMasq): the config may
have been edited since the ADD, and a field that only matters for building the network must
not keep an attachment from being released.
"""

from __future__ import annotations

from humanz.cni.errors import INVALID_CONFIG, INVALID_ENV, UNSUPPORTED_FIELD, CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from humanz.cni.args import CniArgs
    from humanz.cni.result import DNS
    from humanz.ipam.ranges import Range

DEFAULT_BRIDGE = "cni0"                      # the reference bridge plugin's default
DEFAULT_DATA_DIR = "/run/humanz/networks"    # tmpfs: reservations die with a reboot, as pods do
DEFAULT_LOG_FILE = "/var/log/humanz-cni.log"
TRACE_ENV = "HUMANZ_TRACE"                   # one-off trace: a file path, or 1 (see trace.py)
TRACE_SUFFIX = ".trace"                      # "trace": true writes to <logFile>.trace
LOG_LEVELS = ("error", "info", "debug")      # error: failures only; info: every operation
BUILTIN_IPAM = "humanz"

# Teardown commands need only the network name, the IPAM's type and store, and ipMasq: DEL and
# GC must work even when the rest of the config (ranges included) changed or became invalid
# since the ADD.
_TEARDOWN = ("DEL", "GC")

_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_REST = _NAME_FIRST | frozenset("_.-")
_HEX = frozenset("0123456789abcdefABCDEF")


def valid_name(text: str) -> bool:
    """The spec's pattern for network names and container IDs:
    ``^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$``."""
    return bool(text) and text[0] in _NAME_FIRST and all(c in _NAME_REST for c in text)


def ifname_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Linux interface name (None if it can), as the spec's
    reference library checks it: 1-15 bytes, not ``.``/``..``, no ``/``, ``:`` or whitespace;
    and no ``%``, which the kernel would expand ("eth%d" becomes "eth0"): an interface or
    bridge created under another name than asked cannot be found again, or deleted."""
    if not name:
        return "is empty"
    if len(name.encode("utf-8", "surrogateescape")) > 15:
        return "%r is longer than 15 characters" % name
    if name in (".", ".."):
        return "%r is not allowed" % name
    for c in name:
        if c in "/:" or c.isspace():
            return "%r contains %r" % (name, c)
    if "%" in name:  # the kernel expands "eth%d" to a free name of its choosing (dev_alloc_name)
        return "%r contains '%%': the kernel would treat it as a name template" % name
    return None


class RouteConf:
    """One ``ipam.routes`` entry, canonical: destination network, prefix length, gateway."""

    __slots__ = ("family", "dst", "prefixlen", "gw")

    def __init__(self, family: int, dst: str, prefixlen: int, gw: str | None) -> None:
        self.family = family
        self.dst = dst
        self.prefixlen = prefixlen
        self.gw = gw

    def cidr(self) -> str:
        return "%s/%d" % (self.dst, self.prefixlen)


class IPAMConf:
    """Where addresses come from. ``kind``: ``builtin``, ``delegate`` (plugin ``type``), or
    ``none`` (layer 2 only)."""

    __slots__ = ("kind", "type", "range_sets", "routes", "data_dir", "resolv_conf",
                 "requested_ips")

    def __init__(self, kind: str, type: str = "", range_sets: list[list[Range]] | None = None,
                 routes: list[RouteConf] | None = None, data_dir: str = DEFAULT_DATA_DIR,
                 resolv_conf: str = "", requested_ips: list[str] | None = None) -> None:
        self.kind = kind
        self.type = type
        self.range_sets = range_sets or []
        self.routes = routes or []
        self.data_dir = data_dir
        self.resolv_conf = resolv_conf
        self.requested_ips = requested_ips or []


class NetConf:
    """The whole configuration, checked. ``raw`` is the parsed JSON as received."""

    __slots__ = ("raw", "cni_version", "name", "type", "bridge", "is_gateway",
                 "is_default_gateway", "force_address", "ip_masq", "mtu", "hairpin_mode",
                 "promisc_mode", "port_isolation", "enable_dad", "network", "ipam", "dns",
                 "log_file", "log_level", "trace", "mac", "prev_result",
                 "valid_attachments")

    def __init__(self, raw: dict[str, Any], cni_version: str, name: str, type: str) -> None:
        self.raw = raw
        self.cni_version = cni_version
        self.name = name
        self.type = type
        self.bridge = DEFAULT_BRIDGE
        self.is_gateway = False
        self.is_default_gateway = False
        self.force_address = False
        self.ip_masq = False
        self.mtu = 0
        self.hairpin_mode = False
        self.promisc_mode = False
        self.port_isolation = False
        self.enable_dad = False
        self.network: str | None = None
        self.ipam = IPAMConf("none")
        self.dns: DNS | None = None
        self.log_file = DEFAULT_LOG_FILE
        self.log_level = "info"
        self.trace = ""  # where to write the trace of this operation; "" = off
        self.mac: str | None = None
        self.prev_result: dict[str, Any] | None = None
        self.valid_attachments: set[tuple[str, str]] | None = None


def parse(raw: dict[str, Any], cni_version: str, command: str, cni_args: CniArgs) -> NetConf:
    """Check ``raw`` (already known to carry a supported ``cniVersion``) for ``command``."""
    name = _str(raw, "name")
    if not name:
        raise CNIError(INVALID_CONFIG, "name: missing network name")
    if not valid_name(name):
        raise CNIError(INVALID_CONFIG, "name: %r is not a valid network name" % name,
                       "must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$")
    ptype = _str(raw, "type")
    if not ptype:
        raise CNIError(INVALID_CONFIG, "type: missing plugin type")
    conf = NetConf(raw, cni_version, name, ptype)
    _parse_logging(conf, raw)
    conf.ip_masq = _bool(raw, "ipMasq", False)   # DEL and GC need it: which rules to remove
    _unless_teardown(command, _parse_bridge_fields, conf, raw, command)
    _parse_addressing(conf, raw, command, cni_args)
    _unless_teardown(command, _parse_mac, conf, raw, cni_args)
    _unless_teardown(command, _parse_dns, conf, raw)
    prev = raw.get("prevResult")
    if prev is not None and not isinstance(prev, dict):
        raise CNIError(INVALID_CONFIG, "prevResult: must be an object")
    conf.prev_result = prev
    if command == "GC":
        conf.valid_attachments = _parse_attachments(raw)
    return conf


def _unless_teardown(command: str, step: Callable[..., None], *args: Any) -> None:
    """Run a parsing ``step`` whose fields only matter for building the network. For DEL and
    GC a problem in them is ignored: the config may have been edited since the ADD, and
    teardown must still release what the ADD took (it reads name, ipam and ipMasq strictly)."""
    try:
        step(*args)
    except CNIError:
        if command not in _TEARDOWN:
            raise


def _parse_dns(conf: NetConf, raw: dict[str, Any]) -> None:
    dns = raw.get("dns")
    if dns is not None:
        from humanz.cni.result import DNS
        try:
            conf.dns = DNS.from_dict(dns)
        except ValueError as err:
            raise CNIError(INVALID_CONFIG, str(err)) from None


# ---- the bridge plugin's own fields --------------------------------------------------------

def _parse_logging(conf: NetConf, raw: dict[str, Any]) -> None:
    log_file = _str(raw, "logFile")
    if log_file is not None:
        conf.log_file = log_file
    level = _str(raw, "logLevel")
    if level is not None:
        if level not in LOG_LEVELS:
            raise CNIError(INVALID_CONFIG, "logLevel: %r is not one of %s"
                           % (level, ", ".join(LOG_LEVELS)))
        conf.log_level = level
    conf.trace = _trace_file(raw.get("trace"), conf.log_file)


def _trace_file(value: object, log_file: str) -> str:
    """``"trace"``: a file path, or true for ``<logFile>.trace`` (the log itself stays one
    JSON object per line); false, "" or absent: off."""
    if value is None or value is False or value == "":
        return ""
    if value is True:
        return (log_file or DEFAULT_LOG_FILE) + TRACE_SUFFIX
    if not isinstance(value, str) or not value.startswith("/"):
        raise CNIError(INVALID_CONFIG, "trace: must be an absolute file path or true/false")
    return value


def _parse_bridge_fields(conf: NetConf, raw: dict[str, Any], command: str) -> None:
    bridge = _str(raw, "bridge")
    if bridge is not None:
        problem = ifname_problem(bridge)
        if problem:
            raise CNIError(INVALID_CONFIG, "bridge: %s" % problem)
        conf.bridge = bridge
    conf.is_gateway = _bool(raw, "isGateway", False)
    conf.is_default_gateway = _bool(raw, "isDefaultGateway", False)
    if conf.is_default_gateway:
        conf.is_gateway = True  # a default gateway must be a gateway (reference behaviour)
    conf.force_address = _bool(raw, "forceAddress", False)
    conf.hairpin_mode = _bool(raw, "hairpinMode", False)
    conf.promisc_mode = _bool(raw, "promiscMode", False)
    conf.port_isolation = _bool(raw, "portIsolation", False)
    conf.enable_dad = _bool(raw, "enabledad", False)
    if conf.hairpin_mode and conf.promisc_mode:
        raise CNIError(INVALID_CONFIG, "hairpinMode, promiscMode: cannot both be true",
                       "the reference bridge plugin refuses this combination too")
    mtu = _int(raw, "mtu")
    if mtu:
        if not 68 <= mtu <= 65535:
            raise CNIError(INVALID_CONFIG, "mtu: %d is outside 68..65535" % mtu)
        conf.mtu = mtu
    # Understood but not implemented: refuse on the commands that would need them, so that a
    # DEL or GC of an attachment still works.
    if command in ("ADD", "CHECK", "STATUS"):
        if _int(raw, "vlan"):
            raise CNIError(UNSUPPORTED_FIELD, "vlan: not supported yet")
        if raw.get("vlanTrunk"):
            raise CNIError(UNSUPPORTED_FIELD, "vlanTrunk: not supported yet")
        if _bool(raw, "macspoofchk", False):
            raise CNIError(UNSUPPORTED_FIELD, "macspoofchk: not supported yet")
        if _bool(raw, "disableContainerInterface", False):
            raise CNIError(UNSUPPORTED_FIELD, "disableContainerInterface: not supported yet")


# ---- addressing: the seed's subnet, or an ipam block --------------------------------------

def _parse_addressing(conf: NetConf, raw: dict[str, Any], command: str,
                      cni_args: CniArgs) -> None:
    _unless_teardown(command, _parse_network, conf, raw)
    subnet = _str(raw, "subnet")
    ipam = raw.get("ipam")
    need_ranges = command not in _TEARDOWN
    if subnet is not None:
        if ipam is not None:
            raise CNIError(INVALID_CONFIG, "subnet: give either a top-level subnet or an "
                           "ipam block, not both")
        _parse_seed(conf, raw, subnet, need_ranges)
    elif ipam is not None:
        if not isinstance(ipam, dict):
            raise CNIError(INVALID_CONFIG, "ipam: must be an object")
        conf.ipam = _parse_ipam(ipam, raw, need_ranges)
    if conf.ipam.kind != "none" and need_ranges:     # DEL and GC request no address
        conf.ipam.requested_ips = _requested_ips(raw, cni_args)
    if conf.ipam.kind == "builtin" and need_ranges:
        _runtime_ip_ranges(conf, raw)
        _validate_sets(conf.ipam.range_sets, "ipam.ranges")


def _parse_network(conf: NetConf, raw: dict[str, Any]) -> None:
    network = _str(raw, "network")
    if network is not None:
        conf.network = _network_cidr(network, "network")


def _parse_seed(conf: NetConf, raw: dict[str, Any], subnet: str, need_ranges: bool) -> None:
    """The seed's config: subnet+1 is the gateway on the bridge and the pods' default route."""
    conf.is_gateway = _bool(raw, "isGateway", True)
    conf.is_default_gateway = _bool(raw, "isDefaultGateway", conf.is_gateway)
    if conf.is_default_gateway:
        conf.is_gateway = True  # as in _parse_bridge_fields: a default gateway is a gateway
    conf.ipam = IPAMConf("builtin")
    if not need_ranges:
        return
    rng = _range({"subnet": subnet}, "")
    if conf.network is not None and not _inside(rng, conf.network):
        raise CNIError(INVALID_CONFIG, "subnet: %s is not inside network %s"
                       % (rng.subnet_text(), conf.network))
    conf.ipam.range_sets = [[rng]]


def _parse_ipam(ipam: dict[str, Any], raw: dict[str, Any], need_ranges: bool) -> IPAMConf:
    itype = _str(ipam, "type", "ipam.type")
    if itype and itype != BUILTIN_IPAM:
        if itype in (".", "..") or "/" in itype or "\0" in itype:
            raise CNIError(INVALID_CONFIG, "ipam.type: %r is not a plugin name" % itype)
        if itype == raw.get("type"):  # it would exec itself with this config, endlessly
            raise CNIError(INVALID_CONFIG, "ipam.type: %r is this plugin itself; the built-in "
                           "IPAM is %r" % (itype, BUILTIN_IPAM))
        return IPAMConf("delegate", itype)
    has_ranges = ipam.get("ranges") is not None or ipam.get("subnet") is not None
    if not itype and not has_ranges and not ipam.get("routes"):
        return IPAMConf("none")  # "ipam": {} is the reference's layer-2-only bridge
    conf = IPAMConf("builtin", BUILTIN_IPAM)
    data_dir = _str(ipam, "dataDir", "ipam.dataDir")
    if data_dir is not None:
        if not data_dir.startswith("/"):
            raise CNIError(INVALID_CONFIG, "ipam.dataDir: %r is not an absolute path" % data_dir)
        conf.data_dir = data_dir
    conf.resolv_conf = _str(ipam, "resolvConf", "ipam.resolvConf") or ""
    if not need_ranges:
        return conf                 # DEL and GC: the name and the store are all they use
    conf.routes = _parse_routes(ipam.get("routes"))
    sets: list[list[Range]] = []
    if ipam.get("subnet") is not None:
        # host-local's legacy single range: it comes first, as its own range set.
        sets.append([_range(ipam, "ipam.")])
    sets.extend(_range_sets(ipam.get("ranges"), "ipam.ranges"))
    if not sets and not _dig(raw, "runtimeConfig").get("ipRanges"):
        raise CNIError(INVALID_CONFIG, "ipam.ranges: no address range is configured")
    conf.range_sets = sets
    return conf


def _range_sets(value: object, where: str) -> list[list[Range]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CNIError(INVALID_CONFIG, "%s: must be a list of range sets" % where)
    sets = []
    for i, rset in enumerate(value):
        if not isinstance(rset, list) or not rset:
            raise CNIError(INVALID_CONFIG, "%s[%d]: must be a non-empty list of ranges"
                           % (where, i))
        sets.append([_range(r, "%s[%d][%d]." % (where, i, j)) for j, r in enumerate(rset)])
    return sets


def _range(entry: object, prefix: str) -> Range:
    """One host-local range object → Range; errors name the field with its full path."""
    from humanz.ipam.errors import RangeError
    from humanz.ipam.ranges import Range
    if not isinstance(entry, dict):
        raise CNIError(INVALID_CONFIG, "%s: must be an object" % prefix.rstrip("."))
    fields = []
    for key in ("subnet", "rangeStart", "rangeEnd", "gateway"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise CNIError(INVALID_CONFIG, "%s%s: must be a string" % (prefix, key))
        fields.append(value)
    if not fields[0]:
        raise CNIError(INVALID_CONFIG, "%ssubnet: missing" % prefix)
    try:
        return Range.parse(fields[0], fields[1], fields[2], fields[3])
    except RangeError as err:
        raise CNIError(INVALID_CONFIG, "%s%s: %s" % (prefix, err.field, err.detail)) from None


def _validate_sets(sets: list[list[Range]], where: str) -> None:
    from humanz.ipam.errors import RangeError
    from humanz.ipam.ranges import validate_range_sets
    try:
        validate_range_sets(sets)
    except RangeError as err:
        raise CNIError(INVALID_CONFIG, "%s: %s" % (where, err.detail)) from None


def _runtime_ip_ranges(conf: NetConf, raw: dict[str, Any]) -> None:
    """runtimeConfig.ipRanges (capability "ipRanges") replaces the configured ranges."""
    rc = raw.get("runtimeConfig")
    if isinstance(rc, dict) and rc.get("ipRanges"):
        conf.ipam.range_sets = _range_sets(rc["ipRanges"], "runtimeConfig.ipRanges")


def _parse_routes(value: object) -> list[RouteConf]:
    from humanz.ipam import addr
    if value is None:
        return []
    if not isinstance(value, list):
        raise CNIError(INVALID_CONFIG, "ipam.routes: must be a list")
    routes = []
    for i, item in enumerate(value):
        where = "ipam.routes[%d]" % i
        if not isinstance(item, dict):
            raise CNIError(INVALID_CONFIG, "%s: must be an object" % where)
        dst = _str(item, "dst", where + ".dst")
        if not dst:
            raise CNIError(INVALID_CONFIG, "%s.dst: missing" % where)
        try:
            family, value_, plen = addr.parse_cidr(dst)
        except ValueError as err:
            raise CNIError(INVALID_CONFIG, "%s.dst: %s" % (where, err)) from None
        net = addr.format_ip(family, addr.network(family, value_, plen))
        gw_text = _str(item, "gw", where + ".gw")
        gw = None
        if gw_text:
            try:
                gw_family, gw_value = addr.parse_ip(gw_text)
            except ValueError as err:
                raise CNIError(INVALID_CONFIG, "%s.gw: %s" % (where, err)) from None
            if gw_family != family:
                raise CNIError(INVALID_CONFIG, "%s.gw: %s is IPv%d but dst %s is IPv%d"
                               % (where, gw_text, gw_family, dst, family))
            gw = addr.format_ip(gw_family, gw_value)
        routes.append(RouteConf(family, net, plen, gw))
    return routes


def _network_cidr(text: str, field: str) -> str:
    from humanz.ipam import addr
    try:
        family, value, plen = addr.parse_cidr(text)
    except ValueError as err:
        raise CNIError(INVALID_CONFIG, "%s: %s" % (field, err)) from None
    if addr.host_bits(family, value, plen):
        raise CNIError(INVALID_CONFIG, "%s: %s has host bits set" % (field, text))
    return addr.format_cidr(family, value, plen)


def _inside(rng: Range, network: str) -> bool:
    from humanz.ipam import addr
    family, value, plen = addr.parse_cidr(network)
    return (family == rng.family and plen <= rng.prefixlen
            and addr.network(family, rng.network, plen) == value)


# ---- what the runtime asks for: static IPs and a MAC --------------------------------------

def _requested_ips(raw: dict[str, Any], cni_args: CniArgs) -> list[str]:
    """IP= from CNI_ARGS, then args.cni.ips, then runtimeConfig.ips (host-local's order)."""
    from humanz.ipam import addr
    sources: list[tuple[str, list[str]]] = [("CNI_ARGS IP", cni_args.ips)]
    sources.append(("args.cni.ips", _str_list(_dig(raw, "args", "cni"), "ips", "args.cni.ips")))
    sources.append(("runtimeConfig.ips",
                    _str_list(_dig(raw, "runtimeConfig"), "ips", "runtimeConfig.ips")))
    out: list[str] = []
    for where, items in sources:
        for text in items:
            bare = text.partition("/")[0]
            try:
                family, value = addr.parse_ip(bare)
            except ValueError as err:
                code = INVALID_ENV if where == "CNI_ARGS IP" else INVALID_CONFIG
                raise CNIError(code, "%s: %s" % (where, err)) from None
            canonical = addr.format_ip(family, value)
            if canonical not in out:
                out.append(canonical)
    return out


def _parse_mac(conf: NetConf, raw: dict[str, Any], cni_args: CniArgs) -> None:
    """The container MAC: CNI_ARGS MAC, overridden by args.cni.mac, then runtimeConfig.mac."""
    candidates = [("CNI_ARGS MAC", cni_args.mac),
                  ("args.cni.mac", _str(_dig(raw, "args", "cni"), "mac", "args.cni.mac")),
                  ("runtimeConfig.mac", _str(_dig(raw, "runtimeConfig"), "mac",
                                             "runtimeConfig.mac"))]
    for where, mac in candidates:
        if not mac:
            continue
        canonical = canonical_mac(mac)
        if canonical is None:
            code = INVALID_ENV if where == "CNI_ARGS MAC" else INVALID_CONFIG
            raise CNIError(code, "%s: %r is not a unicast MAC address like 02:42:ac:11:00:02"
                           % (where, mac))
        conf.mac = canonical


def canonical_mac(text: str) -> str | None:
    """``"02:AA:..."`` → ``"02:aa:..."``; None unless six hex pairs, multicast bit clear."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and p[0] in _HEX and p[1] in _HEX for p in parts):
        return None
    if int(parts[0], 16) & 1:
        return None
    return ":".join(parts).lower()


def _parse_attachments(raw: dict[str, Any]) -> set[tuple[str, str]]:
    """GC's ``cni.dev/valid-attachments`` (or libcni's legacy ``cni.dev/attachments``); no
    list at all means no attachment is valid."""
    key = "cni.dev/valid-attachments"
    items = raw.get(key)
    if items is None:
        key = "cni.dev/attachments"
        items = raw.get(key)
    if items is None:
        return set()
    if not isinstance(items, list):
        raise CNIError(INVALID_CONFIG, "%s: must be a list" % key)
    valid = set()
    for i, item in enumerate(items):
        if (not isinstance(item, dict) or not isinstance(item.get("containerID"), str)
                or not isinstance(item.get("ifname"), str)):
            raise CNIError(INVALID_CONFIG, "%s[%d]: must be {\"containerID\": string, "
                           "\"ifname\": string}" % (key, i))
        valid.add((item["containerID"], item["ifname"]))
    return valid


# ---- small typed accessors ------------------------------------------------------------------

def _dig(raw: dict[str, Any], *keys: str) -> dict[str, Any]:
    """raw[k1][k2]... or {} when absent; code 7 when a level is not an object."""
    node: Any = raw
    path = []
    for key in keys:
        path.append(key)
        node = node.get(key)
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise CNIError(INVALID_CONFIG, "%s: must be an object" % ".".join(path))
    return node  # type: ignore[no-any-return]


def _str(raw: dict[str, Any], key: str, where: str | None = None) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise CNIError(INVALID_CONFIG, "%s: must be a string" % (where or key))
    return value


def _str_list(raw: dict[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CNIError(INVALID_CONFIG, "%s: must be a list of strings" % where)
    return value


def _bool(raw: dict[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CNIError(INVALID_CONFIG, "%s: must be true or false" % key)
    return value


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise CNIError(INVALID_CONFIG, "%s: must be an integer" % key)
    return value
