"""The result of an ADD, held once in a version-neutral form and written in any spec version.

Spec history that shapes the JSON (CNI spec, "Result" of each version):

- 0.1.0 / 0.2.0: ``{"ip4": {"ip", "gateway", "routes"}, "ip6": {...}, "dns"}`` — one address
  per family, routes filed under the family of their destination.
- 0.3.0 / 0.3.1 / 0.4.0: ``interfaces``, ``ips`` (each with ``version`` "4"/"6" and an
  ``interface`` index into ``interfaces``), ``routes``, ``dns``.
- 1.0.0: the same without ``ips[].version``.
- 1.1.0: adds ``interfaces[].mtu``/``socketPath``/``pciID`` and
  ``routes[].mtu``/``advmss``/``priority``/``table``/``scope``.

Empty lists are left out and ``dns`` is always present, as the reference plugins print them.
``Result.from_dict`` reads any of these forms (a chained ``prevResult``, a delegated IPAM
plugin's answer) and raises ``ValueError`` naming the bad field.
"""

from __future__ import annotations

from humanz.cni import version as _version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Interface:
    """One entry of ``interfaces``. ``sandbox`` is the netns path for a container's interface."""

    __slots__ = ("name", "mac", "sandbox", "mtu", "socket_path", "pci_id")

    def __init__(self, name: str, mac: str = "", sandbox: str = "", mtu: int = 0,
                 socket_path: str = "", pci_id: str = "") -> None:
        self.name = name
        self.mac = mac
        self.sandbox = sandbox
        self.mtu = mtu
        self.socket_path = socket_path
        self.pci_id = pci_id


class IPConfig:
    """One entry of ``ips``: an address in CIDR form, its gateway, and its interface index."""

    __slots__ = ("address", "gateway", "interface")

    def __init__(self, address: str, gateway: str | None = None,
                 interface: int | None = None) -> None:
        self.address = address
        self.gateway = gateway
        self.interface = interface

    @property
    def family(self) -> int:
        """4 or 6, from the address text."""
        return 6 if ":" in self.address else 4

    @property
    def ip(self) -> str:
        """The address without its prefix length."""
        return self.address.partition("/")[0]

    @property
    def prefixlen(self) -> int:
        return int(self.address.partition("/")[2])


class Route:
    """One entry of ``routes``: ``dst`` in CIDR form, optional ``gw`` and 1.1.0 extras."""

    __slots__ = ("dst", "gw", "mtu", "advmss", "priority", "table", "scope")

    def __init__(self, dst: str, gw: str | None = None, mtu: int = 0, advmss: int = 0,
                 priority: int = 0, table: int | None = None, scope: int | None = None) -> None:
        self.dst = dst
        self.gw = gw
        self.mtu = mtu
        self.advmss = advmss
        self.priority = priority
        self.table = table
        self.scope = scope

    @property
    def family(self) -> int:
        return 6 if ":" in self.dst else 4


class DNS:
    """The ``dns`` object: every field optional."""

    __slots__ = ("nameservers", "domain", "search", "options")

    def __init__(self, nameservers: list[str] | None = None, domain: str = "",
                 search: list[str] | None = None, options: list[str] | None = None) -> None:
        self.nameservers = nameservers or []
        self.domain = domain
        self.search = search or []
        self.options = options or []

    def is_empty(self) -> bool:
        return not (self.nameservers or self.domain or self.search or self.options)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.nameservers:
            out["nameservers"] = list(self.nameservers)
        if self.domain:
            out["domain"] = self.domain
        if self.search:
            out["search"] = list(self.search)
        if self.options:
            out["options"] = list(self.options)
        return out

    @classmethod
    def from_dict(cls, raw: object, where: str = "dns") -> DNS:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError("%s: must be an object" % where)
        return cls(_str_list(raw, "nameservers", where), _str(raw, "domain", where) or "",
                   _str_list(raw, "search", where), _str_list(raw, "options", where))


