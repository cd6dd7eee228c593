"""Run the humanz plugin as a container runtime does, inside a throwaway "host" namespace.

Every test gets a ``Node``: a fresh network namespace standing in for the host (the plugin is
exec'd there with ``ip netns exec``, so its bridge, veths and sysctls such as ip_forward never
touch the real machine), a unique bridge and network name, and a per-test dataDir and logFile.
Containers are further throwaway namespaces from ``make_netns``.

The plugin command is ``[sys.executable, "-S", "-m", "humanz"]`` run from the repository, or
whatever the environment variable HUMANZ_PLUGIN says (e.g. the built zipapp), so the same
tests can check the shipped artifact.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import ip, unique_name

REPO = Path(__file__).resolve().parent.parent
PLUGIN = shlex.split(os.environ.get("HUMANZ_PLUGIN", "")) or [sys.executable, "-S", "-m",
                                                               "humanz"]
REFERENCE_PLUGINS = "/usr/lib/cni"
TIMEOUT = 60


class Outcome:
    """What one plugin run produced: exit status, stdout, stderr, stdout parsed (or None)."""

    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc = rc
        self.out = out
        self.err = err
        try:
            self.data: Any = json.loads(out) if out.strip() else None
        except ValueError:
            self.data = None

    @property
    def code(self) -> int | None:
        return self.data.get("code") if isinstance(self.data, dict) else None

    def __repr__(self) -> str:
        return "Outcome(rc=%d, out=%r, err=%r)" % (self.rc, self.out, self.err)


class Node:
    """A throwaway host namespace and everything one test's network needs."""

    def __init__(self, hostns: str, tmp: Path, make_netns: Callable[[], str]) -> None:
        self.hostns = hostns
        self.tmp = tmp
        self.make_netns = make_netns
        self.bridge = unique_name("br")
        self.network = unique_name("net")
        self.data_dir = str(tmp / "data")
        self.log_file = str(tmp / "humanz.log")

    # ---- configs -----------------------------------------------------------------------

    def conf(self, version: str = "1.0.0", subnet: str = "100.64.1.0/24",
             **fields: Any) -> dict[str, Any]:
        """A bridge config with the built-in IPAM on ``subnet``; ``fields`` override."""
        conf: dict[str, Any] = {
            "cniVersion": version, "name": self.network, "type": "humanz-cni",
            "bridge": self.bridge, "isGateway": True, "isDefaultGateway": True,
            "logFile": self.log_file,
            "ipam": {"type": "humanz", "ranges": [[{"subnet": subnet}]],
                     "dataDir": self.data_dir},
        }
        conf.update(fields)
        return conf

    # ---- running the plugin ------------------------------------------------------------

    def run(self, command: str | None, conf: Any, *, cid: str = "", netns: str = "",
            ifname: str = "eth0", args: str | None = None, path: str = REFERENCE_PLUGINS,
            env: dict[str, str] | None = None, in_host: bool = True,
            private_dirs: dict[str, str] | None = None) -> Outcome:
        """Exec the plugin once. ``conf``: a dict (sent as JSON), str or bytes.

        ``private_dirs`` maps system directories (/run/humanz, /var/log) to test directories
        bind-mounted over them in a private mount namespace, so a config without dataDir or
        logFile (the seed's) can run unchanged without touching the real ones.
        """
        full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        if command is not None:
            full_env["CNI_COMMAND"] = command
        if cid:
            full_env["CNI_CONTAINERID"] = cid
        if netns:
            full_env["CNI_NETNS"] = netns
        if ifname:
            full_env["CNI_IFNAME"] = ifname
        if args is not None:
            full_env["CNI_ARGS"] = args
        if path:
            full_env["CNI_PATH"] = path
        full_env.update(env or {})
        if isinstance(conf, (dict, list)):
            data = json.dumps(conf).encode()
        elif isinstance(conf, str):
            data = conf.encode()
        else:
            data = conf
        cmd = list(PLUGIN)
        if private_dirs:
            script = "".join('mkdir -p "%s" && mount --bind "%s" "%s" && ' % (target, source,
                                                                             target)
                             for target, source in private_dirs.items())
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   script + 'exec "$@"', "sh"] + cmd
        if in_host:
            cmd = ["ip", "netns", "exec", self.hostns] + cmd
        proc = subprocess.run(cmd, input=data, capture_output=True, env=full_env,
                              cwd=str(REPO), timeout=TIMEOUT)
        return Outcome(proc.returncode, proc.stdout.decode(errors="replace"),
                       proc.stderr.decode(errors="replace"))

    def add(self, conf: dict[str, Any], netns: str, cid: str | None = None,
            ifname: str = "eth0", **kw: Any) -> dict[str, Any]:
        """A successful ADD; returns the result."""
        out = self.run("ADD", conf, cid=cid or container_id(netns), netns=netns_path(netns),
                       ifname=ifname, **kw)
        assert out.rc == 0 and out.err == "", out
        assert isinstance(out.data, dict), out
        data: dict[str, Any] = out.data
        return data

    def delete(self, conf: dict[str, Any], netns: str, cid: str | None = None,
               ifname: str = "eth0", **kw: Any) -> Outcome:
        return self.run("DEL", conf, cid=cid or container_id(netns),
                        netns=netns_path(netns) if netns else "", ifname=ifname, **kw)

    # ---- looking at the result ---------------------------------------------------------

    def ip_json(self, *args: str, netns: str | None = None) -> Any:
        return json.loads(ip("-j", *args, netns=netns or self.hostns).stdout or "[]")

    def snapshot(self) -> dict[str, Any]:
        """Host links, addresses, routes and sysctls, plus the store's files: what a failed
        operation must leave exactly as it found."""
        links = self.ip_json("link", "show")
        for link in links:  # counters and timers move on their own
            for key in ("stats", "stats64", "operstate"):
                link.pop(key, None)
        addrs = [(a["ifname"], [(i["local"], i["prefixlen"]) for i in a.get("addr_info", [])])
                 for a in self.ip_json("addr", "show")]
        routes = self.ip_json("route", "show", "table", "all")
        return {"links": links, "addrs": addrs, "routes": routes, "store": self.store_files()}

    def store_files(self) -> list[str]:
        """The store's reservations and attachment records. Left out: the lock file and the
        round-robin cursor (``last_reserved_ip.N``), which a rolled-back ADD may move on, as
        host-local's does; it decides only where the next search starts."""
        root = Path(self.data_dir)
        if not root.exists():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and p.name != "lock"
                      and not p.name.startswith("last_reserved_ip"))

    def reservations(self) -> list[str]:
        """Reserved addresses in the store (files named like addresses)."""
        net = Path(self.data_dir) / self.network
        if not net.exists():
            return []
        return sorted(p.name for p in net.iterdir() if _looks_like_ip(p.name))

    def host_veths(self) -> list[str]:
        return [l["ifname"] for l in self.ip_json("link", "show")
                if l["ifname"].startswith("veth")]

    def log_lines(self) -> list[dict[str, Any]]:
        if not os.path.exists(self.log_file):
            return []
        with open(self.log_file) as f:
            return [json.loads(line) for line in f]


