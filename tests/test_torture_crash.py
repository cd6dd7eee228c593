"""Crash and environment faults: SIGKILL at random instants, a read-only or full store, the
lock file deleted underneath, clocks that jump.

The kill trials are seeded (``HUMANZ_TORTURE_SEED`` moves the first seed) and every seed is
printed; scripts/torture.py runs the same trial 200+ times. Each trial must leave a readable
store, and DEL (or namespace gone + GC) must leave no reservation, record, temp file, veth,
bridge port or nftables change; the next ADD must work.

What the code uses time for (so what a clock jump can touch): the log line's timestamp
(time.time) and its durationMs (time.monotonic). The IPAM store has no leases, ages or
mtimes: nothing in it depends on a clock, which the timestamp test below pins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from plugin_harness import PLUGIN, REPO, TIMEOUT, Node, netns_path
from torture_kit import (Sandbox, container_state, crash_trial, finish, host_state, settle,
                         spawn, store_problems, typical_duration)

TRIALS = int(os.environ.get("HUMANZ_CRASH_TRIALS", "40"))
FIRST_SEED = int(os.environ.get("HUMANZ_TORTURE_SEED", "7000"))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def node(box: Sandbox) -> Node:
    return box.node()


@pytest.fixture
def mount_dir(tmp_path: Path) -> Iterator[Any]:
    """mount_dir(name, options) mounts a small tmpfs under tmp_path; all unmounted after."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "hztfs", str(path)],
                       check=True, timeout=TIMEOUT)
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=TIMEOUT)


# ---- SIGKILL -----------------------------------------------------------------------------------

def test_sigkill_at_random_instants(box: Sandbox, node: Node) -> None:
    conf = node.conf(subnet="100.64.20.0/24")
    window = typical_duration(node, conf)
    seeds = list(range(FIRST_SEED, FIRST_SEED + TRIALS))
    print("crash trials: seeds %d..%d, kill windows ADD %.1f ms, DEL %.1f ms"
          % (seeds[0], seeds[-1], window["ADD"] * 1000, window["DEL"] * 1000))
    trials = [crash_trial(box, node, conf, seed, window) for seed in seeds]
    for t in trials:
        print(t)
    bad = [t for t in trials if t.leaks or t.problems]
    assert bad == [], bad
    killed = [t for t in trials if t.killed]
    # the trials must really have interrupted work in progress, not only idle start-ups
    mid_way = [t for t in killed if t.after_kill["reservations"] or t.after_kill["veths"]
               or (t.command == "DEL" and not t.after_kill["reservations"])]
    assert len(killed) >= TRIALS // 4 and mid_way, trials
    assert {t.command for t in killed} == {"ADD", "DEL"}


# ---- a read-only store ------------------------------------------------------------------------

def test_read_only_store(box: Sandbox, node: Node, mount_dir: Any) -> None:
    node.data_dir = str(mount_dir("ro", "size=1m") / "data")
    conf = node.conf()
    first = node.make_netns()
    node.add(conf, first)
    subprocess.run(["mount", "-o", "remount,ro", str(Path(node.data_dir).parent)], check=True,
                   timeout=TIMEOUT)
    ns = node.make_netns()
    settle(node)
    before = host_state(node), container_state(ns)
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.rc == 1 and out.code == 5 and out.err == "", out
    assert "Read-only file system" in out.data["msg"], out
    assert (host_state(node), container_state(ns)) == before
    # DEL cannot release on a read-only store: it says so (the runtime retries) and still
    # removes the interface; once the store is writable again the DEL completes
    out = node.delete(conf, first)
    assert out.rc == 1 and out.code == 5 and "Read-only" in out.data["msg"], out
    assert node.reservations() == ["100.64.1.2"] and node.host_veths() == []
    subprocess.run(["mount", "-o", "remount,rw", str(Path(node.data_dir).parent)], check=True,
                   timeout=TIMEOUT)
    assert node.delete(conf, first).rc == 0
    assert node.reservations() == [] and store_problems(node.data_dir, node.network) == []
    node.add(conf, ns)
    assert node.delete(conf, ns).rc == 0


# ---- a full disk ------------------------------------------------------------------------------

def _fill_inodes(directory: Path, leave: int) -> list[Path]:
    """Create empty files until the file system has no inode left, then free ``leave``."""
    files = []
    for i in range(100000):
        path = directory / ("filler%d" % i)
        try:
            path.touch()
        except OSError:
            break
        files.append(path)
    for path in files[len(files) - leave:] if leave else []:
        path.unlink()
    return files[:len(files) - leave]


