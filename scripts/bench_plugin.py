#!/usr/bin/env python3
"""Side-by-side benchmark: the humanz plugin against the reference ``bridge`` + ``host-local``.

One command runs everything (needs root; touches nothing outside its own namespaces)::

    scripts/bench                       # = /usr/bin/python3 scripts/bench_plugin.py
    scripts/bench --n 100 --json docs/performance.json

Both plugins are exec'd exactly as a runtime execs them: the built single file
(``#!/usr/bin/python3 -IScCODE`` + zip, rebuilt from this checkout into the run's work directory unless
``--plugin`` names one) and the Go binaries in /usr/lib/cni, config on a pipe, result read
from stdout, the child reaped with wait4 (wall time, CPU time, peak RSS). They run
ALTERNATELY in the same run (order swapped every round), with equivalent configs: a bridge
with isGateway + isDefaultGateway and cniVersion 1.0.0; humanz with its built-in IPAM, the
reference with ``ipam.type = host-local``; each its own bridge, data dir and subnet in
100.64.0.0/10. Data dirs go under ``--data-root`` (default /dev/shm, a tmpfs like a node's
/run). Each plugin has its own throwaway "node" (host) network namespace, so the real
host is never touched and the two never see each other's links. Every ADD goes into a fresh
container namespace made beforehand (untimed).

Sections (each prints medians, p90s and the ratio humanz/reference):

1. ``sequential``  ADD then DEL, one at a time, ``--n`` rounds;
2. ``burst``       ``--burst`` concurrent ADDs, then as many concurrent DELs (wall time; all
                   must succeed; no address may be handed out twice), ``--burst-rounds`` times;
3. ``scale``       ADD and DEL when the node already has 10, 250, 1000 attachments: veth
                   pairs on the network's bridge (peers in one background namespace, made with
                   iproute2's batch mode) and as many reservations in the plugin's store;
4. ``ipam``        address allocation alone on a /24 (250 reservations), a /16 and a /10 (5000
                   each; the /10 stands in for a /8, since only 100.64.0.0/10 may be used):
                   humanz.ipam called in-process, and as a process (humanz's IPAM from the
                   zipapp vs host-local run with CNI_COMMAND=ADD/DEL) for context;
5. ``rss``         peak RSS of one ADD, by GNU time (ru_maxrss of a child forked by a small
                   process; the reference's includes the host-local child it runs);
6. ``startup``     floors: ``python3 -I -S -c pass``, ``bridge``/``host-local`` VERSION, humanz
                   VERSION.

Results go to a JSON file (``--json``, default docs/performance.json; ``--json -`` prints
only) and a markdown table on stdout. Every name starts with ``--prefix`` (default ``hzb``)
plus a per-run tag; everything is removed at the end, also on failure or Ctrl-C
(``--cleanup`` removes what a SIGKILLed run left). Loops are bounded, every child has a
timeout, no packet is ever sent.
"""

from __future__ import annotations

import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

REFERENCE_DIR = "/usr/lib/cni"
PYTHON = "/usr/bin/python3"          # what nodes run the plugin with (the zipapp's shebang)
TIME = "/usr/bin/time"               # GNU time: peak RSS of a child forked by a small parent
CLONE_NEWNET = 0x40000000            # linux/sched.h
CHILD_TIMEOUT = 60.0                 # seconds any one plugin process may take
CNI_VERSION = "1.0.0"                # the newest version bridge 1.1.1 speaks

# Subnets, all inside 100.64.0.0/10 (the only IPv4 block this project may use).
SEQ_SUBNET = {"humanz": "100.64.1.0/24", "reference": "100.64.2.0/24"}
SCALE_SUBNET = {"humanz": "100.64.8.0/21", "reference": "100.64.16.0/21"}
IPAM_CASES = [("/24", "100.64.3.0/24", 250), ("/16", "100.65.0.0/16", 5000),
              ("/10 (for /8)", "100.64.0.0/10", 5000)]
PORTS_PER_BRIDGE = 1000              # a Linux bridge takes at most 1024 ports (BR_MAX_PORTS)

PLUGINS = ("humanz", "reference")


# ============================================================================================
# Small helpers: statistics, namespaces, the main thread's network namespace
# ============================================================================================

def stats(values: list[float]) -> dict[str, float]:
    """Median, p90 (nearest rank), min, max of a list of milliseconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    n = len(ordered)
    p90 = ordered[min(n - 1, max(0, -(-9 * n // 10) - 1))]
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return {"n": n, "median": round(median, 3), "p90": round(p90, 3),
            "min": round(ordered[0], 3), "max": round(ordered[-1], 3)}


def ratio(a: dict[str, float], b: dict[str, float], key: str = "median") -> float | None:
    if not a.get(key) or not b.get(key):
        return None
    return round(a[key] / b[key], 3)


_libc = None


def setns(fd: int) -> None:
    """Switch the calling (main) thread into the network namespace open on ``fd``."""
    native = getattr(os, "setns", None)       # Python >= 3.12
    if native is not None:
        native(fd, CLONE_NEWNET)
        return
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


def sysctl_in(ns_name: str, settings: dict[str, str]) -> None:
    """Write /proc/sys keys inside a namespace (the main thread switches in and back)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open("/run/netns/" + ns_name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target)
        try:
            for key, value in settings.items():
                with open("/proc/sys/" + key, "w") as f:
                    f.write(value)
        finally:
            setns(home)
    finally:
        os.close(target)
        os.close(home)


# IPv6 off where the background attachments live: otherwise 1000 peers coming up run DAD,
# router solicitations and MLD reports for seconds, flooded through the bridges and holding
# the RTNL lock, and that storm (not the plugins) dominates ADD at 1000 attachments.
NO_IPV6 = {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}


def ip_batch(lines: list[str], netns: str | None = None) -> None:
    """Run iproute2 commands in batch mode (one process for many commands)."""
    if not lines:
        return
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    proc = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError("ip -batch failed: %s" % proc.stderr.strip()[:2000])


