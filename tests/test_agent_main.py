"""The agent's command line, health endpoint and main loop.

The loop runs in-process against the fake API server with a fake Rtnl (events → routes and
files), and once as a real process (``python -m humanz.agent --once``) inside a throwaway
network namespace, where it programs real routes that ``ip`` then shows.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest
from conftest import ip
from fake_kube import FakeKube
from test_agent_reconcile import FakeRtnl, fake_build, fake_host_root

from humanz.agent import kube, kubeconfig
from humanz.agent.__main__ import (Health, UsageError, main, parse_options, run, serve_health,
                                   settings_from, usage)
from humanz.agent.reconcile import Reconciler
from humanz.netlink import netns as nslib

ROOT = str(Path(__file__).resolve().parent.parent)


# -- options -------------------------------------------------------------------------------------

def test_flags_beat_environment_beats_defaults() -> None:
    env = {"NODE_NAME": "from-env", "HUMANZ_CLUSTER_CIDR": "100.96.0.0/16",
           "HUMANZ_BRIDGE": "br-env"}
    opts = parse_options(["--node-name", "from-flag", "--resync=30", "--once"], env)
    assert opts["--node-name"] == "from-flag"
    assert opts["--bridge"] == "br-env"
    assert opts["--resync"] == "30" and opts["--once"] == "1"
    assert opts["--cni-conf"] == "/etc/cni/net.d/10-humanz.conflist"
    settings = settings_from(opts)
    assert settings.node_name == "from-flag" and settings.bridge == "br-env"
    assert [str(c) for c in settings.cluster_cidrs] == ["100.96.0.0/16"]


@pytest.mark.parametrize("argv, words", [
    (["--cluster-cidr", "100.96.0.0/16"], "--node-name (or NODE_NAME) is required"),
    (["--node-name", "n"], "--cluster-cidr (or HUMANZ_CLUSTER_CIDR) is required"),
    (["--node-name", "n", "--cluster-cidr", "100.96.0.1/16"], "host bits set"),
    (["--node-name", "n", "--cluster-cidr", "100.96.0.0/16,100.97.0.0/16"], "one IPv4 and one"),
    (["--node-name", "n", "--cluster-cidr", "100.96.0.0/16", "--mtu", "9"], "--mtu"),
    (["--bogus"], "unknown argument"),
    (["--node-name"], "needs a value"),
])
def test_bad_options_are_usage_errors(argv: list[str], words: str) -> None:
    with pytest.raises(UsageError) as info:
        settings_from(parse_options(argv, {}))
    assert words in str(info.value)


def test_main_exits_2_with_a_message_on_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--node-name", "n"]) == 2
    assert "--cluster-cidr (or HUMANZ_CLUSTER_CIDR) is required" in capsys.readouterr().err
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--node-name", "--kubeconfig", "--healthz"))
    assert usage().startswith("usage: python3 -m humanz.agent")


# -- health --------------------------------------------------------------------------------------

def get(port: int, path: str) -> tuple[int, dict[str, object] | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, json.loads(body) if resp.status in (200, 503) else None
    finally:
        conn.close()


def test_healthz_is_ok_while_the_loop_turns_and_503_when_stuck() -> None:
    health = Health(stale_after=3600)
    server = serve_health("127.0.0.1:0", health)
    try:
        port = server.server_address[1]
        health.beat(nodes=3, errors=[])
        status, body = get(port, "/healthz")
        assert status == 200 and body is not None
        assert body["ok"] is True and body["nodes"] == 3
        assert get(port, "/other")[0] == 404
        health.stale_after = -1                    # as if the last beat were long ago
        status, body = get(port, "/healthz")
        assert status == 503 and body is not None and body["ok"] is False
    finally:
        server.shutdown()
        server.server_close()


# -- the loop against the fake API -----------------------------------------------------------

class LoopHarness:
    """The agent's main loop in a thread, against a FakeKube, with a FakeRtnl."""

    def __init__(self, fake: FakeKube, tmp_path: Path, own: str) -> None:
        kc = tmp_path / "kc.json"
        kc.write_text(json.dumps(fake.kubeconfig()))
        self.host_root = fake_host_root(tmp_path / "host")
        self.conf = tmp_path / "10-humanz.conflist"
        (tmp_path / "bin").mkdir()
        settings = settings_from(parse_options(
            ["--node-name", own, "--cluster-cidr", "100.96.0.0/16",
             "--cni-conf", str(self.conf), "--cni-bin-dir", str(tmp_path / "bin"),
             "--host-root", str(self.host_root)], {}))
        self.rtnl = FakeRtnl()
        self.reconciler = Reconciler(settings, self.rtnl, build_plugin=fake_build)
        client = kube.KubeClient(kubeconfig.from_kubeconfig(str(kc)), timeout=10)
        self.health = Health(stale_after=3600)
        self.watcher = kube.NodeWatcher(client, watch_timeout=5, heartbeat=self.health.beat,
                                        sleep=lambda s: None)
        self.stopped = False
        self.result: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.result.append(run(self.watcher, self.reconciler, self.health,
                               lambda: self.stopped, resync=3600))

    def routes(self) -> set[tuple[str | None, int, str | None, int]]:
        return self.rtnl.state()

    def wait(self, fake: FakeKube, predicate: Callable[[], bool]) -> None:
        assert fake.wait_for(lambda _: predicate(), timeout=15), "agent never converged"


