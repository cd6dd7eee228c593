"""The exceptions the IPAM raises, one class per thing an operator has to do differently.

Every class carries ``code``: the CNI error code the plugin should answer with (spec codes and
humanz's own, see docs/architecture.md). The plugin may map them differently (STATUS answers 50
for both an exhausted range and an unusable store), but the default is here, next to the cause.
"""

from __future__ import annotations


class IPAMError(Exception):
    """Base class: anything the IPAM refuses. ``str(err)`` is a sentence for an operator."""

    code = 999

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RangeError(IPAMError):
    """A range in the configuration is invalid; ``field`` is named as in host-local's schema
    (``subnet``, ``rangeStart``, ``rangeEnd``, ``gateway``, or ``ranges`` for a whole set)."""

    code = 7  # CNI: invalid network configuration

    def __init__(self, field: str, message: str) -> None:
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.detail = message


class ExhaustedError(IPAMError):
    """A range set has no free address left."""

    code = 101


class ConflictError(IPAMError):
    """A requested address is outside the configured ranges, is taken, or clashes with what
    the attachment already holds."""

    code = 102


class StoreError(IPAMError):
    """The on-disk store cannot be created, read, written or locked (or the network name
    cannot become a directory name)."""

    code = 5  # CNI: I/O failure
