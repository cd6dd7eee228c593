"""Allocate, release, list, garbage-collect and check addresses of one network's range sets.

Every function opens the network's store, takes its lock, does its work and lets go, so any
number of plugin processes (ADD, DEL, GC, STATUS) can run at once. Those that change the
store (allocate, release, gc) first remove what writers killed mid-write left in its ``tmp/``
(see store, "Leftovers").

Allocation, per range set (one address each; an IPv4 set plus an IPv6 set is dual-stack):

1. If the attachment (containerID, ifname) already holds an address of that set, it gets the
   same one back: a retried ADD is idempotent instead of leaking a second address. An address
   it holds that fits none of the configured sets (the config changed under a live container)
   or that differs from a requested one is a ConflictError: DEL it first.
2. A requested address (``requested``: CNI_ARGS ``IP=``, ``args.cni.ips``, ``runtimeConfig.ips``)
   must lie inside one set's ranges, not be a gateway, and be free; otherwise ConflictError.
   At most one per set. Requested addresses do not move the round-robin cursor.
3. Otherwise round-robin, like host-local: start after ``last_reserved_ip.<set>`` and walk the
   set's ranges in configured order, wrapping around, skipping each range's gateway. The first
   few candidates are checked on disk one by one (one ``open`` each: on a mostly free range the
   first or second candidate wins, whatever the subnet's size). If those are all taken, the
   store is listed once and the walk continues in memory against the listed names, which
   needs at most as many steps as there are reservations. Only a set that looks full is then
   re-checked on disk address by address (repairing unreadable files) before ExhaustedError;
   a full set has exactly as many addresses as reservations. Nothing costs more than
   O(reservations), never O(subnet size).

Nothing is written until every set has an address, so an ADD that fails on its second set
leaves nothing behind.
"""

from __future__ import annotations

from humanz.ipam import store
from humanz.ipam.errors import ConflictError, ExhaustedError, IPAMError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterable, Iterator, TypeVar

    from humanz.ipam.ranges import Range
    T = TypeVar("T")

# release/held/gc (DEL, CHECK, GC) never parse a range, so ``addr`` and ``ranges`` are imported
# by the functions that use them: a DEL does not pay for their import (~0.3 ms).

# How many candidates are checked on disk before listing the store instead.
PROBE_BUDGET = 32


class Allocation:
    """One address handed to an attachment, with what the plugin needs to configure it."""

    __slots__ = ("family", "address", "prefixlen", "gateway", "range_set")

    def __init__(self, family: int, address: str, prefixlen: int, gateway: str | None,
                 range_set: int) -> None:
        self.family = family
        self.address = address
        self.prefixlen = prefixlen
        self.gateway = gateway
        self.range_set = range_set

    def cidr(self) -> str:
        """``"100.64.1.2/24"``: the address with its subnet's prefix length."""
        return "%s/%d" % (self.address, self.prefixlen)

    def _key(self) -> tuple[int, str, int, str | None, int]:
        return (self.family, self.address, self.prefixlen, self.gateway, self.range_set)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Allocation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Allocation(%s gateway %s, range set %d)" % (self.cidr(), self.gateway,
                                                             self.range_set)


# -- public API -------------------------------------------------------------------------------

def allocate(data_dir: str, network: str, range_sets: list[list[Range]], container_id: str,
             ifname: str, requested: Iterable[str] = ()) -> list[Allocation]:
    """Give (container_id, ifname) one address from every range set, in set order."""
    from humanz.ipam.ranges import validate_range_sets
    validate_range_sets(range_sets)
    _check_attachment(container_id, ifname)
    wanted = _place_requested(network, range_sets, requested)
    st = store.open_store(data_dir, network, create=True)
    assert st is not None
    with st:
        st.remove_leftover_temps()
        held = _verified(st, container_id, ifname, _listed(st, container_id, ifname))
        chosen = _reuse_held(network, range_sets, held, wanted, container_id, ifname)
        fresh: list[int] = []
        for index, ranges in enumerate(range_sets):
            if index in chosen:
                continue
            if index in wanted:
                chosen[index] = _take_requested(st, network, ranges, wanted[index])
            else:
                chosen[index] = _pick_free(st, network, index, ranges)
            fresh.append(index)
        texts = [ranges[0].format(chosen[i]) for i, ranges in enumerate(range_sets)]
        try:
            _commit(st, container_id, ifname, texts, fresh, wanted)
        except BaseException:
            _undo_commit(st, container_id, ifname, texts, fresh, held)
            raise
    return [_allocation(i, ranges, chosen[i]) for i, ranges in enumerate(range_sets)]


