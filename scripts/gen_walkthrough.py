"""Generate docs/walkthrough.md from a real ADD and DEL traced in throwaway namespaces.

The prose lives in docs/walkthrough.in.md; this script fills in what the code really did:

1. make two throwaway network namespaces, one standing in for the host (the plugin is exec'd
   inside it with ``ip netns exec``, so its bridge and sysctls never touch the real machine)
   and one for the pod;
2. run the plugin as a runtime does — ``CNI_*`` in the environment, the config on stdin — once
   with CNI_COMMAND=ADD and once with DEL, each with ``HUMANZ_TRACE`` pointing at a file;
3. read the trace back: its netlink dumps are turned back into bytes (and re-explained with
   :func:`humanz.netlink.explain.explain` to prove the trace used that one formatter);
4. replace what differs from run to run by fixed stand-ins, in the bytes themselves (MACs,
   netlink port ids, the random veth name) and in the text (namespace path, temporary
   directory, pid, time, durations), and explain the bytes again;
5. put each step's trace where the template asks for it: ``{{exec ADD}}``, ``{{stdin ADD}}``,
   ``{{result ADD}}``, ``{{done ADD}}``, and ``{{ADD: STEP}}`` (a whole step) or
   ``{{ADD: STEP #N}}`` (its N-th exchange: the notes before a request, the request and the
   kernel's answers). Every exchange of every step must appear exactly once, so a step the code
   gains or loses makes this script fail until the template says something about it.

Long kernel descriptions of a link (RTM_NEWLINK answers to RTM_GETLINK) are cut to the
attributes the plugin reads; everything the plugin *sends* is shown whole.

The page names the kernel release it was made on (``{{kernel}}``). The kernel's answers depend
on it, what the plugin sends does not: on another kernel, :func:`comparable` leaves out of the
comparison only what the answers say beyond their type, sequence numbers and error code.

Run as root: ``python3 scripts/gen_walkthrough.py`` (rewrites docs/walkthrough.md) or
``--check`` (exit 1 if the committed file differs; tests/test_docs.py does this).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Iterator, Union

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from humanz.netlink import codec, explain, uapi  # noqa: E402
from humanz.netlink.nf_uapi import NETFILTER  # noqa: E402

TEMPLATE = os.path.join(REPO, "docs", "walkthrough.in.md")
OUTPUT = os.path.join(REPO, "docs", "walkthrough.md")
TIMEOUT = 60

# What stands in for the parts that differ from run to run.
POD_NETNS = "/run/netns/pod"
TMP = "/tmp/walkthrough"
VETH = "vethXXXXXXXX"
FIRST_PORT_ID = 1000            # netlink port ids: 1000, 1001, ... in order of appearance
MAC_STANDINS = ["02:00:00:00:00:%02x" % i for i in range(1, 16)]
CONTAINER_ID = "f00dcafe" * 8

# The attributes of a kernel link description worth showing: what bridge.py reads.
LINK_KEEP = ("IFLA_IFNAME", "IFLA_MTU", "IFLA_LINK", "IFLA_MASTER", "IFLA_ADDRESS",
             "IFLA_LINKINFO", "IFLA_LINKINFO/IFLA_INFO_KIND")

LABEL_COLUMN = 33               # where explain's field names start on a dump line
DIRECTIVE = re.compile(r"^\{\{(.*)\}\}$")

# The line {{kernel}} becomes, and what of the kernel's answers is compared on another kernel.
KERNEL_LINE = "     Made on Linux %s (uname -r)."
KERNEL = re.compile(r"^     Made on Linux (\S+) \(uname -r\)\.$", re.M)
ANSWER_SIZE = re.compile(r", \d+ bytes$")
ANSWER_FIELDS = ("nlmsg_type", "nlmsg_seq", "error")


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------

def config(tmp: str) -> dict[str, object]:
    """The network config the runtime would hand over: the reference bridge plugin's fields,
    addresses from humanz's own IPAM."""
    return {
        "cniVersion": "1.1.0", "name": "podnet", "type": "humanz-cni", "bridge": "cni0",
        "isGateway": True, "isDefaultGateway": True,
        "ipam": {"type": "humanz", "ranges": [[{"subnet": "100.64.1.0/24"}]],
                 "dataDir": tmp + "/data"},
        "logFile": tmp + "/humanz-cni.log",
    }