class Namespaces:
    """Every network namespace the run makes, so that all of them can be removed."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = 0
        self.made: list[str] = []

    def make(self, count: int, tag: str = "c") -> list[str]:
        names = []
        for _ in range(count):
            self.counter += 1
            names.append("%s%s%d" % (self.prefix, tag, self.counter))
        self.made.extend(names)
        ip_batch(["netns add %s" % n for n in names])
        return names

    def remove(self, names: list[str]) -> None:
        present = [n for n in names if os.path.exists("/run/netns/" + n)]
        if present:
            subprocess.run(["ip", "-force", "-batch", "-"], capture_output=True, timeout=600,
                           input="".join("netns del %s\n" % n for n in present).encode())
        gone = set(names)
        self.made = [n for n in self.made if n not in gone]

    def remove_all(self) -> None:
        self.remove(list(self.made))


def leftovers(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(prefix))
    except FileNotFoundError:
        return []


# ============================================================================================
# Running one plugin process (or many at once) and reaping it with wait4
# ============================================================================================

class Run:
    """One finished child: status, output, wall ms, CPU ms, peak RSS (KiB)."""

    __slots__ = ("rc", "out", "err", "wall_ms", "cpu_ms", "maxrss_kib")

    def __init__(self) -> None:
        self.rc = -1
        self.out = b""
        self.err = b""
        self.wall_ms = 0.0
        self.cpu_ms = 0.0
        self.maxrss_kib = 0

    def result(self) -> dict[str, Any]:
        try:
            data = json.loads(self.out)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def describe(self) -> str:
        return "rc=%d out=%r err=%r" % (self.rc, self.out[:400], self.err[:400])


class _Child:
    __slots__ = ("pid", "fds", "buffers", "t0", "run")

    def __init__(self) -> None:
        self.pid = 0
        self.fds: dict[int, int] = {}         # fd -> 1 (stdout) / 2 (stderr)
        self.buffers: dict[int, list[bytes]] = {1: [], 2: []}
        self.t0 = 0.0
        self.run = Run()


LIVE_PIDS: set[int] = set()


class Job:
    """What to exec: argv, environment, stdin bytes, and the node namespace to exec it in."""

    __slots__ = ("argv", "env", "stdin", "ns_fd")

    def __init__(self, argv: list[str], env: dict[str, str], stdin: bytes,
                 ns_fd: int | None) -> None:
        self.argv = argv
        self.env = env
        self.stdin = stdin
        self.ns_fd = ns_fd


class Spawner:
    """posix_spawn children into a node namespace and reap them with wait4."""

    def __init__(self) -> None:
        self.home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def _spawn(self, job: Job) -> _Child:
        child = _Child()
        r_in, w_in = os.pipe2(os.O_CLOEXEC)
        r_out, w_out = os.pipe2(os.O_CLOEXEC)
        r_err, w_err = os.pipe2(os.O_CLOEXEC)
        actions = [(os.POSIX_SPAWN_DUP2, r_in, 0), (os.POSIX_SPAWN_DUP2, w_out, 1),
                   (os.POSIX_SPAWN_DUP2, w_err, 2)]
        if job.ns_fd is not None:
            setns(job.ns_fd)       # the child inherits the spawning thread's namespace
        try:
            child.t0 = time.perf_counter()
            child.pid = os.posix_spawn(job.argv[0], job.argv, job.env, file_actions=actions)
            LIVE_PIDS.add(child.pid)
        finally:
            if job.ns_fd is not None:
                setns(self.home_fd)
            for fd in (r_in, w_out, w_err):
                os.close(fd)
        try:
            os.write(w_in, job.stdin)  # a config is far below the pipe's 64 KiB
        except BrokenPipeError:
            pass
        os.close(w_in)
        child.fds = {r_out: 1, r_err: 2}
        return child

    def run_many(self, jobs: list[Job], timeout: float = CHILD_TIMEOUT) -> tuple[list[Run], float]:
        """Start every job at once, wait for all; (runs, wall ms from first spawn to last
        reap). A child still running after ``timeout`` is killed (rc -9)."""
        t_start = time.perf_counter()
        children = []
        try:
            for job in jobs:
                children.append(self._spawn(job))
            self._pump(children, t_start + timeout)
            for child in children:
                self._reap(child)
        finally:
            for child in children:
                for fd in list(child.fds):
                    os.close(fd)
                child.fds = {}
                if child.pid in LIVE_PIDS:
                    kill_and_reap(child.pid)
        wall = (time.perf_counter() - t_start) * 1000
        return [c.run for c in children], wall

    def run_one(self, job: Job) -> Run:
        return self.run_many([job])[0][0]

    @staticmethod
    def _pump(children: list[_Child], deadline: float) -> None:
        """Read every child's stdout/stderr until EOF (bounded by ``deadline``)."""
        poller = select.poll()
        owner: dict[int, _Child] = {}
        for child in children:
            for fd in child.fds:
                poller.register(fd, select.POLLIN | select.POLLHUP)
                owner[fd] = child
        while owner:
            left = deadline - time.perf_counter()
            if left <= 0:
                for child in {id(c): c for c in owner.values()}.values():
                    kill_and_reap(child.pid)
                    child.run.rc = -9
                return
            for fd, _ in poller.poll(left * 1000):
                child = owner[fd]
                data = os.read(fd, 65536)
                if data:
                    child.buffers[child.fds[fd]].append(data)
                    continue
                poller.unregister(fd)
                del owner[fd]
                del child.fds[fd]
                os.close(fd)

    @staticmethod
    def _reap(child: _Child) -> None:
        if child.pid not in LIVE_PIDS:
            return
        _, status, usage = os.wait4(child.pid, 0)
        t1 = time.perf_counter()
        LIVE_PIDS.discard(child.pid)
        run = child.run
        run.rc = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
            else (status >> 8)
        run.out = b"".join(child.buffers[1])
        run.err = b"".join(child.buffers[2])
        run.wall_ms = (t1 - child.t0) * 1000
        run.cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
        run.maxrss_kib = usage.ru_maxrss


def kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    LIVE_PIDS.discard(pid)


# ============================================================================================
# The two plugins, their nodes and their networks
# ============================================================================================

class Network:
    """One network of one plugin: its config, bridge, data dir, subnet."""

    def __init__(self, plugin: str, name: str, bridge: str, subnet: str, data_dir: str,
                 log_file: str) -> None:
        self.plugin = plugin
        self.name = name
        self.bridge = bridge
        self.subnet = subnet
        self.data_dir = data_dir
        ipam: dict[str, Any] = {"ranges": [[{"subnet": subnet}]], "dataDir": data_dir}
        conf: dict[str, Any] = {"cniVersion": CNI_VERSION, "name": name, "bridge": bridge,
                                   "isGateway": True, "isDefaultGateway": True}
        if plugin == "humanz":
            conf["type"] = "humanz-cni"
            conf["logFile"] = log_file      # humanz logs one line per operation by default
            ipam["type"] = "humanz"
        else:
            conf["type"] = "bridge"
            ipam["type"] = "host-local"
        conf["ipam"] = ipam
        self.conf = json.dumps(conf, sort_keys=True).encode()   # as libcni sends it

    def reservations(self) -> list[str]:
        """Addresses reserved in the store (files named like an IPv4 address)."""
        try:
            names = os.listdir(os.path.join(self.data_dir, self.name))
        except FileNotFoundError:
            return []
        return [n for n in names if n.count(".") == 3 and n.replace(".", "").isdigit()]


class Node:
    """A plugin's throwaway host namespace and how to exec the plugin there."""

    def __init__(self, plugin: str, ns_name: str, executable: str, cni_path: str) -> None:
        self.plugin = plugin
        self.ns_name = ns_name
        self.executable = executable
        self.cni_path = cni_path
        self.fd = os.open("/run/netns/" + ns_name, os.O_RDONLY | os.O_CLOEXEC)

    def job(self, command: str, net: Network, cid: str, netns: str) -> Job:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command,
               "CNI_CONTAINERID": cid, "CNI_NETNS": "/run/netns/" + netns,
               "CNI_IFNAME": "eth0", "CNI_PATH": self.cni_path}
        return Job([self.executable], env, net.conf, self.fd)


