"""100 ADDs at once from separate processes, mixed with DELs and CHECKs of other containers.

tests/test_plugin_concurrency.py starts 50 ADDs, then 50 DELs, on a /24 where all fit. Here
the mix runs together on a range of 110 addresses that cannot hold all 115 containers that
would be live at the end, so some ADDs must fail: each one succeeds or answers code 101, never
a traceback or another code; no address is handed out twice; the store holds exactly the live
attachments and is consistent; every live container has one bridge port; a refused ADD left
nothing behind. The CHECKs of untouched containers must all pass while the store churns.
scripts/torture.py runs this round several times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from plugin_harness import netns_path
from torture_kit import (Sandbox, bridge_ports, concurrency_round, finish, round_conf, spawn,
                         store_problems)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path) as sandbox:
        yield sandbox


def test_hundred_adds_with_dels_and_checks(box: Sandbox) -> None:
    node = box.node()
    rnd = concurrency_round(box, node, adds=100, others=30)
    print("ADDs %d: %d succeeded, refused %s; DELs %d; CHECKs %d"
          % (rnd.adds, rnd.added, rnd.refused, rnd.dels, rnd.checks))
    assert rnd.problems == []
    assert (rnd.adds, rnd.dels, rnd.checks) == (100, 15, 15)
    # 110 addresses: 80 free from the start, at most 110 - 15 checked = 95 for new ones
    assert 80 <= rnd.added <= 95
    assert rnd.refused == {101: 100 - rnd.added}


def test_everything_deleted_leaves_nothing(box: Sandbox) -> None:
    """A round where all fit, then DEL of every container, all at once: nothing remains."""
    node = box.node()
    conf = round_conf(node, "100.64.17.0/24", None)
    rnd = concurrency_round(box, node, adds=40, others=10, conf=conf)
    assert rnd.problems == [] and rnd.added == 40
    procs = [spawn(node, "DEL", conf, "cid-" + ns, netns_path(ns)) for ns in box.made[1:]]
    assert [finish(p)[:2] for p in procs] == [(0, "")] * len(procs)
    assert node.reservations() == [] and node.host_veths() == [] and bridge_ports(node) == []
    assert node.store_files() == [] and store_problems(node.data_dir, node.network) == []