@pytest.fixture
def bookmarking_fake() -> Iterator[FakeKube]:
    server = FakeKube(bookmark_interval=0.1).start()   # bookmarks let the loop poll stop()
    yield server
    server.stop()


def test_agent_loop_follows_the_cluster(bookmarking_fake: FakeKube, tmp_path: Path) -> None:
    fake = bookmarking_fake
    fake.add_node("self", [], ["100.64.0.1"])
    fake.add_node("peer", ["100.96.2.0/24"], ["100.64.0.2"])
    agent = LoopHarness(fake, tmp_path, "self")
    agent.thread.start()
    try:
        agent.wait(fake, lambda: agent.routes() == {("100.96.2.0", 24, "100.64.0.2", 104)})
        assert not agent.conf.exists()                     # no podCIDR yet: no conf
        fake.set_pod_cidrs("self", ["100.96.1.0/24"])      # the controller manager catches up
        agent.wait(fake, agent.conf.exists)
        fake.add_node("late", [], ["100.64.0.3"])
        fake.set_pod_cidrs("late", ["100.96.3.0/24"])
        agent.wait(fake, lambda: ("100.96.3.0", 24, "100.64.0.3", 104) in agent.routes())
        fake.touch_node("peer")                             # heartbeat: nothing to do
        fake.compact(end_watches=True)                      # restart, history lost: relist
        fake.delete_node("peer")
        agent.wait(fake, lambda: agent.routes() == {("100.96.3.0", 24, "100.64.0.3", 104)})
        ok, report = agent.health.report()
        assert ok and report["conf_written"] is True and report["errors"] == []
    finally:
        agent.stopped = True
        agent.thread.join(30)
    assert not agent.thread.is_alive() and agent.result == [0]
    assert len([r for r in fake.requests if not r["watch"]]) == 2     # the list, the relist


# -- the real process, real routes, in a throwaway namespace -----------------------------------

def test_agent_process_once_programs_real_routes(netns: str, tmp_path: Path) -> None:
    ns_path = "/run/netns/" + netns
    ip("link", "add", "hztund0", "type", "veth", "peer", "name", "hztund1", netns=netns)
    ip("link", "set", "hztund1", "up", netns=netns)
    ip("addr", "add", "100.64.7.1/24", "dev", "hztund0", netns=netns)
    ip("addr", "add", "fd00:64:7::1/64", "dev", "hztund0", "nodad", netns=netns)
    ip("link", "set", "hztund0", "up", netns=netns)
    # a stale humanz route of a node that no longer exists, and a route that is not humanz's
    ip("route", "add", "100.96.9.0/24", "via", "100.64.7.9", "proto", "104", netns=netns)
    ip("route", "add", "100.96.8.0/24", "via", "100.64.7.8", "proto", "static", netns=netns)
    fake = FakeKube()
    nslib.run_in(ns_path, fake.start)         # the API server listens inside the namespace
    try:
        fake.add_node("self", ["100.96.1.0/24", "fd00:96:1::/64"], ["100.64.7.1", "fd00:64:7::1"])
        fake.add_node("peer", ["100.96.2.0/24", "fd00:96:2::/64"], ["100.64.7.2", "fd00:64:7::2"])
        kc = tmp_path / "kubeconfig"
        kc.write_text(json.dumps(fake.kubeconfig()))
        (tmp_path / "bin").mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ROOT,
               "NODE_NAME": "self", "HUMANZ_CLUSTER_CIDR": "100.96.0.0/16,fd00:96::/48",
               "KUBECONFIG": str(kc), "HUMANZ_HOST_ROOT": "/",
               "HUMANZ_CNI_CONF": str(tmp_path / "10-humanz.conflist"),
               "HUMANZ_CNI_BIN_DIR": str(tmp_path / "bin"), "HUMANZ_HEALTHZ": ""}
        proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m",
                               "humanz.agent", "--once"], env=env, capture_output=True,
                              text=True, timeout=120)
    finally:
        fake.stop()
    assert proc.returncode == 0, proc.stderr
    assert "listed 2 nodes" in proc.stderr
    routes = json.loads(ip("-j", "route", "show", "proto", "104", netns=netns).stdout)
    routes6 = json.loads(ip("-j", "-6", "route", "show", "proto", "104", netns=netns).stdout)
    assert [(r["dst"], r["gateway"]) for r in routes + routes6] == [
        ("100.96.2.0/24", "100.64.7.2"), ("fd00:96:2::/64", "fd00:64:7::2")]
    static = json.loads(ip("-j", "route", "show", "proto", "static", netns=netns).stdout)
    assert [r["dst"] for r in static] == ["100.96.8.0/24"]          # not ours: untouched
    conf = json.loads((tmp_path / "10-humanz.conflist").read_text())
    assert conf["plugins"][0]["ipam"]["ranges"][1] == [{"subnet": "fd00:96:1::/64"}]
    ruleset = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                              "humanz"], capture_output=True, text=True, timeout=30).stdout
    assert "ip saddr 100.96.0.0/16 ip daddr != 100.96.0.0/16 counter" in ruleset
    assert "ip6 saddr fd00:96::/48 ip6 daddr != fd00:96::/48 counter" in ruleset
    plugin = tmp_path / "bin" / "humanz-cni"
    assert os.access(plugin, os.X_OK)
    assert plugin.read_bytes().startswith(b"#!/usr/bin/python3 -ISc")