@pytest.mark.parametrize("free_inodes", [0, 1, 2])
def test_no_inode_left_at_each_write_of_an_add(box: Sandbox, node: Node, mount_dir: Any,
                                               free_inodes: int) -> None:
    """With 0, 1 or 2 files creatable, ADD fails at its record, its address file or its
    cursor: each time code 5 and the host and store exactly as before (no half-made
    reservation for a later DEL to find)."""
    fs = mount_dir("full", "size=1m,nr_inodes=64")
    node.data_dir = str(fs / "data")
    conf = node.conf()
    warm = node.make_netns()
    node.add(conf, warm)  # directories, lock and cursor exist; one reservation is live
    fillers = _fill_inodes(fs, free_inodes)
    ns = node.make_netns()
    settle(node)
    before = host_state(node), container_state(ns)
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.rc == 1 and out.code == 5 and "No space left" in out.data["msg"], out
    assert (host_state(node), container_state(ns)) == before
    assert store_problems(node.data_dir, node.network) == []
    for path in fillers:
        path.unlink()
    node.add(conf, ns)
    assert node.reservations() == ["100.64.1.2", "100.64.1.3"]
    for n in (warm, ns):
        assert node.delete(conf, n).rc == 0
    assert node.reservations() == [] and node.host_veths() == []


def test_no_block_left(box: Sandbox, node: Node, mount_dir: Any) -> None:
    fs = mount_dir("blocks", "size=64k")
    node.data_dir = str(fs / "data")
    conf = node.conf()
    warm = node.make_netns()
    node.add(conf, warm)
    filler = fs / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            for _ in range(1000):
                f.write(b"\0" * 4096)
        except OSError:
            pass
    ns = node.make_netns()
    settle(node)
    before = host_state(node), container_state(ns)
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.rc == 1 and out.code == 5 and "No space left" in out.data["msg"], out
    assert (host_state(node), container_state(ns)) == before
    filler.unlink()
    node.add(conf, ns)
    for n in (warm, ns):
        assert node.delete(conf, n).rc == 0
    assert node.reservations() == []


def test_full_log_disk_does_not_fail_the_operation(box: Sandbox, node: Node,
                                                   mount_dir: Any) -> None:
    fs = mount_dir("log", "size=4k,nr_inodes=2")
    conf = node.conf(logFile=str(fs / "sub" / "humanz.log"))
    ns = node.make_netns()
    node.add(conf, ns)
    out = node.delete(conf, ns)
    assert (out.rc, out.out, out.err) == (0, "", "")


# ---- the lock file deleted underneath ---------------------------------------------------------

HOLDER = r"""
import sys
from humanz.ipam import store
st = store.open_store(sys.argv[1], sys.argv[2])
print("locked", flush=True)
sys.stdin.readline()
st.close()
"""


def _hold(node: Node) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, node.data_dir, node.network],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.close()
    proc.wait(timeout=TIMEOUT)


def _waits_on(pid: int, path: str) -> bool:
    """True once process ``pid`` has ``path`` open (it is then queued on its flock)."""
    for _ in range(1000):
        try:
            if any(os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path
                   for fd in os.listdir("/proc/%d/fd" % pid)):
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def test_lock_file_deleted_underneath(box: Sandbox, node: Node) -> None:
    """A waiter queued on a lock file that is then deleted must not, once it gets that
    orphaned lock, run alongside whoever locked the new lock file meanwhile."""
    conf = node.conf()
    node.add(conf, node.make_netns())  # the store exists
    lock = os.path.join(node.data_dir, node.network, "lock")
    old_holder = _hold(node)
    ns = node.make_netns()
    waiter = spawn(node, "ADD", conf, "cid-" + ns, netns_path(ns))
    new_holder = None
    try:
        assert _waits_on(waiter.pid, lock)
        os.unlink(lock)
        new_holder = _hold(node)  # creates and locks a new lock file
        _release(old_holder)
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=2)  # must now queue on the new lock, not run
        _release(new_holder)
        rc, out, err = finish(waiter)
        assert rc == 0 and err == "", (out, err)
    finally:
        for proc in (old_holder, new_holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT)
        if waiter.poll() is None:
            waiter.kill()
            finish(waiter)
    assert node.reservations() == ["100.64.1.2", "100.64.1.3"]
    assert os.path.exists(lock) and store_problems(node.data_dir, node.network) == []


def test_lock_file_deleted_between_calls(box: Sandbox, node: Node) -> None:
    conf = node.conf()
    a, b = node.make_netns(), node.make_netns()
    node.add(conf, a)
    os.unlink(os.path.join(node.data_dir, node.network, "lock"))
    node.add(conf, b)
    assert node.reservations() == ["100.64.1.2", "100.64.1.3"]
    for ns in (a, b):
        assert node.delete(conf, ns).rc == 0
    assert node.reservations() == []


