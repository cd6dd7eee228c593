"""Delegation to an IPAM plugin on CNI_PATH: the reference host-local, and a fake one that
records how it was called."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from plugin_harness import Node, netns_path, node  # noqa: F401

HOST_LOCAL = "/usr/lib/cni/host-local"


def _host_local_conf(node: Node, **ipam: Any) -> dict[str, Any]:
    conf = node.conf(version="1.0.0")  # host-local 1.1.1 speaks up to 1.0.0
    conf["ipam"] = dict({"type": "host-local", "ranges": [[{"subnet": "100.64.3.0/24"}]],
                         "dataDir": str(node.tmp / "host-local")}, **ipam)
    return conf


def _host_local_reservations(node: Node) -> list[str]:
    d = node.tmp / "host-local" / node.network
    return sorted(p.name for p in d.iterdir() if p.name[0].isdigit()) if d.exists() else []


@pytest.mark.skipif(not os.access(HOST_LOCAL, os.X_OK), reason="needs containernetworking-plugins")
def test_add_check_del_through_host_local(node: Node) -> None:
    conf = _host_local_conf(node)
    ns = node.make_netns()
    res = node.add(conf, ns)
    assert res["ips"] == [{"interface": 2, "address": "100.64.3.2/24", "gateway": "100.64.3.1"}]
    assert _host_local_reservations(node) == ["100.64.3.2"]
    out = node.run("CHECK", dict(conf, prevResult=res), cid="cid-" + ns, netns=netns_path(ns))
    assert (out.rc, out.out) == (0, ""), out
    out = node.delete(dict(conf, prevResult=res), ns)
    assert (out.rc, out.out) == (0, ""), out
    assert _host_local_reservations(node) == []
    assert node.host_veths() == []


@pytest.mark.skipif(not os.access(HOST_LOCAL, os.X_OK), reason="needs containernetworking-plugins")
def test_failed_add_releases_the_delegated_reservation(node: Node) -> None:
    conf = _host_local_conf(node, routes=[{"dst": "100.65.0.0/16", "gw": "100.66.0.1"}])
    ns = node.make_netns()
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 100, out
    assert _host_local_reservations(node) == []
    assert node.host_veths() == []


@pytest.mark.skipif(not os.access(HOST_LOCAL, os.X_OK), reason="needs containernetworking-plugins")
def test_delegate_error_keeps_its_code_and_names_the_plugin(node: Node) -> None:
    conf = _host_local_conf(node)
    conf["cniVersion"] = "1.1.0"  # host-local 1.1.1 refuses it with code 1
    ns = node.make_netns()
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns))
    assert out.code == 1 and out.data["msg"].startswith("ipam plugin host-local:"), out
    assert node.host_veths() == []


class Fake:
    """An IPAM plugin script that logs CNI_COMMAND and stdin and answers as told."""

    def __init__(self, tmp: Path, answer: str, rc: int = 0) -> None:
        self.dir = tmp / "fakebin"
        self.dir.mkdir(exist_ok=True)
        self.calls = tmp / "fake-calls"
        (tmp / "fake-answer").write_text(answer)
        script = self.dir / "hztfake"
        script.write_text("#!/bin/sh\n"
                          'echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME" >> "%s"\n'
                          'cat > "%s.$CNI_COMMAND"\n'
                          '[ "$CNI_COMMAND" = ADD ] && cat "%s"\n'
                          "exit %d\n" % (self.calls, self.calls, tmp / "fake-answer", rc))
        script.chmod(0o755)

    def log(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def stdin(self, command: str) -> Any:
        return json.loads(Path("%s.%s" % (self.calls, command)).read_text())


def _fake_conf(node: Node) -> dict[str, Any]:
    return node.conf(version="1.1.0", ipam={"type": "hztfake", "anything": [1, 2]})


def test_fake_plugin_sees_every_command_with_our_stdin(node: Node) -> None:
    answer = json.dumps({"cniVersion": "1.1.0", "ips": [{"address": "100.64.4.7/24"}],
                         "routes": [{"dst": "100.65.0.0/16"}], "dns": {}})
    fake = Fake(node.tmp, answer)
    conf = _fake_conf(node)
    path = "/nonexistent:" + str(fake.dir)
    ns = node.make_netns()
    res = node.add(conf, ns, path=path)
    assert res["ips"] == [{"interface": 2, "address": "100.64.4.7/24", "gateway": "100.64.4.1"}]
    assert {"dst": "100.65.0.0/16"} in res["routes"]
    assert fake.stdin("ADD") == conf
    for command in ("CHECK", "GC", "STATUS", "DEL"):
        extra = {"prevResult": res} if command in ("CHECK", "DEL") else {}
        out = node.run(command, dict(conf, **extra), cid="cid-" + ns, netns=netns_path(ns),
                       path=path)
        assert out.rc == 0, (command, out)
    assert [line.split()[0] for line in fake.log()] == ["ADD", "CHECK", "GC", "STATUS", "DEL"]
    assert fake.log()[0] == "ADD cid-%s eth0" % ns
    assert fake.stdin("DEL")["prevResult"] == res


@pytest.mark.parametrize("answer,rc,code,words", [
    ("not json", 0, 104, "unusable result"),
    ('{"cniVersion":"1.1.0","ips":[{"address":"bad"}]}', 0, 104, "ips[0].address"),
    ('{"cniVersion":"1.1.0"}', 0, 7, "no addresses"),
    ("garbage", 3, 104, "exit status 3"),
])
def test_fake_plugin_garbage(node: Node, answer: str, rc: int, code: int, words: str) -> None:
    fake = Fake(node.tmp, answer, rc)
    ns = node.make_netns()
    out = node.run("ADD", _fake_conf(node), cid="cid-" + ns, netns=netns_path(ns),
                   path=str(fake.dir))
    assert out.code == code and words in out.data["msg"] + out.data["details"], out
    assert node.host_veths() == []
