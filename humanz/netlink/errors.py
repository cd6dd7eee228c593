"""The two exceptions of humanz.netlink: bytes we cannot decode, and requests the kernel refused."""

from __future__ import annotations

import os


class DecodeError(ValueError):
    """A byte string is not a well-formed netlink message (truncated, bad length, bad value).

    ``offset`` is where in the buffer the problem was found. Decoding never raises anything
    else (no IndexError, no struct.error), whatever the input.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__("%s (at byte %d)" % (message, offset))
        self.offset = offset


class NetlinkError(OSError):
    """The kernel answered a request with an error.

    ``errno`` is the positive errno (as for any OSError), ``kernel_msg`` the kernel's
    extended-ACK text (NLMSGERR_ATTR_MSG) or None, ``kernel_offset`` the byte offset in our
    request of the attribute it objected to (NLMSGERR_ATTR_OFFS) or None, and ``doing`` a short
    description of what was being attempted, e.g. "add address 100.64.0.5/24 to eth0", and
    ``kernel_attr`` the name (path) of the attribute at ``kernel_offset``, e.g. "IFLA_IFNAME".
    """

    def __init__(self, errno: int, doing: str = "", kernel_msg: str | None = None,
                 kernel_offset: int | None = None, kernel_attr: str | None = None) -> None:
        super().__init__(errno, os.strerror(errno))
        self.doing = doing
        self.kernel_msg = kernel_msg
        self.kernel_offset = kernel_offset
        self.kernel_attr = kernel_attr

    def __str__(self) -> str:
        text = self.strerror or ("errno %s" % self.errno)
        if self.doing:
            text = "%s: %s" % (self.doing, text)
        if self.kernel_msg and self.kernel_attr:
            text += " (kernel: %s, at %s)" % (self.kernel_msg, self.kernel_attr)
        elif self.kernel_msg:
            text += " (kernel: %s)" % self.kernel_msg
        elif self.kernel_attr:
            text += " (kernel objected to %s)" % self.kernel_attr
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (NetlinkError, (self.errno, self.doing, self.kernel_msg, self.kernel_offset,
                               self.kernel_attr))
