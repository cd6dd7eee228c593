"""Shared fixtures: throwaway network namespaces and unique link names.

Every name a test creates starts with ``hzt`` so that ``scripts/leftovers.py`` (run after the
suite) can prove nothing was left behind. Namespaces are made and removed with iproute2's
``ip netns`` so that fixtures do not depend on the code under test.
"""

from __future__ import annotations

import os
import subprocess
from typing import Callable, Iterator

import pytest

TEST_PREFIX = "hzt"
_counter = 0


def unique_name(tag: str = "") -> str:
    """A name no other test (or test process) uses: ``hzt`` + tag + pid/counter, <= 15 chars.

    The counter has four hex digits: 65,536 names per process before it would repeat, which
    it refuses to do rather than hand out a name that may still exist."""
    global _counter
    _counter += 1
    if _counter > 0xFFFF:
        raise RuntimeError("unique_name: more than 65536 names in one process")
    suffix = "%04x%04x" % (os.getpid() & 0xFFFF, _counter)
    name = TEST_PREFIX + tag[:15 - len(TEST_PREFIX) - len(suffix)] + suffix
    assert len(name) <= 15
    return name


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run iproute2's ``ip`` (optionally ``-n NETNS``) and return the completed process."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def _delete_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def make_netns() -> Iterator[Callable[[], str]]:
    """A factory of throwaway namespaces (under /run/netns), all deleted at teardown."""
    made: list[str] = []

    def make() -> str:
        name = unique_name("n")
        ip("netns", "add", name)
        made.append(name)
        ip("link", "set", "lo", "up", netns=name)
        return name

    yield make
    for name in made:
        _delete_netns(name)


@pytest.fixture
def netns(make_netns: Callable[[], str]) -> str:
    """One throwaway network namespace; its name (the path is /run/netns/NAME)."""
    return make_netns()


@pytest.fixture
def host_links() -> Iterator[Callable[[str], str]]:
    """Register host-namespace link names to delete at teardown (bridges, veths)."""
    names: list[str] = []

    def register(name: str) -> str:
        names.append(name)
        return name

    yield register
    for name in names:
        subprocess.run(["ip", "link", "del", name], capture_output=True)
