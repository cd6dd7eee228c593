"""Shared machinery of the torture suite: sandboxes, plugin processes, host snapshots, store
checks, the crash trial and the concurrency round.

Used by tests/test_torture_*.py and tests/test_security.py (small, CI-sized runs) and by
scripts/torture.py (the long runs whose figures docs/RELIABILITY.md publishes), so a figure in
the document comes from exactly the code the tests run.

Everything runs inside throwaway "host" namespaces named ``hzt…`` (see plugin_harness.Node);
``Sandbox`` makes and removes them itself so that it works outside pytest too.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

from conftest import ip, unique_name
from plugin_harness import PLUGIN, REPO, TIMEOUT, Node, netns_path

TRACEBACK = "Traceback (most recent call last)"
# Codes a plugin may answer with (docs/architecture.md); 999 means a bug and is never fine.
VALID_CODES = frozenset((1, 2, 3, 4, 5, 6, 7, 11, 50, 51, 100, 101, 102, 103, 104, 105))
NFT = shutil.which("nft")


# ============================================================================================
# Sandboxes
# ============================================================================================

class Sandbox:
    """Namespaces made on demand and all deleted by ``close`` (also usable as a context
    manager); ``node()`` gives a plugin_harness.Node living in a fresh host namespace."""

    _made_total = 0

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made: list[str] = []

    def make_netns(self) -> str:
        # conftest.unique_name wraps after 4096 names per process; a soak makes 10,000+
        Sandbox._made_total += 1
        name = "hzt%04x%08x" % (os.getpid() & 0xFFFF, Sandbox._made_total)
        ip("netns", "add", name)
        self.made.append(name)
        ip("link", "set", "lo", "up", netns=name)
        return name

    def drop_netns(self, name: str) -> None:
        """Delete one namespace now (a container that went away)."""
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=TIMEOUT)
        if name in self.made:
            self.made.remove(name)

    def node(self, tag: str = "node") -> Node:
        tmp = self.tmp / unique_name(tag)
        tmp.mkdir(parents=True)
        return Node(self.make_netns(), tmp, self.make_netns)

    def close(self) -> None:
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=TIMEOUT)
        self.made = []

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ============================================================================================
# Running the plugin as a process we can kill or run many of
# ============================================================================================

def plugin_env(command: str, cid: str, netns: str, ifname: str = "eth0",
               extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns,
           "CNI_IFNAME": ifname, "CNI_PATH": "/usr/lib/cni"}
    env.update(extra or {})
    return env


def spawn(node: Node, command: str, conf: Any, cid: str, netns: str,
          ifname: str = "eth0", extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one plugin process in the node's host namespace (``ip netns exec`` execs, so the
    pid is the plugin's own) with its stdin already written and closed."""
    proc = subprocess.Popen(["ip", "netns", "exec", node.hostns] + PLUGIN,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=str(REPO),
                            env=plugin_env(command, cid, netns, ifname, extra))
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(conf).encode() if not isinstance(conf, bytes) else conf)
    proc.stdin.close()
    proc.stdin = None  # so that communicate() does not touch the closed pipe again
    return proc


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """Wait (bounded) for a process from ``spawn``: (returncode, stdout, stderr)."""
    out, err = proc.communicate(timeout=TIMEOUT * 3)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def coded_problem(rc: int, out: str, err: str) -> str | None:
    """None when a failed run answered as the spec asks: exit 1, one CNI error object on
    stdout with a valid code, nothing on stderr, no traceback anywhere. Otherwise why not."""
    if TRACEBACK in out or TRACEBACK in err:
        return "traceback printed"
    if err:
        return "stderr not empty: %r" % err[:200]
    if rc != 1:
        return "exit status %d" % rc
    try:
        data = json.loads(out)
    except ValueError:
        return "stdout is not JSON: %r" % out[:200]
    if not isinstance(data, dict) or set(data) != {"cniVersion", "code", "msg", "details"}:
        return "stdout is not a CNI error object: %r" % out[:200]
    if data["code"] not in VALID_CODES:
        return "code %r (%s)" % (data["code"], data["msg"])
    return None


# ============================================================================================
# What the host looks like
# ============================================================================================

