"""humanz.ipam survives SIGKILL at any instant: a process busy allocating and releasing is
killed at arbitrary moments, and the store it leaves is always readable and consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from humanz.ipam import allocator, store

ROOT = Path(__file__).resolve().parent.parent
NET = "crash"

# Allocates dual-stack for c0, c1, ... and releases each one three steps later, forever
# (bounded), printing one line once the store exists.
WORKER = r"""
import sys
from humanz.ipam import allocator
from humanz.ipam.ranges import Range
data = sys.argv[1]
sets = [[Range.parse("100.64.9.0/28")], [Range.parse("fd00:9::/124")]]
for i in range(200000):
    allocator.allocate(data, "crash", sets, "c%d" % i, "eth0")
    if i >= 3:
        allocator.release(data, "crash", "c%d" % (i - 3), "eth0")
    if i == 0:
        print("ready", flush=True)
"""


def check_consistent(net: Path) -> int:
    """Every file parses, and every reservation is listed by its owner's record. Returns the
    number of reservations found."""
    records = {}
    for name in os.listdir(net / "attachments"):
        parsed = store.parse_record((net / "attachments" / name).read_bytes())
        assert not isinstance(parsed, store.Unreadable), name
        assert store.parse_record_name(name) == parsed[:2]
        records[parsed[:2]] = parsed[2]
    reservations = 0
    for name in os.listdir(net):
        if name in (store.LOCK_NAME, store.RECORDS_DIR, store.TEMP_DIR) \
                or name.startswith(store.CURSOR_PREFIX):
            continue
        owner = store.parse_owner((net / name).read_bytes())
        assert not isinstance(owner, store.Unreadable), name
        assert name in records.get(owner, []), (name, owner)
        reservations += 1
    return reservations


@pytest.mark.parametrize("delay_ms", [1, 7, 23, 61, 150])
def test_sigkill_at_any_instant_leaves_a_consistent_store(tmp_path: Path, delay_ms: int) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(data)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    net = data / NET
    held_before = check_consistent(net)
    assert held_before >= 1
    released, errors = allocator.gc(str(data), NET, set())
    assert errors == []
    assert len(released) == held_before
    assert check_consistent(net) == 0
    assert os.listdir(net / "attachments") == []
    assert os.listdir(net / store.TEMP_DIR) == []


# Allocates for "old", then runs ``sys.argv[2]`` ("add" or "del") with os.rename replaced by
# a SIGKILL of itself: the writer dies right between writing its temp file and renaming it.
KILLED_BEFORE_RENAME = r"""
import os, signal, sys
from humanz.ipam import allocator
from humanz.ipam.ranges import Range
data, command = sys.argv[1], sys.argv[2]
sets = [[Range.parse("100.64.9.0/28")]]
allocator.allocate(data, "crash", sets, "old", "eth0")
os.rename = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
if command == "add":
    allocator.allocate(data, "crash", sets, "new", "eth0")
else:  # a DEL writes only to rebuild an unreadable record: make it do that
    os.truncate(os.path.join(data, "crash", "attachments", "old,eth0"), 0)
    allocator.release(data, "crash", "old", "eth0")
"""


@pytest.mark.parametrize("killed", ["add", "del"])
@pytest.mark.parametrize("then", ["ADD", "DEL"])
def test_temp_file_of_a_writer_killed_before_its_rename_is_gone_after_the_next_change(
        tmp_path: Path, killed: str, then: str) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BEFORE_RENAME, str(data), killed],
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    net = data / NET
    assert os.listdir(net / store.TEMP_DIR) == [str(proc.pid)]  # the dead writer's
    if then == "ADD":
        from humanz.ipam.ranges import Range
        allocator.allocate(str(data), NET, [[Range.parse("100.64.9.0/28")]], "next", "eth0")
    else:
        allocator.release(str(data), NET, "next", "eth0")  # even a DEL with nothing to do
    assert os.listdir(net / store.TEMP_DIR) == []
    # the killed call changed nothing: "old" still holds its address (a truncated record is
    # rebuilt from the address files), and the store is consistent once it is released
    assert allocator.release(str(data), NET, "old", "eth0") == ["100.64.9.2"]
    assert check_consistent(net) == (1 if then == "ADD" else 0)  # "next" after an ADD
