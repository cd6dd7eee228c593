"""The agent's Kubernetes client and node watcher, driven by the fake API server (tests/fake_kube.py).

The fake speaks the real API's JSON: NodeList with metadata.resourceVersion, chunked watch
streams of {"type","object"} lines, BOOKMARK events, ERROR events carrying a 410 Status, HTTP
410, dropped connections. Sleeps are recorded instead of slept, so nothing here waits on a clock
except the fake's own bounded waits.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fake_kube import FakeKube, make_certs

from humanz.agent import kube, kubeconfig
from humanz.agent.model import Node


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    server = FakeKube(token="secret").start()
    yield server
    server.stop()


def client_for(server: FakeKube, tmp_path: Path, token: str | None = "secret",
               **extra: Any) -> kube.KubeClient:
    path = tmp_path / "kubeconfig.json"
    path.write_text(json.dumps(server.kubeconfig(token=token, **extra)))
    return kube.KubeClient(kubeconfig.from_kubeconfig(str(path)), timeout=10)


class Recorder:
    """Stands in for time.sleep: records the delays, and can stop the loop after N of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def run_watcher(watcher: kube.NodeWatcher, until: Callable[[dict[str, Node]], bool],
                after_list: Callable[[], None] | None = None,
                limit: int = 200) -> list[dict[str, Node]]:
    """Consume snapshots until ``until(snapshot)`` holds (bounded by ``limit`` snapshots);
    ``after_list`` runs once the first snapshot (the list) is in."""
    seen: list[dict[str, Node]] = []
    done = False

    def stop() -> bool:
        return done or len(seen) >= limit

    for snap in watcher.snapshots(stop):
        seen.append(snap)
        if len(seen) == 1 and after_list is not None:
            after_list()
        if until(snap):
            done = True
            break                               # closes the generator and its connection
    assert done, "condition never held; last snapshot %r" % (seen[-1:] or None)
    return seen


# -- the client ----------------------------------------------------------------------------------

def test_list_nodes_pages_through_continue_tokens(fake: FakeKube, tmp_path: Path) -> None:
    for i in range(5):
        fake.add_node("node-%d" % i, ["100.96.%d.0/24" % i], ["100.64.0.%d" % (10 + i)])
    client = client_for(fake, tmp_path)
    client.page_size = 2
    items, version = client.list_nodes()
    assert [i["metadata"]["name"] for i in items] == ["node-%d" % i for i in range(5)]
    assert version == str(fake.rv)
    lists = [r for r in fake.requests if not r["watch"]]
    assert [r["query"].get("continue") for r in lists] == [None, "2:105", "4:105"]
    assert all(r["auth"] == "Bearer secret" for r in lists)


