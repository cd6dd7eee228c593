"""``python3 -m humanz``: the CNI plugin (the same entry point as dist/humanz-cni)."""

from __future__ import annotations

import sys

from humanz.cni.skel import main

sys.exit(main())
