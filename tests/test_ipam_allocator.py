"""humanz.ipam.allocator and store: allocation order, round robin, static requests, dual-stack,
exhaustion, release/held/gc, idempotence, permissions and crash leftovers (files only, no kernel).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from humanz.ipam import allocator, store
from humanz.ipam.errors import ConflictError, ExhaustedError, IPAMError, RangeError, StoreError
from humanz.ipam.ranges import Range

NET = "testnet"


def v4(subnet: str = "100.64.1.0/24", start: str | None = None,
       end: str | None = None) -> list[list[Range]]:
    return [[Range.parse(subnet, start, end)]]


def addrs(allocs: list[allocator.Allocation]) -> list[str]:
    return [a.address for a in allocs]


def alloc(data: Path, sets: list[list[Range]], cid: str, ifname: str = "eth0",
          requested: tuple[str, ...] = ()) -> list[str]:
    return addrs(allocator.allocate(str(data), NET, sets, cid, ifname, requested))


def netdir(data: Path) -> Path:
    return data / NET


# -- allocation order and round robin ---------------------------------------------------------

def test_first_allocation_skips_network_and_gateway(tmp_path: Path) -> None:
    got = allocator.allocate(str(tmp_path), NET, v4(), "c1", "eth0")
    assert got == [allocator.Allocation(4, "100.64.1.2", 24, "100.64.1.1", 0)]
    assert got[0].cidr() == "100.64.1.2/24"
    assert (netdir(tmp_path) / "100.64.1.2").read_bytes() == b"c1\neth0\n"
    assert (netdir(tmp_path) / "last_reserved_ip.0").read_text().strip() == "100.64.1.2"


def test_sequential_then_round_robin_not_lowest_free(tmp_path: Path) -> None:
    sets = v4()
    assert [alloc(tmp_path, sets, "c%d" % i)[0] for i in range(3)] == \
        ["100.64.1.2", "100.64.1.3", "100.64.1.4"]
    allocator.release(str(tmp_path), NET, "c0", "eth0")
    # .2 is free again but round robin continues after the last reservation
    assert alloc(tmp_path, sets, "c3") == ["100.64.1.5"]


def test_round_robin_wraps_and_skips_gateway(tmp_path: Path) -> None:
    sets = v4("100.64.0.0/29")  # hands out .2-.6
    got = [alloc(tmp_path, sets, "c%d" % i)[0] for i in range(5)]
    assert got == ["100.64.0.%d" % i for i in range(2, 7)]
    allocator.release(str(tmp_path), NET, "c1", "eth0")  # frees .3
    allocator.release(str(tmp_path), NET, "c3", "eth0")  # frees .5
    assert alloc(tmp_path, sets, "x1") == ["100.64.0.3"]  # wrapped past .1 (gateway)
    assert alloc(tmp_path, sets, "x2") == ["100.64.0.5"]


def test_custom_gateway_inside_range_is_never_handed_out(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.0.0/29", None, None, "100.64.0.3")]]
    got = [alloc(tmp_path, sets, "c%d" % i)[0] for i in range(5)]
    assert got == ["100.64.0.1", "100.64.0.2", "100.64.0.4", "100.64.0.5", "100.64.0.6"]
    with pytest.raises(ExhaustedError):
        alloc(tmp_path, sets, "c9")


def test_several_ranges_in_a_set_are_walked_in_order(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24", "100.64.1.10", "100.64.1.11"),
             Range.parse("100.64.2.0/24", "100.64.2.20", "100.64.2.21")]]
    got = [alloc(tmp_path, sets, "c%d" % i)[0] for i in range(4)]
    assert got == ["100.64.1.10", "100.64.1.11", "100.64.2.20", "100.64.2.21"]
    allocator.release(str(tmp_path), NET, "c0", "eth0")
    assert alloc(tmp_path, sets, "c4") == ["100.64.1.10"]


def test_stale_cursor_from_another_config_restarts_at_the_beginning(tmp_path: Path) -> None:
    alloc(tmp_path, v4("100.64.1.0/24"), "c1")
    assert alloc(tmp_path, v4("100.64.7.0/24"), "c2") == ["100.64.7.2"]
    (netdir(tmp_path) / "last_reserved_ip.0").write_text("garbage\n")
    assert alloc(tmp_path, v4("100.64.7.0/24"), "c3") == ["100.64.7.3"]


# -- dual-stack and static requests -----------------------------------------------------------

def test_dual_stack_one_address_per_set(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    got = allocator.allocate(str(tmp_path), NET, sets, "c1", "eth0")
    assert got == [allocator.Allocation(4, "100.64.1.2", 24, "100.64.1.1", 0),
                   allocator.Allocation(6, "fd00:1::2", 64, "fd00:1::1", 1)]
    assert allocator.held(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2", "fd00:1::2"]
    assert sorted(allocator.release(str(tmp_path), NET, "c1", "eth0")) == \
        ["100.64.1.2", "fd00:1::2"]


def test_dual_stack_failure_on_second_set_writes_nothing(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00::/126", "fd00::2", "fd00::2")]]
    alloc(tmp_path, sets, "c1")
    with pytest.raises(ExhaustedError, match="range set 1"):
        alloc(tmp_path, sets, "c2")
    assert allocator.held(str(tmp_path), NET, "c2", "eth0") == []
    assert not (netdir(tmp_path) / "100.64.1.3").exists()


def test_requested_addresses(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    assert alloc(tmp_path, sets, "c1", requested=("fd00:1::99", "100.64.1.50")) == \
        ["100.64.1.50", "fd00:1::99"]
    # a request for one set only: the other set round-robins (and the cursor was not moved)
    assert alloc(tmp_path, sets, "c2", requested=("100.64.1.51",)) == \
        ["100.64.1.51", "fd00:1::2"]
    assert alloc(tmp_path, sets, "c3") == ["100.64.1.2", "fd00:1::3"]


@pytest.mark.parametrize("requested,words", [
    (("100.64.1.50",), "already in use"),
    (("100.64.2.1",), "outside every configured range"),
    (("100.64.1.0",), "outside every configured range"),
    (("100.64.1.255",), "outside every configured range"),
    (("100.64.1.1",), "is the gateway"),
    (("100.64.1.7", "100.64.1.8"), "both fall in range set 0"),
    (("100.64.1.07",), "not a valid IPv4"),
    (("fd00::5",), "outside every configured range"),
])
def test_requested_conflicts(tmp_path: Path, requested: tuple[str, ...], words: str) -> None:
    alloc(tmp_path, v4(), "c1", requested=("100.64.1.50",))
    with pytest.raises(ConflictError, match=words) as caught:
        alloc(tmp_path, v4(), "c2", requested=requested)
    assert caught.value.code == 102
    assert NET in str(caught.value)
    assert allocator.held(str(tmp_path), NET, "c2", "eth0") == []


# -- idempotence ------------------------------------------------------------------------------

def test_repeated_add_returns_the_same_addresses(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    first = allocator.allocate(str(tmp_path), NET, sets, "c1", "eth0")
    again = allocator.allocate(str(tmp_path), NET, sets, "c1", "eth0")
    assert first == again
    assert alloc(tmp_path, sets, "c1", requested=("100.64.1.2",)) == ["100.64.1.2", "fd00:1::2"]
    # a different interface of the same container is a different attachment
    assert alloc(tmp_path, sets, "c1", "eth1") == ["100.64.1.3", "fd00:1::3"]


def test_repeated_add_with_other_request_or_config_conflicts(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    with pytest.raises(ConflictError, match="already holds 100.64.1.2, not the requested"):
        alloc(tmp_path, v4(), "c1", requested=("100.64.1.9",))
    with pytest.raises(ConflictError, match="does not fit the configured ranges"):
        alloc(tmp_path, v4("100.64.9.0/24"), "c1")


def test_add_completes_a_partial_earlier_add(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    alloc(tmp_path, sets, "c1")
    os.unlink(netdir(tmp_path) / "fd00:1::2")  # as if killed between the two address files
    assert alloc(tmp_path, sets, "c1") == ["100.64.1.2", "fd00:1::3"]
    assert allocator.held(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2", "fd00:1::3"]


# -- exhaustion -------------------------------------------------------------------------------

def test_exhaustion_on_a_slash_29(tmp_path: Path) -> None:
    sets = v4("100.64.0.0/29")
    assert len({alloc(tmp_path, sets, "c%d" % i)[0] for i in range(5)}) == 5
    with pytest.raises(ExhaustedError) as caught:
        alloc(tmp_path, sets, "c5")
    assert caught.value.code == 101
    assert "'testnet'" in str(caught.value) and "100.64.0.0/29" in str(caught.value)
    with pytest.raises(ExhaustedError):
        allocator.status(str(tmp_path), NET, sets)
    allocator.release(str(tmp_path), NET, "c2", "eth0")
    allocator.status(str(tmp_path), NET, sets)
    assert alloc(tmp_path, sets, "c5") == ["100.64.0.4"]


@pytest.mark.parametrize("subnet,start,end,size", [
    ("100.64.0.0/10", "100.100.0.10", "100.100.0.49", 40),
    ("fd00::/8", "fd12::10", "fd12::4f", 64),
])
def test_exhaustion_of_a_small_range_inside_a_huge_subnet(tmp_path: Path, subnet: str, start: str,
                                                          end: str, size: int) -> None:
    sets = v4(subnet, start, end)
    got = {alloc(tmp_path, sets, "c%d" % i)[0] for i in range(size)}
    assert len(got) == size
    with pytest.raises(ExhaustedError):
        alloc(tmp_path, sets, "full")
    allocator.release(str(tmp_path), NET, "c17", "eth0")
    assert len(alloc(tmp_path, sets, "last")) == 1


def test_huge_mostly_taken_prefix_uses_the_listing_not_a_walk(tmp_path: Path) -> None:
    # 100 consecutive reservations right after the cursor: more than the probe budget, so the
    # allocator lists the store and continues in memory; the answer is the first free one.
    sets = v4("100.64.0.0/10")
    for i in range(allocator.PROBE_BUDGET + 68):
        alloc(tmp_path, sets, "c%d" % i)
    (netdir(tmp_path) / "last_reserved_ip.0").write_text("100.64.0.1\n")
    assert alloc(tmp_path, sets, "next") == ["100.64.0.102"]


# -- release, held, gc ------------------------------------------------------------------------

def test_release_and_held(tmp_path: Path) -> None:
    assert allocator.release(str(tmp_path), NET, "nobody", "eth0") == []  # no store yet
    assert not netdir(tmp_path).exists()
    assert allocator.held(str(tmp_path), NET, "nobody", "eth0") == []
    alloc(tmp_path, v4(), "c1")
    alloc(tmp_path, v4(), "c2")
    assert allocator.held(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2"]
    assert allocator.held(str(tmp_path), NET, "c1", "eth1") == []
    assert allocator.release(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2"]
    assert allocator.release(str(tmp_path), NET, "c1", "eth0") == []  # repeated DEL
    assert allocator.held(str(tmp_path), NET, "c2", "eth0") == ["100.64.1.3"]
    assert not (netdir(tmp_path) / "100.64.1.2").exists()
    assert os.listdir(netdir(tmp_path) / "attachments") == ["c2,eth0"]


def test_release_never_frees_an_address_someone_else_holds(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    # c1's record lists .2, but the file now names c2 (record and file disagree)
    (netdir(tmp_path) / "100.64.1.2").write_bytes(b"c2\neth0\n")
    assert allocator.release(str(tmp_path), NET, "c1", "eth0") == []
    assert (netdir(tmp_path) / "100.64.1.2").read_bytes() == b"c2\neth0\n"


def test_gc_releases_everything_not_valid(tmp_path: Path) -> None:
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    for cid in ("a", "b", "c"):
        alloc(tmp_path, sets, cid)
    released, errors = allocator.gc(str(tmp_path), NET, {("b", "eth0"), ("zz", "eth0")})
    assert errors == []
    assert sorted(released) == ["100.64.1.2", "100.64.1.4", "fd00:1::2", "fd00:1::4"]
    assert allocator.held(str(tmp_path), NET, "b", "eth0") == ["100.64.1.3", "fd00:1::3"]
    assert allocator.held(str(tmp_path), NET, "a", "eth0") == []
    assert os.listdir(netdir(tmp_path) / "attachments") == ["b,eth0"]
    released, errors = allocator.gc(str(tmp_path), NET, set())
    assert sorted(released) == ["100.64.1.3", "fd00:1::3"] and errors == []
    assert sorted(os.listdir(netdir(tmp_path))) == \
        ["attachments", "last_reserved_ip.0", "last_reserved_ip.1", "lock", "tmp"]
    assert os.listdir(netdir(tmp_path) / "tmp") == []
    assert allocator.gc(str(tmp_path / "missing"), NET, set()) == ([], [])


def test_gc_keeps_going_and_reports_errors(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "a")
    alloc(tmp_path, v4(), "b")
    (netdir(tmp_path) / "100.64.1.2").unlink()
    (netdir(tmp_path) / "100.64.1.2").mkdir()  # something that cannot be read as a file
    released, errors = allocator.gc(str(tmp_path), NET, set())
    assert released == ["100.64.1.3"]
    assert len(errors) == 1 and "100.64.1.2" in errors[0] and "'testnet'" in errors[0]


# -- store: names, permissions, crash leftovers -----------------------------------------------

@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "-net", "_net", "net work",
                                  "net\n", "n" * 256, "nét"])
def test_network_name_is_validated_before_it_becomes_a_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError, match="cannot name an IPAM store directory"):
        allocator.allocate(str(tmp_path / "d"), name, v4(), "c1", "eth0")
    with pytest.raises(StoreError):
        allocator.release(str(tmp_path / "d"), name, "c1", "eth0")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("name", ["a", "Net-1.x_y", "9", "a.." + "b" * 200])
def test_valid_network_names(name: str) -> None:
    assert store.valid_network_name(name)


def test_permissions_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "run" / "humanz" / "networks"
    old = os.umask(0o022)
    try:
        alloc(data, [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]], "c1")
    finally:
        os.umask(old)
    for directory in (tmp_path / "run", tmp_path / "run" / "humanz", data, data / NET,
                      data / NET / "attachments", data / NET / "tmp"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = [p for p in (data / NET).rglob("*") if p.is_file()]
    assert len(files) == 6  # lock, 2 addresses, 2 cursors, 1 record
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_record_names_are_safe_and_reversible() -> None:
    for cid, ifname in [("c1", "eth0"), ("a,b", "e%0"), (".hidden", "x"), ("..", ".."),
                        ("x/y", "net1"), ("日本", "eth\u00e9"), ("a" * 64, "eth0")]:
        name = store.record_name(cid, ifname)
        assert "/" not in name and not name.startswith(".")
        assert store.parse_record_name(name) == (cid, ifname)


def test_odd_container_ids_round_trip(tmp_path: Path) -> None:
    cid = "../../etc/x,y%z"
    assert alloc(tmp_path, v4(), cid, "eth0") == ["100.64.1.2"]
    assert allocator.held(str(tmp_path), NET, cid, "eth0") == ["100.64.1.2"]
    assert allocator.release(str(tmp_path), NET, cid, "eth0") == ["100.64.1.2"]
    with pytest.raises(IPAMError, match="line break"):
        alloc(tmp_path, v4(), "c\n1")
    with pytest.raises(IPAMError, match="non-empty"):
        alloc(tmp_path, v4(), "c1", "")


def leftover(data: Path, pid: int = 999999) -> Path:
    """A temp file as a writer killed between its write and its rename leaves it."""
    path = netdir(data) / store.TEMP_DIR / str(pid)
    path.write_bytes(b"c9\ne")  # killed mid-write, too
    return path


def test_temp_files_live_in_tmp_and_go_away(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    assert os.listdir(netdir(tmp_path) / store.TEMP_DIR) == []  # renamed into place
    allocator.status(str(tmp_path), NET, v4())
    assert os.listdir(netdir(tmp_path) / store.TEMP_DIR) == []  # STATUS's probe removed


@pytest.mark.parametrize("change", ["ADD", "DEL", "DEL of nothing held", "GC"])
def test_leftover_temp_file_is_gone_after_the_next_change(tmp_path: Path, change: str) -> None:
    alloc(tmp_path, v4(), "c1")
    left = [leftover(tmp_path), leftover(tmp_path, 4242)]
    assert allocator.held(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2"]  # never read
    if change == "ADD":
        assert alloc(tmp_path, v4(), "c2") == ["100.64.1.3"]
    elif change == "DEL":
        assert allocator.release(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2"]
    elif change == "DEL of nothing held":
        assert allocator.release(str(tmp_path), NET, "nobody", "eth0") == []
    else:
        assert allocator.gc(str(tmp_path), NET, {("c1", "eth0")}) == ([], [])
    assert [p for p in left if p.exists()] == []
    assert os.listdir(netdir(tmp_path) / store.TEMP_DIR) == []


def test_what_cannot_be_removed_from_tmp_does_not_fail_add_or_del(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    junk = netdir(tmp_path) / store.TEMP_DIR / "junk"
    junk.mkdir()  # unlink fails on it (EISDIR); it is never read either
    assert alloc(tmp_path, v4(), "c2") == ["100.64.1.3"]
    assert allocator.release(str(tmp_path), NET, "c1", "eth0") == ["100.64.1.2"]
    assert junk.is_dir()


def test_store_of_an_older_version_without_tmp(tmp_path: Path) -> None:
    """Before tmp/, temp files were ``.tmp.<pid>`` at the top level: such a store works on
    (readers skip the old temp file, GC removes it) and gets its tmp/ at the first write,
    even a DEL's (here the rebuild of an unreadable record)."""
    sets = [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]]
    alloc(tmp_path, sets, "c1")
    alloc(tmp_path, sets, "c2")
    os.rmdir(netdir(tmp_path) / store.TEMP_DIR)
    old = netdir(tmp_path) / (store.LEGACY_TEMP_PREFIX + "999999")
    old.write_bytes(b"c9\ne")
    (netdir(tmp_path) / "attachments" / "c1,eth0").write_bytes(b"")
    assert sorted(allocator.held(str(tmp_path), NET, "c1", "eth0")) == \
        ["100.64.1.2", "fd00:1::2"]
    rebuilt = store.parse_record((netdir(tmp_path) / "attachments" / "c1,eth0").read_bytes())
    assert not isinstance(rebuilt, store.Unreadable)  # rewritten through the new tmp/
    assert sorted(rebuilt[2]) == ["100.64.1.2", "fd00:1::2"]
    assert stat.S_IMODE((netdir(tmp_path) / store.TEMP_DIR).stat().st_mode) == 0o700
    assert sorted(allocator.release(str(tmp_path), NET, "c1", "eth0")) == \
        ["100.64.1.2", "fd00:1::2"]
    assert alloc(tmp_path, sets, "c3") == ["100.64.1.4", "fd00:1::4"]
    assert old.exists()  # only GC lists the store's top level
    assert allocator.gc(str(tmp_path), NET, {("c2", "eth0"), ("c3", "eth0")}) == ([], [])
    assert not old.exists()


