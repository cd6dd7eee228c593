"""The plugin's trace mode: off and free by default; on, every step, message, IPAM and sysctl.

The plugin runs in a throwaway host namespace (plugin_harness). A trace is read back with the
walkthrough generator's parser, which also checks that every dump in it is exactly what
``humanz.netlink.explain.explain`` prints for the bytes it shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from plugin_harness import REPO, Node, node  # noqa: F401
from test_imports import imported

from humanz import trace
from humanz.cni import args, config
from humanz.cni.errors import CNIError
from humanz.netlink import explain

sys.path.insert(0, str(REPO / "scripts"))
import gen_walkthrough  # noqa: E402

ADD_STEPS = ["check CNI_NETNS", "open netlink sockets", "check CNI_IFNAME", "reserve addresses",
             "ensure bridge", "create veth", "attach host end", "configure eth0 in the container",
             "enable forwarding"]


def read_trace(path: str) -> list[tuple[str, list[gen_walkthrough.Event]]]:
    with open(path, encoding="utf-8") as f:
        return gen_walkthrough.parse(f.read())


def notes(events: list[gen_walkthrough.Event], word: str) -> list[str]:
    return [e.text for e in events if isinstance(e, gen_walkthrough.Note) and e.word == word]


def datagrams(events: list[gen_walkthrough.Event]) -> list[gen_walkthrough.Datagram]:
    return [e for e in events if isinstance(e, gen_walkthrough.Datagram)]


# ---- off -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_off_by_default_imports_neither_trace_nor_explain(node: Node, command: str) -> None:
    ns = node.make_netns()
    conf = node.conf()
    if command == "DEL":
        node.add(conf, ns)
    modules = imported(command, conf, node, ns)
    assert "humanz.bridge" in modules
    assert "humanz.trace" not in modules and "humanz.netlink.explain" not in modules
    assert not list(node.tmp.glob("*.trace"))


# ---- on --------------------------------------------------------------------------------------

def test_env_var_traces_a_whole_add_in_order(node: Node) -> None:
    ns = node.make_netns()
    path = str(node.tmp / "one-off.trace")
    result = node.add(node.conf(), ns, env={"HUMANZ_TRACE": path})
    [(command, events)] = read_trace(path)
    assert command == "ADD"
    steps = notes(events, "step")
    assert [s for s in ADD_STEPS if not any(t.startswith(s) for t in steps)] == []
    assert [next(i for i, t in enumerate(steps) if t.startswith(s)) for s in ADD_STEPS] == \
        sorted(range(len(ADD_STEPS)))
    # how the runtime ran us
    assert "CNI_COMMAND=ADD" in notes(events, "exec")
    assert '"name": "%s"' % node.network in notes(events, "stdin")[0]
    # both sockets, each labelled with its namespace
    sockets = notes(events, "socket")
    assert any("host namespace" in s for s in sockets)
    assert any("/run/netns/" + ns in s for s in sockets)
    labels = {(d.direction, d.label) for d in datagrams(events)}
    assert labels == {("send", "host"), ("recv", "host"), ("send", "/run/netns/" + ns),
                      ("recv", "/run/netns/" + ns)}
    # the IPAM's decision and the sysctls, and where they sit among the steps
    [reserved] = notes(events, "ipam")
    assert reserved.startswith("reserved %s " % result["ips"][0]["address"])
    sysctls = notes(events, "sysctl")
    assert sysctls[0].startswith("net/ipv4/conf/eth0/arp_notify = 1")
    assert any(s.startswith("net/ipv4/ip_forward") for s in sysctls)
    order = [e.word + " " + e.text for e in events if isinstance(e, gen_walkthrough.Note)]
    assert order.index("ipam " + reserved) < order.index(
        next(o for o in order if o.startswith("step ensure bridge")))
    # the veth request carries the host's namespace fd
    veth = [d for d in datagrams(events) if d.direction == "send" and b"veth\0" in d.data]
    assert len(veth) == 1
    assert "IFLA_NET_NS_FD" in explain.explain(veth[0].data)
    # the end: the result the runtime got, and the outcome
    assert notes(events, "result")[0].startswith('{"cniVersion"')
    assert notes(events, "done")[0].startswith("ok (")


def test_trace_true_in_config_writes_next_to_the_log(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf(trace=True)
    node.add(conf, ns)
    assert node.delete(conf, ns).rc == 0
    ops = read_trace(node.log_file + ".trace")
    assert [command for command, _ in ops] == ["ADD", "DEL"]
    _, del_events = ops[1]
    assert notes(del_events, "step") == ["release addresses", "delete eth0"]
    assert notes(del_events, "ipam")[0].startswith("released ")
    sent = [d for d in datagrams(del_events) if d.direction == "send"]
    # RTM_GETNSID, RTM_GETLINK, RTM_DELLINK: all from the host's socket (IFLA_TARGET_NETNSID)
    assert [d.data[4] for d in sent] == [90, 18, 17]
    assert {d.label for d in sent} == {"host"}
    # the log itself stays one JSON object per line
    assert [line["command"] for line in node.log_lines()] == ["ADD", "DEL"]


def test_env_var_one_uses_the_configs_trace_file(node: Node) -> None:
    ns = node.make_netns()
    path = str(node.tmp / "configured.trace")
    node.add(node.conf(trace=path), ns, env={"HUMANZ_TRACE": "1"})
    assert [command for command, _ in read_trace(path)] == ["ADD"]


def test_a_failed_add_is_traced_with_its_error(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf()
    node.add(conf, ns)
    path = str(node.tmp / "failed.trace")
    out = node.run("ADD", conf, cid="another", netns="/run/netns/" + ns,
                   env={"HUMANZ_TRACE": path})
    assert out.code == 103, out
    [(_, events)] = read_trace(path)
    assert notes(events, "done")[0].startswith("error 103: interface eth0 already exists")
    assert notes(events, "result") == []


def test_check_is_traced(node: Node) -> None:
    ns = node.make_netns()
    conf = node.conf()
    result = node.add(conf, ns)
    path = str(node.tmp / "check.trace")
    out = node.run("CHECK", dict(conf, prevResult=result), cid="cid-" + ns,
                   netns="/run/netns/" + ns, env={"HUMANZ_TRACE": path})
    assert out.rc == 0, out
    [(command, events)] = read_trace(path)
    assert command == "CHECK" and "check interfaces" in notes(events, "step")
    assert datagrams(events)


def test_ipmasq_add_traces_the_nftables_batch(node: Node) -> None:
    """ipMasq's NETLINK_NETFILTER socket is traced like the rtnetlink ones, its datagrams
    explained with the nf_tables schema."""
    from humanz import ipmasq
    from humanz.netlink.nf_uapi import NETFILTER
    ns = node.make_netns()
    path = str(node.tmp / "masq.trace")
    conf = node.conf(ipMasq=True, network="100.64.0.0/20")
    result = node.add(conf, ns, env={"HUMANZ_TRACE": path})
    [(_, events)] = read_trace(path)
    assert any("NETLINK_NETFILTER" in s for s in notes(events, "socket"))
    nft = [d for d in datagrams(events) if d.protocol is NETFILTER]
    assert {(d.direction, d.label) for d in nft} == {("send", "host"), ("recv", "host")}
    # the batch that adds the rule: one datagram, begin ... new rule ... end
    [batch] = [d for d in nft if d.direction == "send"
               and "NFNL_MSG_BATCH_BEGIN" in explain.explain(d.data, protocol=NETFILTER)]
    dump = explain.explain(batch.data, "send", "host", NETFILTER)
    titles = [line.split(",")[0].split()[-1] for line in dump.split("\n")
              if line.startswith("send")]
    assert titles[0] == "NFNL_MSG_BATCH_BEGIN" and titles[-1] == "NFNL_MSG_BATCH_END"
    assert titles.count("NFT_MSG_NEWRULE") == 1
    assert ipmasq.comment(node.network, "cid-" + ns, "eth0").encode() in batch.data
    pod = result["ips"][0]["address"].split("/")[0]
    assert bytes(int(b) for b in pod.split(".")) in batch.data
    # the trace's dump is explain's, and it comes in the step that masquerades
    with open(path, encoding="utf-8") as f:
        assert dump in f.read()
    chunks = gen_walkthrough.chunks(events)
    assert batch in [e for part in chunks["masquerade pod addresses"] for e in part]


# ---- the pieces ------------------------------------------------------------------------------

def parse(raw: dict[str, object]) -> config.NetConf:
    return config.parse(raw, "1.1.0", "ADD", args.parse(""))


BASE: dict[str, object] = {"cniVersion": "1.1.0", "name": "n", "type": "humanz-cni",
                           "logFile": "/l/humanz.log"}


@pytest.mark.parametrize("value, expected", [
    (None, ""), (False, ""), ("", ""), (True, "/l/humanz.log.trace"), ("/t/x", "/t/x")])
def test_config_trace_field(value: object, expected: str) -> None:
    raw = dict(BASE)
    if value is not None:
        raw["trace"] = value
    assert parse(raw).trace == expected


@pytest.mark.parametrize("value", ["relative/path", 1, ["/x"]])
def test_config_trace_field_errors(value: object) -> None:
    with pytest.raises(CNIError) as exc:
        parse(dict(BASE, trace=value))
    assert exc.value.code == 7 and exc.value.msg.startswith("trace:")


@pytest.mark.parametrize("env, configured, expected", [
    ({}, "", ""), ({}, "/c", "/c"), ({"HUMANZ_TRACE": "/e"}, "/c", "/e"),
    ({"HUMANZ_TRACE": "1"}, "/c", "/c"), ({"HUMANZ_TRACE": "1"}, "", "/l.trace"),
    ({"HUMANZ_TRACE": "0"}, "", ""), ({"HUMANZ_TRACE": "0"}, "/c", "/c")])
def test_target(env: dict[str, str], configured: str, expected: str) -> None:
    assert trace.target(configured, env, "/l") == expected


def test_trace_renders_notes_and_explained_bytes(tmp_path: Path) -> None:
    from humanz.netlink import codec, uapi
    path = str(tmp_path / "t")
    t = trace.Trace(path, "ADD")
    t.exec_env({"CNI_COMMAND": "ADD", "HOME": "/root"}, b'{\n "name": "n"\n}\n')
    t.note("step", "ensure bridge cni0")
    data = codec.encode(uapi.RTM_GETLINK, uapi.NLM_F_REQUEST, 1, {}, [("IFLA_IFNAME", "cni0")])
    t.netlink("send", "", data)
    t.finish("ok")
    trace.Trace(path, "DEL").finish("ok")   # a second operation, appended to the same file
    text = Path(path).read_text()
    first = text.split("\n\n")[0].split("\n")
    assert first[1:4] == ["exec   CNI_COMMAND=ADD", 'stdin  {  "name": "n" }',
                          "step   ensure bridge cni0"]
    assert "\n".join(first[4:-1]) == explain.explain(data, "send", "host")
    assert first[-1].startswith("done   ok (")
    assert len(gen_walkthrough.parse(text)) == 2
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_trace_explains_other_protocols_with_their_schema(tmp_path: Path) -> None:
    """A NetlinkSocket of another protocol passes its schema as a 4th argument."""
    from humanz.netlink import codec
    from humanz.netlink.nf_uapi import NETFILTER, NFT_MSG_GETTABLE, nft_type
    data = codec.encode(nft_type(NFT_MSG_GETTABLE), 0x5, 1, {}, [], protocol=NETFILTER)
    path = str(tmp_path / "t")
    t = trace.Trace(path, "ADD")
    t.netlink("send", "", data, NETFILTER)
    t.finish("ok")
    text = Path(path).read_text()
    assert explain.explain(data, "send", "host", NETFILTER) in text
    assert "NFT_MSG_GETTABLE" in text
