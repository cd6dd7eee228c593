"""Benchmark humanz.netlink against pyroute2 and iproute2, side by side in one run.

Run as root, one command (from the repository root):

    /usr/bin/python3 scripts/bench_netlink.py            # --quick for a smoke run

What it measures, each case with the tools taking turns (the order rotates every round, so
a burst of load from elsewhere on the machine hits every tool alike; ratios are computed per
round and their median quoted):

a. dump: list the 10,000 routes of a table and turn them into typed values — humanz
   ``Rtnl.routes()``, pyroute2 ``IPRoute.route("dump")`` (the same six fields read from each
   route; the script checks both got equal values), and ``ip -j route show`` as a subprocess
   including ``json.loads`` of its output; plus humanz stopping at decoded messages (before
   building ``Route`` objects), to show where its time goes;
b. veth: create 500 veth pairs, then delete them — humanz ``veth_add``/``link_del``,
   pyroute2 ``link("add"/"del")``, and one ``ip -batch`` process per phase;
c. start-up: a fresh interpreter that imports the library, opens a socket and lists the
   links — import time, the whole process's wall time, and its resident memory (VmRSS).
   humanz runs as the plugin does (``/usr/bin/python3 -I -S``) and also with site-packages
   loaded like pyroute2 (which needs its venv's site-packages).

pyroute2 is installed only for this benchmark, into its own venv ``.venv/bench`` (made with
``/usr/bin/python3 -m venv`` if missing; that needs Debian's python3-venv — without it, the
pyenv 3.11 interpreter is used and the results say so). The script re-executes itself under
that venv's interpreter so both libraries run in one process.

Everything happens in throwaway namespaces ``hzbench<pid>r`` / ``hzbench<pid>v``, removed at
the end (with all their links and routes) even on failure. Results: a table on stdout and
JSON in docs/performance-netlink.json. This is a script, not a test.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from humanz.netlink import netns, uapi  # noqa: E402
from humanz.netlink.rtnl import Rtnl  # noqa: E402

VENV = os.path.join(ROOT, ".venv", "bench")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
PYROUTE2 = "pyroute2==0.9.7"
SYSTEM_PYTHON = "/usr/bin/python3"
FALLBACK_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3"
TIMEOUT = 600
AF_INET = 2
MAIN_TABLE = 254

Runs = Dict[str, List[float]]        # tool → milliseconds, one per round


# --------------------------------------------------------------------------------------------
# The venv with pyroute2
# --------------------------------------------------------------------------------------------

def ensure_bench_venv() -> str:
    """Make .venv/bench with pyroute2 if it is not there; return the base interpreter used."""
    base = SYSTEM_PYTHON
    if not _has_venv_module(SYSTEM_PYTHON):
        base = FALLBACK_PYTHON
        print("note: Debian's python3-venv is missing; the bench venv uses %s" % base)
    if not os.path.exists(VENV_PYTHON):
        print("making %s with %s" % (VENV, PYROUTE2))
        subprocess.run([base, "-m", "venv", VENV], check=True, timeout=TIMEOUT)
        subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q", PYROUTE2], check=True,
                       timeout=TIMEOUT)
    return os.path.realpath(VENV_PYTHON)


def _has_venv_module(python: str) -> bool:
    done = subprocess.run([python, "-c", "import ensurepip, venv"], capture_output=True,
                          timeout=60)
    return done.returncode == 0


def in_bench_venv() -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))      # ceil
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, Any]:
    return {"median": round(percentile(values, 50), 3), "p90": round(percentile(values, 90), 3),
            "min": round(min(values), 3), "runs": [round(v, 3) for v in values]}


def paired_ratio(runs: Runs, tool: str, base: str) -> float:
    """Median over rounds of ``tool``'s time / ``base``'s time in the same round."""
    return round(percentile([a / b for a, b in zip(runs[tool], runs[base])], 50), 2)


def rotate(tools: list[str], round_no: int) -> list[str]:
    k = round_no % len(tools)
    return tools[k:] + tools[:k]


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds ``fn`` took (a collection first, so garbage of one tool does not bill
    the next)."""
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


# --------------------------------------------------------------------------------------------
# Namespaces and iproute2
# --------------------------------------------------------------------------------------------

def run(cmd: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(cmd), done.stderr.strip()))
    return done.stdout