def run_plugin(command: str, host: str, pod: str, tmp: str, trace: str) -> str:
    """Exec the plugin inside ``host`` as a runtime would; its stdout."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CNI_COMMAND": command,
           "CNI_CONTAINERID": CONTAINER_ID, "CNI_NETNS": "/run/netns/" + pod,
           "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin",
           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0",
           "HUMANZ_TRACE": trace}
    stdin = json.dumps(config(tmp), separators=(",", ":")).encode()
    cmd = ["ip", "netns", "exec", host, sys.executable, "-S", "-m", "humanz"]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, env=env, cwd=REPO,
                          timeout=TIMEOUT)
    if proc.returncode != 0:
        raise SystemExit("plugin %s failed: %r" % (command, proc))
    return proc.stdout.decode()


def traced_run() -> tuple[str, dict[str, str]]:
    """ADD then DEL in fresh namespaces; the trace text and the map of real → stand-in text."""
    tag = "hztwalk%d" % os.getpid()
    host, pod = tag + "h", tag + "p"
    with tempfile.TemporaryDirectory(prefix="hztwalk") as tmp:
        made = []
        try:
            for ns in (host, pod):
                _ip("netns", "add", ns)
                made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            # a new namespace copies the machine's IPv4 forwarding setting: start from off,
            # as on a fresh node, so the page shows the plugin turning it on
            _ip("netns", "exec", host, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward")
            trace = tmp + "/trace"
            run_plugin("ADD", host, pod, tmp, trace)
            run_plugin("DEL", host, pod, tmp, trace)
            with open(trace, encoding="utf-8") as f:
                text = f.read()
        finally:
            for ns in made:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                               timeout=TIMEOUT)
    return text, {"/run/netns/" + pod: POD_NETNS, tmp: TMP}


def _ip(*args: str) -> None:
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, timeout=TIMEOUT)


# --------------------------------------------------------------------------------------------
# Reading a trace back
# --------------------------------------------------------------------------------------------

class Note:
    """A trace line that is not a dump: ``word`` (step, ipam, ...) and its text."""

    def __init__(self, word: str, text: str) -> None:
        self.word = word
        self.text = text


class Datagram:
    """One netlink datagram of the trace, as bytes, and the protocol it was explained with."""

    def __init__(self, direction: str, label: str, data: bytes,
                 protocol: uapi.ProtocolSchema = uapi.ROUTE) -> None:
        self.direction = direction
        self.label = label
        self.data = data
        self.protocol = protocol


Event = Union[Note, Datagram]
TITLE = re.compile(r"^(send|recv) \((.*?)\) ")
# The netlink protocols the plugin speaks: rtnetlink always, nf_tables with ipMasq. A dump
# does not name its protocol; it is the one whose explanation of the bytes is the dump.
PROTOCOLS = (uapi.ROUTE, NETFILTER)


def parse(text: str) -> list[tuple[str, list[Event]]]:
    """The operations of a trace: (command, events), each dump checked against explain."""
    operations: list[tuple[str, list[Event]]] = []
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if not lines or not lines[0]:
            continue
        events = list(_events(lines))
        first = events[0]
        assert isinstance(first, Note) and first.word == "humanz", lines[0]
        operations.append((first.text.split()[0], events))
    return operations


def _events(lines: list[str]) -> Iterator[Event]:
    i = 0
    while i < len(lines):
        title = TITLE.match(lines[i])
        if title is None:
            word, _, rest = lines[i].partition(" ")
            yield Note(word, rest.lstrip(" "))
            i += 1
            continue
        # one datagram: its message blocks follow each other, offsets counting on
        start = i
        chunks: dict[int, bytes] = {}
        i += 1
        while i < len(lines) and (lines[i].startswith("  ") or _continues(lines, i)):
            if lines[i].startswith("  ") and lines[i][2:6].strip():
                chunks[int(lines[i][2:6], 16)] = bytes.fromhex(lines[i][8:31])
            i += 1
        data = b"".join(chunks[k] for k in sorted(chunks))
        direction, label = title.group(1), title.group(2)
        shown = "\n".join(lines[start:i])
        yield Datagram(direction, label, data, _protocol_of(data, direction, label, shown))


def _protocol_of(data: bytes, direction: str, label: str,
                 shown: str) -> uapi.ProtocolSchema:
    """The protocol whose explanation of ``data`` is exactly the dump ``shown``."""
    for protocol in PROTOCOLS:
        if explain.explain(data, direction, label, protocol) == shown:
            return protocol
    again = explain.explain(data, direction, label)
    raise AssertionError("the trace is not explain's output:\n%s\n---\n%s" % (shown, again))


def _continues(lines: list[str], i: int) -> bool:
    """A title line that continues the datagram before it (its next message)."""
    title = TITLE.match(lines[i])
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    return title is not None and nxt.startswith("  ") and nxt[2:6] != "0000"


# --------------------------------------------------------------------------------------------
# Stand-ins for what differs from run to run
# --------------------------------------------------------------------------------------------

class Normaliser:
    """Replaces run-specific values, consistently across bytes and text."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = dict(texts)           # real text → stand-in
        self.macs: dict[bytes, bytes] = {}
        self.ports: dict[int, int] = {}

    def learn(self, events: list[Event]) -> None:
        """Collect the MACs and port ids of one operation, in order of appearance (port ids
        count from FIRST_PORT_ID again in each operation: each is a new process)."""
        ports: set[int] = set()
        for e in events:
            if not isinstance(e, Datagram):
                continue
            for m in codec.decode(e.data, e.protocol):
                if m.pid and m.pid not in ports:
                    ports.add(m.pid)
                    self.ports[m.pid] = FIRST_PORT_ID + len(ports) - 1
                for mac in _macs(m.attrs):
                    if mac not in self.macs and mac not in (b"\0" * 6, b"\xff" * 6):
                        stand_in = MAC_STANDINS[len(self.macs)]
                        self.macs[mac] = codec.parse_mac(stand_in)
                        self.texts[":".join("%02x" % b for b in mac)] = stand_in

    def data(self, data: bytes, protocol: uapi.ProtocolSchema = uapi.ROUTE) -> bytes:
        out = bytearray(data)
        for m in codec.decode(data, protocol):
            if m.pid in self.ports:
                at = m.offset + 12          # nlmsg_pid
                out[at:at + 4] = self.ports[m.pid].to_bytes(4, sys.byteorder)
        for real, stand_in in self.macs.items():
            out = bytearray(bytes(out).replace(real, stand_in))
        return re.sub(rb"veth[0-9a-f]{8}", VETH.encode(), bytes(out))

    def text(self, text: str) -> str:
        for real, stand_in in self.texts.items():
            text = text.replace(real, stand_in)
        text = re.sub(r"veth[0-9a-f]{8}", VETH, text)
        text = re.sub(r" at \d{4}-\d\d-\d\dT[\d:.]+Z, pid \d+", " at TIME, pid PID", text)
        return re.sub(r"\(\d+\.\d+ ms\)", "(N ms)", text)


