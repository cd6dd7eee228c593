"""The plugin's trace mode: write down, byte by byte, what one operation did.

Off by default, and free when off: humanz.bridge imports this module only when the config
says ``"trace": "/path/file"`` (or ``true``: ``<logFile>.trace``) or the environment has
``HUMANZ_TRACE=/path/file`` (or ``HUMANZ_TRACE=1``: the same file as ``true``) — the
environment wins, for a one-off trace without editing the config.

A trace records, in order, everything the operation was given and did:

- how the runtime ran the plugin: its ``CNI_*`` environment and the config on stdin;
- every named step of humanz.bridge (``step  ensure bridge cni0``);
- each netlink socket it opened, and in which network namespace it lives;
- every netlink message sent and received, as :func:`humanz.netlink.explain.explain` shows
  it (the one formatter the CLI's ``--explain`` and the docs use too);
- the IPAM's decisions and every sysctl written, at the moment they happen;
- the result (or the error) and how long it all took.

A note line is a keyword padded to 6 columns and its text; a netlink dump starts with
``send (NAMESPACE)`` or ``recv (NAMESPACE)``, where NAMESPACE is ``host`` for the plugin's
own namespace or the container's path. The messages are kept as bytes and explained only at
the end, so tracing hardly changes the timing of what it watches; the whole trace of an
operation is then appended in one write, so traces of concurrent pods never interleave.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Tuple, Union

    from humanz.netlink.uapi import ProtocolSchema

    # a note line, or a datagram: (direction, label, bytes, its protocol if not rtnetlink)
    Event = Union[str, Tuple[str, str, bytes, Optional[ProtocolSchema]]]

HOST = "host"          # how a socket in the plugin's own namespace is labelled
ON_WORDS = ("1", "true", "yes", "on")


def target(config_trace: str, env: Mapping[str, str], log_file: str) -> str:
    """The file to trace into: HUMANZ_TRACE if set (a path, or 1 for the config's default),
    else the config's ``trace``; "" when tracing is off."""
    from humanz.cni.config import DEFAULT_LOG_FILE, TRACE_ENV, TRACE_SUFFIX
    wanted = env.get(TRACE_ENV, "")
    if wanted.startswith("/"):
        return wanted
    if wanted.lower() in ON_WORDS:
        return config_trace or (log_file or DEFAULT_LOG_FILE) + TRACE_SUFFIX
    return config_trace


class Trace:
    """The trace of one operation, collected in memory and written by :meth:`finish`."""

    __slots__ = ("path", "events", "started")

    def __init__(self, path: str, command: str) -> None:
        from humanz.log import timestamp
        self.path = path
        self.started = time.monotonic()
        self.events: list[Event] = []
        self.note("humanz", "%s at %s, pid %d" % (command, timestamp(time.time()),
                                                  os.getpid()))

    def note(self, word: str, text: str) -> None:
        """One line: ``word`` (step, ipam, sysctl, socket, ...) and what happened."""
        self.events.append("%-6s %s" % (word, text))

    def exec_env(self, env: Mapping[str, str], stdin: bytes) -> None:
        """How the runtime ran us: the CNI_* variables and the config it wrote to stdin."""
        for key in sorted(env):
            if key.startswith("CNI_"):
                self.note("exec", "%s=%s" % (key, env[key]))
        text = stdin.decode("utf-8", "replace").strip()
        self.note("stdin", text.replace("\r", " ").replace("\n", " "))  # one line

    def netlink(self, direction: str, label: str, data: bytes,
                protocol: ProtocolSchema | None = None) -> None:
        """The ``trace`` callable given to ``Rtnl`` (or any NetlinkSocket, which adds the
        protocol when it is not rtnetlink): one datagram, kept as bytes."""
        self.events.append((direction, label or HOST, bytes(data), protocol))

    def finish(self, outcome: str) -> None:
        """Note the outcome and the duration, explain the messages, append it all at once."""
        elapsed = (time.monotonic() - self.started) * 1000.0
        self.note("done", "%s (%.3f ms)" % (outcome, elapsed))
        from humanz import log
        log.append(self.path, self.render().encode("utf-8", "backslashreplace"))

    def render(self) -> str:
        """The whole trace as text; a blank line ends it."""
        from humanz.netlink.explain import explain
        lines = []
        for event in self.events:
            if isinstance(event, str):
                lines.append(event)
            else:
                direction, label, data, protocol = event
                if protocol is None:
                    lines.append(explain(data, direction, label))
                else:
                    lines.append(explain(data, direction, label, protocol))
        return "\n".join(lines) + "\n\n"