def rules(hostns: str) -> str:
    """The node's whole nftables ruleset (what any humanz rule would be part of)."""
    if NFT is None:
        return ""
    out = subprocess.run(["ip", "netns", "exec", hostns, NFT, "list", "ruleset"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    return out.stdout


def store_contents(node: Node) -> dict[str, bytes]:
    """Every file of the data dir but the lock and round-robin cursors, with its content."""
    root = Path(node.data_dir)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "lock" and not p.name.startswith("last_reserved_ip")}


def host_state(node: Node) -> dict[str, Any]:
    """Links, addresses, routes, rules and the store: what a refused call must not change."""
    state = node.snapshot()
    state["store"] = store_contents(node)
    state["rules"] = rules(node.hostns)
    return state


def settle(node: Node, seconds: float = 10.0) -> None:
    """Wait (bounded) until the host stops changing on its own. After an ADD the kernel gives
    the bridge and the veth IPv6 link-local addresses, and adds their local routes only once
    duplicate address detection is over (a second or two later): a before/after comparison
    would blame that on the next call."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        addrs = node.ip_json("addr", "show")
        if not any(i.get("tentative") for a in addrs for i in a.get("addr_info", [])):
            break
        time.sleep(0.1)
    previous = host_state(node)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = host_state(node)
        if current == previous:
            return
        previous = current


def changes(before: tuple[dict[str, Any], Any], after: tuple[dict[str, Any], Any]) -> list[str]:
    """What differs between two (host_state, container_state) pairs, for a readable failure."""
    out = ["host %s changed: %r -> %r" % (key, str(before[0][key])[:2000],
                                          str(after[0][key])[:2000])
           for key in before[0] if before[0][key] != after[0][key]]
    if before[1] != after[1]:
        out.append("the container changed: %r -> %r" % (before[1], after[1]))
    return out


def container_state(ns: str) -> tuple[str, str, str]:
    return (ip("-j", "link", "show", netns=ns).stdout, ip("-j", "addr", netns=ns).stdout,
            ip("-j", "route", "show", "table", "all", netns=ns).stdout)


def container_ifaces(ns: str) -> list[str]:
    out = ip("-j", "link", "show", netns=ns, check=False).stdout
    return [l["ifname"] for l in json.loads(out or "[]")]


def bridge_ports(node: Node) -> list[str]:
    return sorted(l["ifname"] for l in node.ip_json("link", "show")
                  if l.get("master") == node.bridge)


def temp_files(node: Node) -> list[str]:
    """Temp files of writers in the store: ``tmp/*``, and an older version's ``.tmp.*``."""
    from humanz.ipam import store
    net = Path(node.data_dir) / node.network
    tmp = net / store.TEMP_DIR
    legacy = [p.name for p in net.iterdir() if p.name.startswith(store.LEGACY_TEMP_PREFIX)] \
        if net.exists() else []
    current = [store.TEMP_DIR + "/" + name for name in os.listdir(tmp)] if tmp.exists() else []
    return sorted(legacy + current)


def store_problems(data_dir: str, network: str) -> list[str]:
    """Why the store of ``network`` is not consistent (empty list: it is). Consistent: every
    record parses and is named after its content; every address file parses and is listed by
    its owner's record. Temp files of killed writers are allowed (never read; the next ADD,
    DEL or GC removes them, which ``crash_trial`` checks)."""
    from humanz.ipam import store
    net = Path(data_dir) / network
    if not net.exists():
        return []
    problems: list[str] = []
    records: dict[tuple[str, str], list[str]] = {}
    rec_dir = net / store.RECORDS_DIR
    for name in sorted(os.listdir(rec_dir)) if rec_dir.exists() else []:
        parsed = store.parse_record((rec_dir / name).read_bytes())
        if isinstance(parsed, store.Unreadable):
            problems.append("unreadable record %s" % name)
            continue
        if store.parse_record_name(name) != parsed[:2]:
            problems.append("record %s names %r" % (name, parsed[:2]))
        records[(parsed[0], parsed[1])] = parsed[2]
    for name in sorted(os.listdir(net)):
        if name.startswith(store.LEGACY_TEMP_PREFIX) \
                or name in (store.LOCK_NAME, store.RECORDS_DIR, store.TEMP_DIR):
            continue
        data = (net / name).read_bytes()
        if name.startswith(store.CURSOR_PREFIX):
            if data and not data.strip():
                problems.append("blank cursor %s" % name)
            continue
        owner = store.parse_owner(data)
        if isinstance(owner, store.Unreadable):
            problems.append("unreadable address file %s: %r" % (name, data))
        elif name not in records.get(owner, []):
            problems.append("address %s held by %r is in no record of its owner"
                            % (name, owner))
    return problems


# ============================================================================================
# Crash trials: SIGKILL an ADD or DEL at a random instant
# ============================================================================================

class Trial:
    """What one crash trial did and saw; ``leaks`` and ``problems`` must stay empty."""

    __slots__ = ("seed", "command", "delay_ms", "killed", "recovery", "after_kill",
                 "leaks", "problems")

    def __init__(self, seed: int, command: str, delay_ms: float) -> None:
        self.seed = seed
        self.command = command
        self.delay_ms = delay_ms
        self.killed = False            # False: the call finished before the signal
        self.recovery = ""             # "DEL" or "GC"
        self.after_kill: dict[str, int] = {}  # reservations, records, veths, temps left
        self.leaks: list[str] = []
        self.problems: list[str] = []

    def __repr__(self) -> str:
        return ("Trial(seed=%d, %s killed at %.1f ms%s, then %s, left %s, leaks %s, "
                "problems %s)" % (self.seed, self.command, self.delay_ms,
                                  "" if self.killed else " (had finished)", self.recovery,
                                  self.after_kill, self.leaks, self.problems))


def typical_duration(node: Node, conf: dict[str, Any], rounds: int = 3) -> dict[str, float]:
    """Median seconds of one ADD and of one DEL here: the windows kills are drawn from."""
    spans: dict[str, list[float]] = {"ADD": [], "DEL": []}
    ns = node.make_netns()
    for _ in range(rounds):
        for command in ("ADD", "DEL"):
            started = time.monotonic()
            rc, out, err = finish(spawn(node, command, conf, "cid-calib", netns_path(ns)))
            spans[command].append(time.monotonic() - started)
            assert rc == 0, (command, out, err)
    return {command: sorted(values)[len(values) // 2] for command, values in spans.items()}


def crash_trial(box: Sandbox, node: Node, conf: dict[str, Any], seed: int,
                window: dict[str, float]) -> Trial:
    """One seeded trial: ADD (or ADD then DEL) a container, SIGKILL the call after a random
    delay within the command's usual duration, check the store is readable, recover with DEL
    (or, as a runtime would for a vanished container, delete the namespace and GC), check
    nothing is left (a temp file the killed writer left included), and check the next ADD
    works."""
    rng = random.Random(seed)
    command = rng.choice(("ADD", "DEL"))
    trial = Trial(seed, command, rng.uniform(0.0, window[command]) * 1000.0)
    ns = box.make_netns()
    cid = "crash-%d" % seed
    if command == "DEL":
        rc, out, err = finish(spawn(node, "ADD", conf, cid, netns_path(ns)))
        if rc != 0:
            trial.problems.append("set-up ADD failed: %s" % out)
            return trial
    rules_before = rules(node.hostns)
    proc = spawn(node, command, conf, cid, netns_path(ns))
    time.sleep(trial.delay_ms / 1000.0)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    rc, out, err = finish(proc)
    trial.killed = rc == -signal.SIGKILL
    if not trial.killed and (rc != 0 or err):
        trial.problems.append("unkilled %s failed: rc %d %s %s" % (command, rc, out, err))
    trial.after_kill = {"reservations": len(node.reservations()),
                        "records": _record_count(node), "veths": len(node.host_veths()),
                        "temps": len(temp_files(node))}
    trial.problems += ["store after kill: " + p
                       for p in store_problems(node.data_dir, node.network)]
    _recover(box, node, conf, cid, ns, rng, trial)
    trial.leaks += _leftovers(node, rules_before)
    _next_add_works(box, node, conf, seed, trial)
    return trial


def _recover(box: Sandbox, node: Node, conf: dict[str, Any], cid: str, ns: str,
             rng: random.Random, trial: Trial) -> None:
    if rng.random() < 0.8:
        trial.recovery = "DEL"
        rc, out, err = finish(spawn(node, "DEL", conf, cid, netns_path(ns)))
        if (rc, out, err) != (0, "", ""):
            trial.problems.append("DEL after the kill: rc %d %s %s" % (rc, out, err))
        left = [i for i in container_ifaces(ns) if i != "lo"]
        if left:
            trial.leaks.append("container interfaces after DEL: %s" % left)
        box.drop_netns(ns)
    else:
        trial.recovery = "GC"
        box.drop_netns(ns)  # the container is gone; the runtime garbage-collects
        wait_for_veths_gone(node)
        gc_conf = dict(conf, cniVersion="1.1.0")
        rc, out, err = finish(spawn(node, "GC", gc_conf, "", ""))
        if (rc, out, err) != (0, "", ""):
            trial.problems.append("GC after the kill: rc %d %s %s" % (rc, out, err))


def wait_for_veths_gone(node: Node, seconds: float = 10.0) -> None:
    """The kernel destroys a deleted namespace (and the veths in it, with their host ends)
    asynchronously, in a work queue, after ``ip netns del`` returns: wait for that, bounded.
    A veth still present afterwards is reported as a leak by the caller."""
    deadline = time.monotonic() + seconds
    while node.host_veths() and time.monotonic() < deadline:
        time.sleep(0.05)


def _leftovers(node: Node, rules_before: str) -> list[str]:
    leaks = []
    if node.reservations():
        leaks.append("reservations %s" % node.reservations())
    if _record_count(node):
        leaks.append("%d attachment records" % _record_count(node))
    if node.host_veths():
        leaks.append("host veths %s" % node.host_veths())
    if temp_files(node):  # the recovering DEL or GC empties tmp/ (a killed writer's file)
        leaks.append("temp files %s" % temp_files(node))
    if bridge_ports(node):
        leaks.append("bridge ports %s" % bridge_ports(node))
    if rules(node.hostns) != rules_before:
        leaks.append("nftables ruleset changed")
    return leaks


def _next_add_works(box: Sandbox, node: Node, conf: dict[str, Any], seed: int,
                    trial: Trial) -> None:
    ns = box.make_netns()
    cid = "next-%d" % seed
    rc, out, err = finish(spawn(node, "ADD", conf, cid, netns_path(ns)))
    if rc != 0 or err:
        trial.problems.append("next ADD: rc %d %s %s" % (rc, out, err))
    rc, out, err = finish(spawn(node, "DEL", conf, cid, netns_path(ns)))
    if rc != 0:
        trial.problems.append("next DEL: rc %d %s" % (rc, out))
    box.drop_netns(ns)
    if node.reservations() or node.host_veths():
        trial.leaks.append("after the next ADD/DEL: %s %s"
                           % (node.reservations(), node.host_veths()))


def _record_count(node: Node) -> int:
    rec = Path(node.data_dir) / node.network / "attachments"
    return len(os.listdir(rec)) if rec.exists() else 0


# ============================================================================================
# The concurrency round: 100 ADDs at once, mixed with DELs and CHECKs of other containers
# ============================================================================================

class Round:
    """Outcome of one concurrency round; ``problems`` must stay empty."""

    __slots__ = ("adds", "added", "refused", "dels", "checks", "problems")

    def __init__(self) -> None:
        self.adds = 0
        self.added = 0
        self.refused: dict[int, int] = {}  # code -> count of ADDs refused with it
        self.dels = 0
        self.checks = 0
        self.problems: list[str] = []


def round_conf(node: Node, subnet: str = "100.64.16.0/25",
               range_end: str | None = "100.64.16.111") -> dict[str, Any]:
    """The round's network: by default 110 addresses (.2 to .111), fewer than the 115
    containers that would be live at the end, so some ADDs must be refused."""
    conf = node.conf(subnet=subnet)
    if range_end:
        conf["ipam"]["ranges"] = [[{"subnet": subnet, "rangeEnd": range_end}]]
    return conf


def concurrency_round(box: Sandbox, node: Node, adds: int = 100, others: int = 30,
                      conf: dict[str, Any] | None = None) -> Round:
    """``others`` containers are added first; then ``adds`` new ADDs start together with a
    DEL of half the others and a CHECK of the other half. When the range cannot hold
    everyone an ADD must fail with code 101, never anything else. Afterwards: no address
    twice, the store consistent and exactly the live attachments reserved, one bridge port
    per live container, refused ADDs left nothing in their namespace."""
    rnd = Round()
    conf = conf or round_conf(node)
    old = [box.make_netns() for _ in range(others)]
    old_results = {}
    for ns in old:
        rc, out, err = finish(spawn(node, "ADD", conf, "cid-" + ns, netns_path(ns)))
        if rc != 0:
            rnd.problems.append("set-up ADD: %s %s" % (out, err))
            return rnd
        old_results[ns] = json.loads(out)
    deleted, checked = old[: others // 2], old[others // 2:]
    new = [box.make_netns() for _ in range(adds)]
    procs: list[tuple[str, str, subprocess.Popen[bytes]]] = []
    order = [("ADD", ns) for ns in new] + [("DEL", ns) for ns in deleted] + \
        [("CHECK", ns) for ns in checked]
    random.Random(len(order)).shuffle(order)
    for command, ns in order:
        c = dict(conf, prevResult=old_results[ns]) if command == "CHECK" else conf
        procs.append((command, ns, spawn(node, command, c, "cid-" + ns, netns_path(ns))))
    live: dict[str, str] = {ns: old_results[ns]["ips"][0]["address"] for ns in checked}
    for command, ns, proc in procs:
        rc, out, err = finish(proc)
        _judge(rnd, node, command, ns, rc, out, err, live)
    _judge_store(rnd, node, live)
    return rnd


def _judge(rnd: Round, node: Node, command: str, ns: str, rc: int, out: str, err: str,
           live: dict[str, str]) -> None:
    if command == "ADD":
        rnd.adds += 1
        if rc == 0 and not err:
            rnd.added += 1
            live[ns] = json.loads(out)["ips"][0]["address"]
            return
        problem = coded_problem(rc, out, err)
        if problem:
            rnd.problems.append("ADD %s: %s" % (ns, problem))
            return
        code = json.loads(out)["code"]
        rnd.refused[code] = rnd.refused.get(code, 0) + 1
        if code != 101:
            rnd.problems.append("ADD %s refused with code %d: %s" % (ns, code, out))
        if [i for i in container_ifaces(ns) if i != "lo"]:
            rnd.problems.append("refused ADD %s left interfaces" % ns)
        return
    if command == "DEL":
        rnd.dels += 1
    else:
        rnd.checks += 1
    if (rc, out, err) != (0, "", ""):
        rnd.problems.append("%s %s: rc %d %s %s" % (command, ns, rc, out, err))


def _judge_store(rnd: Round, node: Node, live: dict[str, str]) -> None:
    addresses = [a.split("/")[0] for a in live.values()]
    if len(set(addresses)) != len(addresses):
        dupes = sorted({a for a in addresses if addresses.count(a) > 1})
        rnd.problems.append("addresses handed out twice: %s" % dupes)
    if sorted(addresses) != node.reservations():
        rnd.problems.append("store holds %d reservations for %d live containers"
                            % (len(node.reservations()), len(addresses)))
    rnd.problems += ["store: " + p for p in store_problems(node.data_dir, node.network)]
    if len(bridge_ports(node)) != len(live):
        rnd.problems.append("%d bridge ports for %d live containers"
                            % (len(bridge_ports(node)), len(live)))


def release_all(node: Node, namespaces: Iterator[str] | list[str], conf: dict[str, Any]) -> None:
    """DEL every container of a round (cleanup between rounds)."""
    procs = [spawn(node, "DEL", conf, "cid-" + ns, netns_path(ns)) for ns in namespaces]
    for proc in procs:
        finish(proc)


# ============================================================================================
# The bad-input corpus
# ============================================================================================

class BadInput:
    """One input the plugin must refuse: ``code`` (or one of several) and ``words`` that the
    message or details must contain, so the answer names the problem."""

    __slots__ = ("name", "command", "stdin", "kw", "codes", "words")

    def __init__(self, name: str, command: str, stdin: Any, codes: int | tuple[int, ...],
                 words: str, **kw: Any) -> None:
        self.name = name
        self.command = command
        self.stdin = stdin
        self.codes = codes if isinstance(codes, tuple) else (codes,)
        self.words = words
        self.kw = kw

    def __repr__(self) -> str:
        return "BadInput(%s)" % self.name


def _with(conf: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``conf`` with ``path`` ("ipam.ranges", "runtimeConfig.ips") set."""
    out: dict[str, Any] = json.loads(json.dumps(conf))
    node: dict[str, Any] = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


def _ranges(conf: dict[str, Any], *ranges: dict[str, Any]) -> dict[str, Any]:
    return _with(conf, "ipam.ranges", [[r] for r in ranges])


# Wrong types, one field at a time: (dotted path, value, words the answer must contain).
WRONG_TYPES: list[tuple[str, Any, str]] = [
    ("name", 5, "name"), ("name", ["a"], "name"), ("type", 5, "type"),
    ("bridge", 5, "bridge"), ("bridge", "", "bridge"), ("isGateway", "true", "isGateway"),
    ("isDefaultGateway", 1, "isDefaultGateway"), ("forceAddress", "no", "forceAddress"),
    ("ipMasq", "true", "ipMasq"), ("hairpinMode", [], "hairpinMode"),
    ("promiscMode", {}, "promiscMode"), ("portIsolation", 0, "portIsolation"),
    ("enabledad", "yes", "enabledad"), ("mtu", "1500", "mtu"), ("mtu", 1500.5, "mtu"),
    ("mtu", True, "mtu"), ("logFile", 5, "logFile"), ("logLevel", 1, "logLevel"),
    ("dns", "x", "dns"), ("dns.nameservers", "100.64.0.53", "nameservers"),
    ("dns.search", [1], "search"), ("ipam", "x", "ipam"), ("ipam", [], "ipam"),
    ("ipam.type", 5, "ipam.type"), ("ipam.subnet", 5, "subnet"),
    ("ipam.ranges", "x", "ipam.ranges"), ("ipam.ranges", [["x"]], "ipam.ranges[0][0]"),
    ("ipam.ranges", [[{"subnet": 5}]], "ipam.ranges[0][0].subnet"),
    ("ipam.ranges", [[]], "ipam.ranges[0]"), ("ipam.ranges", [{}], "ipam.ranges[0]"),
    ("ipam.routes", "x", "ipam.routes"), ("ipam.routes", [1], "ipam.routes[0]"),
    ("ipam.routes", [{"dst": 5}], "ipam.routes[0].dst"),
    ("ipam.routes", [{"dst": "0.0.0.0/0", "gw": 5}], "ipam.routes[0].gw"),
    ("ipam.dataDir", 5, "ipam.dataDir"), ("ipam.dataDir", "relative/dir", "ipam.dataDir"),
    ("ipam.resolvConf", 5, "ipam.resolvConf"), ("runtimeConfig", "x", "runtimeConfig"),
    ("runtimeConfig.ips", "100.64.1.9", "runtimeConfig.ips"),
    ("runtimeConfig.ips", [5], "runtimeConfig.ips"), ("runtimeConfig.mac", 5, "runtimeConfig.mac"),
    ("runtimeConfig.ipRanges", "x", "runtimeConfig.ipRanges"), ("args", "x", "args"),
    ("args.cni", "x", "args.cni"), ("args.cni.ips", "x", "args.cni.ips"),
    ("args.cni.mac", ["x"], "args.cni.mac"), ("prevResult", "x", "prevResult"),
    ("network", 5, "network"),
]


def bad_inputs(node: Node, ns: str, scratch: Path) -> list[BadInput]:
    """The corpus: more than a hundred inputs, each to be refused with a coded error naming
    its problem and with no change on the host. ``ns`` is the target container; ``scratch``
    the directory make_scratch_files filled."""
    conf = node.conf()
    text = json.dumps(conf)
    cases: list[BadInput] = []

    def add(name: str, command: str, stdin: Any, codes: int | tuple[int, ...], words: str,
            **kw: Any) -> None:
        cases.append(BadInput(name, command, stdin, codes, words, **kw))

    # ---- not JSON, or not an object -------------------------------------------------------
    for part in (4, 2):
        add("truncated to 1/%d" % part, "ADD", text[:len(text) // part], 6, "decode")
    add("truncated by one byte", "ADD", text[:-1], 6, "decode")
    for doc in ("null", "42", '"conf"', "true"):
        add("JSON %s" % doc, "ADD", doc, 6, "object")
    add("invalid UTF-8", "ADD", text.encode()[:20] + b"\xff\xfe" + text.encode()[20:], 6,
        "decode")
    add("NaN", "ADD", text[:-1] + ', "mtu": NaN}', 6, "decode")
    add("trailing garbage", "ADD", text + "x", 6, "decode")
    add("nested 100000 deep", "ADD", "[" * 100000, 6, "decode")
    add("NUL byte", "ADD", b"{\x00}", 6, "decode")
    add("byte order mark", "ADD", b"\xef\xbb\xbf" + text.encode(), 6, "decode")
    # ---- versions -------------------------------------------------------------------------
    for version in ("0.5.0", "1.2.0", "", "1.0", " 1.0.0", "v1.0.0"):
        add("cniVersion %r" % version, "ADD", dict(conf, cniVersion=version), 1, "incompatible")
    add("cniVersion a list", "ADD", dict(conf, cniVersion=["1.0.0"]), 1, "incompatible")
    add("cniVersions empty", "ADD", dict({k: v for k, v in conf.items() if k != "cniVersion"},
                                         cniVersions=[]), 1, "incompatible")
    add("CHECK before 0.4.0", "CHECK", dict(conf, cniVersion="0.3.1"), 1, "CHECK")
    # ---- environment ----------------------------------------------------------------------
    add("CNI_COMMAND lower case", "add", conf, 4, "CNI_COMMAND")
    add("CNI_COMMAND with a space", "ADD ", conf, 4, "CNI_COMMAND")
    add("CNI_CONTAINERID missing", "ADD", conf, 4, "CNI_CONTAINERID", cid="")
    add("every variable missing", "ADD", conf, 4, "CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, "
        "CNI_PATH", cid="", netns="", ifname="", path="")
    add("CHECK without CNI_NETNS", "CHECK", conf, 4, "CNI_NETNS", netns="")
    for args, words in (("=x", "CNI_ARGS"), ("IgnoreUnknown=maybe", "IgnoreUnknown"),
                        ("MAC=zz", "CNI_ARGS MAC"), ("IP=fd00::1::2", "CNI_ARGS IP"),
                        ("K8S_POD_NAME", "CNI_ARGS")):
        add("CNI_ARGS %r" % args, "ADD", conf, 4, words, args=args)
    # ---- wrong types, field by field ------------------------------------------------------
    for path, value, words in WRONG_TYPES:
        add("%s = %s" % (path, json.dumps(value)), "ADD", _with(conf, path, value), 7, words)
    add("seed subnet = 5", "ADD", {"cniVersion": "0.3.1", "name": node.network,
                                   "type": "humanz-cni", "bridge": node.bridge,
                                   "subnet": 5, "logFile": node.log_file}, 7, "subnet")
    # ---- CIDRs and ranges -----------------------------------------------------------------
    for subnet, words in (("100.64.1.0/33", "subnet"), ("100.64.1/24", "subnet"),
                          ("100.64.1.256/24", "subnet"), ("fd00::/129", "subnet"),
                          ("fd00::/128", "subnet"), ("100.64.1.0/32", "subnet"),
                          ("fd00::1/64", "subnet"), ("100.64.1.0", "subnet"),
                          ("100.64.1.0/-1", "subnet"), ("100.64.1.0/ 24", "subnet"),
                          ("1.2.3.4.5/24", "subnet"), ("fd00::/64x", "subnet")):
        add("subnet %s" % subnet, "ADD", _ranges(conf, {"subnet": subnet}), 7, words)
    add("v6 subnet, v4 gateway", "ADD",
        _ranges(conf, {"subnet": "fd00:1::/64", "gateway": "100.64.1.1"}), 7, "gateway")
    add("v4 subnet, v6 rangeStart", "ADD",
        _ranges(conf, {"subnet": "100.64.1.0/24", "rangeStart": "fd00::5"}), 7, "rangeStart")
    add("v6 gateway outside", "ADD",
        _ranges(conf, {"subnet": "fd00:1::/64", "gateway": "fd00:2::1"}), 7, "gateway")
    add("rangeStart > rangeEnd", "ADD", _ranges(conf, {"subnet": "100.64.1.0/24",
                                                       "rangeStart": "100.64.1.200",
                                                       "rangeEnd": "100.64.1.100"}), 7,
        "rangeEnd")
    add("rangeEnd outside", "ADD", _ranges(conf, {"subnet": "100.64.1.0/24",
                                                  "rangeEnd": "100.64.2.10"}), 7, "rangeEnd")
    add("rangeStart is the network", "ADD", _ranges(conf, {"subnet": "100.64.1.0/24",
                                                           "rangeStart": "100.64.1.0"}), 7,
        "rangeStart")
    add("set mixes families", "ADD", _with(conf, "ipam.ranges", [[
        {"subnet": "100.64.1.0/24"}, {"subnet": "fd00:1::/64"}]]), 7, "mixes")
    add("seed subnet outside network", "ADD",
        {"cniVersion": "0.3.1", "name": node.network, "type": "humanz-cni",
         "bridge": node.bridge, "network": "100.64.0.0/16", "subnet": "100.65.1.0/24",
         "logFile": node.log_file}, 7, "not inside network")
    add("route gw of the other family", "ADD", _with(conf, "ipam.routes", [
        {"dst": "100.65.0.0/16", "gw": "fd00::1"}]), 7, "ipam.routes[0].gw")
    # ---- huge values ----------------------------------------------------------------------
    add("mtu 2**64", "ADD", dict(conf, mtu=2 ** 64), 7, "mtu")
    add("mtu -1", "ADD", dict(conf, mtu=-1), 7, "mtu")
    add("a 300-character network name", "ADD", dict(conf, name="n" * 300), (5, 7), "name")
    add("a 5000-character container ID", "ADD", conf, (4, 5), "container ID",
        cid="c" * 5000)
    add("1000 range sets, the last overlapping", "ADD", _with(conf, "ipam.ranges", [
        [{"subnet": "100.%d.%d.0/24" % (64 + i // 256, i % 256)}] for i in range(999)] + [
        [{"subnet": "100.64.0.0/16"}]]), 7, "overlaps")
    add("a 100000-entry route list with a bad last entry", "ADD", _with(
        conf, "ipam.routes", [{"dst": "100.65.0.0/16"}] * 99999 + [{"dst": "x"}]), 7,
        "ipam.routes[99999].dst")
    # ---- names that could become paths ----------------------------------------------------
    for name in ("a/b", "..", "../../etc", "a/../b", ".hidden", "-x", "a\\b"):
        add("network name %r" % name, "ADD", dict(conf, name=name), 7, "name")
    for ifname, code, words in (("e" * 16, 4, "CNI_IFNAME"), ("../x", 4, "CNI_IFNAME"),
                                ("..", 4, "CNI_IFNAME"), ("eth 0", 4, "CNI_IFNAME"),
                                ("eth:0", 4, "CNI_IFNAME"), ("lo", 103, "lo already exists"),
                                ("all", 100, "create veth"),
                                ("eth%d", 4, "name template")):
        add("ifname %r" % ifname, "ADD", conf, code, words, ifname=ifname)
    add("bridge name with a slash", "ADD", dict(conf, bridge="br/0"), 7, "bridge")
    add("bridge name a kernel template", "ADD", dict(conf, bridge="hzt%d"), 7, "bridge")
    add("ipam.type a path", "ADD", _with(conf, "ipam.type", "/bin/sh"), 7, "ipam.type")
    # ---- container IDs with shell metacharacters ------------------------------------------
    for cid in ("$(touch /tmp/hztpwned)", "a;touch /tmp/hztpwned", "`touch /tmp/hztpwned`",
                "a|b", "a&&b", "-rf", "a b", "é", "..", "a\nb", "'", "a>b"):
        add("container ID %r" % cid, "ADD", conf, 4, "CNI_CONTAINERID", cid=cid)
    # ---- CNI_NETNS that is not a container's network namespace ----------------------------
    regular, fifo, alias = scratch / "regular", scratch / "fifo", scratch / "host-alias"
    for label, netns, words in (("a regular file", str(regular), "not a network namespace"),
                                ("a directory", str(scratch), "not a network namespace"),
                                ("/dev/null", "/dev/null", "not a network namespace"),
                                ("a FIFO", str(fifo), "not a network namespace"),
                                ("a mount namespace", "/proc/self/ns/mnt",
                                 "not a network namespace"),
                                ("/proc/self/ns/net", "/proc/self/ns/net",
                                 "own network namespace"),
                                ("/proc/thread-self/ns/net", "/proc/thread-self/ns/net",
                                 "own network namespace"),
                                ("a symlink to the host's", str(alias),
                                 "own network namespace"),
                                ("relative", "relative/netns", "does not exist"),
                                ("missing", "/run/netns/hztnosuch", "does not exist")):
        add("CNI_NETNS %s" % label, "ADD", conf, 4, words, netns=netns)
        if label in ("a regular file", "/proc/self/ns/net", "a symlink to the host's"):
            add("CHECK, CNI_NETNS %s" % label, "CHECK", dict(conf, prevResult={}), 4, words,
                netns=netns)
    # ---- prevResult of the wrong shape or version -----------------------------------------
    for prev, words in (({"cniVersion": "0.2.0", "ip4": {"ip": "x"}}, "prevResult"),
                        ({"cniVersion": "9.0.0"}, "prevResult.cniVersion"),
                        ({"cniVersion": "0.2.0", "ip4": "x"}, "prevResult.ip4"),
                        ({"ips": "x"}, "prevResult"),
                        ({"interfaces": [{"name": 5}]}, "prevResult.interfaces[0]"),
                        ({"ips": [{"address": "300.1.1.1/24"}]}, "prevResult.ips[0]"),
                        ({"ips": [{"address": "100.64.1.9/24", "interface": 7}]},
                         "prevResult.ips[0]"),
                        ({"cniVersion": 1}, "prevResult.cniVersion")):
        add("prevResult %s" % json.dumps(prev)[:60], "ADD", dict(conf, prevResult=prev), 7,
            words)
    add("CHECK with a 0.2.0 prevResult that is garbage", "CHECK",
        dict(conf, prevResult={"cniVersion": "0.2.0", "ip4": {"ip": 5}}), 7, "prevResult")
    return cases


def make_scratch_files(node: Node, scratch: Path) -> None:
    """The files bad_inputs points CNI_NETNS at: a regular file, a FIFO (opening it would
    block: the plugin must look before it opens), a symlink to the host's namespace."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "regular").write_text("not a namespace\n")
    os.mkfifo(scratch / "fifo")
    (scratch / "host-alias").symlink_to(netns_path(node.hostns))


def run_bad_input(node: Node, ns: str, case: BadInput) -> list[str]:
    """Run one case; the list of what went wrong (empty: refused properly, host unchanged)."""
    before = host_state(node), container_state(ns)
    kw = dict(case.kw)
    kw.setdefault("cid", "cid-" + ns)
    kw.setdefault("netns", netns_path(ns))
    out = node.run(case.command, case.stdin, **kw)
    problems = []
    problem = coded_problem(out.rc, out.out, out.err)
    if problem:
        problems.append(problem)
    elif out.code not in case.codes:
        problems.append("code %s, expected %s: %s" % (out.code, case.codes, out.data["msg"]))
    elif case.words not in out.data["msg"] + " " + out.data["details"]:
        problems.append("answer does not name %r: %s / %s" % (case.words, out.data["msg"],
                                                            out.data["details"]))
    problems += changes(before, (host_state(node), container_state(ns)))
    if os.path.exists("/tmp/hztpwned"):
        problems.append("a shell ran: /tmp/hztpwned exists")
    return problems
