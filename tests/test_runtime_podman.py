"""End to end under podman 4.3 with its CNI backend: containers on a humanz-cni network.

podman runs with a private containers.conf and storage.conf (tests/runtimes.py: ``Podman``):
networks are read from our directory, plugins from our plugin directory, images and
containers live under tmp_path. The image is the busybox rootfs that scripts/setup-runtimes
made from Debian's busybox-static, imported here with ``podman import`` (no registry).
The conflist says cniVersion 0.4.0, the version podman 4.3 writes for networks it creates.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import unique_name
from runtimes import (BUSYBOX_ROOTFS, CniPlugin, OwnedDirs, Podman, cni_plugin, in_subnet,
                      owned_dirs, read_calls, require_executable, require_file, store_traces,
                      unique_subnet, write_conflist)

__all__ = ["cni_plugin", "owned_dirs"]          # fixtures used by the test below

IMAGE = "localhost/hzt-busybox:latest"


@pytest.fixture
def podman(cni_plugin: CniPlugin, tmp_path: Path, owned_dirs: OwnedDirs) -> Iterator[Podman]:
    """A private podman whose plugin directory logs every call (tmp_path/calls.log)."""
    require_executable("runc", "runc")
    owned_dirs.ensure("/var/lib/cni")        # podman's CNI result cache: no option moves it
    # `podman import` keeps a blob cache for root at a fixed path
    owned_dirs.watch("/var/lib/containers", ["cache/blob-info-cache-v1.boltdb"])
    require_file(BUSYBOX_ROOTFS, "the busybox rootfs tarball")
    plugin = cni_plugin.logged(str(tmp_path / "plugins"), str(tmp_path / "calls.log"))
    pm = Podman(str(tmp_path / "podman"), plugin)
    try:
        yield pm
    finally:
        pm.close()


def container_ipv4(podman: Podman, name: str) -> tuple[str, int]:
    """The address and prefix length on eth0 inside a running container."""
    out = podman("exec", name, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    words = out.split()
    cidr = words[words.index("inet") + 1]
    address, _, plen = cidr.partition("/")
    return address, int(plen)


def test_podman_run_on_a_humanz_network(podman: Podman, tmp_path: Path,
                                        host_links: Callable[[str], str]) -> None:
    network = unique_name("pm")
    bridge = host_links(unique_name("br"))
    subnet, gateway = unique_subnet()
    data_dir = str(tmp_path / "store")
    conf = podman.plugin.conf(bridge=bridge, subnet=subnet, data_dir=data_dir,
                              log_file=str(tmp_path / "humanz-cni.log"))
    write_conflist(podman.network_dir, network, [conf], cni_version="0.4.0")
    podman("import", "--quiet", BUSYBOX_ROOTFS, IMAGE)

    first, second = unique_name("c"), unique_name("c")
    podman("run", "--detach", "--name", first, "--network", network, "--cap-add", "NET_RAW",
           IMAGE, "sleep", "600")
    address, plen = container_ipv4(podman, first)
    assert in_subnet(address, subnet) and plen == 24 and address != gateway
    podman("exec", first, "ping", "-c", "1", "-W", "3", gateway)
    first_id = podman("inspect", "--format", "{{.Id}}", first).stdout.strip()
    assert store_traces(data_dir, [first_id]), "the store shows no reservation for the container"

    podman("run", "--name", second, "--network", network, "--cap-add", "NET_RAW", IMAGE,
           "ping", "-c", "1", "-W", "3", address)
    second_id = podman("inspect", "--format", "{{.Id}}", second).stdout.strip()

    podman("rm", "--force", "--time", "0", first)
    podman("rm", second)
    assert store_traces(data_dir, [first_id, second_id], [address]) == []

    calls = read_calls(os.path.join(tmp_path, "calls.log"))
    adds = [c for c in calls if c["command"] == "ADD"]
    dels = [c for c in calls if c["command"] == "DEL"]
    assert {c["id"] for c in adds} == {first_id, second_id}
    assert {c["id"] for c in dels} >= {first_id, second_id}, "podman never sent DEL"
    assert all(c["netns"].startswith("/run/netns/") for c in adds), adds
    names = {first_id: first, second_id: second}
    assert all("K8S_POD_NAME=%s" % names[c["id"]] in c["args"].split(";") for c in adds), adds