class Bench:
    def __init__(self, opts: Options, spawner: Spawner, nss: Namespaces, work: str,
                 zipapp: str) -> None:
        self.opts = opts
        self.spawner = spawner
        self.nss = nss
        self.work = work
        self.zipapp = zipapp
        self.prefix = nss.prefix
        self.failures: list[str] = []
        hosts = nss.make(2, "node")
        self.nodes = {
            "humanz": Node("humanz", hosts[0], zipapp, opts.reference_dir),
            "reference": Node("reference", hosts[1], os.path.join(opts.reference_dir,
                                                                  "bridge"),
                              opts.reference_dir),
        }

    def network(self, plugin: str, tag: str, subnet: str) -> Network:
        short = "h" if plugin == "humanz" else "r"
        name = "%s%s%s" % (self.prefix, short, tag)
        return Network(plugin, name, name[:15], subnet,
                       os.path.join(self.work, "data-" + short),
                       os.path.join(self.work, "humanz.log"))

    def order(self, i: int) -> tuple[str, str]:
        return PLUGINS if i % 2 == 0 else (PLUGINS[1], PLUGINS[0])

    # -- checking what came back ---------------------------------------------------------

    def check_add(self, run: Run, what: str) -> str | None:
        """The address an ADD returned, or None (and a recorded failure)."""
        ips = run.result().get("ips") if run.rc == 0 else None
        if not isinstance(ips, list) or len(ips) != 1:
            self.failures.append("%s: %s" % (what, run.describe()))
            return None
        return str(ips[0].get("address"))

    def check_ok(self, run: Run, what: str) -> bool:
        if run.rc != 0:
            self.failures.append("%s: %s" % (what, run.describe()))
            return False
        return True

    # -- one ADD + DEL round per plugin, alternating -------------------------------------

    def add_del_rounds(self, nets: dict[str, Network], rounds: int, label: str
                       ) -> dict[str, dict[str, list[float]]]:
        """``rounds`` times: ADD each plugin into a fresh namespace, then DEL each (order
        swapped every round). Wall ms, CPU ms and peak RSS per plugin and command."""
        out: dict[str, dict[str, list[float]]] = {
            p: {"add": [], "del": [], "add_cpu": [], "del_cpu": []} for p in PLUGINS}
        names = self.nss.make(rounds * 2)
        try:
            for i in range(rounds):
                order = self.order(i)
                spots = {p: names[2 * i + k] for k, p in enumerate(PLUGINS)}
                for command in ("ADD", "DEL"):
                    for p in order:
                        cid = "%s-%s" % (label, spots[p])
                        run = self.spawner.run_one(
                            self.nodes[p].job(command, nets[p], cid, spots[p]))
                        what = "%s %s %s round %d" % (label, p, command, i)
                        ok = self.check_add(run, what) is not None if command == "ADD" \
                            else self.check_ok(run, what)
                        if ok:
                            key = command.lower()
                            out[p][key].append(run.wall_ms)
                            out[p][key + "_cpu"].append(run.cpu_ms)
        finally:
            self.nss.remove(names)
        return out

    def warm_up(self, nets: dict[str, Network]) -> None:
        """One untimed ADD + DEL per network: creates the bridge and the store, fills the
        page cache with both executables."""
        self.add_del_rounds(nets, 1, "warm")

    # -- 1. sequential -------------------------------------------------------------------

    def sequential(self) -> dict[str, Any]:
        nets = {p: self.network(p, "s", SEQ_SUBNET[p]) for p in PLUGINS}
        self.warm_up(nets)
        raw = self.add_del_rounds(nets, self.opts.n, "seq")
        result: dict[str, Any] = {}
        for p in PLUGINS:
            result[p] = {k: stats(v) for k, v in raw[p].items()}
        for cmd in ("add", "del"):
            result["ratio_" + cmd] = ratio(result["humanz"][cmd], result["reference"][cmd])
            result["ratio_%s_p90" % cmd] = ratio(result["humanz"][cmd],
                                                 result["reference"][cmd], "p90")
        return result

    # -- 2. burst ------------------------------------------------------------------------

    def burst(self) -> dict[str, Any]:
        nets = {p: self.network(p, "s", SEQ_SUBNET[p]) for p in PLUGINS}
        k = self.opts.burst
        walls: dict[str, dict[str, list[float]]] = {p: {"add": [], "del": []} for p in PLUGINS}
        duplicates = {p: 0 for p in PLUGINS}
        failed = {p: 0 for p in PLUGINS}
        left = {p: 0 for p in PLUGINS}
        for i in range(self.opts.burst_rounds):
            names = self.nss.make(2 * k)
            try:
                spots = {p: names[j * k:(j + 1) * k] for j, p in enumerate(PLUGINS)}
                for command in ("ADD", "DEL"):
                    for p in self.order(i):
                        jobs = [self.nodes[p].job(command, nets[p], "burst-%s" % ns, ns)
                                for ns in spots[p]]
                        runs, wall = self.spawner.run_many(jobs)
                        what = "burst %s %s round %d" % (p, command, i)
                        if command == "ADD":
                            got = [self.check_add(r, what) for r in runs]
                            addrs = [a for a in got if a is not None]
                            duplicates[p] += len(addrs) - len(set(addrs))
                            bad = len(runs) - len(addrs)
                        else:
                            bad = sum(not self.check_ok(r, what) for r in runs)
                        failed[p] += bad
                        if bad == 0:
                            walls[p][command.lower()].append(wall)
                for p in PLUGINS:
                    left[p] += len(nets[p].reservations())
            finally:
                self.nss.remove(names)
        result: dict[str, Any] = {"concurrency": k}
        for p in PLUGINS:
            result[p] = {"add": stats(walls[p]["add"]), "del": stats(walls[p]["del"]),
                         "failures": failed[p], "duplicate_addresses": duplicates[p],
                         "reservations_left_after_del": left[p]}
        for cmd in ("add", "del"):
            result["ratio_" + cmd] = ratio(result["humanz"][cmd], result["reference"][cmd])
        return result

    # -- 3. scale ------------------------------------------------------------------------

    def scale(self) -> dict[str, Any]:
        nets = {p: self.network(p, "x", SCALE_SUBNET[p]) for p in PLUGINS}
        self.warm_up(nets)
        bg = self.nss.make(2, "bg")
        for name in bg:
            sysctl_in(name, NO_IPV6)
        background = {"humanz": Background(self, nets["humanz"], bg[0]),
                      "reference": Background(self, nets["reference"], bg[1])}
        result: dict[str, Any] = {"scales": []}
        try:
            for count in self.opts.scales:
                made_ms = {}
                for p in PLUGINS:
                    t0 = time.perf_counter()
                    background[p].grow_to(count)
                    made_ms[p] = round((time.perf_counter() - t0) * 1000)
                time.sleep(min(5.0, 0.5 + count / 400))   # let the new links' async work end
                raw = self.add_del_rounds(nets, self.opts.scale_n, "scale%d" % count)
                row: dict[str, Any] = {"attachments": count,
                                          "background_setup_ms": made_ms}
                for p in PLUGINS:
                    row[p] = {"add": stats(raw[p]["add"]), "del": stats(raw[p]["del"])}
                for cmd in ("add", "del"):
                    row["ratio_" + cmd] = ratio(row["humanz"][cmd], row["reference"][cmd])
                result["scales"].append(row)
        finally:
            self.nss.remove(bg)     # the peers die with it, and their host ends with them
        rows = result["scales"]
        if len(rows) >= 2:
            first, last = rows[0], rows[-1]
            for p in PLUGINS:
                for cmd in ("add", "del"):
                    result["%s_%s_growth" % (p, cmd)] = ratio(last[p][cmd], first[p][cmd])
        return result

    # -- 4. IPAM alone -------------------------------------------------------------------

    def ipam(self) -> dict[str, Any]:
        rows = []
        for label, subnet, count in self.opts.ipam_cases:
            rows.append(IpamCase(self, label, subnet, count).measure())
        result: dict[str, Any] = {"cases": rows}
        base, big = rows[0], rows[-1]
        for mode in ("steady", "dense"):
            result["humanz_inprocess_%s_largest_over_smallest" % mode] = ratio(
                big["humanz_inprocess"][mode]["allocate"],
                base["humanz_inprocess"][mode]["allocate"])
        return result

    def profile(self) -> dict[str, Any]:
        return profile(self)

    # -- 6. start-up floors --------------------------------------------------------------

    def startup(self) -> dict[str, Any]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": "VERSION",
               "CNI_CONTAINERID": "dummy", "CNI_NETNS": "dummy", "CNI_IFNAME": "dummy",
               "CNI_PATH": "dummy"}
        probe = b'{"cniVersion":"1.0.0"}'
        jobs = {
            "python3 -I -S -c pass": Job([PYTHON, "-I", "-S", "-c", "pass"], env, b"", None),
            "humanz VERSION": Job([self.zipapp], env, probe, None),
            "bridge VERSION": Job([os.path.join(self.opts.reference_dir, "bridge")], env,
                                  probe, None),
            "host-local VERSION": Job([os.path.join(self.opts.reference_dir, "host-local")],
                                      env, probe, None),
        }
        times: dict[str, list[float]] = {k: [] for k in jobs}
        keys = list(jobs)
        for i in range(self.opts.n):
            for k in (keys if i % 2 == 0 else keys[::-1]):
                run = self.spawner.run_one(jobs[k])
                if self.check_ok(run, "startup %s" % k):
                    times[k].append(run.wall_ms)
        return {k: {"wall": stats(times[k])} for k in keys}

    # -- 5. peak RSS ---------------------------------------------------------------------

    def rss(self) -> dict[str, Any]:
        """Peak RSS of one ADD, measured by GNU time: wait4's ru_maxrss of a child is at
        least the RSS of the process that forked it (exec keeps the old mm's high-water
        mark, and posix_spawn's vfork lends the bench's own 20 MB), so the child must be
        forked by a small process. The reference's figure includes its host-local child."""
        if not os.access(TIME, os.X_OK):
            return {"error": "%s not found (Debian package time)" % TIME}
        nets = {p: self.network(p, "s", SEQ_SUBNET[p]) for p in PLUGINS}
        report = os.path.join(self.work, "maxrss")
        kib: dict[str, list[float]] = {p: [] for p in PLUGINS}
        rounds = min(self.opts.n, 20)
        names = self.nss.make(rounds * 2)
        try:
            for i in range(rounds):
                for k, p in enumerate(self.order(i)):
                    ns = names[2 * i + k]
                    job = self.nodes[p].job("ADD", nets[p], "rss-" + ns, ns)
                    job.argv = [TIME, "-f", "%M", "-o", report] + job.argv
                    run = self.spawner.run_one(job)
                    if self.check_add(run, "rss %s ADD" % p) is not None:
                        with open(report) as f:
                            kib[p].append(float(f.read().split()[-1]))
                    self.check_ok(self.spawner.run_one(
                        self.nodes[p].job("DEL", nets[p], "rss-" + ns, ns)), "rss %s DEL" % p)
        finally:
            self.nss.remove(names)
        floors = {}
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": "VERSION"}
        for label, argv in (("python3 -I -S -c pass", [PYTHON, "-I", "-S", "-c", "pass"]),
                            ("humanz VERSION", [self.zipapp]),
                            ("bridge VERSION", [os.path.join(self.opts.reference_dir,
                                                             "bridge")])):
            run = self.spawner.run_one(Job([TIME, "-f", "%M", "-o", report] + argv, env,
                                           b'{"cniVersion":"1.0.0"}', None))
            if self.check_ok(run, "rss " + label):
                with open(report) as f:
                    floors[label] = float(f.read().split()[-1])
        h, r = stats(kib["humanz"]), stats(kib["reference"])
        return {"humanz": h, "reference": r, "ratio": ratio(h, r), "floors_kib": floors,
                "unit": "KiB, GNU time %M (ru_maxrss of the ADD process; the reference's "
                        "includes its host-local child)"}