def ip_batch(lines: list[str]) -> None:
    """One ``ip -batch`` process running ``lines`` (in the calling thread's namespace)."""
    with tempfile.NamedTemporaryFile("w", suffix=".ip") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        run(["ip", "-batch", f.name])


def route_destinations(count: int) -> list[str]:
    """``count`` distinct /32s in 100.64.0.0/10, from 100.64.0.1 on."""
    start = (100 << 24) | (64 << 16)
    return ["%d.%d.%d.%d" % ((ip >> 24) & 255, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255)
            for ip in range(start + 1, start + 1 + count)]


# --------------------------------------------------------------------------------------------
# a. dump 10,000 routes
# --------------------------------------------------------------------------------------------

def bench_dump(pyroute2: Any, count: int, rounds: int) -> dict[str, Any]:
    """(In the routes namespace.) Fill the main table, then dump it with each tool in turn."""
    dev = "hzbr0"
    t0 = time.perf_counter()
    ip_batch(["link add %s type bridge" % dev, "link set %s up" % dev]
             + ["route add %s/32 dev %s" % (d, dev) for d in route_destinations(count)])
    fill_s = time.perf_counter() - t0

    rt = Rtnl()
    ipr = pyroute2.IPRoute()
    fields = ("dst", "dst_len", "gateway", "oif", "table", "priority")

    def humanz_values() -> list[tuple[object, ...]]:
        routes = rt.routes(4, MAIN_TABLE)
        return [(r.dst, r.dst_len, r.gateway, r.oif, r.table, r.metric) for r in routes]

    def pyroute2_values() -> list[tuple[object, ...]]:
        msgs = ipr.route("dump", family=AF_INET, table=MAIN_TABLE)
        return [tuple(m.get(f) for f in fields) for m in msgs]

    def with_ip() -> int:
        return len(json.loads(run(["ip", "-j", "-4", "route", "show", "table", "main"])))

    def humanz_messages() -> int:
        # where humanz's time goes: the same dump, stopping at decoded messages (no Route)
        return len(rt.sock.dump(uapi.RTM_GETROUTE, {"rtm_family": AF_INET},
                                [("RTA_TABLE", MAIN_TABLE)]))

    tools: dict[str, Callable[[], object]] = {
        "humanz": humanz_values, "pyroute2": pyroute2_values, "ip -j": with_ip,
        "humanz, messages only": humanz_messages}
    ours, theirs = humanz_values(), pyroute2_values()       # warm-up, and a sanity check:
    if sorted(ours, key=repr) != sorted(theirs, key=repr):  # both decoded the same values
        raise SystemExit("humanz and pyroute2 decoded different routes")
    counts = {"humanz": len(ours), "pyroute2": len(theirs), "ip -j": with_ip(),
              "humanz, messages only": humanz_messages()}
    if len(set(counts.values())) != 1 or counts["humanz"] < count:
        raise SystemExit("the tools disagree on the number of routes: %r" % counts)
    runs: Runs = {name: [] for name in tools}
    for r in range(rounds):
        for name in rotate(list(tools), r):
            runs[name].append(timed(tools[name]))
    rt.close()
    ipr.close()
    return {"routes": counts["humanz"], "fill_seconds_ip_batch": round(fill_s, 2),
            "ms": {name: summary(v) for name, v in runs.items()},
            "ratio_to_humanz": {name: paired_ratio(runs, name, "humanz")
                                for name in tools if name != "humanz"}}


# --------------------------------------------------------------------------------------------
# b. 500 veth pairs, created and deleted
# --------------------------------------------------------------------------------------------

