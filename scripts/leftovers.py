"""After the test suite: fail if any test namespace, link or bridge port is left behind.

Tests name everything they create with the prefix ``hzt``; the plugin's host veths are
``veth`` + 8 hex and hang off test bridges. Exit 1 and list them if anything remains.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys


def main() -> int:
    problems: list[str] = []
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    for ns in json.loads(out or "[]"):
        if ns.get("name", "").startswith("hzt"):
            problems.append("namespace " + ns["name"])
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                      text=True, check=True).stdout)
    test_bridges = {l["ifname"] for l in links if l["ifname"].startswith("hzt")}
    for link in links:
        if link["ifname"].startswith("hzt"):
            problems.append("link " + link["ifname"])
        elif link.get("master") in test_bridges:
            problems.append("port %s of %s" % (link["ifname"], link["master"]))
        elif re.fullmatch(r"veth[0-9a-f]{8}", link["ifname"]):
            # the plugin's host-side veth name; nothing else on a test machine uses it
            problems.append("plugin veth " + link["ifname"])
    for p in problems:
        print("leftover:", p)
    print("leftovers: %d" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
