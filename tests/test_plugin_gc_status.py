"""GC releases what the runtime no longer knows; STATUS says whether an ADD could succeed."""

from __future__ import annotations

from plugin_harness import Node, netns_path, node  # noqa: F401


def _two(node: Node) -> tuple[dict[str, object], str, str]:
    conf = node.conf(version="1.1.0")
    a, b = node.make_netns(), node.make_netns()
    node.add(conf, a)
    node.add(conf, b)
    assert node.reservations() == ["100.64.1.2", "100.64.1.3"]
    return conf, a, b


def test_gc_releases_all_but_valid_attachments(node: Node) -> None:
    conf, a, b = _two(node)
    valid = [{"containerID": "cid-" + a, "ifname": "eth0"},
             {"containerID": "gone", "ifname": "eth9"}]
    out = node.run("GC", dict(conf, **{"cni.dev/valid-attachments": valid}))
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    assert node.reservations() == ["100.64.1.2"]
    assert node.log_lines()[-1]["released"] == ["100.64.1.3"]


def test_gc_without_list_releases_everything(node: Node) -> None:
    conf, a, b = _two(node)
    out = node.run("GC", conf)
    assert out.rc == 0, out
    assert node.reservations() == []


def test_gc_legacy_attachments_key(node: Node) -> None:
    conf, a, b = _two(node)
    legacy = [{"containerID": "cid-" + b, "ifname": "eth0"}]
    out = node.run("GC", dict(conf, **{"cni.dev/attachments": legacy}))
    assert out.rc == 0, out
    assert node.reservations() == ["100.64.1.3"]


def test_gc_of_a_network_never_used(node: Node) -> None:
    out = node.run("GC", node.conf(version="1.1.0"))
    assert (out.rc, out.out) == (0, ""), out


def test_gc_bad_attachment_list_is_7(node: Node) -> None:
    out = node.run("GC", dict(node.conf(version="1.1.0"),
                              **{"cni.dev/valid-attachments": [{"containerID": 1}]}))
    assert out.code == 7 and "valid-attachments[0]" in out.data["msg"], out


def test_status_ok_then_exhausted(node: Node) -> None:
    conf = node.conf(version="1.1.0", subnet="100.64.1.0/30")
    out = node.run("STATUS", conf)
    assert (out.rc, out.out, out.err) == (0, "", ""), out
    node.add(conf, node.make_netns())
    out = node.run("STATUS", conf)
    assert out.rc == 1 and out.code == 50 and "100.64.1.0/30" in out.data["msg"], out


def test_status_with_unusable_store_is_50(node: Node) -> None:
    conf = node.conf(version="1.1.0")
    conf["ipam"]["dataDir"] = "/proc/version"
    out = node.run("STATUS", conf)
    assert out.code == 50, out


def test_status_of_layer2_network(node: Node) -> None:
    out = node.run("STATUS", node.conf(version="1.1.0", ipam={}))
    assert (out.rc, out.out) == (0, ""), out