# ---- clocks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("when", [0.0, 4102444800.0])  # 1970, 2100
def test_store_timestamps_do_not_matter(box: Sandbox, node: Node, when: float) -> None:
    conf = node.conf(version="1.1.0")
    a, b = node.make_netns(), node.make_netns()
    node.add(conf, a)
    node.add(conf, b)
    for path in Path(node.data_dir).rglob("*"):
        os.utime(path, (when, when))
    assert node.delete(conf, a).rc == 0
    assert node.reservations() == ["100.64.1.3"]
    valid = [{"containerID": "cid-" + b, "ifname": "eth0"}]
    assert node.run("GC", dict(conf, **{"cni.dev/valid-attachments": valid})).rc == 0
    assert node.reservations() == ["100.64.1.3"]
    node.add(conf, a)
    assert node.reservations() == ["100.64.1.3", "100.64.1.4"]  # round robin continues


def _run_wrapped(node: Node, prefix: list[str], command: str, conf: dict[str, Any],
                 ns: str, python: list[str] | None = None) -> tuple[int, str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
           "CNI_CONTAINERID": "cid-" + ns, "CNI_NETNS": netns_path(ns), "CNI_IFNAME": "eth0",
           "CNI_PATH": "/usr/lib/cni", "PYTHONPATH": str(REPO)}
    cmd = ["ip", "netns", "exec", node.hostns] + prefix + (python or PLUGIN)
    proc = subprocess.run(cmd, input=json.dumps(conf).encode(), capture_output=True, env=env,
                          cwd=str(REPO), timeout=TIMEOUT)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.mark.parametrize("offset", ["1000000000", "-1000"])
def test_monotonic_clock_jump(box: Sandbox, node: Node, offset: str) -> None:
    """The plugin in a time namespace whose CLOCK_MONOTONIC is shifted (unshare --time)."""
    prefix = ["unshare", "--time", "--monotonic", offset, "--boottime", offset]
    conf = node.conf()
    ns = node.make_netns()
    for command in ("ADD", "DEL"):
        rc, out, err = _run_wrapped(node, prefix, command, conf, ns)
        assert rc == 0 and err == "", (command, out, err)
    assert node.reservations() == []
    for line in node.log_lines():
        assert line["result"] == "ok" and 0 <= line["durationMs"] < TIMEOUT * 1000, line


# A wall clock at the epoch, before it, far in the future, and beyond what gmtime can show.
WALL_CLOCKS = [0.0, -315360000.0, 253402300800.0, 1e17]
CLOCKED = ("import sys, time; time.time = lambda: float(sys.argv[1]); "
           "from humanz.cni.skel import main; sys.exit(main())")


@pytest.mark.parametrize("now", WALL_CLOCKS)
def test_wall_clock_anywhere(box: Sandbox, node: Node, now: float) -> None:
    """Logging never fails an operation, whatever time.time() says."""
    conf = node.conf()
    ns = node.make_netns()
    python = [sys.executable, "-S", "-c", CLOCKED, repr(now)]
    for command in ("ADD", "DEL"):
        rc, out, err = _run_wrapped(node, [], command, conf, ns, python)
        assert rc == 0 and err == "", (command, out, err)
    assert node.reservations() == [] and node.host_veths() == []
    for line in node.log_lines():  # whatever was logged is whole JSON lines
        assert line["result"] == "ok", line


# ---- the allocator's own rollback, at library level ---------------------------------------------

@pytest.mark.parametrize("fail_at", ["record", "address", "cursor"])
def test_failed_commit_takes_back_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                fail_at: str) -> None:
    """A partial earlier ADD holds the IPv4 address; the retry also needs an IPv6 one and its
    write fails: the store must be exactly as before (the record still lists the IPv4)."""
    from humanz.ipam import allocator, store
    from humanz.ipam.errors import StoreError
    from humanz.ipam.ranges import Range
    data = str(tmp_path / "data")
    v4 = [[Range.parse("100.64.30.0/24")]]
    both = v4 + [[Range.parse("fd00:30::/120")]]
    allocator.allocate(data, "net", v4, "c1", "eth0")
    before = sorted((str(p.relative_to(tmp_path)), p.read_bytes())
                    for p in (tmp_path / "data").rglob("*") if p.is_file())
    targets = {"record": "write_record", "address": "reserve", "cursor": "set_last_reserved"}
    calls = {"n": 0}
    real = getattr(store.Store, targets[fail_at])

    def failing(self: store.Store, *args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the commit's write fails; the rollback's may succeed
            raise StoreError("disk full (simulated)")
        real(self, *args)

    monkeypatch.setattr(store.Store, targets[fail_at], failing)
    with pytest.raises(StoreError):
        allocator.allocate(data, "net", both, "c1", "eth0")
    monkeypatch.undo()
    after = sorted((str(p.relative_to(tmp_path)), p.read_bytes())
                   for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert after == before
    assert allocator.held(data, "net", "c1", "eth0") == ["100.64.30.2"]