# -- 7. where the time goes (deterministic counts; timings are medians) --------------------

RTM_NAMES = {16: "RTM_NEWLINK", 17: "RTM_DELLINK", 18: "RTM_GETLINK", 19: "RTM_SETLINK",
             20: "RTM_NEWADDR", 21: "RTM_DELADDR", 22: "RTM_GETADDR", 24: "RTM_NEWROUTE",
             25: "RTM_DELROUTE", 26: "RTM_GETROUTE", 88: "RTM_NEWNSID",
             90: "RTM_GETNSID"}                                   # linux/rtnetlink.h
STRACE = "/usr/bin/strace"


def profile(bench: Bench) -> dict[str, Any]:
    """Import breakdown of humanz (-X importtime, medians over rounds) and, with strace,
    per plugin and command: netlink requests by type, sockets, threads, execs, fsyncs,
    syscalls in all, and how long the kernel took to delete the veth (RTM_DELLINK)."""
    nets = {p: bench.network(p, "s", SEQ_SUBNET[p]) for p in PLUGINS}
    out: dict[str, Any] = {"imports": import_breakdown(bench, nets["humanz"]),
                           "entry_variants": entry_variants(bench, nets["humanz"])}
    if os.access(STRACE, os.X_OK):
        out["syscalls"] = {p: {c: strace_counts(bench, nets[p], p, c) for c in ("ADD", "DEL")}
                           for p in PLUGINS}
    return out


