"""End to end under containerd 1.6: ``ctr run --rm --cni`` of the locally made busybox image.

ctr does the CNI calls itself (not containerd): ``gocni.New(gocni.WithDefaultConf)``, i.e.
the FIRST config file in /etc/cni/net.d and plugins from /opt/cni/bin (Debian's build also
looks in /usr/lib/cni). No option of ctr or containerd's config.toml moves them (the CRI
plugin's ``conf_dir``/``bin_dir`` only serve Kubernetes). So ctr runs here in a private mount
namespace in which our config directory, plugin directory and result cache are bind-mounted
over /etc/cni/net.d, /opt/cni/bin and /var/lib/cni: the machine's own files there are
never moved or seen, and nothing needs restoring after a failure.

ADD carries ``CNI_NETNS=/proc/<pid>/ns/net``; when the task has exited, ctr sends DEL with
an EMPTY CNI_NETNS (the process and its namespace are gone), and the plugin must still
release the address. A logging wrapper records what ctr really sent.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import unique_name
from runtimes import (BUSYBOX_IMAGE, CniPlugin, Containerd, OwnedDirs, cni_plugin, in_subnet,
                      owned_dirs, read_calls, require_executable, require_file, run,
                      store_traces, unique_subnet, with_binds, write_conflist)

__all__ = ["cni_plugin", "owned_dirs"]          # fixtures used by the test below

IMAGE = "localhost/hzt-busybox:latest"           # the name `podman save` gave it


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    """A containerd of our own for this module, stopped (and its directories removed) after."""
    if os.geteuid() != 0:
        pytest.skip("containerd needs root")
    require_executable("ctr", "ctr (package containerd)")
    require_executable("runc", "runc")
    require_file(BUSYBOX_IMAGE, "the busybox image archive")
    # a short base directory: containerd's sockets live in it (unix socket paths are short)
    base = tempfile.mkdtemp(prefix="hztctd.", dir="/tmp")
    daemon = Containerd(base)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        run(["rm", "-rf", "--one-file-system", base])


def test_ctr_run_cni_gets_an_address_and_del_releases_it(
        containerd: Containerd, cni_plugin: CniPlugin, tmp_path: Path,
        host_links: Callable[[str], str], owned_dirs: OwnedDirs) -> None:
    bridge = host_links(unique_name("br"))
    subnet, gateway = unique_subnet()
    data_dir = str(tmp_path / "store")
    conf_dir = str(tmp_path / "net.d")               # holds exactly one file: ours
    calls_log = str(tmp_path / "calls.log")
    plugin = cni_plugin.logged(str(tmp_path / "bin"), calls_log)
    write_conflist(conf_dir, unique_name("net"), [
        plugin.conf(bridge=bridge, subnet=subnet, data_dir=data_dir,
                    log_file=str(tmp_path / "humanz-cni.log"))])
    cache = tmp_path / "cni-cache"
    fifo = tmp_path / "fifo"
    runc_root = tmp_path / "runc"
    for d in (cache, fifo, runc_root):
        d.mkdir()
    binds = [(conf_dir, owned_dirs.ensure("/etc/cni/net.d")),
             (plugin.dir, owned_dirs.ensure("/opt/cni/bin")),
             (str(cache), owned_dirs.ensure("/var/lib/cni"))]

    namespace = unique_name("ns")                    # containerd namespace
    container = unique_name("c")
    full_id = "%s-%s" % (namespace, container)      # the CNI container ID ctr sends
    containerd.ctr("images", "import", BUSYBOX_IMAGE, namespace=namespace)
    try:
        script = "ip -4 -o addr show eth0 && ping -c 1 -W 3 %s" % gateway
        out = run(with_binds(binds, containerd.ctr_argv(
            namespace, "run", "--rm", "--cni", "--fifo-dir", str(fifo),
            "--runc-root", str(runc_root), IMAGE, container, "sh", "-c", script))).stdout
    finally:
        containerd.ctr("tasks", "kill", "--signal", "SIGKILL", container, namespace=namespace,
                       check=False)
        containerd.ctr("containers", "delete", container, namespace=namespace, check=False)
        containerd.ctr("images", "remove", IMAGE, namespace=namespace, check=False)

    words = out.split()
    address, _, plen = words[words.index("inet") + 1].partition("/")
    assert in_subnet(address, subnet) and plen == "24" and address != gateway
    assert "1 packets received" in out, out

    calls = [c for c in read_calls(calls_log) if c["command"] in ("ADD", "DEL")]
    assert [c["command"] for c in calls] == ["ADD", "DEL"], calls
    add, delete = calls
    assert add["id"] == delete["id"] == full_id
    assert add["netns"].startswith("/proc/") and add["netns"].endswith("/ns/net"), add
    assert delete["netns"] == "", "ctr sent DEL with a netns this time: %r" % delete
    assert store_traces(data_dir, [full_id], [address]) == [], \
        "DEL with an empty CNI_NETNS did not release the address"
