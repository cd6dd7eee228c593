"""Delegation: run another CNI plugin (an IPAM plugin such as host-local) from CNI_PATH.

As the spec (1.1.0, "Delegated plugins") describes it: the plugin is found by its ``type`` in
the CNI_PATH directories, executed with the same CNI_* environment as ours (CNI_COMMAND set
to the operation we delegate) and the same network config on stdin; it answers on stdout
with a result or an error object. Its stderr is ours (the runtime's log).

A delegate that reports a CNI error keeps its code (message prefixed with its name); one that
cannot be run, dies, or prints something that is not CNI JSON is code 104.
"""

from __future__ import annotations

import os

from humanz.cni.errors import DELEGATE_FAILED, CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

    from humanz.cni.result import Result

_CHUNK = 65536


def find(plugin: str, path: list[str]) -> str:
    """The first ``<dir>/<plugin>`` that is an executable file, searching CNI_PATH in order."""
    for directory in path:
        candidate = os.path.join(directory, plugin)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise CNIError(DELEGATE_FAILED, "ipam plugin %r not found in CNI_PATH" % plugin,
                   "searched: %s" % (":".join(path) or "(CNI_PATH is empty)"))


def execute(plugin: str, command: str, env: Mapping[str, str], path: list[str],
            stdin: bytes) -> bytes:
    """Run ``plugin`` for ``command``; its stdout on success, CNIError on failure."""
    exe = find(plugin, path)
    child_env = dict(env)
    child_env["CNI_COMMAND"] = command
    status, out = _spawn(exe, child_env, stdin)
    if status == 0:
        return out
    raise _error_from(plugin, command, status, out)


def read_result(plugin: str, out: bytes, cni_version: str) -> Result:
    """The result a delegate's successful ADD printed (any spec version). The caller runs
    ADD with ``execute`` and arranges the delegate's DEL before calling this: a delegate
    that answered garbage may still hold an address."""
    from humanz.cni.jsonlite import loads
    from humanz.cni.result import Result
    try:
        return Result.from_dict(loads(out), cni_version, "ipam result")
    except ValueError as err:
        raise CNIError(DELEGATE_FAILED, "ipam plugin %s returned an unusable result: %s"
                       % (plugin, err), _excerpt(out)) from None


def _spawn(exe: str, env: dict[str, str], stdin: bytes) -> tuple[int, bytes]:
    """posix_spawn ``exe`` with pipes on stdin/stdout; feed stdin while reading stdout (so a
    large config cannot deadlock); returns (exit status or -signal, stdout)."""
    import select
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = os.posix_spawn(exe, [exe], env, file_actions=[
            (os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1)])
    except OSError as err:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
        raise CNIError(DELEGATE_FAILED, "cannot run ipam plugin %s: %s"
                       % (exe, err.strerror or err)) from None
    os.close(in_r)
    os.close(out_w)
    chunks: list[bytes] = []
    pending = memoryview(stdin)
    writers = [in_w] if pending else []
    if not pending:
        os.close(in_w)
    readers = [out_r]
    while readers:
        readable, writable, _ = select.select(readers, writers, [])
        if writable:
            try:
                sent = os.write(in_w, pending[:_CHUNK])
                pending = pending[sent:]
            except BrokenPipeError:
                pending = pending[:0]  # it stopped reading; its answer says why
            if not pending:
                writers = []
                os.close(in_w)
        if readable:
            chunk = os.read(out_r, _CHUNK)
            if chunk:
                chunks.append(chunk)
            else:
                readers = []
    if writers:
        os.close(in_w)
    os.close(out_r)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), b"".join(chunks)


def _error_from(plugin: str, command: str, status: int, out: bytes) -> CNIError:
    from humanz.cni.jsonlite import loads
    how = "exit status %d" % status if status >= 0 else "signal %d" % -status
    try:
        raw = loads(out)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("code"), int) and not isinstance(
            raw.get("code"), bool) and isinstance(raw.get("msg"), str):
        details = raw.get("details")
        return CNIError(raw["code"], "ipam plugin %s: %s" % (plugin, raw["msg"]),
                        details if isinstance(details, str) else "")
    return CNIError(DELEGATE_FAILED, "ipam plugin %s failed on %s (%s) without a CNI error"
                    % (plugin, command, how), _excerpt(out))


def _excerpt(out: bytes) -> str:
    text = out.decode("utf-8", "replace").strip()
    return text if len(text) <= 300 else text[:300] + "..."
