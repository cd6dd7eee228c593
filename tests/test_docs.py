"""The docs are the code's own output: regenerate them and compare; one formatter everywhere.

- docs/walkthrough.md is regenerated from a real ADD and DEL (scripts/gen_walkthrough.py,
  throwaway namespaces); docs/netlink.md from the byte fixtures (scripts/gen_netlink_doc.py).
  Either differing from the committed file means the code changed what it sends: rerun the
  script and read the diff.
- Every ``path.py:Name`` reference in the docs names a file and a function, class, method or
  constant that exists.
- The CLI's ``--explain`` output and the plugin's trace are exactly
  ``humanz.netlink.explain.explain`` of the bytes that crossed the socket.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from plugin_harness import REPO

from humanz.netlink import cli, explain
from humanz.netlink.nlsocket import NetlinkSocket

sys.path.insert(0, str(REPO / "scripts"))
import gen_netlink_doc  # noqa: E402
import gen_walkthrough  # noqa: E402

DOCS = REPO / "docs"
REFERENCE = re.compile(r"`((?:humanz|tests|scripts)/[\w/]+\.py)(?::([\w.]+))?`")


def assert_same(committed: Path, generated: str, script: str) -> None:
    text = committed.read_text(encoding="utf-8")
    if text != generated:
        diff = difflib.unified_diff(text.splitlines(), generated.splitlines(),
                                    "committed " + committed.name, "what the code does now",
                                    lineterm="", n=2)
        pytest.fail("%s no longer matches what the code sends: run `python3 %s` (as root) and "
                    "commit the result.\n%s" % (committed.relative_to(REPO), script,
                                                "\n".join(list(diff)[:60])))


def test_walkthrough_matches_a_fresh_run() -> None:
    assert_same(DOCS / "walkthrough.md", gen_walkthrough.generate(),
                "scripts/gen_walkthrough.py")


def test_netlink_doc_matches_the_fixtures() -> None:
    assert_same(DOCS / "netlink.md", gen_netlink_doc.generate(), "scripts/gen_netlink_doc.py")


# ---- references ------------------------------------------------------------------------------

def defined_names(path: Path) -> set[str]:
    """Top-level functions, classes and assignments, and ``Class.method`` for methods."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names.update("%s.%s" % (node.name, item.name) for item in node.body
                             if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def references(doc: Path) -> Iterator[tuple[str, str | None]]:
    for m in REFERENCE.finditer(doc.read_text(encoding="utf-8")):
        yield m.group(1), m.group(2)


@pytest.mark.parametrize("doc", ["netlink.in.md", "walkthrough.in.md"])
def test_code_references_name_what_exists(doc: str) -> None:
    refs = list(references(DOCS / doc))
    assert doc != "netlink.in.md" or len(refs) > 40
    broken = []
    for path, name in refs:
        file = REPO / path
        if not file.is_file():
            broken.append("%s (no such file)" % path)
        elif name is not None and name not in defined_names(file):
            broken.append("%s:%s (no such name)" % (path, name))
    assert broken == [], "docs/%s names what does not exist: %s" % (doc, ", ".join(broken))


def test_every_concept_has_a_function_and_a_test() -> None:
    """Each numbered section of netlink.md links to code in humanz/ and to a test."""
    text = (DOCS / "netlink.in.md").read_text(encoding="utf-8")
    sections = re.split(r"\n## ", text)[1:]
    numbered = [s for s in sections if s[:1].isdigit()]
    assert len(numbered) >= 6
    for section in numbered:
        paths = [m.group(1) for m in REFERENCE.finditer(section)]
        title = section.split("\n")[0]
        assert any(p.startswith("humanz/") for p in paths), title
        assert any(p.startswith("tests/") for p in paths) or title.startswith("7."), title


# ---- one formatter ---------------------------------------------------------------------------

@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bytes]]:
    """Every datagram any NetlinkSocket sends or receives: (direction, label, bytes)."""
    seen: list[tuple[str, str, bytes]] = []
    send, recv = NetlinkSocket.send_bytes, NetlinkSocket.recv_bytes

    def send_bytes(self: NetlinkSocket, data: bytes) -> None:
        seen.append(("send", self.label, data))
        send(self, data)

    def recv_bytes(self: NetlinkSocket) -> bytes:
        data = recv(self)
        seen.append(("recv", self.label, data))
        return data

    monkeypatch.setattr(NetlinkSocket, "send_bytes", send_bytes)
    monkeypatch.setattr(NetlinkSocket, "recv_bytes", recv_bytes)
    return seen


def test_cli_explain_is_the_one_formatter(make_netns: Callable[[], str],
                                         recorded: list[tuple[str, str, bytes]],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    host, pod = make_netns(), make_netns()
    commands = [["-n", host, "--explain", "link", "add", "hztv0", "type", "veth", "peer",
                 "name", "eth0", "netns", pod],
                ["-n", host, "--explain", "link", "show"],
                ["-n", host, "--explain", "addr", "add", "100.64.9.1/24", "dev", "hztv0"],
                ["-n", host, "--explain", "link", "add", "hztv0", "type", "bridge"]]  # EEXIST
    for argv in commands:
        del recorded[:]
        status = cli.main(argv)
        err = capsys.readouterr().err
        assert status == (1 if argv[-1] == "bridge" else 0), err
        assert recorded, argv
        expected = "".join(explain.explain(data, direction, label) + "\n"
                           for direction, label, data in recorded)
        if status:
            assert err.startswith(expected) and "error: " in err[len(expected):]
        else:
            assert err == expected


def test_trace_is_the_one_formatter(tmp_path: Path, netns: str) -> None:
    """The walkthrough's parser rebuilds the bytes of every dump in a trace and asserts that
    explain.explain of them prints exactly that dump; here on a trace made in-process."""
    from humanz import trace
    from humanz.netlink.rtnl import Rtnl
    path = str(tmp_path / "t")
    t = trace.Trace(path, "ADD")
    with Rtnl("/run/netns/" + netns, trace=t.netlink) as r:
        r.links()
        assert r.link_find("hzt-not-there") is None
    t.finish("ok")
    [(_, events)] = gen_walkthrough.parse(Path(path).read_text())
    sent = [e for e in events if isinstance(e, gen_walkthrough.Datagram)]
    assert [e.direction for e in sent][:1] == ["send"] and len(sent) >= 4
    assert all(e.label == "/run/netns/" + netns for e in sent)
