"""Generate docs/netlink.md: the template docs/netlink.in.md with its byte examples filled in.

A line ``{{explain NAME [send|recv]}}`` in the template becomes the annotated dump, by
:func:`humanz.netlink.explain.explain` (the one formatter of the CLI's ``--explain`` and the
plugin's trace), of the bytes NAME: a fixture of tests/test_netlink_fixtures.py (which its
tests prove the codec encodes and decodes exactly), or one of the few messages built below
with :func:`humanz.netlink.codec.encode`; ``A+B`` is one datagram holding both. No root, no kernel: the fixtures are bytes.

Run: ``python3 scripts/gen_netlink_doc.py`` (rewrites docs/netlink.md) or ``--check`` (exit 1
if the committed file differs; tests/test_docs.py does this).
"""

from __future__ import annotations

import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

from humanz.netlink import codec, explain, uapi  # noqa: E402

TEMPLATE = os.path.join(REPO, "docs", "netlink.in.md")
OUTPUT = os.path.join(REPO, "docs", "netlink.md")
DIRECTIVE = re.compile(r"^\{\{explain ([\w+]+)(?: (send|recv))?\}\}$")


def built() -> dict[str, bytes]:
    """Examples that are no fixture: made here by the library's own encoder."""
    return {
        # one entry of a link dump that the kernel flagged: the table changed meanwhile
        "DUMP_INTR_ENTRY": codec.encode(
            uapi.RTM_NEWLINK, uapi.NLM_F_MULTI | uapi.NLM_F_DUMP_INTR, 7, {"ifi_index": 1},
            [("IFLA_IFNAME", "lo")]),
        # a link dump request: NLM_F_DUMP, and IFLA_EXT_MASK to leave the counters out
        "LINK_DUMP_REQUEST": codec.encode(
            uapi.RTM_GETLINK, uapi.NLM_F_REQUEST | uapi.NLM_F_ACK | uapi.NLM_F_DUMP, 7, {},
            [("IFLA_EXT_MASK", uapi.RTEXT_FILTER_SKIP_STATS)]),
    }


def example(name: str) -> bytes:
    examples = built()
    if name in examples:
        return examples[name]
    import test_netlink_fixtures as fixtures
    data = getattr(fixtures, name, None)
    if not isinstance(data, bytes):
        raise SystemExit("docs/netlink.in.md: no fixture or example called %s" % name)
    return data


def generate() -> str:
    with open(TEMPLATE, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = []
    for line in lines:
        m = DIRECTIVE.match(line)
        if m is None:
            out.append(line)
            continue
        name, direction = m.group(1), m.group(2) or ""
        data = b"".join(example(part) for part in name.split("+"))   # one datagram
        dump = explain.explain(data, direction)
        out.append("```text\n%s\n```" % dump)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        with open(OUTPUT, encoding="utf-8") as f:
            if f.read() != text:
                print("docs/netlink.md no longer matches the code: "
                      "run scripts/gen_netlink_doc.py", file=sys.stderr)
                return 1
        return 0
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
