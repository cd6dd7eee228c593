"""scripts/build and scripts/install: the single-file plugin and how it lands on a node.

The build must give one executable zip of bytecode compiled by the interpreter its shebang
names, run with ``-IS`` (isolated, no site) and ``-c`` code that imports the zip without runpy,
start also as ``python3 FILE`` and without /proc, and be reproducible; install must replace the file
atomically (a runtime may exec it at any moment), write a conflist only when none exists,
undo both on ``--uninstall``, and refuse interpreters older than 3.9 before touching anything.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "scripts", "build")
INSTALL = os.path.join(ROOT, "scripts", "install")
NODE_PYTHON = "/usr/bin/python3"
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
PYTHON_38 = os.path.join(PYENV, "versions", "3.8.18", "bin", "python3")
PYTHON_39 = os.path.join(PYENV, "versions", "3.9.18", "bin", "python3")


def script(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one of the scripts with the interpreter running the tests (3.9 … 3.13)."""
    proc = subprocess.run([sys.executable] + list(args), capture_output=True, text=True,
                          timeout=300)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def build(out: Path, python: str = NODE_PYTHON) -> Path:
    script(BUILD, "--python", python, "--out", str(out))
    return out


def cni_version(plugin: Path) -> dict[str, object]:
    """Run the file directly (its shebang) for VERSION, with nothing but CNI_COMMAND set."""
    proc = subprocess.run([str(plugin)], env={"CNI_COMMAND": "VERSION"}, capture_output=True,
                          text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dist") / "humanz-cni")


def require_python(path: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not installed (pyenv), so this interpreter cannot be tried" % path)
    return path


# --- build --------------------------------------------------------------------------------

def test_build_makes_one_executable_zip_of_bytecode(dist: Path) -> None:
    mode = dist.stat().st_mode
    assert stat.S_ISREG(mode) and mode & 0o111 == 0o111
    with zipfile.ZipFile(dist) as z:
        names = z.namelist()
    assert "__main__.pyc" in names and "hz.pyc" in names
    assert {"humanz/__init__.pyc", "humanz/cni/skel.pyc", "humanz/bridge.pyc"} <= set(names)
    assert not any(n.startswith("humanz/agent/") for n in names)      # the plugin never runs it
    assert all(n.endswith(".pyc") for n in names), [n for n in names if not n.endswith(".pyc")]
    assert not any("__pycache__" in n or "/tests/" in n or n.startswith("tests/")
                   for n in names)


def test_shebang_is_the_absolute_interpreter_isolated_without_site(dist: Path) -> None:
    with open(dist, "rb") as f:
        first = f.readline()
    # Linux hands everything after the interpreter to it as ONE argument, so the flags -I, -S
    # and -c with its code are written as the single word -IScCODE.
    assert first.startswith(b"#!" + NODE_PYTHON.encode() + b" -ISc")
    assert first.endswith(b";import hz\n")
    # kernels before 5.1 read 128 bytes of the line (BINPRM_BUF_SIZE): it must fit whole
    assert len(first.rstrip(b"\n")) <= 127, len(first)


def shebang_argv(plugin: Path) -> list[str]:
    """The argv Linux builds from the file's shebang line: interpreter, one word, the file."""
    with open(plugin, "rb") as f:
        interpreter, word = f.readline()[2:].rstrip(b"\n").decode().split(" ", 1)
    return [interpreter, word, str(plugin)]


def test_the_shebang_start_skips_runpy(dist: Path) -> None:
    """Started by its shebang, Python runs the -c code: it imports ``hz`` from the zip, never
    runpy (which running a zip through its __main__ costs, ~4 ms of imports)."""
    argv = shebang_argv(dist)
    proc = subprocess.run(argv[:1] + ["-X", "importtime"] + argv[1:], capture_output=True,
                          text=True, env={"CNI_COMMAND": "VERSION"}, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    assert {"hz", "humanz.cni.skel"} <= modules and "runpy" not in modules, sorted(modules)
    assert json.loads(proc.stdout)["cniVersion"] == "1.1.0"


def test_the_file_runs_as_an_argument_of_its_interpreter(dist: Path) -> None:
    """``python3 FILE`` (not through the shebang) runs the zip's __main__: the same plugin."""
    proc = subprocess.run([NODE_PYTHON, "-I", "-S", str(dist)], env={"CNI_COMMAND": "VERSION"},
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == cni_version(dist)


def test_the_file_starts_without_proc(dist: Path) -> None:
    """No /proc (an empty tmpfs over it, in a private mount namespace): the pinned path finds
    nothing and the modules come from the file by name, as in a plain zipapp."""
    for argv in ([str(dist)], [NODE_PYTHON, "-I", "-S", str(dist)]):
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               'mount -t tmpfs hzt-noproc /proc && exec "$@"', "sh"] + argv,
                              env={"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=60, cwd="/")
        assert proc.returncode == 0, (argv, proc.stderr)
        assert json.loads(proc.stdout)["cniVersion"] == "1.1.0"


def test_the_file_answers_version_with_an_empty_environment(dist: Path) -> None:
    answer = cni_version(dist)
    assert answer["cniVersion"] == "1.1.0"
    versions = answer["supportedVersions"]
    assert isinstance(versions, list) and {"0.3.1", "0.4.0", "1.0.0", "1.1.0"} <= set(versions)


def test_isolated_mode_ignores_python_variables_and_site(dist: Path, tmp_path: Path) -> None:
    """A PYTHONPATH holding a broken ``humanz`` and a ``sitecustomize`` must change nothing."""
    poison = tmp_path / "poison"
    (poison / "humanz").mkdir(parents=True)
    (poison / "humanz" / "__init__.py").write_text("raise SystemExit('poisoned humanz')\n")
    (poison / "sitecustomize.py").write_text("raise SystemExit('sitecustomize ran')\n")
    env = {"CNI_COMMAND": "VERSION", "PYTHONPATH": str(poison), "PYTHONSTARTUP": "/dev/null",
           "PYTHONHOME": str(poison)}
    proc = subprocess.run([str(dist)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "supportedVersions" in json.loads(proc.stdout)


def test_build_is_reproducible(dist: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again")
    assert again.read_bytes() == dist.read_bytes()


def test_bytecode_is_compiled_by_the_target_interpreter(tmp_path: Path) -> None:
    """Built for 3.9, the file names 3.9 and runs; 3.11's bytecode would not load in it."""
    python = require_python(PYTHON_39)
    out = build(tmp_path / "humanz-cni", python=python)
    assert out.read_bytes().startswith(b"#!" + python.encode() + b" -ISc")
    assert cni_version(out)["cniVersion"] == "1.1.0"


def test_build_refuses_python_older_than_3_9(tmp_path: Path) -> None:
    python = require_python(PYTHON_38)
    proc = script(BUILD, "--python", python, "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0 and "3.9" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_build_refuses_a_relative_interpreter(tmp_path: Path) -> None:
    proc = script(BUILD, "--python", "python3", "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0 and "absolute" in proc.stderr
    assert not (tmp_path / "x").exists()


# --- install ------------------------------------------------------------------------------

def install(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return script(INSTALL, "--bin-dir", str(tmp_path / "bin"), "--conf-dir",
                  str(tmp_path / "net.d"), *args, check=check)


def test_install_then_uninstall(dist: Path, tmp_path: Path) -> None:
    install(tmp_path, "--dist", str(dist), "--subnet", "100.64.7.0/24",
            "--network", "100.64.0.0/16", "--bridge", "hztbr0", "--name", "hztnet")
    plugin = tmp_path / "bin" / "humanz-cni"
    conflist_path = tmp_path / "net.d" / "10-humanz.conflist"
    assert plugin.read_bytes() == dist.read_bytes()
    assert stat.S_IMODE(plugin.stat().st_mode) == 0o755
    assert cni_version(plugin)["cniVersion"] == "1.1.0"
    conf = json.loads(conflist_path.read_text())
    assert conf["name"] == "hztnet" and conf["cniVersion"] == "1.0.0"
    assert conf["plugins"] == [{"type": "humanz-cni", "bridge": "hztbr0", "isGateway": True,
                                "isDefaultGateway": True, "subnet": "100.64.7.0/24",
                                "network": "100.64.0.0/16"}]
    assert sorted(os.listdir(tmp_path / "bin")) == ["humanz-cni"]     # no temporary file left

    install(tmp_path, "--uninstall")
    assert not plugin.exists() and not conflist_path.exists()
    install(tmp_path, "--uninstall")                                   # nothing there: fine


def test_install_keeps_an_existing_conflist(dist: Path, tmp_path: Path) -> None:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    mine = '{"cniVersion": "1.0.0", "name": "edited-by-hand", "plugins": []}\n'
    (conf_dir / "10-humanz.conflist").write_text(mine)
    proc = install(tmp_path, "--dist", str(dist), "--subnet", "100.64.8.0/24")
    assert "kept" in proc.stdout
    assert (conf_dir / "10-humanz.conflist").read_text() == mine
    assert (tmp_path / "bin" / "humanz-cni").exists()


def test_install_checks_its_flags_before_changing_anything(dist: Path, tmp_path: Path) -> None:
    for flags, complaint in ((["--subnet", "100.64.9.1/24"], "host bits"),
                             (["--subnet", "100.64.9.0/24", "--network", "100.65.0.0/16"],
                              "not inside"),
                             ([], "--subnet is required")):
        proc = install(tmp_path, "--dist", str(dist), *flags, check=False)
        assert proc.returncode == 1 and complaint in proc.stderr, proc.stderr
        assert not (tmp_path / "bin").exists() and not (tmp_path / "net.d").exists()


def test_install_refuses_python_older_than_3_9(tmp_path: Path) -> None:
    python = require_python(PYTHON_38)
    proc = install(tmp_path, "--python", python, "--subnet", "100.64.9.0/24", check=False)
    assert proc.returncode == 1
    assert "3.9" in proc.stderr and "3.8" in proc.stderr, proc.stderr
    assert not (tmp_path / "bin").exists() and not (tmp_path / "net.d").exists()


def test_install_refuses_a_file_built_for_another_interpreter(dist: Path,
                                                              tmp_path: Path) -> None:
    python = require_python(PYTHON_39)
    proc = install(tmp_path, "--dist", str(dist), "--python", python,
                   "--subnet", "100.64.9.0/24", check=False)
    assert proc.returncode == 1 and "built for %s" % NODE_PYTHON in proc.stderr, proc.stderr
    assert not (tmp_path / "bin" / "humanz-cni").exists()


def test_install_replaces_the_file_atomically(dist: Path, tmp_path: Path) -> None:
    """The new file arrives by rename: a process holding the old one keeps reading the old
    bytes (it was not rewritten in place) and no temporary file is left beside it."""
    other = build(tmp_path / "other", python=same_interpreter_other_path())
    install(tmp_path, "--dist", str(dist), "--subnet", "100.64.9.0/24")
    plugin = tmp_path / "bin" / "humanz-cni"
    old_bytes = plugin.read_bytes()
    with open(plugin, "rb") as held:
        old_inode = os.fstat(held.fileno()).st_ino
        install(tmp_path, "--dist", str(other), "--python", other_python(other))
        assert held.read() == old_bytes
    assert plugin.stat().st_ino != old_inode
    assert plugin.read_bytes() == other.read_bytes()
    assert sorted(os.listdir(tmp_path / "bin")) == ["humanz-cni"]


def test_a_running_plugin_survives_an_upgrade(dist: Path, tmp_path: Path) -> None:
    """The plugin imports lazily and zipimport reopens its archive by name: without the pin
    in the shebang's code a process that outlives an install would read the new file at the
    old offsets. Here a plugin blocks on stdin, a different build is installed over it, then
    it gets its config: its answer must equal that of a run with no upgrade in between."""
    other = build(tmp_path / "other", python=same_interpreter_other_path())
    install(tmp_path, "--dist", str(dist), "--subnet", "100.64.9.0/24")
    plugin = str(tmp_path / "bin" / "humanz-cni")
    config = json.dumps({"cniVersion": "1.0.0", "name": "hztnet", "type": "humanz-cni",
                         "bridge": "hztbrx", "ipam": {"type": "humanz", "ranges": [[
                             {"subnet": "100.64.9.1/24"}]]}})     # host bits set: refused
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "hzt-upgrade", "CNI_IFNAME": "eth0",
           "CNI_NETNS": "/run/netns/hzt-does-not-exist", "CNI_PATH": "/nonexistent"}

    def answer(upgrade: bool) -> tuple[int, str, str]:
        proc = subprocess.Popen([plugin], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until_it_holds(proc.pid, plugin)
            if upgrade:
                install(tmp_path, "--dist", str(other), "--python", other_python(other))
            out, err = proc.communicate(config, timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        return proc.returncode, out, err

    before = answer(upgrade=False)
    assert before[0] == 1 and json.loads(before[1])["code"] != 999, before
    assert answer(upgrade=True) == before


def wait_until_it_holds(pid: int, path: str) -> None:
    """Wait (bounded) until process ``pid`` has ``path`` open: the shebang's code has run."""
    for _ in range(1000):
        try:
            links = [os.readlink("/proc/%d/fd/%s" % (pid, fd))
                     for fd in os.listdir("/proc/%d/fd" % pid)]
        except OSError:
            links = []
        if path in links:
            return
        time.sleep(0.01)
    raise AssertionError("the plugin never opened its own file %s" % path)


def same_interpreter_other_path() -> str:
    """Another absolute path of the node's interpreter (/usr/bin/python3 → python3.X): a
    build for it has other bytes (its shebang) but loads in the same Python."""
    real = os.path.realpath(NODE_PYTHON)
    if real == NODE_PYTHON:
        pytest.skip("%s is not a symlink: no second path to the same interpreter" % NODE_PYTHON)
    return real


def other_python(built: Path) -> str:
    with open(built, "rb") as f:
        return f.readline()[2:].split()[0].decode()