def parse_importtime(text: str) -> dict[str, float]:
    """``-X importtime`` output → {module: self ms}."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not line.startswith("import time:"):
            continue
        try:
            own = float(parts[0].split(":")[1])
        except ValueError:
            continue                       # the header line
        found[parts[2].strip()] = own / 1000
    return found


CTYPES = {"ctypes", "_ctypes", "ctypes._endian"}


def import_breakdown(bench: Bench, net: Network) -> dict[str, Any]:
    """Medians of ``-X importtime`` self times per module for VERSION, ADD and DEL, and their
    sums by group: what the bare interpreter imports anyway, the standard modules VERSION
    loads too (os and what it pulls in; with runpy, that was the zipapp entry's ~4 ms),
    _ctypes (Python < 3.12 has no os.setns), humanz's own modules, other stdlib, and ``hz``:
    the plugin runs inside ``import hz``, so its self time is the plugin's work, not imports."""
    node = bench.nodes["humanz"]
    rounds = max(3, min(bench.opts.n, 25))
    selfs: dict[str, dict[str, list[float]]] = {"bare": {}, "VERSION": {}, "ADD": {}, "DEL": {}}
    totals: dict[str, list[float]] = {c: [] for c in selfs}
    names = bench.nss.make(rounds)
    try:
        for i in range(rounds):
            for command in selfs:
                if command == "bare":
                    job = Job([PYTHON, "-I", "-S", "-X", "importtime", "-c", "pass"], {}, b"",
                              None)
                else:
                    job = node.job(command, net, "imp-" + names[i], names[i])
                    job.argv = shebang_argv(bench.zipapp, ["-X", "importtime"])
                run = bench.spawner.run_one(job)
                if not bench.check_ok(run, "importtime %s" % command):
                    continue
                found = parse_importtime(run.err.decode(errors="replace"))
                for module, ms in found.items():
                    selfs[command].setdefault(module, []).append(ms)
                totals[command].append(sum(v for m, v in found.items() if m != "hz"))
    finally:
        bench.nss.remove(names)
    bare = set(selfs["bare"])
    entry = set(selfs["VERSION"]) - bare - {m for m in selfs["VERSION"] if m.startswith("humanz")}
    entry.discard("__future__")     # imported by every humanz module, not by the entry

    entry.discard("hz")             # the plugin RUNS inside ``import hz``: not an import cost

    def group(module: str) -> str:
        if module == "hz":
            return "the plugin's work (runs inside import hz)"
        if module.startswith("humanz"):
            return "humanz"
        if module in bare:
            return "interpreter"
        if module in entry:
            return "stdlib every command loads (os, __future__)"
        if module in CTYPES:
            return "ctypes"
        return "other stdlib"

    result: dict[str, Any] = {}
    for command, modules in selfs.items():
        medians = {m: stats(v)["median"] for m, v in modules.items()}
        groups: dict[str, float] = {}
        for m, v in medians.items():
            groups[group(m)] = round(groups.get(group(m), 0.0) + v, 3)
        result[command] = {
            "modules": len(modules), "total_self_ms": stats(totals[command]),
            "by_group_ms": groups,
            "humanz_modules": sorted(m for m in modules if m.startswith("humanz")),
            "self_ms": [[m, round(v, 3)] for m, v in sorted(medians.items(),
                                                            key=lambda kv: -kv[1])]}
    return result


def shebang_argv(path: str, flags: list[str]) -> list[str]:
    """The argv Linux builds from ``path``'s shebang line (interpreter, ONE word, the file),
    with ``flags`` given to the interpreter first."""
    with open(path, "rb") as f:
        interpreter, word = f.readline()[2:].rstrip(b"\n").decode().split(" ", 1)
    return [interpreter] + flags + [word, path]


LAUNCHER = ("#!%s -IS\nimport sys\nsys.path.insert(0, %r)\n"
            "from humanz.cni.skel import main\nraise SystemExit(main())\n")


def entry_variants(bench: Bench, net: Network) -> dict[str, Any]:
    """The same bytecode started three ways, alternating: the file as built (its shebang's -c
    code imports the zip: no runpy), the same file as ``python3 -I -S FILE`` (Python runs the
    zip's __main__ through runpy, which imports importlib.util, contextlib, collections,
    functools...: how the file started before), and a launcher script plus the .pyc files
    unpacked in a directory (no runpy, no zipimport). What the packaging choice costs."""
    import zipfile
    base = os.path.join(bench.work, "entry")
    lib = os.path.join(base, "lib")
    with zipfile.ZipFile(bench.zipapp) as z:
        z.extractall(lib)
    files = {"launcher+dir": (LAUNCHER % (PYTHON, lib)).encode()}
    paths = {"as built": bench.zipapp, "python3 FILE (runpy)": bench.zipapp}
    for label, content in files.items():
        paths[label] = os.path.join(base, label)
        with open(paths[label], "wb") as f:
            f.write(content)
        os.chmod(paths[label], 0o755)
    node = bench.nodes["humanz"]
    labels = list(paths)
    keys = ("VERSION", "ADD", "DEL", "ADD_cpu", "DEL_cpu")
    times: dict[str, dict[str, list[float]]] = {l: {k: [] for k in keys} for l in labels}
    rounds = max(2, min(bench.opts.n, 30))
    for i in range(rounds):
        names = bench.nss.make(len(labels))
        try:
            for command in ("VERSION", "ADD", "DEL"):
                for label in (labels if i % 2 == 0 else labels[::-1]):
                    ns = names[labels.index(label)]
                    job = node.job(command, net, "entry-" + ns, ns)
                    job.argv = ([PYTHON, "-I", "-S", paths[label]] if "runpy" in label
                                else [paths[label]])
                    run = bench.spawner.run_one(job)
                    if bench.check_ok(run, "entry %s %s" % (label, command)):
                        times[label][command].append(run.wall_ms)
                        if command != "VERSION":
                            times[label][command + "_cpu"].append(run.cpu_ms)
        finally:
            bench.nss.remove(names)
    return {l: {k: stats(v) for k, v in times[l].items()} for l in labels}


def strace_counts(bench: Bench, net: Network, plugin: str, command: str) -> dict[str, Any]:
    """One traced ADD (or ADD + traced DEL) in a fresh namespace."""
    node = bench.nodes[plugin]
    ns = bench.nss.make(1)[0]
    trace = os.path.join(bench.work, "strace.txt")
    summary = os.path.join(bench.work, "strace-c.txt")
    try:
        def traced(cmd: str, argv: list[str]) -> Run:
            job = node.job(cmd, net, "st-" + ns, ns)
            job.argv = argv + job.argv
            return bench.spawner.run_one(job)
        if command == "DEL":
            bench.check_add(bench.spawner.run_one(node.job("ADD", net, "st-" + ns, ns)),
                            "strace setup ADD")
        filt = "trace=socket,sendto,sendmsg,clone,clone3,execve,fsync,flock,setns"
        run = traced(command, [STRACE, "-f", "-qq", "-T", "-e", filt, "-o", trace])
        bench.check_ok(run, "strace %s %s" % (plugin, command))
        if command == "ADD":
            bench.check_ok(bench.spawner.run_one(node.job("DEL", net, "st-" + ns, ns)),
                           "strace DEL")
            bench.spawner.run_one(node.job("ADD", net, "st-" + ns, ns))
        else:
            bench.spawner.run_one(node.job("ADD", net, "st-" + ns, ns))
        run = traced(command, [STRACE, "-f", "-qq", "-c", "-o", summary])
        bench.spawner.run_one(node.job("DEL", net, "st-" + ns, ns))
        return parse_strace(trace, summary)
    finally:
        bench.nss.remove([ns])


def parse_strace(trace: str, summary: str) -> dict[str, Any]:
    requests: dict[str, int] = {}
    counts = {"netlink_sockets": 0, "threads": 0, "execs": 0, "fsyncs": 0, "flocks": 0}
    dellink_ms: list[float] = []
    with open(trace) as f:
        for line in f:
            if "socket(AF_NETLINK" in line:
                counts["netlink_sockets"] += 1
            elif " clone" in line and "CLONE_THREAD" in line:
                counts["threads"] += 1
            elif " execve(" in line and "resumed" not in line:
                counts["execs"] += 1
            elif " fsync(" in line:
                counts["fsyncs"] += 1
            elif " flock(" in line and "LOCK_EX" in line:
                counts["flocks"] += 1
            if "nlmsg_type=" in line and (" sendto(" in line or " sendmsg(" in line):
                kind = line.split("nlmsg_type=", 1)[1].split(",")[0].split(" ")[0]
                if kind.startswith("0x"):
                    kind = RTM_NAMES.get(int(kind, 16), kind)
                requests[kind] = requests.get(kind, 0) + 1
                if kind == "RTM_DELLINK" and line.rstrip().endswith(">"):
                    dellink_ms.append(float(line.rsplit("<", 1)[1].rstrip(">\n ")) * 1000)
    total = 0
    with open(summary) as f:
        for line in f:
            if line.rstrip().endswith(" total"):
                fields = line.split()
                total = int(fields[3]) if len(fields) >= 5 else 0
    result: dict[str, Any] = dict(counts)
    result["netlink_requests"] = sum(requests.values())
    result["netlink_by_type"] = dict(sorted(requests.items()))
    result["syscalls"] = total
    if dellink_ms:
        result["dellink_kernel_ms"] = round(dellink_ms[0], 3)
    return result


class Background:
    """Attachments that are already on a node: veth pairs whose host ends are ports of the
    network's bridge (a new bridge every PORTS_PER_BRIDGE ports), peers up in one background
    namespace, and one reservation each in the plugin's store."""

    def __init__(self, bench: Bench, net: Network, bg_ns: str) -> None:
        self.bench = bench
        self.net = net
        self.bg_ns = bg_ns
        self.node = bench.nodes[net.plugin]
        self.count = 0
        self.extra_bridges: list[str] = []

    def bridge_for(self, i: int) -> str:
        chunk = i // PORTS_PER_BRIDGE
        if chunk == 0:
            return self.net.bridge
        while len(self.extra_bridges) < chunk:
            name = "%sbg%d" % (self.net.bridge[:10], len(self.extra_bridges) + 1)
            ip_batch(["link add %s type bridge" % name, "link set %s up" % name],
                     self.node.ns_name)
            self.extra_bridges.append(name)
        return self.extra_bridges[chunk - 1]

    def grow_to(self, count: int) -> None:
        new = range(self.count, count)
        if not new:
            return
        host, peers = [], []
        for i in new:
            host.append("link add hzbv%d type veth peer name hzbp%d netns %s"
                        % (i, i, self.bg_ns))
            host.append("link set hzbv%d master %s up" % (i, self.bridge_for(i)))
            peers.append("link set hzbp%d up" % i)
        ip_batch(host, self.node.ns_name)
        ip_batch(peers, self.bg_ns)
        self.reserve(new)
        self.count = count

    def reserve(self, new: range) -> None:
        if self.net.plugin == "humanz":
            from humanz.ipam import allocator
            from humanz.ipam.ranges import Range
            sets = [[Range.parse(self.net.subnet)]]
            for i in new:
                allocator.allocate(self.net.data_dir, self.net.name, sets, "bg%06d" % i, "eth0")
        else:
            host_local_fill(self.net.data_dir, self.net.name, self.net.subnet, new, "bg")


def ipv4(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def ipv4_text(value: int) -> str:
    return "%d.%d.%d.%d" % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255)


def host_local_fill(data_dir: str, network: str, subnet: str, which: range, tag: str) -> str:
    """Write host-local reservations directly, as host-local lays them out: a file per
    address (network+2 onwards; +1 is the gateway) holding ``<id>\\r\\n<ifname>``, and
    ``last_reserved_ip.0``. Returns the last address written."""
    base = ipv4(subnet.split("/")[0])
    directory = os.path.join(data_dir, network)
    os.makedirs(directory, exist_ok=True)
    last = ""
    for i in which:
        last = ipv4_text(base + 2 + i)
        with open(os.path.join(directory, last), "w") as f:
            f.write("%s%06d\r\neth0" % (tag, i))
    if last:
        with open(os.path.join(directory, "last_reserved_ip.0"), "w") as f:
            f.write(last)
    return last


# The humanz IPAM as a process, from the zipapp (what the plugin's allocate step runs).
IPAM_PROCESS = """\
import sys
sys.path.insert(0, sys.argv[1])
from humanz.ipam import allocator
if sys.argv[2] == "ADD":
    from humanz.ipam.ranges import Range
    allocator.allocate(sys.argv[3], sys.argv[4], [[Range.parse(sys.argv[5])]], "bench", "eth0")
else:
    allocator.release(sys.argv[3], sys.argv[4], "bench", "eth0")
"""


class IpamCase:
    """One subnet with ``count`` reservations, in a humanz store and a host-local one."""

    def __init__(self, bench: Bench, label: str, subnet: str, count: int) -> None:
        self.bench = bench
        self.label = label
        self.subnet = subnet
        self.count = count
        self.dir = tempfile.mkdtemp(prefix="ipam-", dir=bench.work)
        self.name = "%sipam" % bench.prefix

    def measure(self) -> dict[str, Any]:
        from humanz.ipam import allocator
        from humanz.ipam.ranges import Range
        sets = [[Range.parse(self.subnet)]]
        t0 = time.perf_counter()
        hdir = os.path.join(self.dir, "humanz")
        for i in range(self.count):
            allocator.allocate(hdir, self.name, sets, "existing%06d" % i, "eth0")
        fill_ms = (time.perf_counter() - t0) * 1000
        rdir = os.path.join(self.dir, "host-local")
        host_local_fill(rdir, self.name, self.subnet, range(self.count), "existing")
        first = sets[0][0].format(sets[0][0].start)
        row: dict[str, Any] = {"label": self.label, "subnet": self.subnet,
                                  "reservations": self.count,
                                  "humanz_fill_ms_per_allocation": round(fill_ms / self.count, 3)}
        # in-process: the allocator's own cost, no interpreter start-up
        inproc = {}
        for mode in ("steady", "dense"):
            allocs, releases = [], []
            for _ in range(self.bench.opts.ipam_rounds):
                if mode == "dense":
                    set_cursor(hdir, self.name, first + "\n")
                t1 = time.perf_counter()
                allocator.allocate(hdir, self.name, sets, "bench", "eth0")
                t2 = time.perf_counter()
                allocator.release(hdir, self.name, "bench", "eth0")
                t3 = time.perf_counter()
                allocs.append((t2 - t1) * 1000)
                releases.append((t3 - t2) * 1000)
            inproc[mode] = {"allocate": stats(allocs), "release": stats(releases)}
        row["humanz_inprocess"] = inproc
        row["process"] = self.processes(hdir, rdir, first)
        shutil.rmtree(self.dir, ignore_errors=True)
        return row

    def processes(self, hdir: str, rdir: str, first: str) -> dict[str, Any]:
        """humanz's IPAM from the zipapp vs host-local, each as a process, alternating."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_CONTAINERID": "bench",
               "CNI_NETNS": "/proc/self/ns/net", "CNI_IFNAME": "eth0",
               "CNI_PATH": self.bench.opts.reference_dir}
        conf = json.dumps({"cniVersion": CNI_VERSION, "name": self.name, "ipam": {
            "type": "host-local", "ranges": [[{"subnet": self.subnet}]], "dataDir": rdir}},
            sort_keys=True).encode()
        host_local = os.path.join(self.bench.opts.reference_dir, "host-local")

        def job(plugin: str, command: str) -> Job:
            if plugin == "humanz":
                return Job([PYTHON, "-I", "-S", "-c", IPAM_PROCESS, self.bench.zipapp, command,
                            hdir, self.name, self.subnet], env, b"", None)
            return Job([host_local], dict(env, CNI_COMMAND=command), conf, None)

        out: dict[str, Any] = {}
        for mode in ("steady", "dense"):
            times: dict[str, dict[str, list[float]]] = {p: {"add": [], "del": []}
                                                        for p in PLUGINS}
            for i in range(self.bench.opts.ipam_process_rounds):
                for p in self.bench.order(i):
                    if mode == "dense":
                        set_cursor(hdir if p == "humanz" else rdir, self.name,
                                   first + ("\n" if p == "humanz" else ""))
                    for command in ("ADD", "DEL"):
                        run = self.bench.spawner.run_one(job(p, command))
                        if self.bench.check_ok(run, "ipam %s %s %s" % (self.label, p, command)):
                            times[p][command.lower()].append(run.wall_ms)
            entry: dict[str, Any] = {p: {c: stats(v) for c, v in times[p].items()}
                                        for p in PLUGINS}
            entry["ratio_add"] = ratio(entry["humanz"]["add"],
                                       entry["reference"]["add"])
            out[mode] = entry
        return out


def set_cursor(data_dir: str, network: str, text: str) -> None:
    with open(os.path.join(data_dir, network, "last_reserved_ip.0"), "w") as f:
        f.write(text)


# ============================================================================================
# Machine description, targets, output
# ============================================================================================

def machine(zipapp: str, reference_dir: str) -> dict[str, Any]:
    def cmd(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  cwd=ROOT).stdout.strip()
        except OSError:
            return ""
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import hashlib
    with open(zipapp, "rb") as blob:
        digest = hashlib.sha256(blob.read()).hexdigest()
    with open(os.path.join(ROOT, "humanz", "__init__.py")) as f:
        version = next((line.split("=")[1].strip().strip('"') for line in f
                        if line.startswith("__version__")), "?")
    reference = cmd("dpkg-query", "-W", "-f", "${Package} ${Version}",
                    "containernetworking-plugins") or reference_dir
    return {
        "kernel": platform.release(), "nproc": os.cpu_count(), "cpu": model,
        "plugin_python": cmd(PYTHON, "-I", "-S", "-c",
                             "import sys; print(sys.version.split()[0])"),
        "bench_python": sys.version.split()[0],
        "humanz_version": version, "humanz_git": cmd("git", "describe", "--always", "--dirty"),
        "zipapp": zipapp, "zipapp_sha256": digest, "zipapp_bytes": os.path.getsize(zipapp),
        "reference": reference, "loadavg_start": os.getloadavg(),
    }


def fs_type(path: str) -> str:
    """The filesystem type of ``path`` as findmnt names it (tmpfs, ext4, ...)."""
    try:
        return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path],
                              capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return ""


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each with the measured value and whether it is met."""
    out: dict[str, Any] = {}

    def target(name: str, value: float | None, limit: float) -> None:
        out[name] = {"value": value, "limit": limit,
                     "met": None if value is None else value <= limit}

    seq = results.get("sequential") or {}
    burst = results.get("burst") or {}
    scale = results.get("scale") or {}
    ipam = results.get("ipam") or {}
    rss = results.get("rss") or {}
    target("ADD median humanz/reference", seq.get("ratio_add"), 1.3)
    target("DEL median humanz/reference", seq.get("ratio_del"), 1.0)
    target("burst ADD wall humanz/reference", burst.get("ratio_add"), 1.0)
    target("burst DEL wall humanz/reference", burst.get("ratio_del"), 1.0)
    target("humanz ADD at largest scale / at smallest", scale.get("humanz_add_growth"), 1.1)
    target("humanz IPAM allocate largest subnet / /24 (in-process, steady)",
           ipam.get("humanz_inprocess_steady_largest_over_smallest"), 1.2)
    target("peak RSS of one ADD humanz/reference", rss.get("ratio"), 1.0)
    return out


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.2f" % value
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    """The headline table (medians / p90s in ms, ratio humanz/reference)."""
    lines = ["| measurement | humanz median (p90) | reference median (p90) | ratio |",
             "| --- | --- | --- | --- |"]

    def row(label: str, h: dict[str, float], r: dict[str, float], unit: str = "ms") -> None:
        lines.append("| %s | %s %s (%s) | %s %s (%s) | %s |" % (
            label, fmt(h.get("median")), unit, fmt(h.get("p90")), fmt(r.get("median")), unit,
            fmt(r.get("p90")), fmt(ratio(h, r))))

    seq = results.get("sequential")
    if seq:
        row("ADD, sequential", seq["humanz"]["add"], seq["reference"]["add"])
        row("DEL, sequential", seq["humanz"]["del"], seq["reference"]["del"])
        row("ADD CPU time (user+sys)", seq["humanz"]["add_cpu"], seq["reference"]["add_cpu"])
        row("DEL CPU time (user+sys)", seq["humanz"]["del_cpu"], seq["reference"]["del_cpu"])
    burst = results.get("burst")
    if burst:
        k = burst["concurrency"]
        row("%d concurrent ADDs, wall" % k, burst["humanz"]["add"], burst["reference"]["add"])
        row("%d concurrent DELs, wall" % k, burst["humanz"]["del"], burst["reference"]["del"])
    scale = results.get("scale")
    if scale:
        for r in scale["scales"]:
            row("ADD with %d attachments" % r["attachments"], r["humanz"]["add"],
                r["reference"]["add"])
            row("DEL with %d attachments" % r["attachments"], r["humanz"]["del"],
                r["reference"]["del"])
    ipam = results.get("ipam")
    if ipam:
        for c in ipam["cases"]:
            for mode in ("steady", "dense"):
                p = c["process"][mode]
                row("IPAM %s, %d reserved, %s: process ADD" % (c["label"], c["reservations"],
                                                            mode),
                    p["humanz"]["add"], p["reference"]["add"])
        for c in ipam["cases"]:
            for mode in ("steady", "dense"):
                h = c["humanz_inprocess"][mode]["allocate"]
                lines.append("| humanz.ipam allocate in-process, %s %s | %s ms (%s) | | |"
                             % (c["label"], mode, fmt(h.get("median")), fmt(h.get("p90"))))
    rss = results.get("rss")
    if rss and "humanz" in rss:
        row("peak RSS of one ADD", rss["humanz"], rss["reference"], "KiB")
        for k, v in rss.get("floors_kib", {}).items():
            lines.append("| peak RSS floor: %s | %s KiB | | |" % (k, fmt(v)))
    prof = results.get("profile")
    if prof:
        for label, v in prof["entry_variants"].items():
            lines.append("| humanz started as %s: VERSION / ADD / DEL | %s / %s / %s ms | | |"
                         % (label, fmt(v["VERSION"].get("median")),
                            fmt(v["ADD"].get("median")), fmt(v["DEL"].get("median"))))
        for command in ("VERSION", "ADD", "DEL"):
            groups = prof["imports"][command]["by_group_ms"]
            lines.append("| import self time, %s: %s | | | |" % (command, ", ".join(
                "%s %.1f ms" % (g, v) for g, v in sorted(groups.items(), key=lambda kv: -kv[1]))))
    start = results.get("startup")
    if start:
        for k, v in start.items():
            lines.append("| start-up floor: %s | %s ms (%s) | | |"
                         % (k, fmt(v["wall"].get("median")), fmt(v["wall"].get("p90"))))
    return "\n".join(lines)


# ============================================================================================
# Options and main
# ============================================================================================

class Options:
    def __init__(self) -> None:
        self.n = 60
        self.burst = 30
        self.burst_rounds = 5
        self.scales = [10, 250, 1000]
        self.scale_n = 30
        self.ipam_cases = list(IPAM_CASES)
        self.ipam_rounds = 200
        self.ipam_process_rounds = 20
        self.sections = ["startup", "sequential", "burst", "scale", "ipam", "rss", "profile"]
        self.json_path = os.path.join(ROOT, "docs", "performance.json")
        self.plugin = ""
        self.reference_dir = REFERENCE_DIR
        self.prefix = "hzb"
        self.cleanup_only = False
        # Both plugins' data dirs (and humanz's log) live here. A tmpfs, as /run is on a real
        # node (humanz's default data dir is /run/humanz/networks); on a disk, humanz's
        # fsyncs cost about 0.4 ms each and host-local does none.
        self.data_root = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


USAGE = """usage: bench_plugin.py [--n N] [--burst K] [--burst-rounds R] [--scales A,B,C]
                       [--scale-n N] [--ipam-rounds N] [--ipam-process-rounds N]
                       [--sections startup,sequential,burst,scale,ipam,rss,profile] [--tiny]
                       [--json PATH|-] [--plugin ZIPAPP] [--reference-dir DIR]
                       [--prefix hzb] [--data-root /dev/shm] [--cleanup]"""


def parse(argv: list[str]) -> Options:
    o = Options()
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag in ("-h", "--help"):
            print(USAGE)
            print(__doc__)
            sys.exit(0)
        if flag == "--tiny":           # the smoke test's mode: seconds, not minutes
            o.n, o.burst, o.burst_rounds, o.scales, o.scale_n = 2, 3, 1, [2, 4], 2
            o.ipam_cases = [(label, subnet, 3) for label, subnet, _ in IPAM_CASES]
            o.ipam_rounds, o.ipam_process_rounds = 3, 2
            continue
        if flag == "--cleanup":
            o.cleanup_only = True
            continue
        if not args:
            sys.exit(USAGE)
        value = args.pop(0)
        if flag == "--n":
            o.n = int(value)
        elif flag == "--burst":
            o.burst = int(value)
        elif flag == "--burst-rounds":
            o.burst_rounds = int(value)
        elif flag == "--scales":
            o.scales = [int(x) for x in value.split(",")]
        elif flag == "--scale-n":
            o.scale_n = int(value)
        elif flag == "--ipam-rounds":
            o.ipam_rounds = int(value)
        elif flag == "--ipam-process-rounds":
            o.ipam_process_rounds = int(value)
        elif flag == "--sections":
            o.sections = value.split(",")
        elif flag == "--json":
            o.json_path = value
        elif flag == "--plugin":
            o.plugin = os.path.abspath(value)
        elif flag == "--reference-dir":
            o.reference_dir = value
        elif flag == "--prefix":
            o.prefix = value
        elif flag == "--data-root":
            o.data_root = value
        else:
            sys.exit(USAGE)
    if not (1 <= o.n <= 100000 and 1 <= o.burst <= 200 and max(o.scales) <= 4000
            and len(o.prefix) <= 4):
        sys.exit("bench: --n 1..100000, --burst 1..200, scales <= 4000 (the /21 subnets), "
                 "--prefix <= 4 characters")
    return o


def build_zipapp(work: str) -> str:
    out = os.path.join(work, "humanz-cni")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "build"), "--python", PYTHON,
                    "--out", out], check=True, timeout=300, stdout=subprocess.DEVNULL)
    return out


