"""The skeleton: about text, VERSION, environment checks, error objects, internal bugs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from humanz import bridge
from humanz.cni import skel
from humanz.cni.result import IPConfig, Result
from plugin_harness import PLUGIN, REPO, TIMEOUT


def run(env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full.update(env)
    return subprocess.run(PLUGIN, input=stdin, capture_output=True, env=full, cwd=str(REPO),
                          timeout=TIMEOUT)


def test_no_command_prints_about_on_stderr() -> None:
    proc = run({})
    assert proc.returncode == 0 and proc.stdout == b""
    assert b"CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0" \
        in proc.stderr


@pytest.mark.parametrize("stdin", [b'{"cniVersion":"1.1.0"}', b"", b"garbage"])
def test_version_answers_whatever_stdin_holds(stdin: bytes) -> None:
    # libcni probes with CNI_NETNS, CNI_IFNAME and CNI_PATH set to "dummy"
    proc = run({"CNI_COMMAND": "VERSION", "CNI_NETNS": "dummy", "CNI_IFNAME": "dummy",
                "CNI_PATH": "dummy"}, stdin)
    assert proc.returncode == 0 and proc.stderr == b""
    assert json.loads(proc.stdout) == {"cniVersion": "1.1.0", "supportedVersions": [
        "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_missing_variables_are_all_named() -> None:
    proc = run({"CNI_COMMAND": "ADD"}, b'{"cniVersion":"0.4.0","name":"n","type":"t"}')
    out = json.loads(proc.stdout)
    assert proc.returncode == 1 and proc.stderr == b""
    assert out["code"] == 4 and out["cniVersion"] == "0.4.0"
    for name in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"):
        assert name in out["msg"]


def test_gc_and_status_need_only_cni_path(tmp_path: Path) -> None:
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "t", "ipam": {},
            "logFile": str(tmp_path / "log")}
    for command in ("GC", "STATUS"):
        proc = run({"CNI_COMMAND": command, "CNI_PATH": "/usr/lib/cni"},
                   json.dumps(conf).encode())
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), proc


# ---- in-process: the dispatch around humanz.bridge -------------------------------------

ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/usr/lib/cni"}


def _conf(tmp_path: Path, **fields: Any) -> bytes:
    conf = {"name": "n", "type": "humanz-cni", "ipam": {}, "logFile": str(tmp_path / "log")}
    conf.update(fields)
    return json.dumps(conf).encode()


def _fake_add(req: Any, conf: Any) -> Result:
    return Result(ips=[IPConfig("100.64.0.5/24", "100.64.0.1")])


def test_result_in_the_chosen_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bridge, "cmd_add", _fake_add)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "0.1.0"), ({"cniVersion": "0.4.0"}, "0.4.0"),
        ({"cniVersions": ["0.3.1", "1.0.0", "7.0.0"]}, "1.0.0")]
    for fields, expected in cases:
        assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD"), _conf(tmp_path, **fields)) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["cniVersion"] == expected


def test_internal_bug_is_999_and_traceback_goes_to_log(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    def broken(req: Any, conf: Any) -> Result:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(bridge, "cmd_add", broken)
    assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD"),
                    _conf(tmp_path, cniVersion="1.0.0")) == 1
    captured = capfd.readouterr()
    assert captured.err == ""
    out = json.loads(captured.out)
    assert out["code"] == 999 and out["cniVersion"] == "1.0.0"
    assert "Traceback" not in captured.out and "simulated bug" in out["details"]
    [line] = [json.loads(l) for l in (tmp_path / "log").read_text().splitlines()]
    assert line["code"] == 999 and "ZeroDivisionError: simulated bug" in line["traceback"]


def test_log_level_error_logs_only_failures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bridge, "cmd_add", _fake_add)
    conf = _conf(tmp_path, cniVersion="1.0.0", logLevel="error")
    assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD"), conf) == 0
    assert not (tmp_path / "log").exists()
    assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD", CNI_ARGS="Bad=1"), conf) == 1
    assert len((tmp_path / "log").read_text().splitlines()) == 1
    capsys.readouterr()


def test_empty_log_file_disables_logging(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bridge, "cmd_add", _fake_add)
    assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD"), _conf(tmp_path, logFile="")) == 0
    assert list(tmp_path.iterdir()) == []
    capsys.readouterr()


def test_unreadable_stdin_is_io_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert skel.run("ADD", dict(ENV, CNI_COMMAND="ADD"), None) == 1
    assert json.loads(capsys.readouterr().out)["code"] == 5


def test_plugin_runs_on_the_interpreter_nodes_use() -> None:
    """/usr/bin/python3 (what nodes run the plugin with) gives the same VERSION answer."""
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no /usr/bin/python3")
    proc = subprocess.run(["/usr/bin/python3", "-S", "-m", "humanz"], capture_output=True,
                          env={"CNI_COMMAND": "VERSION"}, cwd=str(REPO), timeout=TIMEOUT)
    assert proc.returncode == 0 and b'"1.1.0"' in proc.stdout, proc