def _looks_like_ip(name: str) -> bool:
    return bool(name) and (name.replace(".", "").isdigit() and name.count(".") == 3
                           or ":" in name)


def netns_path(name: str) -> str:
    return "/run/netns/" + name if name and not name.startswith("/") else name


def container_id(netns: str) -> str:
    return "cid-" + netns


def ping(netns: str, address: str) -> bool:
    """One ping from a test namespace to an address inside the test's own network."""
    cmd = ["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "2", address]
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT).returncode == 0


def sysctl(key: str, netns: str) -> str:
    cmd = ["ip", "netns", "exec", netns, "sysctl", "-n", key]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()


def container_links(netns: str) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = json.loads(ip("-j", "link", "show", netns=netns).stdout or "[]")
    return links


def container_addrs(netns: str, ifname: str = "eth0") -> list[str]:
    out = json.loads(ip("-j", "addr", "show", "dev", ifname, netns=netns).stdout or "[]")
    return ["%s/%d" % (i["local"], i["prefixlen"]) for a in out for i in a.get("addr_info", [])
            if i.get("scope") == "global"]


@pytest.fixture
def node(make_netns: Callable[[], str], tmp_path: Path) -> Iterator[Node]:
    """A throwaway host namespace with a bridge name, dataDir and logFile of its own."""
    yield Node(make_netns(), tmp_path, make_netns)