def on_signal(signum: int, frame: object) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


def run(opts: Options, tag: str) -> dict[str, Any]:
    work = tempfile.mkdtemp(prefix="hzb-bench-", dir=opts.data_root)
    nss = Namespaces(opts.prefix + tag)
    spawner = Spawner()
    try:
        zipapp = opts.plugin or build_zipapp(work)
        info = machine(zipapp, opts.reference_dir)
        bench = Bench(opts, spawner, nss, work, zipapp)
        results: dict[str, Any] = {}
        for section in opts.sections:
            t0 = time.perf_counter()
            print("bench: %s ..." % section, file=sys.stderr, flush=True)
            results[section] = getattr(bench, section)()
            print("bench: %s done in %.1f s" % (section, time.perf_counter() - t0),
                  file=sys.stderr, flush=True)
        info["loadavg_end"] = os.getloadavg()
        return {"machine": info,
                "run_prefix": nss.prefix,
                "command": " ".join([sys.executable] + sys.argv),
                "options": {"n": opts.n, "burst": opts.burst, "burst_rounds": opts.burst_rounds,
                            "scales": opts.scales, "scale_n": opts.scale_n,
                            "ipam_cases": opts.ipam_cases, "ipam_rounds": opts.ipam_rounds,
                            "ipam_process_rounds": opts.ipam_process_rounds,
                            "sections": opts.sections},
                "setup": {"cniVersion": CNI_VERSION, "subnets": {
                    "sequential_and_burst": SEQ_SUBNET, "scale": SCALE_SUBNET},
                    "data_root": opts.data_root,
                    "data_root_fs": fs_type(opts.data_root),
                    "humanz_log": "logFile in the work dir (humanz logs by default)",
                    "node": "one throwaway host namespace per plugin"},
                "results": results,
                "targets": targets(results),
                "failures": bench.failures}
    finally:
        for pid in list(LIVE_PIDS):
            kill_and_reap(pid)
        nss.remove_all()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    opts = parse(argv)
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, bridges)")
    if opts.cleanup_only:
        names = leftovers(opts.prefix)
        Namespaces(opts.prefix).remove(names)
        print("bench: removed %d namespace(s); leftovers: %d"
              % (len(names), len(leftovers(opts.prefix))))
        return 0
    tag = "%04x" % (os.getpid() & 0xFFFF)
    print("bench: run prefix %s%s" % (opts.prefix, tag), file=sys.stderr, flush=True)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        report = run(opts, tag)
    except KeyboardInterrupt:
        print("bench: interrupted; cleaned up, leftovers: %d"
              % len(leftovers(opts.prefix + tag)), file=sys.stderr)
        return 130
    left = leftovers(opts.prefix + tag)
    report["leftovers"] = left
    text = json.dumps(report, indent=1, sort_keys=False)
    if opts.json_path != "-":
        os.makedirs(os.path.dirname(os.path.abspath(opts.json_path)), exist_ok=True)
        with open(opts.json_path, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    print(markdown(report["results"]))
    print()
    for name, t in report["targets"].items():
        verdict = "not measured" if t["met"] is None else "met" if t["met"] else "NOT MET"
        print("target %-62s %-6s (limit %s) %s" % (name, fmt(t["value"]), t["limit"], verdict))
    print("failures: %d, leftovers: %d" % (len(report["failures"]), len(left)))
    return 1 if report["failures"] or left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