def _macs(attrs: codec.Attrs) -> Iterator[bytes]:
    for a in attrs:
        if a.name in ("IFLA_ADDRESS", "IFLA_PERM_ADDRESS") and isinstance(a.value, str):
            yield codec.parse_mac(a.value)


# --------------------------------------------------------------------------------------------
# Showing events
# --------------------------------------------------------------------------------------------

def show_datagram(d: Datagram, norm: Normaliser) -> str:
    text = explain.explain(norm.data(d.data, d.protocol), d.direction, norm.text(d.label),
                           d.protocol)
    if d.direction != "recv":
        return text
    blocks = re.split(r"\n(?=\S)", text)
    return "\n".join(_trim_link(b) if "RTM_NEWLINK" in b.split("\n")[0] else b
                     for b in blocks)


def _trim_link(block: str) -> str:
    """A kernel's link description, cut to the attributes in LINK_KEEP."""
    lines = block.split("\n")
    out = [lines[0]]
    path: list[str] = []          # the attribute a line belongs to, outermost first
    hidden = 0
    for line in lines[1:]:
        label = line[LABEL_COLUMN:LABEL_COLUMN + 34]
        name = label.strip()
        if name.startswith("IFLA_") and line[2:6].strip():
            depth = (len(label) - len(label.lstrip())) // 2
            path = path[:depth] + [name]
            hidden += depth == 0 and name not in LINK_KEEP
        if not path or "/".join(path) in LINK_KEEP:
            out.append(line)
    out.append("  ....  (%d more attributes of the link, not shown here)" % hidden)
    return "\n".join(out)


def chunks(events: list[Event]) -> dict[str, list[list[Event]]]:
    """Each step's events, cut into exchanges: notes, a request, the kernel's answers."""
    steps: dict[str, list[list[Event]]] = {}
    current: list[list[Event]] = []
    for e in events:
        if isinstance(e, Note) and e.word in ("result", "done"):
            break
        if isinstance(e, Note) and e.word == "step":
            current = steps.setdefault(e.text, [])
            current.append([])
            continue
        if not current:
            continue
        last = current[-1]
        if isinstance(e, Note) and any(isinstance(x, Datagram) for x in last) \
                or isinstance(e, Datagram) and e.direction == "send" \
                and any(isinstance(x, Datagram) for x in last):
            current.append([])
        current[-1].append(e)
    return {name: [c for c in cs if c] or [[]] for name, cs in steps.items()}


def show_events(events: list[Event], norm: Normaliser) -> str:
    parts = []
    for e in events:
        if isinstance(e, Note):
            parts.append(norm.text("%-6s %s" % (e.word, e.text)))
        else:
            parts.append(show_datagram(e, norm))
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------

