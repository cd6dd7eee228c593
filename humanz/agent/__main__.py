"""``python3 -m humanz.agent``: the node agent's command line, health endpoint and main loop.

Every option is a flag and an environment variable (the DaemonSet sets the variables); a flag
wins over the variable, the variable over the default. ``--help`` lists them. The agent logs to
stderr, one line per event worth knowing, and serves ``GET /healthz`` on localhost for the
kubelet's liveness probe: 200 while the main loop is turning, 503 when it has been stuck for
longer than a watch plus the longest backoff.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import sys
import threading
import time

from humanz.agent import kube, kubeconfig
from humanz.agent.model import parse_cidr
from humanz.agent.reconcile import Reconciler, Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Sequence

    from humanz.agent.model import Cidr

log = logging.getLogger("humanz.agent")

# (flag, environment variable, default, help). A default of None means required.
OPTIONS: tuple[tuple[str, str, str | None, str], ...] = (
    ("--node-name", "NODE_NAME", None,
     "this node's name in the API (the DaemonSet passes spec.nodeName)"),
    ("--cluster-cidr", "HUMANZ_CLUSTER_CIDR", None,
     "the cluster's pod network, as given to kubeadm --pod-network-cidr; two, comma-separated, "
     "for dual-stack"),
    ("--kubeconfig", "KUBECONFIG", "",
     "kubeconfig file (YAML or JSON); empty: the in-cluster service account"),
    ("--context", "HUMANZ_KUBE_CONTEXT", "", "kubeconfig context (default: current-context)"),
    ("--bridge", "HUMANZ_BRIDGE", "humanz0", "bridge name written into the CNI config"),
    ("--network-name", "HUMANZ_NETWORK_NAME", "humanz", "network name in the CNI config"),
    ("--mtu", "HUMANZ_MTU", "", "MTU for the bridge and pods (default: the plugin's)"),
    ("--cni-conf", "HUMANZ_CNI_CONF", "/etc/cni/net.d/10-humanz.conflist",
     "where to write the CNI network configuration"),
    ("--cni-bin-dir", "HUMANZ_CNI_BIN_DIR", "/opt/cni/bin", "where to install the plugin"),
    ("--host-root", "HUMANZ_HOST_ROOT", "/host",
     "the host's root file system (read-only mount) where the host's python3 is looked for; "
     "/ when the agent runs directly on the host"),
    ("--healthz", "HUMANZ_HEALTHZ", "127.0.0.1:9617",
     "address:port of the /healthz endpoint; empty disables it"),
    ("--resync", "HUMANZ_RESYNC", "60",
     "seconds between full reconciliations when nothing changes (also the watch timeout)"),
    ("--log-level", "HUMANZ_LOG_LEVEL", "info", "debug, info, warning or error"),
    ("--once", "HUMANZ_ONCE", "",
     "list nodes, reconcile once and exit (status 1 if anything failed)"),
)
_BOOLEAN = {"--once"}


class UsageError(Exception):
    """Bad flags or values; the message is printed with the usage hint, exit status 2."""


def parse_options(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """Flags (``--x value``, ``--x=value``) over environment variables over defaults."""
    values: dict[str, str] = {}
    known = {flag: (var, default) for flag, var, default, _ in OPTIONS}
    args = list(argv)
    while args:
        arg = args.pop(0)
        flag, eq, value = arg.partition("=")
        if flag not in known:
            raise UsageError("unknown argument %r" % arg)
        if flag in _BOOLEAN and not eq:
            value = "1"
        elif not eq:
            if not args:
                raise UsageError("%s needs a value" % flag)
            value = args.pop(0)
        values[flag] = value
    for flag, (var, default) in known.items():
        if flag not in values:
            if var in env:
                values[flag] = env[var]
            elif default is None:
                raise UsageError("%s (or %s) is required" % (flag, var))
            else:
                values[flag] = default
    return values


def usage() -> str:
    lines = ["usage: python3 -m humanz.agent [--option value ...]", "",
             "The humanz node agent. Options (environment variable in brackets):"]
    for flag, var, default, text in OPTIONS:
        shown = "required" if default is None else "default %r" % default
        lines.append("  %-16s [%s] %s; %s" % (flag, var, text, shown))
    return "\n".join(lines)


def settings_from(options: dict[str, str]) -> Settings:
    """Validate option values into Settings; UsageError names the bad one."""
    try:
        cidrs: list[Cidr] = [parse_cidr(t) for t in options["--cluster-cidr"].split(",") if t]
    except ValueError as e:
        raise UsageError("--cluster-cidr: %s" % e) from None
    if not cidrs or len(cidrs) > 2 or len({c.family for c in cidrs}) != len(cidrs):
        raise UsageError("--cluster-cidr: one CIDR, or one IPv4 and one IPv6 CIDR")
    mtu = options["--mtu"]
    if mtu and not (mtu.isdigit() and 576 <= int(mtu) <= 65535):
        raise UsageError("--mtu: a number from 576 to 65535")
    if not options["--node-name"]:
        raise UsageError("--node-name is empty")
    conf = options["--cni-conf"]
    return Settings(options["--node-name"], cidrs, bridge=options["--bridge"],
                    network_name=options["--network-name"], conf_path=conf,
                    bin_dir=options["--cni-bin-dir"], host_root=options["--host-root"],
                    mtu=int(mtu) if mtu else None)


class Health:
    """What /healthz reports; updated by the main loop, read by the HTTP thread."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self.lock = threading.Lock()
        self.last_beat = time.monotonic()
        self.info: dict[str, Any] = {}

    def beat(self, **info: Any) -> None:
        with self.lock:
            self.last_beat = time.monotonic()
            self.info.update(info)

    def report(self) -> tuple[bool, dict[str, Any]]:
        with self.lock:
            age = time.monotonic() - self.last_beat
            body = dict(self.info, seconds_since_progress=round(age, 1))
        ok = age < self.stale_after
        body["ok"] = ok
        return ok, body