def test_empty_address_file_does_not_exhaust_the_range(tmp_path: Path) -> None:
    sets = v4("100.64.0.0/29")
    for i in range(2, 7):  # every address "reserved" by an empty file (a torn write)
        (tmp_path / NET).mkdir(mode=0o700, exist_ok=True)
        (netdir(tmp_path) / ("100.64.0.%d" % i)).write_bytes(b"")
    allocator.status(str(tmp_path), NET, sets)  # not exhausted: nothing parses
    assert alloc(tmp_path, sets, "c1") == ["100.64.0.2"]
    assert (netdir(tmp_path) / "100.64.0.2").read_bytes() == b"c1\neth0\n"  # repaired


def test_unreadable_address_file_claimed_by_a_record_is_repaired_not_stolen(
        tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    (netdir(tmp_path) / "100.64.1.2").write_bytes(b"garbage")
    (netdir(tmp_path) / "last_reserved_ip.0").unlink()
    assert alloc(tmp_path, v4(), "c2") == ["100.64.1.3"]
    assert (netdir(tmp_path) / "100.64.1.2").read_bytes() == b"c1\neth0\n"
    (netdir(tmp_path) / "100.64.1.2").write_bytes(b"")
    assert allocator.gc(str(tmp_path), NET, {("c1", "eth0"), ("c2", "eth0")}) == ([], [])
    assert (netdir(tmp_path) / "100.64.1.2").read_bytes() == b"c1\neth0\n"


def test_unreadable_record_is_rebuilt_from_the_address_files(tmp_path: Path) -> None:
    alloc(tmp_path, [[Range.parse("100.64.1.0/24")], [Range.parse("fd00:1::/64")]], "c1")
    (netdir(tmp_path) / "attachments" / "c1,eth0").write_bytes(b"")
    assert sorted(allocator.release(str(tmp_path), NET, "c1", "eth0")) == \
        ["100.64.1.2", "fd00:1::2"]
    assert os.listdir(netdir(tmp_path) / "attachments") == []


def test_unparsable_files_are_left_alone_by_allocation(tmp_path: Path) -> None:
    alloc(tmp_path, v4(), "c1")
    (netdir(tmp_path) / "notes.txt").write_text("hello")
    (netdir(tmp_path) / "attachments" / "junk").write_text("")
    assert alloc(tmp_path, v4(), "c2") == ["100.64.1.3"]
    assert allocator.gc(str(tmp_path), NET, {("c1", "eth0"), ("c2", "eth0")}) == ([], [])
    assert (netdir(tmp_path) / "notes.txt").exists()
    assert not (netdir(tmp_path) / "attachments" / "junk").exists()


# -- status -----------------------------------------------------------------------------------

def test_status_creates_the_store_and_reports_store_errors(tmp_path: Path) -> None:
    allocator.status(str(tmp_path / "new"), NET, v4())
    assert (tmp_path / "new" / NET / "lock").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="not a directory") as caught:
        allocator.status(str(blocker), NET, v4())
    assert caught.value.code == 5
    with pytest.raises(StoreError):
        allocator.allocate(str(blocker), NET, v4(), "c1", "eth0")


def test_status_and_allocate_validate_range_sets(tmp_path: Path) -> None:
    bad = [[Range.parse("100.64.1.0/24")], [Range.parse("100.64.1.0/25")]]
    with pytest.raises(RangeError, match="overlaps"):
        allocator.status(str(tmp_path), NET, bad)
    with pytest.raises(RangeError, match="overlaps"):
        alloc(tmp_path, bad, "c1")
