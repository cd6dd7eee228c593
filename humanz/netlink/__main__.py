"""``python3 -m humanz.netlink``: run the ip-like command line (:mod:`humanz.netlink.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
