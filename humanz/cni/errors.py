"""CNIError: the one exception that becomes a CNI error object on stdout, and the codes.

The spec (CNI 1.1.0, "Error") reserves codes 1-99; humanz's own codes start at 100 and are
listed in docs/architecture.md. A plugin answers every failure with
``{"cniVersion", "code", "msg", "details"}`` on stdout and a non-zero exit status.
"""

from __future__ import annotations

# Codes defined by the CNI specification 1.1.0.
INCOMPATIBLE_VERSION = 1   # the config's cniVersion is not one we speak, or forbids the command
UNSUPPORTED_FIELD = 2      # a config field has a value we understand but do not support
UNKNOWN_CONTAINER = 3      # container unknown or gone
INVALID_ENV = 4            # a CNI_* environment variable is missing or invalid (name it)
IO_FAILURE = 5             # reading or writing a file failed
DECODING_FAILURE = 6       # stdin is not JSON (or not a JSON object)
INVALID_CONFIG = 7         # the network configuration is invalid (name the field)
TRY_AGAIN_LATER = 11       # transient: the runtime may retry
NOT_AVAILABLE = 50         # STATUS: the plugin cannot serve an ADD now
NOT_AVAILABLE_LOSING = 51  # STATUS: ... and existing containers may lose connectivity

# humanz's own codes (docs/architecture.md, "Error codes the plugin returns").
KERNEL = 100               # the kernel refused a network operation
EXHAUSTED = 101            # no free address in a range
ADDRESS_UNAVAILABLE = 102  # a requested address is outside the ranges or taken
IFNAME_EXISTS = 103        # CNI_IFNAME already exists in the container
DELEGATE_FAILED = 104      # a delegated IPAM plugin could not be run or returned garbage
CHECK_FAILED = 105         # CHECK: the container's network differs from prevResult
INTERNAL = 999             # a bug in humanz; the traceback is in the log file


class CNIError(Exception):
    """A failure with its CNI error code, a one-line message and optional details."""

    __slots__ = ("code", "msg", "details")

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_dict(self, cni_version: str) -> dict[str, object]:
        """The error object the spec defines, in the version the caller speaks."""
        return {"cniVersion": cni_version, "code": self.code, "msg": self.msg,
                "details": self.details}

    def __repr__(self) -> str:
        return "CNIError(%d, %r, %r)" % (self.code, self.msg, self.details)
