"""One structured line per plugin operation, appended to the configured log file.

A line is a JSON object: time (UTC), level, command, containerID, netns, ifname, network,
result (``ok``/``error``), code/msg/details on failure, ips on ADD, durationMs, and for an
internal bug the traceback. Logging never fails an operation and never writes to stdout
(where the runtime reads the result) or stderr.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# O_APPEND makes each write(2) land at the end even with many plugin processes at once; one
# line is one write, so lines from concurrent pods never interleave.
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_MODE = 0o600  # container IDs and addresses are nobody else's business


def timestamp(now: float) -> str:
    """``2026-11-28T09:24:00.123Z``."""
    t = time.gmtime(now)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
        int((now % 1) * 1000))


def write(path: str, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` ("" disables); errors are swallowed."""
    if not path:
        return
    from humanz.cni.jsonlite import dumps
    try:
        line = (dumps(record) + "\n").encode("utf-8", "backslashreplace")
    except (ValueError, TypeError):
        return
    append(path, line)


def append(path: str, data: bytes) -> None:
    """Append ``data`` to ``path`` in one write(2), creating the file (and its directory)
    if needed; errors are swallowed. Also used by humanz.trace for a whole trace."""
    try:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            _make_dirs(directory)
        fd = os.open(path, _FLAGS, _MODE)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError:
        pass  # a full disk or a read-only /var/log must not fail a pod's network setup


def _make_dirs(directory: str) -> None:
    """``mkdir -p`` with 0755 for every level. (os.makedirs gives the missing parents 0777
    minus the umask: world-writable under a runtime with umask 0, which would let anyone
    swap the log file for a symlink the plugin then appends to as root.)"""
    parent = os.path.dirname(directory)
    if parent and parent != directory and not os.path.isdir(parent):
        _make_dirs(parent)
    try:
        os.mkdir(directory, 0o755)  # the umask can only take bits away: never world-writable
    except FileExistsError:
        pass  # another plugin process made it a moment ago


def operation(path: str, level: str, started: float, command: str, env: dict[str, str],
              network: str | None, error: Any = None, extra: dict[str, Any] | None = None,
              traceback_text: str | None = None) -> None:
    """Log one finished operation. ``error`` is a CNIError or None; ``level`` is the
    config's logLevel (``error`` logs failures only)."""
    if error is None and level == "error":
        return
    now = time.time()
    record: dict[str, Any] = {
        "time": timestamp(now),
        "level": "error" if error is not None else "info",
        "command": command,
        "containerID": env.get("CNI_CONTAINERID", ""),
        "netns": env.get("CNI_NETNS", ""),
        "ifname": env.get("CNI_IFNAME", ""),
    }
    if network:
        record["network"] = network
    if error is None:
        record["result"] = "ok"
    else:
        record["result"] = "error"
        record["code"] = error.code
        record["msg"] = error.msg
        if error.details:
            record["details"] = error.details
    if extra:
        record.update(extra)
    record["durationMs"] = round((time.monotonic() - started) * 1000.0, 3)
    if traceback_text:
        record["traceback"] = traceback_text
    write(path, record)
