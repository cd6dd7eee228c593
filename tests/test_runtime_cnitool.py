"""End to end through cnitool (libcni 1.1.2, built from Debian's source): ADD, CHECK, DEL, GC, STATUS.

cnitool plays the runtime inside a throwaway "node" namespace; pods are other namespaces under
/run/netns. It reads the conflist from our own NETCONFPATH and finds ``humanz-cni`` on our
own CNI_PATH. cnitool 1.1.2 (Debian 12) has no ``gc`` or ``status`` subcommand (they arrived
with libcni 1.2), so those two tests make the call exactly as libcni 1.2 makes it
(``runtimes.call_plugin``). See tests/runtimes.py for how the plugin under test is chosen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import unique_name
from runtimes import (CNITOOL, CniPlugin, Cnitool, OwnedDirs, call_plugin, cni_plugin,
                      in_subnet, owned_dirs, ping, pod_address, require_executable, run, store_traces,
                      unique_subnet, write_conflist)

__all__ = ["cni_plugin", "owned_dirs"]          # fixtures used by the tests below


class Net:
    """One network written for cnitool: its name, subnet, gateway, store and plugin entry."""

    __slots__ = ("name", "subnet", "gateway", "data_dir", "conf")

    def __init__(self, cnitool: Cnitool, tmp_path: Path, prefixlen: int = 24,
                 chained: tuple[dict[str, Any], ...] = ()) -> None:
        self.name = unique_name("net")
        subnet, self.gateway = unique_subnet()
        self.subnet = subnet.replace("/24", "/%d" % prefixlen)
        self.data_dir = str(tmp_path / "store")
        self.conf = cnitool.plugin.conf(bridge=unique_name("br"), subnet=self.subnet,
                                        data_dir=self.data_dir,
                                        log_file=str(tmp_path / "humanz-cni.log"))
        write_conflist(cnitool.conf_dir, self.name, [self.conf] + list(chained))


@pytest.fixture
def cnitool(cni_plugin: CniPlugin, make_netns: Callable[[], str], tmp_path: Path,
            owned_dirs: OwnedDirs) -> Cnitool:
    """cnitool bound to a fresh node namespace, a private config dir and result cache."""
    tool = require_executable(CNITOOL, "cnitool")
    owned_dirs.ensure("/var/lib/cni")        # the cache path libcni 1.1.2 hard-codes
    cache = tmp_path / "cni-cache"
    cache.mkdir()
    return Cnitool(tool, make_netns(), str(tmp_path / "net.d"), cni_plugin, str(cache))


def node_links(cnitool: Cnitool) -> list[str]:
    out = run(["ip", "-n", cnitool.node, "-j", "link", "show"]).stdout
    return sorted(link["ifname"] for link in json.loads(out))


def test_add_check_del_and_connectivity(cnitool: Cnitool, make_netns: Callable[[], str],
                                        tmp_path: Path) -> None:
    net = Net(cnitool, tmp_path)
    a, b = make_netns(), make_netns()
    addr_a, plen, gw = pod_address(cnitool("add", net.name, a).stdout, a)
    addr_b, _, _ = pod_address(cnitool("add", net.name, b).stdout, b)
    assert (plen, gw) == (24, net.gateway)
    assert in_subnet(addr_a, net.subnet) and in_subnet(addr_b, net.subnet)
    assert len({addr_a, addr_b, net.gateway}) == 3

    ping(a, net.gateway)
    ping(a, addr_b)
    ping(b, addr_a)
    cnitool("check", net.name, a)
    cnitool("check", net.name, b)
    id_a, id_b = Cnitool.container_id(a), Cnitool.container_id(b)
    assert store_traces(net.data_dir, [id_a]), "the store shows no reservation for pod a"

    cnitool("del", net.name, a)
    cnitool("del", net.name, b)
    assert store_traces(net.data_dir, [id_a, id_b], [addr_a, addr_b]) == []
    cnitool("del", net.name, a)              # repeated, without cached result: still fine
    bridge = net.conf["bridge"]
    assert node_links(cnitool) == sorted(["lo", bridge]), "veths left on the node"


def test_check_reports_a_removed_address(cnitool: Cnitool, make_netns: Callable[[], str],
                                         tmp_path: Path) -> None:
    net = Net(cnitool, tmp_path)
    pod = make_netns()
    addr, plen, _ = pod_address(cnitool("add", net.name, pod).stdout, pod)
    run(["ip", "-n", pod, "addr", "del", "%s/%d" % (addr, plen), "dev", "eth0"])
    check = cnitool("check", net.name, pod, check=False)
    assert check.returncode != 0, "CHECK passed although the pod lost its address"
    cnitool("del", net.name, pod)
    assert store_traces(net.data_dir, [Cnitool.container_id(pod)], [addr]) == []


def test_gc_releases_attachments_not_listed(cnitool: Cnitool, make_netns: Callable[[], str],
                                            tmp_path: Path) -> None:
    if not cnitool.plugin.has_gc_and_status:
        pytest.skip("the reference bridge 1.1.1 stand-in predates CNI 1.1.0: no GC")
    net = Net(cnitool, tmp_path)
    a, b = make_netns(), make_netns()
    addr_a, _, _ = pod_address(cnitool("add", net.name, a).stdout, a)
    addr_b, _, _ = pod_address(cnitool("add", net.name, b).stdout, b)
    id_a, id_b = Cnitool.container_id(a), Cnitool.container_id(b)

    valid = [{"containerID": id_b, "ifname": "eth0"}]
    gc = call_plugin(cnitool.plugin, "GC", net.conf, network=net.name,
                     extra={"cni.dev/valid-attachments": valid, "cni.dev/attachments": valid})
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert store_traces(net.data_dir, [id_a], [addr_a]) == [], "GC kept an unlisted attachment"
    assert store_traces(net.data_dir, [id_b]), "GC released a listed attachment"

    gc = call_plugin(cnitool.plugin, "GC", net.conf, network=net.name)   # no list: none valid
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert store_traces(net.data_dir, [id_b], [addr_b]) == []
    cnitool("del", net.name, a)              # DEL after GC released it: still succeeds
    cnitool("del", net.name, b)


def test_status_ok_then_exhausted(cnitool: Cnitool, make_netns: Callable[[], str],
                                  tmp_path: Path) -> None:
    if not cnitool.plugin.has_gc_and_status:
        pytest.skip("the reference bridge 1.1.1 stand-in predates CNI 1.1.0: no STATUS")
    net = Net(cnitool, tmp_path, prefixlen=30)     # .1 gateway, .2 the only pod address
    status = call_plugin(cnitool.plugin, "STATUS", net.conf, network=net.name)
    assert status.returncode == 0, status.stdout + status.stderr
    pod = make_netns()
    pod_address(cnitool("add", net.name, pod).stdout, pod)
    status = call_plugin(cnitool.plugin, "STATUS", net.conf, network=net.name)
    assert status.returncode != 0, "STATUS says an ADD could succeed in a full range"
    assert json.loads(status.stdout)["code"] == 50, status.stdout
    cnitool("del", net.name, pod)
    status = call_plugin(cnitool.plugin, "STATUS", net.conf, network=net.name)
    assert status.returncode == 0, status.stdout + status.stderr

