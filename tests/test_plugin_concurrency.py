"""50 ADDs at once from separate processes, then 50 DELs: distinct addresses, nothing left."""

from __future__ import annotations

import json
import os
import subprocess

from plugin_harness import PLUGIN, REPO, TIMEOUT, Node, netns_path, node  # noqa: F401

N = 50


def _spawn_all(node: Node, command: str, conf: dict[str, object],
               namespaces: list[str]) -> list[tuple[int, str]]:
    data = json.dumps(conf).encode()
    procs = []
    for ns in namespaces:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
               "CNI_CONTAINERID": "cid-" + ns, "CNI_NETNS": netns_path(ns),
               "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}
        procs.append(subprocess.Popen(["ip", "netns", "exec", node.hostns] + PLUGIN,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, cwd=str(REPO)))
    for p in procs:  # write every stdin first: all processes run at once
        assert p.stdin is not None
        p.stdin.write(data)
        p.stdin.close()
    results = []
    for p in procs:
        assert p.stdout is not None and p.stderr is not None
        out, err = p.stdout.read(), p.stderr.read()  # tiny outputs: no pipe can fill up
        p.stdout.close()
        p.stderr.close()
        p.wait(timeout=TIMEOUT * 3)
        assert err == b"", err
        results.append((p.returncode, out.decode()))
    return results


def test_fifty_concurrent_adds_then_dels(node: Node) -> None:
    conf = node.conf(subnet="100.64.8.0/24")
    namespaces = [node.make_netns() for _ in range(N)]
    results = _spawn_all(node, "ADD", conf, namespaces)
    assert all(rc == 0 for rc, _ in results), [r for r in results if r[0]]
    addresses = [json.loads(out)["ips"][0]["address"] for _, out in results]
    assert len(set(addresses)) == N
    assert sorted(a.split("/")[0] for a in addresses) == node.reservations()
    ports = [l for l in node.ip_json("link", "show") if l.get("master") == node.bridge]
    assert len(ports) == N
    results = _spawn_all(node, "DEL", conf, namespaces)
    assert all(rc == 0 and out == "" for rc, out in results), results
    assert node.reservations() == []
    assert node.host_veths() == []
    assert node.store_files() == []