def release(data_dir: str, network: str, container_id: str, ifname: str) -> list[str]:
    """Free every address (container_id, ifname) holds; returns them. Nothing held is fine."""
    _check_attachment(container_id, ifname)
    st = store.open_store(data_dir, network, create=False)
    if st is None:
        return []
    with st:
        st.remove_leftover_temps()
        owner = (container_id, ifname)
        released = []
        for ip in _listed(st, container_id, ifname):
            if st.owner(ip) == owner:
                st.unreserve(ip)
                released.append(ip)
        st.remove_record(container_id, ifname)
    return released


def held(data_dir: str, network: str, container_id: str, ifname: str) -> list[str]:
    """Addresses (container_id, ifname) holds right now, in the order they were recorded."""
    _check_attachment(container_id, ifname)
    st = store.open_store(data_dir, network, create=False)
    if st is None:
        return []
    with st:
        return _verified(st, container_id, ifname, _listed(st, container_id, ifname))


def gc(data_dir: str, network: str, valid: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Release every reservation whose (containerID, ifname) is not in ``valid``.

    Also removes leftovers of killed writers (``tmp/``, and an older version's ``.tmp.*``
    files) and unreadable files nobody valid claims. Keeps going after a failure; returns
    (released addresses, error messages).
    """
    st = store.open_store(data_dir, network, create=False)
    if st is None:
        return [], []
    released: list[str] = []
    errors: list[str] = []
    with st:
        st.remove_leftover_temps()
        claimed = _gc_records(st, valid, errors)
        names: list[str] = _try(errors, st.names, [])
        for name in names:
            _try(errors, lambda: _gc_entry(st, name, valid, claimed, released), None)
    return released, errors


def status(data_dir: str, network: str, range_sets: list[list[Range]]) -> None:
    """Return when an ADD could succeed now; raise ExhaustedError when a range set has no free
    address, StoreError when the store cannot be created, locked or written."""
    from humanz.ipam.ranges import validate_range_sets
    validate_range_sets(range_sets)
    st = store.open_store(data_dir, network, create=True)
    assert st is not None
    with st:
        st.check_writable()
        for index, ranges in enumerate(range_sets):
            _pick_free(st, network, index, ranges)


# -- allocation steps -------------------------------------------------------------------------

def _check_attachment(container_id: str, ifname: str) -> None:
    """The IDs end up in file contents, one per line: refuse what would corrupt a record."""
    for what, value in (("container ID", container_id), ("interface name", ifname)):
        if not isinstance(value, str) or not value:
            raise IPAMError("IPAM: the %s must be a non-empty string" % what)
        if "\n" in value or "\r" in value or "\0" in value:
            raise IPAMError("IPAM: the %s %r contains a line break or NUL" % (what, value))


def _place_requested(network: str, range_sets: list[list[Range]],
                     requested: Iterable[str]) -> dict[int, int]:
    """Map each requested address to the index of the set whose ranges contain it."""
    from humanz.ipam import addr
    wanted: dict[int, int] = {}
    for text in requested:
        try:
            family, value = addr.parse_ip(text)
        except ValueError as err:
            raise ConflictError("network %r: requested address: %s" % (network, err)) from None
        index = _set_of(range_sets, family, value)
        if index is None:
            raise ConflictError("network %r: requested address %s is outside every configured "
                                "range (%s)" % (network, text, _describe_sets(range_sets)))
        if index in wanted:
            raise ConflictError("network %r: requested addresses %s and %s both fall in range "
                                "set %d; one address per set" % (
                                    network, range_sets[index][0].format(wanted[index]), text,
                                    index))
        for rng in range_sets[index]:
            if value == rng.gateway:
                raise ConflictError("network %r: requested address %s is the gateway of %s"
                                    % (network, text, rng.subnet_text()))
        wanted[index] = value
    return wanted


def _reuse_held(network: str, range_sets: list[list[Range]], held: list[str],
                wanted: dict[int, int], container_id: str, ifname: str) -> dict[int, int]:
    """Addresses the attachment already holds, by set index (idempotent ADD)."""
    from humanz.ipam import addr
    chosen: dict[int, int] = {}
    for text in held:
        family, value = addr.parse_ip(text)
        index = _set_of(range_sets, family, value)
        if index is None or index in chosen:
            raise ConflictError("network %r: container %s interface %s already holds %s, which "
                                "does not fit the configured ranges (%s); delete it (CNI DEL) "
                                "first" % (network, container_id, ifname, text,
                                           _describe_sets(range_sets)))
        if index in wanted and wanted[index] != value:
            raise ConflictError("network %r: container %s interface %s already holds %s, not "
                                "the requested %s" % (network, container_id, ifname, text,
                                                      range_sets[index][0].format(wanted[index])))
        chosen[index] = value
    return chosen


def _take_requested(st: store.Store, network: str, ranges: list[Range], value: int) -> int:
    """A requested address, if free."""
    if _probe(st, ranges[0].format(value)):
        raise ConflictError("network %r: requested address %s is already in use"
                            % (network, ranges[0].format(value)))
    return value


def _pick_free(st: store.Store, network: str, index: int, ranges: list[Range]) -> int:
    """The next free address of set ``index`` after its round-robin cursor."""
    cursor = _cursor(st, index, ranges)
    fmt = ranges[0].format
    candidates = _candidates(ranges, cursor)
    for probes, value in enumerate(candidates):
        if not _probe(st, fmt(value)):
            return value
        if probes + 1 >= PROBE_BUDGET:
            break
    else:
        raise _exhausted(network, index, ranges)
    # A dense block: list the store once and walk on in memory. Every step skips a name that
    # exists, so this ends after at most (reservations + 1) steps, whatever the subnet's size.
    names = set(st.names())
    for value in candidates:
        text = fmt(value)
        if text not in names and not _probe(st, text):
            return value
    # Apparently full. Before saying so, check every address on disk once more: _probe
    # repairs unreadable files, so garbage never makes a range look exhausted. (The set being
    # full, this costs as many probes as there are reservations in it.)
    for value in _candidates(ranges, cursor):
        if not _probe(st, fmt(value)):
            return value
    raise _exhausted(network, index, ranges)


def _commit(st: store.Store, container_id: str, ifname: str, texts: list[str],
            fresh: list[int], wanted: dict[int, int]) -> None:
    """Write the record first, then the address files, then move the cursors (see store)."""
    st.write_record(container_id, ifname, texts)
    for index in fresh:
        st.reserve(texts[index], container_id, ifname)
    for index in fresh:
        if index not in wanted:
            st.set_last_reserved(index, texts[index])


def _undo_commit(st: store.Store, container_id: str, ifname: str, texts: list[str],
                 fresh: list[int], held: list[str]) -> None:
    """A write of ``_commit`` failed (disk full, read-only): take back what it wrote, so a
    failed ADD leaves no half-made reservation. Removing files works on a full disk; if even
    that fails, the order of ``_commit`` still leaves a store that DEL or GC cleans up."""
    owner = (container_id, ifname)
    try:
        for index in fresh:
            if st.owner(texts[index]) == owner:
                st.unreserve(texts[index])
        st.write_record(container_id, ifname, held)  # the record as it was (none if empty)
    except (IPAMError, OSError):
        pass


def _allocation(index: int, ranges: list[Range], value: int) -> Allocation:
    rng = _range_of(ranges, value)
    return Allocation(rng.family, rng.format(value), rng.prefixlen, rng.format(rng.gateway),
                      index)


# -- walking a range set ----------------------------------------------------------------------

def _cursor(st: store.Store, index: int, ranges: list[Range]) -> int | None:
    """The last address handed out from this set, if it still lies in one of its ranges."""
    from humanz.ipam import addr
    text = st.last_reserved(index)
    if text is None:
        return None
    try:
        family, value = addr.parse_ip(text)
    except ValueError:
        return None
    if family != ranges[0].family or _range_index(ranges, value) is None:
        return None
    return value


def _candidates(ranges: list[Range], cursor: int | None) -> Iterator[int]:
    """Every allocatable address of the set exactly once, starting right after ``cursor``
    (or at the first range's start), through the ranges in order, wrapping around."""
    first = _range_index(ranges, cursor) if cursor is not None else None
    if first is None or cursor is None:
        spans = [(rng, rng.start, rng.end) for rng in ranges]
    else:
        rng = ranges[first]
        spans = [(rng, cursor + 1, rng.end)]
        spans += [(r, r.start, r.end) for r in ranges[first + 1:] + ranges[:first]]
        spans.append((rng, rng.start, cursor))
    for rng, low, high in spans:
        gateway = rng.gateway
        for value in range(low, high + 1):
            if value != gateway:
                yield value


def _probe(st: store.Store, ip: str) -> bool:
    """True when ``ip`` is taken. An unreadable address file is repaired: rewritten for the
    attachment whose record lists it, otherwise removed (so garbage never fills a range)."""
    owner = st.owner(ip)
    if owner is None:
        return False
    if not isinstance(owner, store.Unreadable):
        return True
    claimant = _claimant(st, ip)
    if claimant is None:
        st.unreserve(ip)
        return False
    st.reserve(ip, claimant[0], claimant[1])
    return True


def _claimant(st: store.Store, ip: str) -> tuple[str, str] | None:
    """The attachment whose record lists ``ip`` (slow path: reads every record)."""
    for name in st.record_names():
        parsed = st.read_record_file(name)
        if parsed is not None and not isinstance(parsed, store.Unreadable) and ip in parsed[2]:
            return parsed[0], parsed[1]
    return None


def _capacity(ranges: list[Range]) -> int:
    return sum(rng.size() for rng in ranges)


def _exhausted(network: str, index: int, ranges: list[Range]) -> ExhaustedError:
    return ExhaustedError("network %r: no free address left in range set %d (%s, %d addresses)"
                          % (network, index, ", ".join(r.describe() for r in ranges),
                             _capacity(ranges)))


# -- attachments ------------------------------------------------------------------------------

def _listed(st: store.Store, container_id: str, ifname: str) -> list[str]:
    """Addresses the attachment's record lists. An unreadable record (should never happen:
    records are renamed into place) is rebuilt from the address files (slow path)."""
    listed = st.record(container_id, ifname)
    if listed is None:
        return []
    if isinstance(listed, store.Unreadable):
        listed = [name for name in st.names()
                  if _is_address(name) and st.owner(name) == (container_id, ifname)]
        st.write_record(container_id, ifname, listed)
    return listed


def _verified(st: store.Store, container_id: str, ifname: str, listed: list[str]) -> list[str]:
    """The listed addresses whose file really names this attachment."""
    return [ip for ip in listed if st.owner(ip) == (container_id, ifname)]


def _gc_records(st: store.Store, valid: set[tuple[str, str]],
                errors: list[str]) -> dict[str, tuple[str, str]]:
    """Drop records of attachments not in ``valid``; return address → owner for valid ones."""
    claimed: dict[str, tuple[str, str]] = {}
    names: list[str] = _try(errors, st.record_names, [])
    for name in names:
        parsed = _try(errors, lambda: st.read_record_file(name), None)
        if parsed is not None and not isinstance(parsed, store.Unreadable) \
                and (parsed[0], parsed[1]) in valid:
            for ip in parsed[2]:
                claimed[ip] = (parsed[0], parsed[1])
        else:
            _try(errors, lambda: st.remove_record_file(name), None)
    return claimed


def _gc_entry(st: store.Store, name: str, valid: set[tuple[str, str]],
              claimed: dict[str, tuple[str, str]], released: list[str]) -> None:
    """Collect one directory entry: an older version's leftover temp file, or an address not
    validly held."""
    if name.startswith(store.LEGACY_TEMP_PREFIX):
        st.remove_legacy_temp(name)
        return
    if not _is_address(name):
        return
    owner = st.owner(name)
    if owner is None:
        return
    if isinstance(owner, store.Unreadable):
        if name in claimed:
            st.reserve(name, claimed[name][0], claimed[name][1])
            return
    elif owner in valid:
        return
    st.unreserve(name)
    released.append(name)


# -- small helpers ----------------------------------------------------------------------------

def _is_address(name: str) -> bool:
    from humanz.ipam import addr
    try:
        family, value = addr.parse_ip(name)
    except ValueError:
        return False
    return addr.format_ip(family, value) == name


def _set_of(range_sets: list[list[Range]], family: int, value: int) -> int | None:
    for index, ranges in enumerate(range_sets):
        if ranges[0].family == family and _range_index(ranges, value) is not None:
            return index
    return None


def _range_index(ranges: list[Range], value: int) -> int | None:
    for index, rng in enumerate(ranges):
        if rng.start <= value <= rng.end:
            return index
    return None


def _range_of(ranges: list[Range], value: int) -> Range:
    index = _range_index(ranges, value)
    assert index is not None
    return ranges[index]


def _describe_sets(range_sets: list[list[Range]]) -> str:
    return "; ".join(", ".join(r.describe() for r in ranges) for ranges in range_sets)


def _try(errors: list[str], action: Callable[[], T], fallback: T) -> T:
    """Run ``action``; on an IPAM or OS error note its message and return ``fallback``."""
    try:
        return action()
    except (IPAMError, OSError) as err:
        errors.append(str(err))
        return fallback