class Result:
    """An ADD result: interfaces, ips, routes, dns."""

    __slots__ = ("interfaces", "ips", "routes", "dns")

    def __init__(self, interfaces: list[Interface] | None = None,
                 ips: list[IPConfig] | None = None, routes: list[Route] | None = None,
                 dns: DNS | None = None) -> None:
        self.interfaces = interfaces or []
        self.ips = ips or []
        self.routes = routes or []
        self.dns = dns or DNS()

    # ---- writing -------------------------------------------------------------------------

    def to_dict(self, cni_version: str) -> dict[str, Any]:
        """The result as the spec version ``cni_version`` writes it."""
        if not _version.at_least(cni_version, "0.3.0"):
            return self._to_legacy(cni_version)
        with_version_field = not _version.at_least(cni_version, "1.0.0")
        extras = _version.at_least(cni_version, "1.1.0")
        out: dict[str, Any] = {"cniVersion": cni_version}
        if self.interfaces:
            out["interfaces"] = [_interface_dict(i, extras) for i in self.interfaces]
        if self.ips:
            out["ips"] = [_ip_dict(ip, with_version_field) for ip in self.ips]
        if self.routes:
            out["routes"] = [_route_dict(r, extras) for r in self.routes]
        out["dns"] = self.dns.to_dict()
        return out

    def _to_legacy(self, cni_version: str) -> dict[str, Any]:
        """0.1.0/0.2.0: the first address of each family, routes filed by family."""
        out: dict[str, Any] = {"cniVersion": cni_version}
        for family, key in ((4, "ip4"), (6, "ip6")):
            first = next((ip for ip in self.ips if ip.family == family), None)
            if first is None:
                continue
            entry: dict[str, Any] = {"ip": first.address}
            if first.gateway:
                entry["gateway"] = first.gateway
            routes = [_route_dict(r, False) for r in self.routes if r.family == family]
            if routes:
                entry["routes"] = routes
            out[key] = entry
        out["dns"] = self.dns.to_dict()
        return out

    # ---- reading -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: object, default_version: str, where: str = "result") -> Result:
        """Read a result in any spec version (its own ``cniVersion``, else the default)."""
        if not isinstance(raw, dict):
            raise ValueError("%s: must be a JSON object" % where)
        ver = raw.get("cniVersion", default_version)
        if not isinstance(ver, str) or ver not in _version.SUPPORTED:
            raise ValueError("%s.cniVersion: %r is not a version humanz reads" % (where, ver))
        if not _version.at_least(ver, "0.3.0"):
            return cls._from_legacy(raw, where)
        interfaces = [_read_interface(item, "%s.interfaces[%d]" % (where, n))
                      for n, item in enumerate(_list(raw, "interfaces", where))]
        ips = [_read_ip(item, "%s.ips[%d]" % (where, n), len(interfaces))
               for n, item in enumerate(_list(raw, "ips", where))]
        routes = [_read_route(item, "%s.routes[%d]" % (where, n))
                  for n, item in enumerate(_list(raw, "routes", where))]
        return cls(interfaces, ips, routes, DNS.from_dict(raw.get("dns"), where + ".dns"))

    @classmethod
    def _from_legacy(cls, raw: dict[str, Any], where: str) -> Result:
        ips: list[IPConfig] = []
        routes: list[Route] = []
        for key in ("ip4", "ip6"):
            entry = raw.get(key)
            if entry is None:
                continue
            here = "%s.%s" % (where, key)
            if not isinstance(entry, dict):
                raise ValueError("%s: must be an object" % here)
            address = _cidr(entry, "ip", here, required=True)
            assert address is not None
            ips.append(IPConfig(address, _ip(entry, "gateway", here)))
            routes.extend(_read_route(item, "%s.routes[%d]" % (here, n))
                          for n, item in enumerate(_list(entry, "routes", here)))
        return cls([], ips, routes, DNS.from_dict(raw.get("dns"), where + ".dns"))

    # ---- chaining ------------------------------------------------------------------------

    def appended_to(self, previous: Result) -> Result:
        """``previous`` followed by this result (interface indexes shifted): what a chained
        plugin returns when it adds interfaces to a prevResult."""
        offset = len(previous.interfaces)
        ips = list(previous.ips) + [
            IPConfig(ip.address, ip.gateway, None if ip.interface is None
                     else ip.interface + offset) for ip in self.ips]
        dns = self.dns if not self.dns.is_empty() else previous.dns
        return Result(previous.interfaces + self.interfaces, ips,
                      previous.routes + self.routes, dns)


