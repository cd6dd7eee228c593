"""humanz's built-in IPAM: host-local-style ranges and an on-disk, lock-protected store.

Modules, each usable on its own: ``addr`` (IP text ⇄ int), ``ranges`` (canonical ranges),
``store`` (the files under ``<dataDir>/<network>/``), ``allocator`` (allocate / release / held /
gc / status), ``errors``. Nothing is imported here, so ``import humanz.ipam.addr`` stays cheap.
"""

from __future__ import annotations
