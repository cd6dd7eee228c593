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
    """Exactly on the kernel the page was made on; on another, every line of text and every
    message the plugin sends exactly, the kernel's answers by type, seq and error only."""
    page = DOCS / "walkthrough.md"
    committed, fresh, how = gen_walkthrough.comparable(
        page.read_text(encoding="utf-8"), gen_walkthrough.generate(),
        gen_walkthrough.kernel_release())
    if committed != fresh:
        diff = difflib.unified_diff(committed.splitlines(), fresh.splitlines(),
                                    "committed walkthrough.md", "what the code does now",
                                    lineterm="", n=2)
        pytest.fail("docs/walkthrough.md no longer matches what the code sends (compared %s): "
                    "run `python3 scripts/gen_walkthrough.py` (as root) and commit the result."
                    "\n%s" % (how, "\n".join(list(diff)[:60])))


def test_walkthrough_on_another_kernel_still_checks_all_the_plugin_sends() -> None:
    """The comparison on a kernel the page was not made on, with the committed page: answers
    may differ in size and content, but not in type, sequence number or error; requests and
    text may not differ at all."""
    page = (DOCS / "walkthrough.md").read_text(encoding="utf-8")
    made_on = gen_walkthrough.made_on(page)
    assert made_on is not None, "the page does not say which kernel it was made on"
    assert gen_walkthrough.comparable(page, page, made_on)[2] == "exactly"

    def same_elsewhere(fresh: str) -> bool:
        committed, other, how = gen_walkthrough.comparable(page, fresh, "0.0.0-another")
        assert how.startswith("the kernel's answers by type")
        return committed == other

    lines = page.split("\n")

    def first(prefix: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(prefix))

    def with_line(i: int, line: str) -> str:
        return "\n".join(lines[:i] + [line] + lines[i + 1:])

    def with_byte(i: int, value: str) -> str:
        """Line ``i`` of a dump with its first raw byte replaced."""
        assert lines[i][6:8] == "  " and lines[i][10] == " "
        return with_line(i, lines[i][:8] + value + lines[i][10:])

    answer = first("recv (host) RTM_NEWLINK")
    request = first("send (host) RTM_NEWLINK")
    error = next(i for i, line in enumerate(lines) if line.endswith("(ENODEV: No such device)"))
    seq = next(i for i in range(answer, len(lines)) if " nlmsg_seq " in lines[i])
    # a longer answer, other bytes in it, another count of attributes not shown: no difference
    assert same_elsewhere(with_line(answer, lines[answer].replace(" bytes", "0 bytes")))
    assert same_elsewhere(with_byte(answer + 8, "ff"))
    assert same_elsewhere(re.sub(r"\(\d+ more attributes", "(99 more attributes", page))
    # nor is the kernel line
    assert same_elsewhere(page.replace("Made on Linux %s " % made_on, "Made on Linux 1.2.3 "))
    # but a byte of what the plugin sends, another error, an answer to another request, or a
    # word of text are
    assert not same_elsewhere(with_byte(request + 1, "ff"))
    assert not same_elsewhere(with_line(error, lines[error].replace("-19 (ENO", "-17 (EEX")))
    assert not same_elsewhere(with_line(seq, lines[seq].rsplit(" ", 1)[0] + " 99"))
    assert not same_elsewhere(page.replace("This page follows", "This page shows"))


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
