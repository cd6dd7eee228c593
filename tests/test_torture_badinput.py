"""The bad-input corpus (torture_kit.bad_inputs, > 100 cases) and a fuzz of the config parser.

Every case must exit 1 with one CNI error object on stdout whose code is the expected one and
whose message names the problem, print nothing on stderr and no traceback, and change nothing:
host links, addresses, routes, the nftables ruleset, the store (every file's content) and the
target container are compared before and after. One node serves the whole corpus, with a
network already in use (a bridge, one container), so "nothing changed" is checked against a
live network rather than an empty host. tests/test_plugin_errors.py holds the first error
table (44 cases); this corpus does not repeat it but goes field by field, byte by byte.

The fuzz: hypothesis builds JSON-ish configs around a valid one (random values in every field
the parser reads, at every depth) and random CNI_ARGS, and drives humanz.cni.skel.prepare
(environment checks, version, CNI_ARGS, humanz.cni.config.parse) and Result.from_dict (the
prevResult reader): only CNIError with a valid code may escape, never another exception. The
netlink decoder has its own fuzz in tests/test_netlink_fuzz.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humanz.cni import args as cni_args
from humanz.cni import skel
from humanz.cni.errors import CNIError
from humanz.cni.result import Result
from plugin_harness import Node
from torture_kit import (VALID_CODES, BadInput, Sandbox, bad_inputs, make_scratch_files,
                         run_bad_input, settle)


class World:
    __slots__ = ("box", "node", "ns", "cases")

    def __init__(self, box: Sandbox, node: Node, ns: str, cases: list[BadInput]) -> None:
        self.box = box
        self.node = node
        self.ns = ns
        self.cases = cases


def _case_names() -> list[str]:
    """Case names for parametrize, from the corpus built against a stand-in node."""
    stand_in = Node("hztstandin", Path("/nonexistent"), lambda: "hztstandin")
    return [c.name for c in bad_inputs(stand_in, "hztstandin", Path("/nonexistent"))]


CASE_NAMES = _case_names()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("badinput")
    with Sandbox(tmp) as box:
        node = box.node()
        conf = node.conf()
        node.add(conf, box.make_netns())  # a network in use
        ns = box.make_netns()
        scratch = tmp / "scratch"
        make_scratch_files(node, scratch)
        cases = bad_inputs(node, ns, scratch)
        settle(node)
        assert [c.name for c in cases] == CASE_NAMES
        yield World(box, node, ns, cases)


def test_corpus_is_large() -> None:
    assert len(CASE_NAMES) >= 100 and len(set(CASE_NAMES)) == len(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input(world: World, name: str) -> None:
    case = next(c for c in world.cases if c.name == name)
    assert run_bad_input(world.node, world.ns, case) == []


# ---- fuzz -------------------------------------------------------------------------------------

VALID = {"cniVersion": "1.0.0", "name": "hztfuzz", "type": "humanz-cni", "bridge": "hztbr",
         "isGateway": True, "ipam": {"type": "humanz", "ranges": [[{"subnet": "100.64.1.0/24"}]],
                                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/nonexistent"}}

# Every key the parser reads, at the level it reads it.
TOP_KEYS = ["cniVersion", "cniVersions", "name", "type", "bridge", "isGateway",
            "isDefaultGateway", "forceAddress", "ipMasq", "mtu", "hairpinMode", "promiscMode",
            "portIsolation", "enabledad", "vlan", "vlanTrunk", "macspoofchk",
            "disableContainerInterface", "logFile", "logLevel", "dns", "ipam", "network",
            "subnet", "runtimeConfig", "args", "prevResult", "cni.dev/valid-attachments",
            "cni.dev/attachments", "mac"]
IPAM_KEYS = ["type", "subnet", "rangeStart", "rangeEnd", "gateway", "ranges", "routes",
             "dataDir", "resolvConf"]
RANGE_KEYS = ["subnet", "rangeStart", "rangeEnd", "gateway"]
RUNTIME_KEYS = ["ips", "mac", "ipRanges"]

ADDRESSY = st.sampled_from(["100.64.1.0/24", "100.64.1.5", "fd00::/64", "fd00::1", "0.0.0.0/0",
                            "::/0", "100.64.1.0/33", "x", "", "100.64.1.1", "1.0.0", "0.4.0",
                            "02:42:ac:11:00:02", "humanz", "eth0", "/", ".."])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False), st.text(max_size=20), ADDRESSY)
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8),
                                                           st.sampled_from(RANGE_KEYS)),
                                                 inner, max_size=4)), max_leaves=12)


def _mutate(keys: list[str]) -> Any:
    return st.dictionaries(st.sampled_from(keys), JSONISH, max_size=4)


@st.composite
def configs(draw: Any) -> Any:
    """A valid config with random values put in random places, or any JSON value at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSONISH)
    conf: dict[str, Any] = json.loads(json.dumps(VALID))
    conf.update(draw(_mutate(TOP_KEYS)))
    if isinstance(conf.get("ipam"), dict):
        conf["ipam"].update(draw(_mutate(IPAM_KEYS)))
        if draw(st.booleans()):
            conf["ipam"]["ranges"] = [[draw(_mutate(RANGE_KEYS))]]
    if draw(st.booleans()):
        conf["runtimeConfig"] = draw(_mutate(RUNTIME_KEYS))
    if draw(st.booleans()):
        conf["args"] = {"cni": draw(_mutate(["ips", "mac"]))}
    return conf


CNI_ARGS = st.one_of(st.text(max_size=30), st.lists(st.tuples(
    st.sampled_from(["IgnoreUnknown", "IP", "MAC", "K8S_POD_NAME", "X", ""]),
    st.one_of(ADDRESSY, st.text(max_size=8))), max_size=4).map(
        lambda pairs: ";".join("%s=%s" % p for p in pairs)))


def _env(command: str, args: str) -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": "hztfuzz", "CNI_NETNS": "/nonexistent",
            "CNI_IFNAME": "eth0", "CNI_PATH": "/nonexistent", "CNI_ARGS": args}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.sampled_from(["ADD", "DEL", "CHECK", "GC", "STATUS"]), CNI_ARGS)
def test_fuzz_config_parser(raw: Any, command: str, args: str) -> None:
    req = skel.Request(command, _env(command, args), json.dumps(raw).encode())
    try:
        conf = skel.prepare(req, raw)
    except CNIError as err:
        assert err.code in VALID_CODES and err.msg, err
        return
    if conf.prev_result is not None:  # what ADD and CHECK do with it next
        try:
            Result.from_dict(conf.prev_result, conf.cni_version, "prevResult")
        except ValueError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_stdin_bytes(data: bytes) -> None:
    req = skel.Request("ADD", _env("ADD", ""), data)
    try:
        skel.prepare(req, skel._try_decode(data))
    except CNIError as err:
        assert err.code in VALID_CODES, err


@settings(max_examples=300, deadline=None)
@given(JSONISH, st.sampled_from(["0.2.0", "0.4.0", "1.0.0", "1.1.0"]))
def test_fuzz_prev_result(raw: Any, version: str) -> None:
    try:
        Result.from_dict(raw, version, "prevResult")
    except ValueError:
        pass


@settings(max_examples=300, deadline=None)
@given(CNI_ARGS)
def test_fuzz_cni_args(text: str) -> None:
    try:
        cni_args.parse(text)
    except CNIError as err:
        assert err.code == 4 and "CNI_ARGS" in err.msg, err
