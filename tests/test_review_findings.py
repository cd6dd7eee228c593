"""Bugs found by a review of the finished plugin: each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin_harness import Node, netns_path, node  # noqa: F401


def _fake_ipam(tmp: Path, answer: str) -> tuple[Path, Path]:
    """An IPAM plugin script that logs each CNI_COMMAND and answers ADD with ``answer``;
    (its directory, its call log)."""
    bindir = tmp / "reviewbin"
    bindir.mkdir(exist_ok=True)
    calls = tmp / "review-calls"
    (tmp / "review-answer").write_text(answer)
    script = bindir / "hztreview"
    script.write_text("#!/bin/sh\n"
                      'echo "$CNI_COMMAND" >> "%s"\n'
                      "cat > /dev/null\n"
                      '[ "$CNI_COMMAND" = ADD ] && cat "%s"\n'
                      "exit 0\n" % (calls, tmp / "review-answer"))
    script.chmod(0o755)
    return bindir, calls


@pytest.mark.parametrize("answer", [
    "not json",
    json.dumps({"cniVersion": "1.1.0", "ips": [{"address": "bad"}]}),
])
def test_unusable_delegate_result_is_released_by_rollback(node: Node, answer: str) -> None:
    """The delegate succeeded (so it holds an address) but its answer cannot be used: the
    failed ADD must send it DEL, like every other failure after the reservation."""
    bindir, calls = _fake_ipam(node.tmp, answer)
    conf = node.conf(version="1.1.0", ipam={"type": "hztreview"})
    ns = node.make_netns()
    out = node.run("ADD", conf, cid="cid-" + ns, netns=netns_path(ns), path=str(bindir))
    assert out.code == 104, out
    assert calls.read_text().split() == ["ADD", "DEL"], out
    assert node.host_veths() == []


def test_seed_config_default_gateway_implies_gateway(node: Node) -> None:
    """isDefaultGateway makes the bridge a gateway (the reference's rule, which the ipam-block
    configs follow): the seed's config shape must not give the pod a default route via an
    address that nothing holds."""
    from plugin_harness import ping
    seed = {"cniVersion": "0.3.1", "name": node.network, "type": "humanz-cni",
            "bridge": node.bridge, "subnet": "100.64.9.0/24", "isGateway": False,
            "isDefaultGateway": True, "logFile": node.log_file}
    dirs = {"/run/humanz": str(node.tmp / "run-humanz")}
    (node.tmp / "run-humanz").mkdir()
    ns = node.make_netns()
    out = node.run("ADD", seed, cid="seedgw", netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out
    assert json.loads(out.out)["routes"] == [{"dst": "0.0.0.0/0", "gw": "100.64.9.1"}]
    br = node.ip_json("addr", "show", "dev", node.bridge)[0]
    assert ("100.64.9.1", 24) in [(i["local"], i["prefixlen"]) for i in br["addr_info"]]
    assert ping(ns, "100.64.9.1")
    out = node.run("DEL", seed, cid="seedgw", netns=netns_path(ns), private_dirs=dirs)
    assert out.rc == 0, out


def test_ipam_type_naming_the_plugin_itself_is_refused(node: Node) -> None:
    """"ipam": {"type": "humanz-cni"} (the plugin's own type instead of "humanz") would make
    every ADD exec the plugin again with the same config, which execs it again, without end:
    a process chain that only stops when the node runs out of processes. Refused with 7,
    before anything runs (a recording stand-in on CNI_PATH proves nothing was executed)."""
    bindir, calls = _fake_ipam(node.tmp, "{}")
    (bindir / "hztreview").rename(bindir / "humanz-cni")
    conf = node.conf(version="1.1.0", ipam={"type": "humanz-cni"})
    ns = node.make_netns()
    for command in ("ADD", "DEL"):
        out = node.run(command, conf, cid="cid-" + ns, netns=netns_path(ns), path=str(bindir))
        assert out.code == 7 and "ipam.type" in out.data["msg"], (command, out)
    assert not calls.exists()
    assert node.host_veths() == []