def test_watch_yields_events_from_the_resource_version(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("a", ["100.96.1.0/24"], ["100.64.0.1"])
    _, version = client_for(fake, tmp_path).list_nodes()
    fake.add_node("b", [], ["100.64.0.2"])
    fake.set_pod_cidrs("b", ["100.96.2.0/24", "fd00:96:2::/64"])
    fake.delete_node("a")
    events = list(client_for(fake, tmp_path).watch_nodes(version, timeout_seconds=1))
    assert [(t, o["metadata"]["name"]) for t, o in events] == [
        ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]
    query = [r for r in fake.requests if r["watch"]][0]["query"]
    assert query == {"watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true",
                     "timeoutSeconds": "1"}


def test_watch_error_event_410_raises_gone(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("a")
    fake.compact()
    with pytest.raises(kube.Gone) as info:
        list(client_for(fake, tmp_path).watch_nodes("101", timeout_seconds=1))
    assert info.value.status == 410 and "too old resource version" in info.value.message


def test_http_errors_raise_with_the_status_message(fake: FakeKube, tmp_path: Path) -> None:
    client = client_for(fake, tmp_path)
    fake.fail_next_watch(410)
    with pytest.raises(kube.Gone):
        list(client.watch_nodes("1", timeout_seconds=1))
    fake.fail_next_list(500)
    with pytest.raises(kube.KubeError) as info:
        client.list_nodes()
    assert info.value.status == 500 and info.value.message == "injected failure"
    assert not isinstance(info.value, kube.Gone)


def test_a_rotated_token_file_is_picked_up_after_401(fake: FakeKube, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("secret")
    client = client_for(fake, tmp_path, token=None, extra_user={"tokenFile": str(token_file)})
    client.list_nodes()
    # Rotation seen by stat: the file changed, the next request carries the new token.
    fake.token = "rotated"
    token_file.write_text("rotated")
    client.list_nodes()
    # Rotation stat cannot see (same inode, size and mtime): the 401 forces a re-read.
    st = token_file.stat()
    fake.token = "again!!"
    token_file.write_text("again!!")
    os.utime(token_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    client.list_nodes()
    assert [r["auth"] for r in fake.requests] == [
        "Bearer secret", "Bearer rotated", "Bearer rotated", "Bearer again!!"]


def test_wrong_token_is_a_401_error(fake: FakeKube, tmp_path: Path) -> None:
    with pytest.raises(kube.KubeError) as info:
        client_for(fake, tmp_path, token="wrong").list_nodes()
    assert info.value.status == 401
    assert len(fake.requests) == 2             # one retry with a re-read token, then give up


# -- TLS -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_certs(str(tmp_path_factory.mktemp("certs")))


def _b64(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def test_tls_with_ca_data_and_client_certificate(certs: dict[str, str], tmp_path: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["server_cert"], certs["server_key"])
    ctx.load_verify_locations(certs["ca_cert"])
    ctx.verify_mode = ssl.CERT_REQUIRED          # the server insists on a client certificate
    server = FakeKube(ssl_context=ctx).start()
    try:
        server.add_node("a", ["100.96.1.0/24"], ["100.64.0.1"])
        client = client_for(server, tmp_path, token=None,
                            extra_cluster={"certificate-authority-data": _b64(certs["ca_cert"])},
                            extra_user={"client-certificate-data": _b64(certs["client_cert"]),
                                        "client-key": certs["client_key"]})
        items, _ = client.list_nodes()
        assert [i["metadata"]["name"] for i in items] == ["a"]
        # without the client certificate the handshake fails
        bare = client_for(server, tmp_path, token=None,
                          extra_cluster={"certificate-authority": certs["ca_cert"]})
        with pytest.raises((ssl.SSLError, ConnectionError)):
            bare.list_nodes()
    finally:
        server.stop()


def test_tls_server_not_signed_by_the_ca_is_refused_unless_insecure(
        certs: dict[str, str], tmp_path: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["server_cert"], certs["server_key"])
    server = FakeKube(ssl_context=ctx).start()
    try:
        other = make_certs(str(tmp_path))
        wrong_ca = client_for(server, tmp_path, token=None,
                              extra_cluster={"certificate-authority": other["ca_cert"]})
        with pytest.raises(ssl.SSLCertVerificationError):
            wrong_ca.list_nodes()
        insecure = client_for(server, tmp_path, token=None,
                              extra_cluster={"insecure-skip-tls-verify": True})
        assert insecure.list_nodes()[0] == []
    finally:
        server.stop()


# -- the watcher ---------------------------------------------------------------------------------

def make_watcher(fake: FakeKube, tmp_path: Path, watch_timeout: int = 5) -> tuple[
        kube.NodeWatcher, Recorder]:
    sleep = Recorder()
    return kube.NodeWatcher(client_for(fake, tmp_path), watch_timeout=watch_timeout,
                            sleep=sleep), sleep


def test_watcher_lists_then_watches_from_the_list_version(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("a", ["100.96.1.0/24"], ["100.64.0.1"])
    watcher, sleep = make_watcher(fake, tmp_path)
    listed_at = str(fake.rv)
    threading.Timer(0.2, fake.add_node, ("b", ["100.96.2.0/24"], ["100.64.0.2"])).start()
    seen = run_watcher(watcher, lambda s: "b" in s)
    assert list(seen[0]) == ["a"]
    assert seen[0]["a"] == Node.from_api(fake.nodes["a"])
    assert fake.watches_from() == [listed_at]
    assert watcher.resource_version == str(fake.rv)
    assert sleep.delays == []


def test_node_gaining_a_pod_cidr_late_is_seen(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("late", [], ["100.64.0.3"])
    watcher, _ = make_watcher(fake, tmp_path)
    threading.Timer(0.2, fake.set_pod_cidrs, ("late", ["100.96.3.0/24", "fd00:96:3::/64"])).start()
    seen = run_watcher(watcher, lambda s: bool(s["late"].pod_cidrs))
    assert seen[0]["late"].pod_cidrs == []
    assert [str(c) for c in seen[-1]["late"].pod_cidrs] == ["100.96.3.0/24", "fd00:96:3::/64"]


def test_bookmarks_move_the_resource_version(tmp_path: Path) -> None:
    fake = FakeKube(token="secret", bookmark_interval=0.1).start()
    try:
        fake.add_node("a")
        watcher, _ = make_watcher(fake, tmp_path)
        run_watcher(watcher, lambda s: watcher.resource_version == "103",
                    after_list=lambda: fake.advance(2))
        assert fake.watches_from() == ["101"]   # no relist, no second watch was needed
    finally:
        fake.stop()


def test_a_dropped_watch_reconnects_from_the_last_version(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("a")
    watcher, sleep = make_watcher(fake, tmp_path)

    def changes() -> None:
        fake.drop_next_watch(after=1)
        fake.add_node("b")                      # sent before the cut
        fake.add_node("c")                      # cut: must arrive on the next watch

    seen = run_watcher(watcher, lambda s: "c" in s, after_list=changes)
    assert sorted(seen[-1]) == ["a", "b", "c"]
    assert fake.watches_from() == ["101", "102"]
    assert len([r for r in fake.requests if not r["watch"]]) == 1   # no relist
    assert len(sleep.delays) == 1 and sleep.delays[0] <= 0.5


@pytest.mark.parametrize("how", ["error event", "http status"])
def test_410_gone_relists(fake: FakeKube, tmp_path: Path, how: str) -> None:
    fake.add_node("a")
    fake.add_node("b")
    watcher, _ = make_watcher(fake, tmp_path)
    snaps = watcher.snapshots(lambda: False)
    assert sorted(next(snaps)) == ["a", "b"]
    fake.delete_node("b")
    fake.add_node("c")
    if how == "error event":
        fake.compact()                          # the history with b's deletion is gone
    else:
        fake.fail_next_watch(410)
    for snap in snaps:
        if "c" in snap:
            break
    assert sorted(snap) == ["a", "c"]
    assert len([r for r in fake.requests if not r["watch"]]) == 2
    snaps.close()


def test_failures_back_off_exponentially_within_the_bound(fake: FakeKube, tmp_path: Path) -> None:
    fake.add_node("a")
    for _ in range(12):
        fake.fail_next_list(503)
    watcher, sleep = make_watcher(fake, tmp_path)
    watcher.backoff = kube.Backoff(initial=0.5, cap=8.0)
    run_watcher(watcher, lambda s: "a" in s)
    assert len(sleep.delays) == 12
    ceilings = [min(8.0, 0.5 * 2 ** i) for i in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(sleep.delays, ceilings))
    assert max(sleep.delays) <= 8.0
    assert "503" in (watcher.last_error or "") or watcher.last_error is None


def test_unreachable_server_is_retried_not_fatal(tmp_path: Path) -> None:
    fake = FakeKube().start()
    port = fake.port
    fake.stop()                                 # nothing listens there any more
    path = tmp_path / "kc.json"
    path.write_text(json.dumps({"current-context": "c",
                                "clusters": [{"name": "k", "cluster": {
                                    "server": "http://127.0.0.1:%d" % port}}],
                                "contexts": [{"name": "c", "context": {"cluster": "k"}}]}))
    sleep = Recorder()
    watcher = kube.NodeWatcher(kube.KubeClient(kubeconfig.from_kubeconfig(str(path))),
                               sleep=sleep)
    assert list(watcher.snapshots(lambda: len(sleep.delays) >= 3)) == []
    assert "ConnectionRefusedError" in (watcher.last_error or "")


def test_bad_node_objects_are_logged_not_fatal(fake: FakeKube, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    fake.add_node("bad", ["100.96.1.0/33", "not-a-cidr"], ["100.64.0.300"])
    watcher, _ = make_watcher(fake, tmp_path)
    snap = next(watcher.snapshots(lambda: False))
    assert snap["bad"].pod_cidrs == [] and snap["bad"].internal_ips == []
    assert "prefix length 33 too long" in caplog.text
    assert "not an IP address: '100.64.0.300'" in caplog.text


def test_node_model_reads_the_api_fields() -> None:
    obj = {"metadata": {"name": "n"},
           "spec": {"podCIDR": "100.96.1.0/24"},
           "status": {"addresses": [{"type": "ExternalIP", "address": "100.64.9.9"},
                                    {"type": "InternalIP", "address": "fd00:0:0::0001"},
                                    {"type": "InternalIP", "address": "100.64.0.1"}]}}
    node = Node.from_api(obj)
    assert [str(c) for c in node.pod_cidrs] == ["100.96.1.0/24"]     # old single-field form
    assert node.internal_ips == ["fd00::1", "100.64.0.1"]
    assert node.internal_ip(4) == "100.64.0.1" and node.internal_ip(6) == "fd00::1"
    with pytest.raises(ValueError):
        Node.from_api({"metadata": {}})
