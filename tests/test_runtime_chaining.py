"""Chaining with the reference plugins: humanz-cni → portmap → tuning through cnitool.

The conflist runs humanz-cni first; its result becomes ``prevResult`` for portmap, whose result
becomes tuning's. portmap only maps ports to the addresses whose ``ips[].interface`` points at
the sandbox interface, so a DNAT rule for the pod's address proves humanz's result is shaped
right. Everything happens in a throwaway node namespace (bridge, veths, iptables rules), so
nothing can be left on the machine. portmap and tuning come from containernetworking-plugins
1.1.1 (``/usr/lib/cni``), which know CNI up to 1.0.0: the conflist says 1.0.0.

The pod is dual-stack, so humanz's second range set and portmap's IPv6 rules are covered too.

CHECK runs without the port mappings: portmap 1.1.1's CHECK (``checkPorts``) looks for each
address's DNAT rules in BOTH iptables and ip6tables, so it fails for every pod with a port
mapping wherever ip6tables works, whatever the first plugin returned (see
containernetworking/plugins issue 819). Without mappings portmap's CHECK still requires the
``prevResult`` humanz produced; humanz's and tuning's CHECKs run in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from conftest import unique_name
from runtimes import (CNITOOL, CniPlugin, Cnitool, OwnedDirs, cni_plugin, in_subnet,
                      owned_dirs, ping, pod_address, require_executable, run, store_traces,
                      unique_subnet, unique_subnet6, write_conflist)

__all__ = ["cni_plugin", "owned_dirs"]          # fixtures used by the test below

HOST_PORT = 18080
CONTAINER_PORT = 80
SYSCTL = "net/ipv4/conf/eth0/arp_filter"          # default 0; tuning sets it to 1


def nat_rules(node: str) -> str:
    """The node's IPv4 and IPv6 NAT rules, as iptables-save-like text."""
    return "".join(run(["ip", "netns", "exec", node, tool, "-t", "nat", "-S"]).stdout
                   for tool in ("iptables", "ip6tables"))


def pod_sysctl(pod: str) -> str:
    return run(["ip", "netns", "exec", pod, "cat", "/proc/sys/" + SYSCTL]).stdout.strip()


def test_humanz_portmap_tuning_add_check_del(cni_plugin: CniPlugin,
                                             make_netns: Callable[[], str],
                                             tmp_path: Path, owned_dirs: OwnedDirs) -> None:
    require_executable("iptables", "iptables (portmap needs it)")
    owned_dirs.ensure("/var/lib/cni")
    cache = tmp_path / "cni-cache"
    cache.mkdir()
    cnitool = Cnitool(require_executable(CNITOOL, "cnitool"), make_netns(),
                      str(tmp_path / "net.d"), cni_plugin, str(cache))
    network = unique_name("net")
    subnet, gateway = unique_subnet()
    data_dir = str(tmp_path / "store")
    main = cni_plugin.conf(bridge=unique_name("br"), subnet=subnet, data_dir=data_dir,
                           log_file=str(tmp_path / "humanz-cni.log"), subnet6=unique_subnet6())
    write_conflist(cnitool.conf_dir, network, [
        main,
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        {"type": "tuning", "sysctl": {SYSCTL.replace("/", "."): "1"}},
    ])
    ports = {"portMappings": [{"hostPort": HOST_PORT, "containerPort": CONTAINER_PORT,
                               "protocol": "tcp"}]}
    pod = make_netns()

    added = cnitool("add", network, pod, cap_args=ports)
    address, _, gw = pod_address(added.stdout, pod)       # the chain's final result
    address6, _, _ = pod_address(added.stdout, pod, family=6)
    assert in_subnet(address, subnet) and gw == gateway
    dnat = "--to-destination %s:%d" % (address, CONTAINER_PORT)
    dnat6 = "--to-destination [%s]:%d" % (address6, CONTAINER_PORT)
    rules = nat_rules(cnitool.node)
    assert dnat in rules and dnat6 in rules, "portmap mapped no port to the pod's addresses"
    assert pod_sysctl(pod) == "1", "tuning did not run"
    ping(pod, gateway)

    cnitool("check", network, pod)           # no port mappings: see the module docstring

    cnitool("del", network, pod, cap_args=ports)
    rules = nat_rules(cnitool.node)
    assert dnat not in rules and dnat6 not in rules, "portmap's DNAT rules outlived DEL"
    assert store_traces(data_dir, [Cnitool.container_id(pod)], [address, address6]) == []
    cnitool("del", network, pod, cap_args=ports)           # repeated DEL: still clean
