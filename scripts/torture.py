"""The long torture runs behind docs/RELIABILITY.md, ending in a table of figures.

    .venv/py3.13/bin/python scripts/torture.py                 # everything, full size
    .venv/py3.13/bin/python scripts/torture.py --only soak --soak 1000
    HUMANZ_PLUGIN=dist/humanz-cni .venv/py3.13/bin/python scripts/torture.py   # the zipapp

Parts (the CI suite in tests/test_torture_*.py runs the same code, smaller):

- crash:        --crash N trials (default 200): SIGKILL an ADD or DEL at a random instant,
                seeds --seed, --seed+1, ... printed one line per trial (torture_kit.crash_trial)
- concurrency:  --rounds N (default 5) rounds of 100 ADDs mixed with 15 DELs and 15 CHECKs on
                a range too small for all; then everything is deleted and must leave nothing
- badinput:     the whole corpus (torture_kit.bad_inputs) against a network in use
- soak:         --soak N ADD/DEL cycles (default 10000), a fresh container namespace each;
                every --sample cycles it records what could grow: the host's links, bridge
                ports, store files and bytes, the nftables ruleset, namespaces left, system
                file handles (/proc/sys/fs/file-nr, shared with everything else on the
                machine, so only indicative), the plugin's peak RSS and call durations

Must run as root (real kernel, throwaway namespaces named hzt...). Exit status 1 when any
leak or problem was found. --json FILE also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from plugin_harness import PLUGIN, TIMEOUT, Node, netns_path  # noqa: E402
from torture_kit import (Sandbox, bad_inputs, bridge_ports, concurrency_round,  # noqa: E402
                         crash_trial, finish, make_scratch_files, plugin_env, rules,
                         run_bad_input, settle, spawn, store_problems, typical_duration,
                         wait_for_veths_gone)

Figures = dict[str, Any]


# ---- crash ------------------------------------------------------------------------------------

def run_crash(box: Sandbox, trials: int, first_seed: int) -> Figures:
    node = box.node("crash")
    conf = node.conf(subnet="100.64.40.0/24")
    window = typical_duration(node, conf)
    print("crash: %d trials, seeds %d..%d, kill windows ADD %.1f ms, DEL %.1f ms"
          % (trials, first_seed, first_seed + trials - 1, window["ADD"] * 1000,
             window["DEL"] * 1000), flush=True)
    done = []
    for seed in range(first_seed, first_seed + trials):
        trial = crash_trial(box, node, conf, seed, window)
        print("  %r" % trial, flush=True)
        done.append(trial)
    killed = [t for t in done if t.killed]
    return {
        "trials": trials, "first_seed": first_seed,
        "kills_landed": len(killed),
        "kills_landed_add": sum(t.command == "ADD" for t in killed),
        "kills_landed_del": sum(t.command == "DEL" for t in killed),
        "finished_before_kill": trials - len(killed),
        "killed_holding_reservation": sum(bool(t.after_kill["reservations"]) for t in killed),
        "killed_with_host_veth": sum(bool(t.after_kill["veths"]) for t in killed),
        "killed_leaving_temp_file": sum(bool(t.after_kill["temps"]) for t in killed),
        "recovered_by_del": sum(t.recovery == "DEL" for t in done),
        "recovered_by_gc": sum(t.recovery == "GC" for t in done),
        "leaks": [repr(t) for t in done if t.leaks],
        "problems": [repr(t) for t in done if t.problems],
    }


# ---- concurrency ------------------------------------------------------------------------------

def run_concurrency(box: Sandbox, rounds: int) -> Figures:
    figures: Figures = {"rounds": rounds, "adds": 0, "added": 0, "refused": {}, "dels": 0,
                        "checks": 0, "problems": [], "leaks": []}
    for number in range(rounds):
        node = box.node("conc")
        started = time.monotonic()
        before = set(box.made)
        rnd = concurrency_round(box, node)
        wall = time.monotonic() - started
        print("concurrency round %d: %d ADDs, %d ok, refused %s, %d DELs, %d CHECKs, %.1f s, "
              "problems %s" % (number + 1, rnd.adds, rnd.added, rnd.refused, rnd.dels,
                                rnd.checks, wall, rnd.problems), flush=True)
        figures["adds"] += rnd.adds
        figures["added"] += rnd.added
        figures["dels"] += rnd.dels
        figures["checks"] += rnd.checks
        for code, count in rnd.refused.items():
            figures["refused"][str(code)] = figures["refused"].get(str(code), 0) + count
        figures["problems"] += rnd.problems
        figures["leaks"] += _delete_everything(box, node, sorted(set(box.made) - before
                                                                 - {node.hostns}))
    return figures


def _delete_everything(box: Sandbox, node: Node, namespaces: list[str]) -> list[str]:
    """DEL every container of a round at once; what is left afterwards is a leak."""
    conf = node.conf(subnet="100.64.16.0/25")
    procs = [spawn(node, "DEL", conf, "cid-" + ns, netns_path(ns)) for ns in namespaces]
    leaks = ["DEL failed: %s" % (out,) for out in (finish(p) for p in procs) if out[0] != 0]
    if node.reservations():
        leaks.append("reservations left: %s" % node.reservations())
    if node.host_veths() or bridge_ports(node):
        leaks.append("veths left: %s" % node.host_veths())
    if node.store_files() or store_problems(node.data_dir, node.network):
        leaks.append("store left: %s" % node.store_files())
    for ns in namespaces:
        box.drop_netns(ns)
    return leaks


# ---- bad input --------------------------------------------------------------------------------

def run_badinput(box: Sandbox) -> Figures:
    node = box.node("bad")
    node.add(node.conf(), box.make_netns())
    ns = box.make_netns()
    scratch = box.tmp / "scratch"
    make_scratch_files(node, scratch)
    cases = bad_inputs(node, ns, scratch)
    settle(node)
    failures = []
    codes: dict[str, int] = {}
    for case in cases:
        problems = run_bad_input(node, ns, case)
        if problems:
            failures.append("%s: %s" % (case.name, problems))
        for code in case.codes[:1]:
            codes[str(code)] = codes.get(str(code), 0) + 1
    print("bad input: %d cases, %d failed" % (len(cases), len(failures)), flush=True)
    for failure in failures:
        print("  " + failure)
    return {"cases": len(cases), "by_expected_code": codes, "problems": failures}


# ---- soak -------------------------------------------------------------------------------------

def run_soak(box: Sandbox, cycles: int, sample: int) -> Figures:
    node = box.node("soak")
    conf = node.conf(subnet="100.64.48.0/24")
    samples: list[dict[str, Any]] = []
    durations: dict[str, list[float]] = {"ADD": [], "DEL": []}
    peak_rss: list[int] = []
    problems: list[str] = []
    started = time.monotonic()
    for cycle in range(1, cycles + 1):
        ns = box.make_netns()
        for command in ("ADD", "DEL"):
            rc, out, seconds, rss = _measured(node, command, conf, "soak-%d" % cycle, ns)
            durations[command].append(seconds)
            peak_rss.append(rss)
            if rc != 0 or (command == "DEL" and out):
                problems.append("cycle %d %s: rc %d %s" % (cycle, command, rc, out[:300]))
        box.drop_netns(ns)
        if cycle == 1 or cycle % sample == 0 or cycle == cycles:
            samples.append(_sample(box, node, cycle, durations, peak_rss, started))
            print("soak %s" % json.dumps(samples[-1]), flush=True)
            durations = {"ADD": [], "DEL": []}
            peak_rss = []
        if len(problems) > 20:
            problems.append("stopped after 20 problems")
            break
    first, last = samples[0], samples[-1]
    growth = {key: last[key] - first[key] for key in GROWTH_KEYS}
    return {"cycles": samples[-1]["cycle"], "sample_every": sample, "samples": samples,
            "growth_first_to_last": growth,
            "leaks": ["%s grew by %s" % (k, v) for k, v in growth.items()
                      if v and k in MUST_NOT_GROW],
            "problems": problems,
            "wall_s": round(time.monotonic() - started, 1)}


GROWTH_KEYS = ("host_links", "bridge_ports", "reservations", "store_files", "store_bytes",
               "rules_lines", "namespaces", "file_handles", "plugin_rss_kb_max",
               "log_bytes")
MUST_NOT_GROW = ("host_links", "bridge_ports", "reservations", "store_files", "store_bytes",
                 "rules_lines", "namespaces")


def _measured(node: Node, command: str, conf: dict[str, Any], cid: str,
              ns: str) -> tuple[int, str, float, int]:
    """One plugin call: (exit status, stdout, seconds, peak RSS in KiB from wait4)."""
    started = time.monotonic()
    proc = subprocess.Popen(["ip", "netns", "exec", node.hostns] + PLUGIN,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=str(REPO),
                            env=plugin_env(command, cid, netns_path(ns)))
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(conf).encode())
    proc.stdin.close()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.decode(errors="replace"), time.monotonic() - started, \
        usage.ru_maxrss


def _sample(box: Sandbox, node: Node, cycle: int, durations: dict[str, list[float]],
            peak_rss: list[int], started: float) -> dict[str, Any]:
    wait_for_veths_gone(node)
    store = [p for p in Path(node.data_dir).rglob("*") if p.is_file()]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=TIMEOUT).stdout.split("\n")
    mine = {n.split()[0] for n in listed if n.strip()} & set(box.made)
    with open("/proc/sys/fs/file-nr") as f:
        handles = int(f.read().split()[0])
    return {
        "cycle": cycle,
        "elapsed_s": round(time.monotonic() - started, 1),
        "host_links": len(node.ip_json("link", "show")),
        "bridge_ports": len(bridge_ports(node)),
        "reservations": len(node.reservations()),
        "store_files": len(store),
        # the round-robin cursor's text changes length as it moves ("...2" -> "...10"):
        # not growth, so its bytes are left out
        "store_bytes": sum(p.stat().st_size for p in store
                           if not p.name.startswith("last_reserved_ip")),
        "rules_lines": len(rules(node.hostns).splitlines()),
        "namespaces": len(mine) - 1,  # minus the soak's own host namespace
        "file_handles": handles,
        "plugin_rss_kb_max": max(peak_rss) if peak_rss else 0,
        "log_bytes": os.path.getsize(node.log_file) if os.path.exists(node.log_file) else 0,
        "add_ms_p50": _p50(durations["ADD"]),
        "del_ms_p50": _p50(durations["DEL"]),
    }


def _p50(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2] * 1000, 1) if values else 0.0


# ---- the table --------------------------------------------------------------------------------

def table(figures: Figures) -> str:
    rows = [("part", "figure", "value")]
    for part, data in figures.items():
        if part == "meta":
            continue
        for key, value in data.items():
            if key in ("samples",):
                continue
            if isinstance(value, list):
                value = len(value)
            rows.append((part, key, json.dumps(value) if isinstance(value, dict) else str(value)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crash", type=int, default=200, help="crash trials")
    parser.add_argument("--seed", type=int, default=1, help="first crash seed")
    parser.add_argument("--rounds", type=int, default=5, help="concurrency rounds")
    parser.add_argument("--soak", type=int, default=10000, help="soak ADD/DEL cycles")
    parser.add_argument("--sample", type=int, default=500, help="soak sampling interval")
    parser.add_argument("--only", default="crash,concurrency,badinput,soak",
                        help="comma-separated parts to run")
    parser.add_argument("--json", help="also write the figures to this file")
    opts = parser.parse_args()
    parts: dict[str, Callable[[Sandbox], Figures]] = {
        "crash": lambda box: run_crash(box, opts.crash, opts.seed),
        "concurrency": lambda box: run_concurrency(box, opts.rounds),
        "badinput": run_badinput,
        "soak": lambda box: run_soak(box, opts.soak, opts.sample),
    }
    figures: Figures = {"meta": {"command": " ".join(sys.argv), "plugin": " ".join(PLUGIN),
                                 "python": sys.version.split()[0],
                                 "kernel": os.uname().release, "cpus": os.cpu_count(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}}
    with tempfile.TemporaryDirectory(prefix="hzt-torture-") as tmp:
        for name in opts.only.split(","):
            with Sandbox(Path(tmp) / name) as box:
                started = time.monotonic()
                figures[name] = parts[name](box)
                figures[name]["wall_s"] = round(time.monotonic() - started, 1)
    bad = sum(len(data.get("leaks", [])) + len(data.get("problems", []))
              for part, data in figures.items() if part != "meta")
    figures["meta"]["leaks_and_problems"] = bad
    print()
    print(table(figures))
    print("\nleaks and problems found: %d" % bad)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