def serve_health(address: str, health: Health) -> http.server.HTTPServer:
    """Start the /healthz server in a daemon thread; returns it (``shutdown()`` stops it)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            ok, body = health.report()
            data = (json.dumps(body, sort_keys=True) + "\n").encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("healthz: " + format, *args)

    class Server(http.server.HTTPServer):
        address_family = 10 if ":" in host else 2      # AF_INET6 / AF_INET

    server = Server((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    log.info("serving /healthz on %s", address)
    return server


def run(watcher: kube.NodeWatcher, reconciler: Reconciler, health: Health,
        stop: Callable[[], bool], resync: float, once: bool = False) -> int:
    """The main loop: reconcile whenever the node set changes, and every ``resync`` seconds."""
    last: dict[str, Any] | None = None
    last_time = 0.0
    for nodes in watcher.snapshots(stop):
        now = time.monotonic()
        if nodes != last or now - last_time >= resync:
            errors = reconciler.reconcile(nodes)
            last, last_time = nodes, now
            health.beat(nodes=len(nodes), resource_version=watcher.resource_version,
                        conf_written=reconciler.conf_written,
                        plugin_installed=reconciler.plugin_installed, errors=errors,
                        watch_error=watcher.last_error)
            if once:
                return 1 if errors else 0
        else:
            health.beat(resource_version=watcher.resource_version)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if "-h" in args or "--help" in args:
        print(usage())
        return 0
    try:
        options = parse_options(args, os.environ)
        settings = settings_from(options)
        level = getattr(logging, options["--log-level"].upper(), None)
        if not isinstance(level, int):
            raise UsageError("--log-level: one of debug, info, warning, error")
        config = kubeconfig.load(options["--kubeconfig"], options["--context"] or None)
    except (UsageError, kubeconfig.ConfigError) as e:
        print("humanz-agent: %s\n(--help lists the options)" % e, file=sys.stderr)
        return 2
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    resync = max(5, int(options["--resync"]) if options["--resync"].isdigit() else 60)
    log.info("humanz agent on node %s, cluster network %s, API server %s (%s)",
             settings.node_name, ",".join(str(c) for c in settings.cluster_cidrs),
             config.server(), config.source)

    from humanz.netlink.nftables import Nft    # the host's namespace (the pod is hostNetwork)
    from humanz.netlink.rtnl import Rtnl

    health = Health(stale_after=resync + 60 + 30)
    watcher = kube.NodeWatcher(kube.KubeClient(config), watch_timeout=resync,
                               heartbeat=health.beat)
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)
        raise SystemExit(0)                    # also breaks a read blocked in the watch

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = serve_health(options["--healthz"], health) if options["--healthz"] else None
    try:
        with Rtnl() as rtnl, Nft() as nft:
            return run(watcher, Reconciler(settings, rtnl, nft=nft), health,
                       lambda: bool(stopping), resync, once=bool(options["--once"]))
    except SystemExit:
        log.info("stopping on signal %s; routes and files stay in place", stopping[:1])
        return 0
    finally:
        if server is not None:
            server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