def bench_veth(pyroute2: Any, count: int, rounds: int) -> dict[str, Any]:
    """(In the links namespace.) Create ``count`` veth pairs and delete them, tools in turn."""
    names = [("hzbA%d" % i, "hzbB%d" % i) for i in range(count)]
    rt = Rtnl()
    ipr = pyroute2.IPRoute()

    def humanz_add() -> None:
        for a, b in names:
            rt.veth_add(a, b)

    def humanz_del() -> None:
        for a, _ in names:
            rt.link_del(a)

    def pyroute2_add() -> None:
        for a, b in names:
            ipr.link("add", ifname=a, kind="veth", peer=b)

    def pyroute2_del() -> None:
        for a, _ in names:
            ipr.link("del", ifname=a)

    def ip_add() -> None:
        ip_batch(["link add %s type veth peer name %s" % (a, b) for a, b in names])

    def ip_del() -> None:
        ip_batch(["link del %s" % a for a, _ in names])

    phases = {"humanz": (humanz_add, humanz_del), "pyroute2": (pyroute2_add, pyroute2_del),
              "ip -batch": (ip_add, ip_del)}
    create: Runs = {name: [] for name in phases}
    delete: Runs = {name: [] for name in phases}
    for r in range(rounds):
        for name in rotate(list(phases), r):
            add, remove = phases[name]
            create[name].append(timed(add))
            made = len(rt.links())
            delete[name].append(timed(remove))
            left = len(rt.links())
            if made != left + 2 * count:
                raise SystemExit("%s: %d links after create, %d after delete" % (
                    name, made, left))
    rt.close()
    ipr.close()
    return {"pairs": count,
            "create_ms": {name: summary(v) for name, v in create.items()},
            "delete_ms": {name: summary(v) for name, v in delete.items()},
            "create_ratio_to_humanz": {n: paired_ratio(create, n, "humanz")
                                       for n in phases if n != "humanz"},
            "delete_ratio_to_humanz": {n: paired_ratio(delete, n, "humanz")
                                       for n in phases if n != "humanz"}}


# --------------------------------------------------------------------------------------------
# c. start-up: import, first request, memory
# --------------------------------------------------------------------------------------------

# Each probe prints: import ms, import + socket + link dump ms, VmRSS kB, VmHWM kB.
_PROBE_TAIL = """
t2 = time.perf_counter()
status = dict(l.split(':', 1) for l in open('/proc/self/status'))
print((t1 - t0) * 1000, (t2 - t0) * 1000, int(status['VmRSS'].split()[0]),
      int(status['VmHWM'].split()[0]))
"""
HUMANZ_PROBE = """import time
t0 = time.perf_counter()
import sys
sys.path.insert(0, %r)
from humanz.netlink.rtnl import Rtnl
t1 = time.perf_counter()
with Rtnl() as rt:
    n = len(rt.links())
""" % ROOT + _PROBE_TAIL
PYROUTE2_PROBE = """import time
t0 = time.perf_counter()
from pyroute2 import IPRoute
t1 = time.perf_counter()
with IPRoute() as ipr:
    n = len(list(ipr.get_links()))
""" + _PROBE_TAIL
BARE_PROBE = "import time\nt0 = t1 = time.perf_counter()\n" + _PROBE_TAIL


def startup_cases(venv_python: str) -> dict[str, list[str]]:
    return {
        "humanz (-I -S, as the plugin runs)": [SYSTEM_PYTHON, "-I", "-S", "-c", HUMANZ_PROBE],
        "humanz (-I, with site like pyroute2)": [venv_python, "-I", "-c", HUMANZ_PROBE],
        "pyroute2 (-I, its venv)": [venv_python, "-I", "-c", PYROUTE2_PROBE],
        "bare interpreter (-I -S)": [SYSTEM_PYTHON, "-I", "-S", "-c", BARE_PROBE],
        "bare interpreter (-I, venv)": [venv_python, "-I", "-c", BARE_PROBE],
    }


