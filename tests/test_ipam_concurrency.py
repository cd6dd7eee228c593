"""humanz.ipam under contention: 50 separate processes allocate from one /24 at the same instant,
then release at the same instant (the flock in the store is all that keeps them apart)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from humanz.ipam import allocator
from humanz.ipam.ranges import Range

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 50
TIMEOUT = 120

# Each worker waits (bounded) for the "go" file so that all 50 hit the store together.
WORKER = r"""
import os, sys, time
from humanz.ipam import allocator
from humanz.ipam.ranges import Range
data, go, command, cid = sys.argv[1:5]
for _ in range(20000):
    if os.path.exists(go):
        break
    time.sleep(0.001)
sets = [[Range.parse("100.64.5.0/24")], [Range.parse("fd00:5::/64")]]
if command == "add":
    got = allocator.allocate(data, "concurrent", sets, cid, "eth0")
    print(" ".join(a.address for a in got))
else:
    print(" ".join(allocator.release(data, "concurrent", cid, "eth0")))
"""


def run_all(data: Path, command: str) -> list[str]:
    go = data.parent / ("go-" + command)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(data), str(go), command,
                               "container%02d" % i],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for i in range(WORKERS)]
    go.write_text("")
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=TIMEOUT)
            assert proc.returncode == 0, err
            outputs.append(out.strip())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT)
    return outputs


def test_fifty_concurrent_allocations_then_releases(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = run_all(data, "add")
    v4 = [line.split()[0] for line in added]
    v6 = [line.split()[1] for line in added]
    assert len(set(v4)) == WORKERS and len(set(v6)) == WORKERS
    # round robin from a fresh store: exactly the first 50 addresses, each once
    assert sorted(v4, key=lambda a: int(a.rsplit(".", 1)[1])) == \
        ["100.64.5.%d" % i for i in range(2, 2 + WORKERS)]
    for i, line in enumerate(added):
        assert allocator.held(str(data), "concurrent", "container%02d" % i, "eth0") == \
            line.split()

    released = run_all(data, "del")
    assert released == added  # each worker released exactly what it had been given
    store_dir = data / "concurrent"
    assert sorted(os.listdir(store_dir)) == \
        ["attachments", "last_reserved_ip.0", "last_reserved_ip.1", "lock", "tmp"]
    assert os.listdir(store_dir / "attachments") == []
    assert os.listdir(store_dir / "tmp") == []
    sets = [[Range.parse("100.64.5.0/24")], [Range.parse("fd00:5::/64")]]
    allocator.status(str(data), "concurrent", sets)