def generate() -> str:
    """The walkthrough, from a fresh run."""
    text, texts = traced_run()
    operations = parse(text)
    norm = Normaliser(texts)
    for _, events in operations:
        norm.learn(events)
    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    return fill(template, operations, norm, kernel_release())


def kernel_release() -> str:
    return os.uname().release


def fill(template: str, operations: list[tuple[str, list[Event]]], norm: Normaliser,
         kernel: str) -> str:
    ops = {command: events for command, events in operations}
    steps = {command: {norm.text(k): v for k, v in chunks(events).items()}
             for command, events in operations}
    used: set[tuple[str, str, int]] = set()
    out = []
    for line in template.split("\n"):
        m = DIRECTIVE.match(line)
        if m is None:
            out.append(line)
            continue
        if m.group(1).strip() == "kernel":
            out.append(KERNEL_LINE % kernel)
            continue
        out.append(directive(m.group(1).strip(), ops, steps, used, norm))
    missing = ["%s: %s #%d" % key for key in sorted(
        (c, s, i + 1) for c, cs in steps.items() for s, parts in cs.items()
        for i in range(len(parts))) if (key[0], key[1], key[2] - 1) not in used]
    if missing:
        raise SystemExit("the template does not show: %s" % "; ".join(missing))
    return "\n".join(out)


def directive(text: str, ops: dict[str, list[Event]],
              steps: dict[str, dict[str, list[list[Event]]]],
              used: set[tuple[str, str, int]], norm: Normaliser) -> str:
    word, _, rest = text.partition(" ")
    if word in ("exec", "stdin", "result", "done"):
        notes = [e for e in ops[rest] if isinstance(e, Note) and e.word == word]
        if word == "exec":
            body = "\n".join(norm.text(n.text) for n in notes)
            return "```sh\n%s\n```" % body
        if word in ("stdin", "result"):
            pretty = json.dumps(json.loads(norm.text(notes[0].text)), indent=2)
            return "```json\n%s\n```" % pretty
        return "```text\n%s\n```" % norm.text("done   " + notes[0].text)
    command, _, step = text.partition(": ")
    step, _, which = step.partition(" #")
    parts = steps[command].get(step)
    if parts is None:
        raise SystemExit("the %s trace has no step %r (it has: %s)"
                         % (command, step, ", ".join(steps[command])))
    picked = range(len(parts)) if not which else [int(which) - 1]
    shown = []
    for i in picked:
        key = (command, step, i)
        if key in used:
            raise SystemExit("%s: %s #%d is shown twice" % key)
        used.add(key)
        shown.append(show_events(parts[i], norm))
    body = "\n".join(s for s in shown if s)
    return "```text\n%s\n```" % body if body else "(This step sends no netlink message.)"


# --------------------------------------------------------------------------------------------
# Comparing a committed page with a fresh one
# --------------------------------------------------------------------------------------------

def made_on(page: str) -> str | None:
    """The kernel release a page says it was made on."""
    m = KERNEL.search(page)
    return m.group(1) if m else None


def comparable(committed: str, fresh: str, kernel: str) -> tuple[str, str, str]:
    """The two pages as they must agree, and how they are compared.

    On the kernel the committed page was made on: whole. On another: less what depends on the
    kernel (:func:`kernel_independent`).
    """
    if made_on(committed) == kernel:
        return committed, fresh, "exactly"
    return (kernel_independent(committed), kernel_independent(fresh),
            "the kernel's answers by type, sequence numbers and error code only: the page was "
            "made on Linux %s, this is Linux %s" % (made_on(committed), kernel))


def kernel_independent(page: str) -> str:
    """``page`` without what the kernel decides: the kernel line, and of each ``recv`` dump
    all but its title (less the size) and its nlmsg_type, nlmsg_seq and error fields (also
    those of the request an error echoes). Text and ``send`` dumps stay as they are."""
    out = []
    in_answer = False
    for line in page.split("\n"):
        if KERNEL.match(line):
            out.append(KERNEL_LINE % "(any)")
        elif line.startswith("recv ("):
            in_answer = True
            out.append(ANSWER_SIZE.sub("", line))
        elif in_answer and line.startswith(" "):
            field = line[LABEL_COLUMN:].split(None, 1)
            if field and field[0] in ANSWER_FIELDS:
                out.append("  " + " ".join(field))
        else:
            in_answer = False
            out.append(line)
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = generate()
    if "--check" in argv:
        with open(OUTPUT, encoding="utf-8") as f:
            committed, fresh, how = comparable(f.read(), text, kernel_release())
        if committed != fresh:
            print("docs/walkthrough.md no longer matches what the code sends (compared %s): "
                  "run scripts/gen_walkthrough.py" % how, file=sys.stderr)
            return 1
        return 0
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
