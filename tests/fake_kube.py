"""A fake Kubernetes API server for the agent's tests: Node list and watch, in the real JSON format.

It serves what the agent uses of a real kube-apiserver, byte for byte in shape:

- ``GET /api/v1/nodes`` → a ``NodeList`` with ``metadata.resourceVersion`` (and ``limit`` /
  ``continue`` paging);
- ``GET /api/v1/nodes?watch=1&resourceVersion=RV`` → HTTP/1.1 chunked stream of newline-
  delimited ``{"type": ..., "object": ...}`` events after RV, BOOKMARK events when the client
  allows them, the stream closed cleanly after ``timeoutSeconds``;
- a resourceVersion older than the server's history (``compact()``) → an ERROR event carrying a
  410 ``Status``, as the real server sends on a watch; ``fail_next_watch(410)`` answers the HTTP
  request itself with 410 instead;
- ``drop_next_watch(after=N)`` cuts the connection after N events, mid-stream, without the
  final chunk (what a restarted API server or a dying load balancer looks like);
- a bearer token, when set, is required (401 otherwise) — ``token`` may be changed to simulate
  rotation;
- optional TLS (``ssl_context``), to test CA and client-certificate handling.

Every request is recorded in ``requests`` so tests can assert what the client asked for.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time
import urllib.parse
from typing import Any


def node_object(name: str, pod_cidrs: list[str] | None = None,
                internal_ips: list[str] | None = None, rv: int = 0) -> dict[str, Any]:
    """A Node as the API returns it (the fields a kubelet sets, trimmed of bulky status)."""
    spec: dict[str, Any] = {}
    if pod_cidrs:
        spec["podCIDR"] = pod_cidrs[0]
        spec["podCIDRs"] = list(pod_cidrs)
    addresses = [{"type": "InternalIP", "address": a} for a in internal_ips or []]
    addresses.append({"type": "Hostname", "address": name})
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": "00000000-0000-4000-8000-%012d" % (abs(hash(name)) % 10 ** 12),
            "resourceVersion": str(rv),
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        },
        "spec": spec,
        "status": {
            "addresses": addresses,
            "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
            "nodeInfo": {"kubeletVersion": "v1.29.0", "architecture": "amd64"},
        },
    }


def status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``Status`` failure object, as the API server sends with error responses and events."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeKube:
    """The server's state and controls; ``start()`` serves it on ``host`` (a free port)."""

    def __init__(self, host: str = "127.0.0.1", token: str | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 bookmark_interval: float | None = None) -> None:
        self.host = host
        self.token = token
        self.ssl_context = ssl_context
        self.bookmark_interval = bookmark_interval
        self.cond = threading.Condition()
        self.rv = 100
        self.nodes: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.oldest_rv = 0                   # watches from before this get 410 Gone
        self.watch_failures: list[int] = []  # HTTP statuses for the next watch requests
        self.list_failures: list[int] = []   # HTTP statuses for the next list requests
        self.drops: list[int] = []           # for the next watches: cut after N events
        self.requests: list[dict[str, Any]] = []
        self.active_watches = 0
        self.generation = 0                  # end_watches() bumps it: open streams end
        self.closing = False
        self.server: http.server.ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # -- controls -----------------------------------------------------------------------------

    def _record(self, kind: str, obj: dict[str, Any]) -> None:
        """Bump the resourceVersion, stamp it into obj, append the event, wake the watches."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, kind, json.loads(json.dumps(obj))))
        self.cond.notify_all()

    def add_node(self, name: str, pod_cidrs: list[str] | None = None,
                 internal_ips: list[str] | None = None) -> None:
        with self.cond:
            obj = node_object(name, pod_cidrs, internal_ips)
            self.nodes[name] = obj
            self._record("ADDED", obj)

    def set_pod_cidrs(self, name: str, pod_cidrs: list[str]) -> None:
        """What the controller manager does when it allocates the node's range."""
        with self.cond:
            obj = self.nodes[name]
            obj["spec"]["podCIDR"] = pod_cidrs[0]
            obj["spec"]["podCIDRs"] = list(pod_cidrs)
            self._record("MODIFIED", obj)

    def touch_node(self, name: str) -> None:
        """A MODIFIED event that changes nothing the agent reads (a status heartbeat)."""
        with self.cond:
            obj = self.nodes[name]
            obj["status"]["conditions"][0]["lastHeartbeatTime"] = "2024-01-01T00:%02d:00Z" % (
                self.rv % 60)
            self._record("MODIFIED", obj)

    def delete_node(self, name: str) -> None:
        with self.cond:
            obj = self.nodes.pop(name)
            self._record("DELETED", obj)

    def advance(self, n: int = 1) -> None:
        """Advance the resourceVersion with no node event (other kinds of objects changed):
        only a BOOKMARK can tell a node watcher."""
        with self.cond:
            self.rv += n
            self.cond.notify_all()

    def compact(self, end_watches: bool = False) -> None:
        """Forget the history: a watch from any resourceVersion before now gets 410 Gone.

        With ``end_watches`` the open watches also end, in the same step (an API server that
        restarts with a compacted etcd), so no bookmark can tell them the new version first.
        """
        with self.cond:
            self.rv += 1
            self.oldest_rv = self.rv
            if end_watches:
                self.generation += 1
            self.cond.notify_all()

    def end_watches(self) -> None:
        """End every open watch cleanly (an API server restart): clients must come back."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def fail_next_watch(self, status: int) -> None:
        with self.cond:
            self.watch_failures.append(status)

    def fail_next_list(self, status: int) -> None:
        with self.cond:
            self.list_failures.append(status)

    def drop_next_watch(self, after: int = 0) -> None:
        with self.cond:
            self.drops.append(after)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Wait (bounded) until predicate(self) holds; the condition is re-checked on changes."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def watches_from(self) -> list[str]:
        """The resourceVersion of every watch request so far."""
        return [r["query"].get("resourceVersion", "") for r in self.requests if r["watch"]]

    # -- serving ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (scheme, host, self.port)

    def start(self) -> FakeKube:
        fake = self

        class Handler(_Handler):
            state = fake

        server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(10)

    def kubeconfig(self, token: str | None = None, extra_cluster: dict[str, Any] | None = None,
                   extra_user: dict[str, Any] | None = None) -> dict[str, Any]:
        """A kubeconfig (as a dict) pointing at this server."""
        cluster: dict[str, Any] = {"server": self.url}
        cluster.update(extra_cluster or {})
        user: dict[str, Any] = {}
        if token:
            user["token"] = token
        user.update(extra_user or {})
        return {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": cluster}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "agent"}}],
                "users": [{"name": "agent", "user": user}]}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeKube

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        watch = query.get("watch") in ("1", "true")
        fake = self.state
        with fake.cond:
            fake.requests.append({"path": url.path, "query": query, "watch": watch,
                                  "auth": self.headers.get("Authorization")})
            fake.cond.notify_all()
        if fake.token is not None and self.headers.get("Authorization") != "Bearer " + fake.token:
            self._json(401, status_object(401, "Unauthorized", "Unauthorized"))
        elif url.path != "/api/v1/nodes":
            self._json(404, status_object(404, "NotFound", "the server could not find it"))
        elif watch:
            self._watch(query)
        else:
            self._list(query)

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _list(self, query: dict[str, str]) -> None:
        fake = self.state
        with fake.cond:
            if fake.list_failures:
                status = fake.list_failures.pop(0)
                self._json(status, status_object(status, "InternalError", "injected failure"))
                return
            items = [json.loads(json.dumps(fake.nodes[n])) for n in sorted(fake.nodes)]
            rv = fake.rv
        offset = 0
        if query.get("continue"):
            offset_text, _, rv_text = query["continue"].partition(":")
            offset, rv = int(offset_text), int(rv_text)
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[offset:offset + limit]
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if offset + limit < len(items):
            metadata["continue"] = "%d:%d" % (offset + limit, rv)
        self._json(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": metadata,
                         "items": page})

    def _chunk(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, query: dict[str, str]) -> None:
        fake = self.state
        with fake.cond:
            if fake.watch_failures:
                status = fake.watch_failures.pop(0)
                reason = "Gone" if status == 410 else "InternalError"
                self._json(status, status_object(status, reason, "injected failure"))
                return
            drop_after = fake.drops.pop(0) if fake.drops else None
            fake.active_watches += 1
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self._stream(query, drop_after)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        finally:
            with fake.cond:
                fake.active_watches -= 1
                fake.cond.notify_all()

    def _stream(self, query: dict[str, str], drop_after: int | None) -> None:
        fake = self.state
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 1800)
        bookmarks = query.get("allowWatchBookmarks") == "true" and fake.bookmark_interval
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + (fake.bookmark_interval or 0)
        sent = 0
        generation = fake.generation
        if since < fake.oldest_rv:
            self._chunk({"type": "ERROR", "object": status_object(
                410, "Expired", "too old resource version: %d (%d)" % (since, fake.oldest_rv))})
            self.wfile.write(b"0\r\n\r\n")
            return
        for _ in range(10 ** 6):
            with fake.cond:
                pending = [e for e in fake.events if e[0] > since]
                if not pending and not fake.closing:
                    wait = deadline - time.monotonic()
                    if bookmarks:
                        wait = min(wait, next_bookmark - time.monotonic())
                    if wait > 0:
                        fake.cond.wait(min(wait, 0.1))
                    pending = [e for e in fake.events if e[0] > since]
                current = fake.rv
                closing = fake.closing
                if fake.generation != generation:
                    break                    # restarted: events from now on are not sent
            for rv, kind, obj in pending:
                if drop_after is not None and sent >= drop_after:
                    self._drop()
                    return
                self._chunk({"type": kind, "object": obj})
                since = rv
                sent += 1
            now = time.monotonic()
            if closing or now >= deadline:
                break
            if bookmarks and now >= next_bookmark:
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": "Node", "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(current)}}})
                since = max(since, current)
                next_bookmark = now + (fake.bookmark_interval or 0)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Cut the connection mid-stream: no terminating chunk, a TCP reset if possible."""
        self.wfile.flush()
        sock = self.connection
        try:
            sock.shutdown(2)
        except OSError:
            pass
        sock.close()


def make_certs(directory: str, server_ip: str = "127.0.0.1") -> dict[str, str]:
    """A throwaway CA, a server certificate for ``server_ip`` and a client certificate (openssl).

    Returns the file paths: ca_cert, ca_key, server_cert, server_key, client_cert, client_key.
    """
    import os
    import subprocess

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60,
                       cwd=directory)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a CA needs keyUsage, leaves need
    # key identifiers — as kubeadm's certificates have them.
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=humanz-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash")
    for name, subject, ext in (
            ("server", "/CN=kube-apiserver",
             "subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n" % server_ip),
            ("client", "/O=system:nodes/CN=system:node:hzt", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(directory, name + ".ext"), "w") as f:
            f.write(ext + "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
        run("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")
    return {k: os.path.join(directory, v) for k, v in (
        ("ca_cert", "ca.crt"), ("ca_key", "ca.key"), ("server_cert", "server.crt"),
        ("server_key", "server.key"), ("client_cert", "client.crt"),
        ("client_key", "client.key"))}
