"""CNI_ARGS: the ``K=V;K2=V2`` string a runtime may pass, parsed and checked.

The spec (1.1.0, "Parameters") defines CNI_ARGS as semicolon-separated key-value pairs. The
conventions document adds ``IgnoreUnknown``: when true, keys a plugin does not know are
ignored; otherwise, as the reference plugins do, an unknown key is an error, because a
runtime that asked for something humanz silently ignored would be worse off.
"""

from __future__ import annotations

from humanz.cni.errors import INVALID_ENV, CNIError

# Keys humanz understands. K8S_* are what Kubernetes runtimes always send; IP and MAC ask
# for a static address and a container MAC (CONVENTIONS.md, host-local and bridge).
KNOWN_KEYS = frozenset(("IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME",
                        "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID", "IP", "MAC"))

# The spellings of a boolean that the reference plugins (Go's strconv.ParseBool) accept.
_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))
_FALSE = frozenset(("0", "f", "F", "false", "FALSE", "False"))


class CniArgs:
    """The parsed CNI_ARGS. ``pairs`` keeps every key (known or not) in order."""

    __slots__ = ("pairs", "ignore_unknown", "ips", "mac")

    def __init__(self, pairs: list[tuple[str, str]], ignore_unknown: bool,
                 ips: list[str], mac: str | None) -> None:
        self.pairs = pairs
        self.ignore_unknown = ignore_unknown
        self.ips = ips
        self.mac = mac

    def get(self, key: str) -> str | None:
        """The last value given for ``key``, or None."""
        value = None
        for k, v in self.pairs:
            if k == key:
                value = v
        return value


def parse(text: str) -> CniArgs:
    """Parse CNI_ARGS; CNIError code 4 (naming CNI_ARGS and the pair) when it is malformed."""
    pairs: list[tuple[str, str]] = []
    for item in text.split(";"):
        if not item:
            continue  # tolerate "A=1;" and ";;"
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise CNIError(INVALID_ENV, "CNI_ARGS: invalid pair %r: expected KEY=VALUE" % item)
        pairs.append((key, value))
    ignore_unknown = False
    for key, value in pairs:
        if key == "IgnoreUnknown":
            ignore_unknown = _parse_bool(value)
    unknown = [k for k, _ in pairs if k not in KNOWN_KEYS]
    if unknown and not ignore_unknown:
        raise CNIError(INVALID_ENV, "CNI_ARGS: unknown key %s" % ", ".join(unknown),
                       "set IgnoreUnknown=1 to ignore keys humanz does not know")
    ips: list[str] = []
    mac = None
    for key, value in pairs:
        if key == "IP":
            ips.extend(v.strip() for v in value.split(",") if v.strip())
        elif key == "MAC":
            mac = value
    return CniArgs(pairs, ignore_unknown, ips, mac)


def _parse_bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CNIError(INVALID_ENV, "CNI_ARGS: IgnoreUnknown=%r is not a boolean" % value)