def bench_startup(rounds: int) -> dict[str, Any]:
    cases = startup_cases(VENV_PYTHON)
    for argv in cases.values():                          # warm the bytecode caches
        run(argv)
    imports: Runs = {name: [] for name in cases}
    firsts: Runs = {name: [] for name in cases}
    walls: Runs = {name: [] for name in cases}
    rss: Runs = {name: [] for name in cases}
    for r in range(rounds):
        for name in rotate(list(cases), r):
            t0 = time.perf_counter()
            out = run(cases[name])
            walls[name].append((time.perf_counter() - t0) * 1000)
            imp, first, vmrss, _ = out.split()
            imports[name].append(float(imp))
            firsts[name].append(float(first))
            rss[name].append(float(vmrss) / 1024)
    h, p = "humanz (-I, with site like pyroute2)", "pyroute2 (-I, its venv)"
    plugin = "humanz (-I -S, as the plugin runs)"
    return {"import_ms": {n: summary(v) for n, v in imports.items()},
            "import_socket_dump_ms": {n: summary(v) for n, v in firsts.items()},
            "process_wall_ms": {n: summary(v) for n, v in walls.items()},
            "rss_mib": {n: summary(v) for n, v in rss.items()},
            "ratios": {
                "import pyroute2 / humanz (same flags)": paired_ratio(imports, p, h),
                "import pyroute2 / humanz (plugin flags)": paired_ratio(imports, p, plugin),
                "process wall pyroute2 / humanz (plugin flags)": paired_ratio(walls, p, plugin),
                "rss pyroute2 / humanz (same flags)": paired_ratio(rss, p, h),
            }}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pyroute2 = importlib.import_module("pyroute2")
    return {"kernel": platform.release(), "nproc": os.cpu_count(), "cpu": model,
            "python": platform.python_version(), "python_executable": sys.executable,
            "pyroute2": getattr(pyroute2, "__version__", "?"),
            "iproute2": run(["ip", "-V"]).strip(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def print_table(title: str, rows: dict[str, Any], ratios: dict[str, float],
                unit: str = "ms") -> None:
    print("\n%s" % title)
    print("| tool | median %s | p90 %s | min %s | × humanz (paired median) |" % (
        unit, unit, unit))
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s in rows.items():
        ratio = "1" if name == "humanz" else str(ratios.get(name, ""))
        print("| %s | %.2f | %.2f | %.2f | %s |" % (name, s["median"], s["p90"], s["min"],
                                                    ratio))


def print_startup(result: dict[str, Any]) -> None:
    print("\nc. start-up (fresh interpreter; medians, p90 in brackets)")
    print("| case | import ms | import+socket+link dump ms | process wall ms | RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in result["import_ms"]:
        cells = [result[k][name] for k in ("import_ms", "import_socket_dump_ms",
                                            "process_wall_ms", "rss_mib")]
        print("| %s | %s |" % (name, " | ".join("%.1f (%.1f)" % (c["median"], c["p90"])
                                               for c in cells)))
    for name, ratio in result["ratios"].items():
        print("- %s: %.1f×" % (name, ratio))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument("--routes", type=int, default=10000)
    parser.add_argument("--veths", type=int, default=500)
    parser.add_argument("--dump-rounds", type=int, default=15)
    parser.add_argument("--veth-rounds", type=int, default=3)
    parser.add_argument("--startup-rounds", type=int, default=20)
    parser.add_argument("--json", default=os.path.join(ROOT, "docs",
                                                       "performance-netlink.json"))
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON")
    args = parser.parse_args()
    if args.quick:
        args.routes, args.veths = 1000, 50
        args.dump_rounds, args.veth_rounds, args.startup_rounds = 3, 1, 3
    if os.geteuid() != 0:
        print("run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    if not in_bench_venv():
        ensure_bench_venv()
        os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    pyroute2 = importlib.import_module("pyroute2")

    tag = "hzbench%d" % os.getpid()
    routes_ns, links_ns = tag + "r", tag + "v"
    results: dict[str, Any] = {
        "command": "/usr/bin/python3 scripts/bench_netlink.py" + (
            " --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": machine()}
    made: list[str] = []
    try:
        for ns in (routes_ns, links_ns):
            run(["ip", "netns", "add", ns])
            made.append(ns)
        print("a. dump %d routes (%d rounds) ..." % (args.routes, args.dump_rounds))
        netns.enter("/run/netns/" + routes_ns)       # this (main) thread only, for good
        results["dump"] = bench_dump(pyroute2, args.routes, args.dump_rounds)
        print("b. %d veth pairs (%d rounds) ..." % (args.veths, args.veth_rounds))
        netns.enter("/run/netns/" + links_ns)
        results["veth"] = bench_veth(pyroute2, args.veths, args.veth_rounds)
        print("c. start-up (%d rounds) ..." % args.startup_rounds)
        results["startup"] = bench_startup(args.startup_rounds)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], timeout=TIMEOUT)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    d, v = results["dump"], results["veth"]
    m = results["machine"]
    print("\nmachine: kernel %s, %s CPUs (%s), Python %s, pyroute2 %s, %s; load %s → %s" % (
        m["kernel"], m["nproc"], m["cpu"], m["python"], m["pyroute2"], m["iproute2"],
        m["loadavg_start"], m["loadavg_end"]))
    print_table("a. dump %d routes to typed values (ms per dump)" % d["routes"], d["ms"],
                d["ratio_to_humanz"])
    print_table("b1. create %d veth pairs (ms for all)" % v["pairs"], v["create_ms"],
                v["create_ratio_to_humanz"])
    print_table("b2. delete %d veth pairs (ms for all)" % v["pairs"], v["delete_ms"],
                v["delete_ratio_to_humanz"])
    print_startup(results["startup"])
    if not args.no_write:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        print("\nwrote %s" % os.path.relpath(args.json, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
