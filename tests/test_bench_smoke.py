"""Smoke test of the benchmark suite (scripts/bench_plugin.py) in its tiny mode.

No timing is asserted (speed is the benchmark's business, not the tests'): the script must run
every section against the real plugins, report no failed plugin call, write JSON of the
documented shape, and remove every namespace it made, also when interrupted. Its names start
with ``hzt`` here (``--prefix``), so scripts/leftovers.py would catch anything left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = str(REPO / "scripts" / "bench_plugin.py")
SECTIONS = ["startup", "sequential", "burst", "scale", "ipam", "rss", "profile"]
STATS_KEYS = {"n", "median", "p90", "min", "max"}
TIMEOUT = 600

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/lib/cni/bridge"),
                                reason="needs the reference plugins (containernetworking-plugins)")


def bench(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, SCRIPT, "--prefix", "hzt"] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(REPO))


def leftovers(prefix: str) -> list[str]:
    return [n for n in os.listdir("/run/netns") if n.startswith(prefix)] \
        if os.path.isdir("/run/netns") else []


def is_stats(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == STATS_KEYS and value["n"] >= 1 \
        and value["min"] <= value["median"] <= value["p90"] <= value["max"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "performance.json"
    proc = bench("--tiny", "--json", str(out))
    stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, stdout + stderr
    assert "failures: 0, leftovers: 0" in stdout
    data: dict[str, Any] = json.loads(out.read_text())
    data["_stdout"] = stdout
    return data


def test_every_section_ran_and_nothing_failed(report: dict[str, Any]) -> None:
    assert report["failures"] == []
    assert report["leftovers"] == []
    assert leftovers(report["run_prefix"]) == []
    assert report["run_prefix"].startswith("hzt")
    assert set(report["results"]) == set(SECTIONS)
    assert report["options"]["sections"] == SECTIONS


def test_machine_and_command_are_recorded(report: dict[str, Any]) -> None:
    m = report["machine"]
    for key in ("kernel", "nproc", "cpu", "plugin_python", "humanz_version", "zipapp_sha256",
                "reference", "loadavg_start", "loadavg_end"):
        assert m[key] not in (None, ""), key
    assert "--tiny" in report["command"]


def test_sequential_shape(report: dict[str, Any]) -> None:
    seq = report["results"]["sequential"]
    for plugin in ("humanz", "reference"):
        for key in ("add", "del", "add_cpu", "del_cpu"):
            assert is_stats(seq[plugin][key]), (plugin, key)
            assert seq[plugin][key]["n"] == 2
    assert seq["ratio_add"] > 0 and seq["ratio_del"] > 0


def test_burst_all_succeeded_without_duplicates(report: dict[str, Any]) -> None:
    burst = report["results"]["burst"]
    assert burst["concurrency"] == 3
    for plugin in ("humanz", "reference"):
        assert burst[plugin]["failures"] == 0
        assert burst[plugin]["duplicate_addresses"] == 0
        assert burst[plugin]["reservations_left_after_del"] == 0
        assert is_stats(burst[plugin]["add"]) and is_stats(burst[plugin]["del"])


def test_scale_rows(report: dict[str, Any]) -> None:
    scale = report["results"]["scale"]
    assert [row["attachments"] for row in scale["scales"]] == [2, 4]
    for row in scale["scales"]:
        for plugin in ("humanz", "reference"):
            assert is_stats(row[plugin]["add"]) and is_stats(row[plugin]["del"])
    assert scale["humanz_add_growth"] > 0


def test_ipam_cases(report: dict[str, Any]) -> None:
    cases = report["results"]["ipam"]["cases"]
    assert [c["subnet"] for c in cases] == ["100.64.3.0/24", "100.65.0.0/16", "100.64.0.0/10"]
    for case in cases:
        for mode in ("steady", "dense"):
            assert is_stats(case["humanz_inprocess"][mode]["allocate"])
            for plugin in ("humanz", "reference"):
                assert is_stats(case["process"][mode][plugin]["add"])


def test_rss_and_startup(report: dict[str, Any]) -> None:
    rss = report["results"]["rss"]
    assert is_stats(rss["humanz"]) and is_stats(rss["reference"])
    assert set(rss["floors_kib"]) == {"python3 -I -S -c pass", "humanz VERSION",
                                      "bridge VERSION"}
    start = report["results"]["startup"]
    assert set(start) == {"python3 -I -S -c pass", "humanz VERSION", "bridge VERSION",
                          "host-local VERSION"}
    assert all(is_stats(v["wall"]) for v in start.values())


def test_profile_counts(report: dict[str, Any]) -> None:
    prof = report["results"]["profile"]
    imports = prof["imports"]
    assert "humanz.cni.skel" in imports["VERSION"]["humanz_modules"]
    assert "humanz.bridge" in imports["ADD"]["humanz_modules"]
    if "syscalls" in prof:   # strace is optional
        add = prof["syscalls"]["humanz"]["ADD"]
        assert add["netlink_requests"] >= 3 and add["syscalls"] > 0
        assert prof["syscalls"]["reference"]["DEL"]["netlink_by_type"].get("RTM_DELLINK") == 1


def test_targets_listed(report: dict[str, Any]) -> None:
    targets = report["targets"]
    assert len(targets) == 7
    for t in targets.values():
        assert set(t) == {"value", "limit", "met"}
        assert t["met"] in (True, False)
    assert "| ADD, sequential |" in report["_stdout"]


def test_interrupted_run_cleans_up() -> None:
    """Ctrl-C in the middle of a section: exit 130, every namespace of the run removed."""
    proc = bench("--sections", "sequential", "--n", "500", "--json", "-")
    assert proc.stderr is not None
    prefix = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("bench: run prefix "):
            prefix = line.split()[-1]
        if line.startswith("bench: sequential ..."):
            break
    assert prefix.startswith("hzt")
    time.sleep(2.0)                       # well inside the 500 rounds
    assert leftovers(prefix), "the run should have namespaces by now"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130
    assert leftovers(prefix) == []
