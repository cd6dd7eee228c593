"""A three-node cluster simulated with network namespaces: agents, plugin, routes, masquerade.

    underlay namespace: bridge hztul0 (100.64.50.254/24), the fake API server listening there
       │            │            │              │
     node1        node2        node3         outside (100.64.50.200, no route to pods)
    .50.1        .50.2        .50.3
    agent        agent        agent          each `python -m humanz.agent` in its node's
    humanz0      humanz0      humanz0        namespace, against the fake API; the plugin it
    pod          pod          pod            installed runs there too (ADD for one pod each)

Checked: pods on different nodes ping each other (routes programmed by the agents via the
nodes' InternalIPs); a pod reaches "outside", which has no route back to the pod network, so
only the agent's masquerade makes that work; a node deleted from the API loses its routes on
the others. All addresses are in 100.64.0.0/10; everything lives in throwaway namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from conftest import ip
from fake_kube import FakeKube

from humanz.netlink import netns as nslib

ROOT = str(Path(__file__).resolve().parent.parent)
CLUSTER_CIDR = "100.96.0.0/16"
UNDERLAY_MAC = "02:00:64:40:32:fe"       # locally administered (the 0x02 bit)


def routes_proto_104(ns: str) -> set[tuple[str, str]]:
    out = ip("-j", "route", "show", "proto", "104", netns=ns).stdout
    return {(r["dst"], r["gateway"]) for r in json.loads(out or "[]")}


def wait_until(predicate: Callable[[], bool], what: str, limit: int = 150) -> None:
    """Poll (bounded: ``limit`` × 0.2 s) until ``predicate()``; fail naming ``what``."""
    for _ in range(limit):
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("never happened: " + what)


def ping(ns: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", address],
                          capture_output=True, timeout=30).returncode == 0


class Cluster:
    """The namespaces, the fake API, and one agent process per node."""

    def __init__(self, make_netns: Callable[[], str], tmp: Path) -> None:
        self.tmp = tmp
        self.underlay = make_netns()
        # A bridge without an address of its own takes the lowest MAC among its ports, so it
        # would change MAC whenever a node (or "outside") with a lower one is attached; a node
        # that had resolved the API server's address before then keeps sending to the old MAC,
        # which the bridge no longer takes as its own, and is cut off until its ARP entry
        # expires (tens of seconds: watches time out). A fixed MAC, as a real gateway has.
        ip("link", "add", "hztul0", "address", UNDERLAY_MAC, "type", "bridge",
           netns=self.underlay)
        ip("addr", "add", "100.64.50.254/24", "dev", "hztul0", netns=self.underlay)
        ip("link", "set", "hztul0", "up", netns=self.underlay)
        self.nodes: dict[str, str] = {}          # node name → namespace
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.fake = FakeKube(host="100.64.50.254", bookmark_interval=0.5)
        nslib.run_in("/run/netns/" + self.underlay, self.fake.start)

    def attach(self, ns: str, index: int, address: str) -> None:
        """A veth from ``ns`` (eth0-like, named hztuN) to the underlay bridge."""
        ip("link", "add", "hztu%d" % index, "netns", ns, "type", "veth", "peer", "name",
           "hztp%d" % index, "netns", self.underlay)
        ip("link", "set", "hztp%d" % index, "master", "hztul0", "up", netns=self.underlay)
        ip("addr", "add", address + "/24", "dev", "hztu%d" % index, netns=ns)
        ip("link", "set", "hztu%d" % index, "up", netns=ns)

    def add_node(self, name: str, ns: str, index: int) -> None:
        self.attach(ns, index, "100.64.50.%d" % index)
        self.nodes[name] = ns
        self.fake.add_node(name, ["100.96.%d.0/24" % index], ["100.64.50.%d" % index])
        (self.tmp / name / "bin").mkdir(parents=True)
        (self.tmp / name / "net.d").mkdir()
        kubeconfig = self.tmp / name / "kubeconfig"
        kubeconfig.write_text(json.dumps(self.fake.kubeconfig()))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ROOT,
               "NODE_NAME": name, "HUMANZ_CLUSTER_CIDR": CLUSTER_CIDR,
               "KUBECONFIG": str(kubeconfig), "HUMANZ_HOST_ROOT": "/",
               "HUMANZ_CNI_CONF": str(self.tmp / name / "net.d" / "10-humanz.conflist"),
               "HUMANZ_CNI_BIN_DIR": str(self.tmp / name / "bin"), "HUMANZ_HEALTHZ": "",
               "HUMANZ_RESYNC": "5"}
        log = open(self.tmp / name / "agent.log", "wb")
        self.agents[name] = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "humanz.agent"],
            env=env, stdout=log, stderr=subprocess.STDOUT)

    def conf_path(self, name: str) -> Path:
        return self.tmp / name / "net.d" / "10-humanz.conflist"

    def add_pod(self, node: str, pod_ns: str, container_id: str) -> str:
        """Run the installed plugin's ADD inside the node's namespace; the pod's address."""
        conflist = json.loads(self.conf_path(node).read_text())
        conf = dict(conflist["plugins"][0], name=conflist["name"],
                    cniVersion=conflist["cniVersion"], logFile="")
        conf["ipam"] = dict(conf["ipam"], dataDir=str(self.tmp / node / "ipam"))
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": container_id,
               "CNI_NETNS": "/run/netns/" + pod_ns, "CNI_IFNAME": "eth0",
               "CNI_PATH": str(self.tmp / node / "bin"), "PATH": "/usr/bin:/bin"}
        plugin = str(self.tmp / node / "bin" / "humanz-cni")
        proc = subprocess.run(["ip", "netns", "exec", self.nodes[node], plugin],
                              input=json.dumps(conf), capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = json.loads(proc.stdout)
        return str(result["ips"][0]["address"].split("/")[0])

    def logs(self) -> str:
        return "\n".join("== %s\n%s" % (name, (self.tmp / name / "agent.log").read_text())
                         for name in self.agents)

    def stop(self) -> None:
        for proc in self.agents.values():
            proc.terminate()
        for proc in self.agents.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
        self.fake.stop()


@pytest.fixture
def cluster(make_netns: Callable[[], str], tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(make_netns, tmp_path)
    try:
        yield c
    finally:
        c.stop()


def test_three_nodes_route_pods_and_masquerade(cluster: Cluster,
                                               make_netns: Callable[[], str]) -> None:
    for i in (1, 2, 3):
        cluster.add_node("node%d" % i, make_netns(), i)
    outside = make_netns()
    cluster.attach(outside, 200, "100.64.50.200")          # knows no route to 100.96.0.0/16

    expected = {name: {("100.96.%d.0/24" % j, "100.64.50.%d" % j) for j in (1, 2, 3) if j != i}
                for i, name in ((1, "node1"), (2, "node2"), (3, "node3"))}
    try:
        for name, ns in cluster.nodes.items():
            wait_until(lambda: routes_proto_104(ns) == expected[name]
                       and cluster.conf_path(name).exists(), "routes and conf on " + name)
    except AssertionError:
        raise AssertionError(cluster.logs()) from None

    pods = {}
    for i, name in ((1, "node1"), (2, "node2"), (3, "node3")):
        pod = make_netns()
        pods[name] = (pod, cluster.add_pod(name, pod, "pod%d" % i))
        assert pods[name][1].startswith("100.96.%d." % i)

    # pods on different nodes reach each other, both ways
    (p1, a1), (p2, a2), (p3, a3) = pods["node1"], pods["node2"], pods["node3"]
    assert ping(p1, a2) and ping(p2, a3) and ping(p3, a1)

    # the outside sees the node's address: it has no way back to a pod address
    assert ping(p1, "100.64.50.200")
    counters = subprocess.run(["ip", "netns", "exec", cluster.nodes["node1"], "nft", "-j",
                               "list", "chain", "inet", "humanz", "agent-postrouting"],
                              capture_output=True, text=True, timeout=30, check=True).stdout
    rules = [i["rule"] for i in json.loads(counters)["nftables"] if "rule" in i]
    packets = [e["counter"]["packets"] for e in rules[0]["expr"] if "counter" in e]
    assert packets and packets[0] >= 1

    # node3 leaves the cluster: the others drop their route to it, keep the rest
    cluster.fake.delete_node("node3")
    for name in ("node1", "node2"):
        ns = cluster.nodes[name]
        left = {r for r in expected[name] if r[0] != "100.96.3.0/24"}
        wait_until(lambda: routes_proto_104(ns) == left, "node3's route gone from " + name)
    assert ping(p1, a2)
    assert not ping(p1, a3)
