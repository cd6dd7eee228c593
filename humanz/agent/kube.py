"""A small Kubernetes API client for Node objects: list, watch, and a watcher that never gives up.

``KubeClient`` speaks plain HTTP/1.1 through ``http.client`` (TLS through ``ssl``):

- ``list_nodes`` — ``GET /api/v1/nodes`` page by page (``limit``/``continue``), returning the
  items and the list's ``metadata.resourceVersion``;
- ``watch_nodes`` — ``GET /api/v1/nodes?watch=1&resourceVersion=RV&allowWatchBookmarks=true``:
  the response is a stream of newline-delimited JSON events ``{"type", "object"}`` with types
  ADDED, MODIFIED, DELETED, BOOKMARK (only a new resourceVersion) and ERROR (a Status object).

``NodeWatcher`` turns that into the loop every controller has: list, then watch from the list's
resourceVersion, keep the resourceVersion of every event and bookmark, reconnect from it after a
dropped connection or a server-side timeout, and list again when the server answers 410 Gone
(either as the HTTP status or as an ERROR event with code 410: the resourceVersion is older than
what the server still remembers). Failures back off exponentially up to a bound. It yields the
whole node map after each change, so the consumer can reconcile on levels, not on edges.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.parse

from humanz.agent.model import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Generator, Iterator

    from humanz.agent.kubeconfig import KubeConfig

__all__ = ["KubeError", "Gone", "KubeClient", "Backoff", "NodeWatcher"]

log = logging.getLogger("humanz.agent.kube")

USER_AGENT = "humanz-agent/0.1"
NODES_PATH = "/api/v1/nodes"


class KubeError(Exception):
    """The API server answered with an error status (or an ERROR event); ``status`` is its code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__("API server: %d %s" % (status, message))
        self.status = status
        self.message = message


class Gone(KubeError):
    """410 Gone: the resourceVersion is too old; the caller must list again."""


def _status_message(body: bytes) -> str:
    """The ``message`` of a Status object body, else the body's first 200 characters."""
    try:
        obj = json.loads(body)
        if isinstance(obj, dict) and obj.get("message"):
            return str(obj["message"])
    except ValueError:
        pass
    return body[:200].decode("utf-8", "replace")


