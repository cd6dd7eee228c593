"""A netlink socket that sends requests, waits for ACKs, collects dumps, raises errors.

It speaks NETLINK_ROUTE unless given another protocol's schema
(``NetlinkSocket(protocol=nf_uapi.NETFILTER)``): the schema says which socket to open, which
options to turn on and how to encode and decode its messages.

Protocol rules this module enforces, so callers never have to:

- every request carries NLM_F_ACK, so success is an explicit NLMSG_ERROR with error 0;
- each request has its own sequence number; replies with any other number (stale answers to
  an earlier, abandoned request) are skipped;
- a dump is collected until NLMSG_DONE; errors may arrive in NLMSG_ERROR *or* (strict dumps)
  in NLMSG_DONE, and both become :class:`~humanz.netlink.errors.NetlinkError`;
- a dump flagged NLM_F_DUMP_INTR (the table changed while it was read) is redone, a bounded
  number of times;
- a datagram is read with MSG_TRUNC so a too-small buffer is detected, never silently
  truncated: the buffer grows and the dump is redone.

The socket asks for extended ACKs (the kernel's reason in words), capped ACKs (errors do not
echo our whole request) and, for rtnetlink, strict checking of dump requests. One sendto and
one recv per simple request.

Tracing: ``trace(direction, label, data)`` is called with every datagram sent ("send") and
received ("recv"); a socket of another protocol than NETLINK_ROUTE adds its schema as a 4th
argument, so the bytes can be explained in the right vocabulary (hooks written for rtnetlink
keep working unchanged).
"""

from __future__ import annotations

from errno import EINTR, EMSGSIZE

import _socket
TYPE_CHECKING = False   # (importing typing costs milliseconds; mypy treats this as True)

from . import codec, uapi
from .errors import NetlinkError
from .uapi import ROUTE

if TYPE_CHECKING:
    from typing import Callable, Iterable, List, Mapping, Optional

    from typing import TypeVar

    from .uapi import ProtocolSchema

    _Ops = TypeVar("_Ops", bound="NamespaceOperations")

    # trace(direction, label, data) — and the protocol's schema, for protocols other than ROUTE
    Trace = Callable[..., None]

MSG_TRUNC = 0x20               # <bits/socket.h>: recv returns the real datagram length
MSG_DONTWAIT = 0x40            # <bits/socket.h>: do not block when nothing is queued
DUMP_TRIES = 5                 # how often an interrupted (or truncated) dump is redone
RECV_BUFFER = 64 * 1024        # the kernel fills dump datagrams up to 32 KiB (plus overhead)


class _Truncated(Exception):
    """A datagram was bigger than our buffer (the buffer has been grown)."""