def _interface_dict(i: Interface, extras: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": i.name}
    if i.mac:
        out["mac"] = i.mac
    if extras and i.mtu:
        out["mtu"] = i.mtu
    if i.sandbox:
        out["sandbox"] = i.sandbox
    if extras and i.socket_path:
        out["socketPath"] = i.socket_path
    if extras and i.pci_id:
        out["pciID"] = i.pci_id
    return out


def _ip_dict(ip: IPConfig, with_version_field: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_version_field:
        out["version"] = str(ip.family)
    if ip.interface is not None:
        out["interface"] = ip.interface
    out["address"] = ip.address
    if ip.gateway:
        out["gateway"] = ip.gateway
    return out


def _route_dict(r: Route, extras: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"dst": r.dst}
    if r.gw:
        out["gw"] = r.gw
    if extras:
        if r.mtu:
            out["mtu"] = r.mtu
        if r.advmss:
            out["advmss"] = r.advmss
        if r.priority:
            out["priority"] = r.priority
        if r.table is not None:
            out["table"] = r.table
        if r.scope is not None:
            out["scope"] = r.scope
    return out


def _read_interface(raw: object, where: str) -> Interface:
    if not isinstance(raw, dict):
        raise ValueError("%s: must be an object" % where)
    name = _str(raw, "name", where)
    if not name:
        raise ValueError("%s.name: missing" % where)
    return Interface(name, _str(raw, "mac", where) or "", _str(raw, "sandbox", where) or "",
                     _int(raw, "mtu", where) or 0, _str(raw, "socketPath", where) or "",
                     _str(raw, "pciID", where) or "")


def _read_ip(raw: object, where: str, n_interfaces: int) -> IPConfig:
    if not isinstance(raw, dict):
        raise ValueError("%s: must be an object" % where)
    address = _cidr(raw, "address", where, required=True)
    assert address is not None
    interface = _int(raw, "interface", where)
    if interface is not None and not 0 <= interface < n_interfaces:
        raise ValueError("%s.interface: %d is not an index into interfaces" % (where, interface))
    ver = raw.get("version")
    family = 6 if ":" in address else 4
    if ver is not None and ver != str(family):
        raise ValueError("%s.version: %r does not match address %s" % (where, ver, address))
    return IPConfig(address, _ip(raw, "gateway", where), interface)


def _read_route(raw: object, where: str) -> Route:
    if not isinstance(raw, dict):
        raise ValueError("%s: must be an object" % where)
    dst = _cidr(raw, "dst", where, required=True)
    assert dst is not None
    return Route(dst, _ip(raw, "gw", where), _int(raw, "mtu", where) or 0,
                 _int(raw, "advmss", where) or 0, _int(raw, "priority", where) or 0,
                 _int(raw, "table", where), _int(raw, "scope", where))


def _list(raw: dict[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("%s.%s: must be a list" % (where, key))
    return value


def _str(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError("%s.%s: must be a string" % (where, key))
    return value


def _str_list(raw: dict[str, Any], key: str, where: str) -> list[str]:
    items = _list(raw, key, where)
    if not all(isinstance(v, str) for v in items):
        raise ValueError("%s.%s: must be a list of strings" % (where, key))
    return items


def _int(raw: dict[str, Any], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError("%s.%s: must be an integer" % (where, key))
    return value


def _ip(raw: dict[str, Any], key: str, where: str) -> str | None:
    from humanz.ipam.addr import format_ip, parse_ip
    text = _str(raw, key, where)
    if not text:
        return None
    try:
        family, value = parse_ip(text)
    except ValueError as err:
        raise ValueError("%s.%s: %s" % (where, key, err)) from None
    return format_ip(family, value)


def _cidr(raw: dict[str, Any], key: str, where: str, required: bool = False) -> str | None:
    from humanz.ipam.addr import format_cidr, parse_cidr
    text = _str(raw, key, where)
    if not text:
        if required:
            raise ValueError("%s.%s: missing" % (where, key))
        return None
    try:
        family, value, prefixlen = parse_cidr(text)
    except ValueError as err:
        raise ValueError("%s.%s: %s" % (where, key, err)) from None
    return format_cidr(family, value, prefixlen)