class KubeClient:
    """Requests against one API server; a new connection per request (lists are rare, watches
    long-lived, so keep-alive would buy nothing and cost a reconnect state machine)."""

    __slots__ = ("config", "timeout", "page_size")

    def __init__(self, config: KubeConfig, timeout: float = 30.0, page_size: int = 500) -> None:
        self.config = config
        self.timeout = timeout
        self.page_size = page_size

    def _open(self, path: str, query: dict[str, str], timeout: float) -> http.client.HTTPResponse:
        """Send a GET; retry once with a freshly read token on 401; raise on any error status."""
        url = self.config.base_path + path + "?" + urllib.parse.urlencode(query)
        for attempt in (1, 2):
            conn = self.config.connect(timeout)
            headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
            token = self.config.token.get()
            if token:
                headers["Authorization"] = "Bearer " + token
            try:
                conn.request("GET", url, headers=headers)
                resp = conn.getresponse()
            except BaseException:
                conn.close()
                raise
            if 200 <= resp.status < 300:
                return resp
            body = resp.read()
            conn.close()
            if resp.status == 401 and attempt == 1:
                self.config.token.invalidate()
                continue
            cls = Gone if resp.status == 410 else KubeError
            raise cls(resp.status, _status_message(body))
        raise AssertionError("unreachable")

    def get_json(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """GET a JSON object."""
        resp = self._open(path, query, self.timeout)
        try:
            obj = json.loads(resp.read())
        finally:
            resp.close()
        if not isinstance(obj, dict):
            raise ValueError("API server sent a JSON %s, not an object" % type(obj).__name__)
        return obj

    def list_nodes(self) -> tuple[list[dict[str, Any]], str]:
        """All Node objects and the list's resourceVersion (page by page, one snapshot)."""
        items: list[dict[str, Any]] = []
        version = ""
        query = {"limit": str(self.page_size)}
        for _ in range(100_000):                  # bounded: 50M nodes at the default page size
            page = self.get_json(NODES_PATH, query)
            metadata = page.get("metadata") or {}
            version = version or str(metadata.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            token = metadata.get("continue")
            if not token:
                break
            query = {"limit": str(self.page_size), "continue": str(token)}
        if not version:
            raise ValueError("node list without metadata.resourceVersion")
        return items, version

    def watch_nodes(self, resource_version: str,
                    timeout_seconds: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events (type, object) from ``resource_version`` on, until the server ends the watch.

        The server closes the stream after ``timeout_seconds``; the socket timeout is a little
        longer, so a connection that went silently dead is noticed too (as an OSError).
        ERROR events are raised: ``Gone`` for code 410, ``KubeError`` otherwise.
        """
        query = {"watch": "1", "resourceVersion": resource_version,
                 "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        resp = self._open(NODES_PATH, query, timeout_seconds + 15.0)
        try:
            for line in _lines(resp):
                if not line.strip():
                    continue
                event = json.loads(line)
                if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
                    raise ValueError("malformed watch event: %r" % line[:200])
                kind, obj = str(event.get("type")), event["object"]
                if kind == "ERROR":
                    code = int(obj.get("code") or 0)
                    cls = Gone if code == 410 else KubeError
                    raise cls(code, str(obj.get("message") or obj.get("reason") or "error event"))
                yield kind, obj
        finally:
            resp.close()


def _lines(resp: http.client.HTTPResponse, max_line: int = 16 << 20) -> Iterator[bytes]:
    """The stream's lines, as they arrive.

    ``read1`` rather than ``readline``: on a chunked response ``readline`` returns b"" both at
    the proper end and when the connection was cut mid-stream, while ``read1`` raises
    ``IncompleteRead`` for the cut — and a cut must be retried with backoff, not taken for the
    server's normal end of a watch.
    """
    buffered = b""
    for _ in range(10 ** 12):                      # bounded; ends with the stream
        data = resp.read1(65536)
        if not data:
            if buffered.strip():
                yield buffered
            return
        buffered += data
        *lines, buffered = buffered.split(b"\n")
        yield from lines
        if len(buffered) > max_line:
            raise ValueError("watch event longer than %d bytes" % max_line)


class Backoff:
    """Exponential backoff with jitter: initial, ×2 per failure, never above ``cap`` seconds."""

    __slots__ = ("initial", "cap", "failures")

    def __init__(self, initial: float = 0.5, cap: float = 30.0) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; between half and all of the exponential step."""
        step = min(self.cap, self.initial * float(1 << min(self.failures, 30)))
        self.failures += 1
        return step * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class NodeWatcher:
    """List + watch Nodes forever; yield the full ``{name: Node}`` map after each change.

    Also yields (the unchanged map) after a bookmark and when a watch ends normally, so the
    consumer gets a regular chance to re-check the host even when nothing happens. ``stop`` is
    polled between events; ``sleep`` and ``heartbeat`` are hooks for the main loop and tests.
    """

    __slots__ = ("client", "watch_timeout", "backoff", "sleep", "heartbeat", "nodes",
                 "resource_version", "synced", "last_error")

    def __init__(self, client: KubeClient, watch_timeout: int = 300,
                 backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 heartbeat: Callable[[], None] | None = None) -> None:
        self.client = client
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.heartbeat = heartbeat
        self.nodes: dict[str, Node] = {}
        self.resource_version: str | None = None
        self.synced = False
        self.last_error: str | None = None

    def snapshots(self, stop: Callable[[], bool]) -> Generator[dict[str, Node], None, None]:
        """The list/watch loop; returns only when ``stop()`` is true."""
        while not stop():
            self._beat()
            try:
                if self.resource_version is None:
                    self._relist()
                    yield dict(self.nodes)
                for _ in self._watch_once():
                    yield dict(self.nodes)
                    if stop():
                        return
            except Gone as e:
                log.info("resourceVersion %s expired (%s); listing nodes again",
                         self.resource_version, e.message)
                self.resource_version = None
                self._fail(str(e))
            except (OSError, http.client.HTTPException, KubeError, ValueError) as e:
                self._fail("%s: %s" % (type(e).__name__, e))

    def _beat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat()

    def _fail(self, message: str) -> None:
        """Log a failed list/watch and wait before the next attempt."""
        self.last_error = message
        delay = self.backoff.next_delay()
        log.warning("node list/watch failed (%s); retrying in %.1fs", message, delay)
        self.sleep(delay)

    def _relist(self) -> None:
        items, version = self.client.list_nodes()
        nodes: dict[str, Node] = {}
        for obj in items:
            node = self._read(obj)
            if node is not None:
                nodes[node.name] = node
        self.nodes = nodes
        self.resource_version = version
        self.synced = True
        log.info("listed %d nodes at resourceVersion %s", len(nodes), version)

    def _watch_once(self) -> Iterator[None]:
        """One watch request; yields after each event that may change the map, and at its end."""
        assert self.resource_version is not None
        started, events = time.monotonic(), 0
        for kind, obj in self.client.watch_nodes(self.resource_version, self.watch_timeout):
            events += 1
            self._beat()
            self.backoff.reset()
            self.last_error = None
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self._apply(kind, obj)
            elif kind != "BOOKMARK":
                log.debug("ignoring watch event of type %s", kind)
            if version:
                self.resource_version = str(version)
            yield
        if not events and time.monotonic() - started < 1.0 <= self.watch_timeout:
            # a server (or proxy) that ends every watch at once must not make us spin
            raise ValueError("watch ended at once without any event")
        yield                                      # the server ended the watch: a resync tick

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        node = self._read(obj)
        if node is None:
            return
        if kind == "DELETED":
            if self.nodes.pop(node.name, None) is not None:
                log.info("node %s deleted", node.name)
            return
        old = self.nodes.get(node.name)
        self.nodes[node.name] = node
        if old != node:
            log.info("node %s %s: podCIDRs %s, InternalIPs %s", node.name,
                     "added" if old is None else "changed",
                     ",".join(str(c) for c in node.pod_cidrs) or "(none yet)",
                     ",".join(node.internal_ips) or "(none)")

    @staticmethod
    def _read(obj: dict[str, Any]) -> Node | None:
        """Node.from_api, logging instead of raising for an object without a name."""
        try:
            node = Node.from_api(obj)
        except ValueError as e:
            log.warning("skipping a node object: %s", e)
            return None
        for problem in node.problems:
            log.warning("node %s: %s", node.name, problem)
        return node