class NetlinkSocket:
    """One netlink socket of ``protocol`` (default NETLINK_ROUTE). It belongs to the namespace
    of the thread that made it."""

    __slots__ = ("_sock", "_seq", "_buf", "label", "trace", "protocol")

    def __init__(self, label: str = "", trace: Trace | None = None, *,
                 protocol: ProtocolSchema = ROUTE) -> None:
        sock = _socket.socket(uapi.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                              protocol.number)
        for option in protocol.socket_options:
            try:
                sock.setsockopt(uapi.SOL_NETLINK, option, 1)
            except OSError:   # a kernel too old for the option: work without it
                pass
        self._sock = sock
        self._seq = 0
        self._buf = bytearray(RECV_BUFFER)
        self.protocol = protocol    # the schema every message is encoded and decoded with
        self.label = label          # shown in traces, e.g. the namespace path
        self.trace = trace          # trace(direction, label, bytes) for every datagram

    # -- lifetime ------------------------------------------------------------------------------

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------

    def request(self, msg_type: int, flags: int = 0, fixed: Mapping[str, int] | None = None,
                attrs: Iterable[codec.Item] = (), doing: str = "") -> list[codec.Message]:
        """Send one request (NLM_F_REQUEST|NLM_F_ACK added) and return the replies before
        its ACK (none for NEW/DEL/SET, the object for a GET). Raises NetlinkError."""
        seq, sent = self._send(msg_type, flags | uapi.NLM_F_REQUEST | uapi.NLM_F_ACK, fixed,
                               attrs)
        replies: list[codec.Message] = []
        while True:
            for m in self._receive(doing):
                if m.seq != seq:
                    continue                      # a stale answer to an earlier request
                if m.type == uapi.NLMSG_ERROR:
                    raise_if_error(m, doing, sent)
                    return replies
                replies.append(m)

    def dump(self, msg_type: int, fixed: Mapping[str, int] | None = None,
             attrs: Iterable[codec.Item] = (), doing: str = "") -> list[codec.Message]:
        """Send a dump request and return every object, redoing the dump if the kernel says
        it was interrupted by a change (NLM_F_DUMP_INTR), at most DUMP_TRIES times."""
        items = list(attrs)
        for _ in range(DUMP_TRIES):
            result = self._dump_once(msg_type, fixed, items, doing)
            if result is not None:
                return result
        raise NetlinkError(EINTR, doing, "dump interrupted %d times in a row" % DUMP_TRIES)

    def _dump_once(self, msg_type: int, fixed: Mapping[str, int] | None,
                   attrs: list[codec.Item], doing: str) -> list[codec.Message] | None:
        """One dump; None if it was interrupted or truncated and must be redone."""
        flags = uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | uapi.NLM_F_DUMP
        seq, sent = self._send(msg_type, flags, fixed, attrs)
        objects: list[codec.Message] = []
        redo = False
        while True:
            try:
                messages = self._receive(doing, dumping=True)
            except _Truncated:
                # that datagram is lost; read the rest (the kernel refuses a new dump on this
                # socket until this one is finished) and redo it with the bigger buffer
                redo = True
                continue
            for m in messages:
                if m.seq != seq:
                    continue
                redo = redo or bool(m.flags & uapi.NLM_F_DUMP_INTR)
                if m.type in (uapi.NLMSG_DONE, uapi.NLMSG_ERROR):
                    raise_if_error(m, doing, sent)
                    return None if redo else objects
                objects.append(m)

    # -- the wire ------------------------------------------------------------------------------

    def _send(self, msg_type: int, flags: int, fixed: Mapping[str, int] | None,
              attrs: Iterable[codec.Item]) -> tuple[int, bytes]:
        seq = self.next_seqs(1)
        data = codec.encode(msg_type, flags, seq, fixed, attrs, protocol=self.protocol)
        self.send_bytes(data)
        return seq, data

    def next_seqs(self, count: int) -> int:
        """Reserve ``count`` consecutive sequence numbers; returns the first. (A batch of
        several messages in one datagram needs one number per message.)"""
        first = (self._seq + 1) & 0xFFFFFFFF
        self._seq = (self._seq + count) & 0xFFFFFFFF
        return first

    def send_bytes(self, data: bytes) -> None:
        """Send already-encoded messages (one datagram) to the kernel (port id 0)."""
        self._traced("send", data)
        self._sock.sendto(data, (0, 0))

    def _traced(self, direction: str, data: bytes) -> None:
        if self.trace is None:
            return
        if self.protocol is ROUTE:
            self.trace(direction, self.label, data)
        else:
            self.trace(direction, self.label, data, self.protocol)

    def recv_bytes(self) -> bytes:
        """Receive one datagram (one or more messages). Raises _Truncated if it did not fit."""
        n = self._sock.recv_into(self._buf, len(self._buf), MSG_TRUNC)
        if n > len(self._buf):
            self._buf = bytearray(codec.align(n) * 2)
            raise _Truncated(n)
        data = bytes(self._buf[:n])
        self._traced("recv", data)
        return data

    def drain(self) -> list[codec.Message]:
        """Every message already queued on the socket, without waiting for more.

        For batches: the kernel handles a datagram inside our ``sendto``, so when it returns
        every answer to it is already queued."""
        messages: list[codec.Message] = []
        for _ in range(100_000):                  # bounded: one datagram per answer at most
            try:
                n = self._sock.recv_into(self._buf, len(self._buf), MSG_DONTWAIT | MSG_TRUNC)
            except BlockingIOError:
                break
            data = bytes(self._buf[:min(n, len(self._buf))])
            self._traced("recv", data)
            messages.extend(codec.decode(data, self.protocol))
        return messages

    def _receive(self, doing: str, dumping: bool = False) -> list[codec.Message]:
        try:
            return codec.decode(self.recv_bytes(), self.protocol)
        except _Truncated as e:
            if dumping:
                raise
            raise NetlinkError(EMSGSIZE, doing, "reply of %s bytes did not fit" % e) from None


def raise_if_error(m: codec.Message, doing: str, request: bytes) -> None:
    """Turn an NLMSG_ERROR / NLMSG_DONE carrying a negative errno into NetlinkError, naming
    the attribute of ``request`` the kernel pointed at (NLMSGERR_ATTR_OFFS), if any."""
    if m.error is None or m.error >= 0:
        return
    offset = m.attrs.get_int("NLMSGERR_ATTR_OFFS")
    attr = None if offset is None else codec.attr_path_at(request, offset, m.protocol)
    raise NetlinkError(-m.error, doing, m.attrs.get_str("NLMSGERR_ATTR_MSG"), offset, attr)


class NamespaceOperations:
    """Base of the operation classes (``rtnl.Rtnl``, ``nftables.Nft``): one socket of
    ``socket_class`` that lives in network namespace ``ns`` (a path, an fd, or None for the
    caller's own), opened there by a short-lived thread (see ``netns.run_in``) so the caller's
    thread never changes namespace. ``_where`` (" in <ns>") ends the subclasses' error texts."""

    __slots__ = ("ns", "sock", "_where")
    socket_class: type[NetlinkSocket] = NetlinkSocket

    def __init__(self, ns: str | int | None = None, trace: Trace | None = None) -> None:
        self.ns = ns
        label = "" if ns is None else ("fd %d" % ns if isinstance(ns, int) else ns)
        self._where = " in " + label if label else ""
        if ns is None:
            self.sock = self.socket_class(label, trace)
        else:
            from . import netns
            self.sock = netns.run_in(ns, self.socket_class, label, trace)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self: _Ops) -> _Ops:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
