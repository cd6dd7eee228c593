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
