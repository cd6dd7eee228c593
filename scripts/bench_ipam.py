"""Benchmark of humanz.ipam: allocate + release time against subnets of very different sizes.

Shows that the cost does not depend on the subnet's size: a /24 with 250 reservations, a /16,
a /10 (the largest IPv4 block the project may use; it stands in for a /8) and an IPv6 /8 with
5000 each. Two cases per store:

- ``steady``: the usual ADD — round robin continues after the last reservation, where
  addresses are free;
- ``dense``:  the cursor is put right before the block of existing reservations, so the first
  candidates are all taken and the allocator must fall back to one listing of the store.

Run: ``.venv/py3.13/bin/python scripts/bench_ipam.py [--dir DIR] [--rounds N]``. The store is
made in a fresh temporary directory under DIR (default /dev/shm, a tmpfs like /run) and
removed afterwards. Prints medians in milliseconds; this is a script, not a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from humanz.ipam import allocator  # noqa: E402
from humanz.ipam.ranges import Range  # noqa: E402

CASES = [
    ("100.64.1.0/24", 250),
    ("100.65.0.0/16", 5000),
    ("100.64.0.0/10", 5000),
    ("fd00::/8", 5000),
]
NET = "bench"


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def populate(data: str, sets: list[list[Range]], count: int) -> None:
    for i in range(count):
        allocator.allocate(data, NET, sets, "existing%05d" % i, "eth0")


def one_round(data: str, sets: list[list[Range]], cursor: str | None) -> tuple[float, float]:
    if cursor is not None:
        with open(os.path.join(data, NET, "last_reserved_ip.0"), "w") as f:
            f.write(cursor + "\n")
    t0 = time.perf_counter()
    allocator.allocate(data, NET, sets, "bench", "eth0")
    t1 = time.perf_counter()
    allocator.release(data, NET, "bench", "eth0")
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000


def bench_case(base: str, subnet: str, count: int, rounds: int) -> None:
    data = tempfile.mkdtemp(prefix="hzt-bench-", dir=base)
    try:
        sets = [[Range.parse(subnet)]]
        started = time.perf_counter()
        populate(data, sets, count)
        fill_ms = (time.perf_counter() - started) * 1000
        for label, cursor in (("steady", None), ("dense", sets[0][0].format(sets[0][0].start))):
            allocs, releases = [], []
            for _ in range(rounds):
                a, r = one_round(data, sets, cursor)
                allocs.append(a)
                releases.append(r)
            print("%-16s %5d reserved  %-6s  allocate %6.3f ms  release %6.3f ms"
                  % (subnet, count, label, median(allocs), median(releases)))
        print("%-16s %5d reserved  (filling took %.0f ms, %.3f ms per allocation)"
              % (subnet, count, fill_ms, fill_ms / count))
    finally:
        shutil.rmtree(data)


def import_cost(rounds: int) -> None:
    """Median wall time of a bare interpreter versus one that imports the allocator."""
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    prefix = "import sys; sys.path.insert(0, %r); " % root

    def run(code: str) -> float:
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-S", "-c", prefix + code], check=True,
                           timeout=60)
            times.append((time.perf_counter() - t0) * 1000)
        return median(times)

    bare = run("pass")
    loaded = run("import humanz.ipam.allocator, humanz.ipam.ranges")
    print("import humanz.ipam.allocator: %.2f ms on top of a bare interpreter (%.2f ms)"
          % (loaded - bare, bare))


def main() -> None:
    args = sys.argv[1:]
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    rounds = 200
    while args:
        flag = args.pop(0)
        if flag == "--dir" and args:
            base = args.pop(0)
        elif flag == "--rounds" and args:
            rounds = int(args.pop(0))
        else:
            sys.exit("usage: bench_ipam.py [--dir DIR] [--rounds N]")
    print("Python %s, store under %s, %d rounds, medians" % (sys.version.split()[0], base, rounds))
    for subnet, count in CASES:
        bench_case(base, subnet, count, rounds)
    import_cost(21)


if __name__ == "__main__":
    main()
