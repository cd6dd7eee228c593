"""The pure CNI layer: versions, CNI_ARGS, the JSON shim, results in every spec version."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humanz.cni import args, jsonlite, version
from humanz.cni.errors import CNIError
from humanz.cni.result import DNS, Interface, IPConfig, Result, Route


# ---- versions ----------------------------------------------------------------------------

def test_version_answer_lists_every_supported_version() -> None:
    answer = json.loads(version.VERSION_ANSWER)
    assert answer == {"cniVersion": "1.1.0", "supportedVersions": [
        "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


@pytest.mark.parametrize("text", ["1.0", "1.0.0.0", "a.b.c", "", "1..0", "-1.0.0", "１.0.0"])
def test_version_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        version.parse(text)


def test_version_ordering_is_numeric() -> None:
    assert version.at_least("0.10.0", "0.4.0")
    assert not version.at_least("0.3.1", "0.4.0")
    assert version.at_least("1.1.0", "1.1.0")


@pytest.mark.parametrize("bad", ["0.5.0", "2.0.0", 1, None, ["1.0.0"]])
def test_unsupported_version_is_code_1(bad: object) -> None:
    with pytest.raises(CNIError) as exc:
        version.check_supported(bad)
    assert exc.value.code == 1


@pytest.mark.parametrize("command,ver,allowed", [
    ("CHECK", "0.3.1", False), ("CHECK", "0.4.0", True), ("GC", "1.0.0", False),
    ("GC", "1.1.0", True), ("STATUS", "0.4.0", False), ("STATUS", "1.1.0", True),
    ("ADD", "0.1.0", True), ("DEL", "0.1.0", True)])
def test_commands_refused_before_their_version(command: str, ver: str, allowed: bool) -> None:
    if allowed:
        version.check_command_allowed(command, ver)
    else:
        with pytest.raises(CNIError) as exc:
            version.check_command_allowed(command, ver)
        assert exc.value.code == 1 and command in exc.value.msg


def test_cni_versions_list_picks_newest_supported() -> None:
    assert version.choose(["0.3.1", "1.0.0", "9.9.9"]) == "1.0.0"
    with pytest.raises(CNIError) as exc:
        version.choose(["9.9.9"])
    assert exc.value.code == 1
    with pytest.raises(CNIError) as exc:
        version.choose("1.0.0")
    assert exc.value.code == 7


# ---- CNI_ARGS ----------------------------------------------------------------------------

def test_kubernetes_args_parse() -> None:
    parsed = args.parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;"
                        "K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u;Foo=bar")
    assert parsed.ignore_unknown
    assert parsed.get("K8S_POD_NAME") == "p"
    assert parsed.get("Foo") == "bar"


def test_ip_and_mac_args() -> None:
    parsed = args.parse("IP=100.64.0.5,fd00::5;MAC=02:00:00:00:00:01")
    assert parsed.ips == ["100.64.0.5", "fd00::5"]
    assert parsed.mac == "02:00:00:00:00:01"


def test_empty_args_and_trailing_semicolon() -> None:
    assert args.parse("").pairs == []
    assert args.parse("IP=100.64.0.5;").ips == ["100.64.0.5"]


@pytest.mark.parametrize("text,word", [("Foo=bar", "Foo"), ("IP", "IP"), ("=x", "=x"),
                                       ("IgnoreUnknown=maybe;Foo=1", "IgnoreUnknown"),
                                       ("IgnoreUnknown=0;Foo=1", "Foo")])
def test_bad_args_are_code_4_naming_cni_args(text: str, word: str) -> None:
    with pytest.raises(CNIError) as exc:
        args.parse(text)
    assert exc.value.code == 4
    assert "CNI_ARGS" in exc.value.msg and word in exc.value.msg


# ---- the JSON shim -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_jsonlite_round_trips_like_json(value: object) -> None:
    text = jsonlite.dumps(value)
    assert json.loads(text) == value
    assert jsonlite.loads(text) == value
    assert jsonlite.loads(json.dumps(value, indent=2)) == value


@pytest.mark.parametrize("text", ["", "  ", "{", '{"a":1', '{"a":1} x', "NaN", '{"a": NaN}',
                                  "[1,]", "'a'", '"\\x"', b"\xff\xfe"])
def test_jsonlite_rejects_with_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        jsonlite.loads(text)


def test_jsonlite_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError):
        jsonlite.dumps(float("nan"))
    with pytest.raises(TypeError):
        jsonlite.dumps({1: 2})
    with pytest.raises(TypeError):
        jsonlite.dumps(object())


# ---- results in every version ------------------------------------------------------------

def _dual_stack() -> Result:
    return Result(
        [Interface("hztbr0", "02:00:00:00:00:aa"), Interface("veth01234567", "02:00:00:00:00:bb"),
         Interface("eth0", "02:00:00:00:00:cc", "/run/netns/x", mtu=1400)],
        [IPConfig("100.64.0.5/24", "100.64.0.1", 2), IPConfig("fd00::5/64", "fd00::1", 2)],
        [Route("0.0.0.0/0", "100.64.0.1"), Route("::/0", "fd00::1"),
         Route("100.65.0.0/16", priority=10, table=100)],
        DNS(["100.64.0.53"], "example", ["example"], ["ndots:2"]))


def test_result_0_2_0_shape() -> None:
    out = _dual_stack().to_dict("0.2.0")
    assert out == {
        "cniVersion": "0.2.0",
        "ip4": {"ip": "100.64.0.5/24", "gateway": "100.64.0.1",
                "routes": [{"dst": "0.0.0.0/0", "gw": "100.64.0.1"}, {"dst": "100.65.0.0/16"}]},
        "ip6": {"ip": "fd00::5/64", "gateway": "fd00::1",
                "routes": [{"dst": "::/0", "gw": "fd00::1"}]},
        "dns": {"nameservers": ["100.64.0.53"], "domain": "example", "search": ["example"],
                "options": ["ndots:2"]}}


@pytest.mark.parametrize("ver", ["0.3.0", "0.3.1", "0.4.0"])
def test_result_0_3_shape_has_ip_versions(ver: str) -> None:
    out = _dual_stack().to_dict(ver)
    assert out["cniVersion"] == ver
    assert out["ips"] == [
        {"version": "4", "interface": 2, "address": "100.64.0.5/24", "gateway": "100.64.0.1"},
        {"version": "6", "interface": 2, "address": "fd00::5/64", "gateway": "fd00::1"}]
    assert out["interfaces"][2] == {"name": "eth0", "mac": "02:00:00:00:00:cc",
                                    "sandbox": "/run/netns/x"}
    assert out["routes"][2] == {"dst": "100.65.0.0/16"}


def test_result_1_0_0_drops_ip_version() -> None:
    out = _dual_stack().to_dict("1.0.0")
    assert all("version" not in ip for ip in out["ips"])
    assert "mtu" not in out["interfaces"][2]


def test_result_1_1_0_extras() -> None:
    out = _dual_stack().to_dict("1.1.0")
    assert out["interfaces"][2]["mtu"] == 1400
    assert out["routes"][2] == {"dst": "100.65.0.0/16", "priority": 10, "table": 100}


@pytest.mark.parametrize("ver", version.SUPPORTED)
def test_result_round_trips_through_every_version(ver: str) -> None:
    back = Result.from_dict(json.loads(json.dumps(_dual_stack().to_dict(ver))), ver)
    again = back.to_dict(ver)
    assert again == _dual_stack().to_dict(ver)


def test_empty_result_keeps_dns_and_drops_lists() -> None:
    assert Result().to_dict("1.0.0") == {"cniVersion": "1.0.0", "dns": {}}
    assert Result().to_dict("0.2.0") == {"cniVersion": "0.2.0", "dns": {}}


@pytest.mark.parametrize("raw,word", [
    ([], "object"), ({"ips": [{"address": "100.64.0.5"}]}, "ips[0].address"),
    ({"ips": [{"address": "100.64.0.5/24", "interface": 3}]}, "interface"),
    ({"ips": [{"address": "100.64.0.5/24", "version": "6"}]}, "version"),
    ({"routes": [{"gw": "100.64.0.1"}]}, "routes[0].dst"),
    ({"interfaces": [{"mac": "x"}]}, "interfaces[0].name"),
    ({"cniVersion": "7.0.0"}, "cniVersion"), ({"dns": {"nameservers": "x"}}, "nameservers")])
def test_result_from_dict_names_the_bad_field(raw: object, word: str) -> None:
    with pytest.raises(ValueError) as exc:
        Result.from_dict(raw, "1.0.0", "prevResult")
    assert word in str(exc.value)


def test_chained_result_shifts_interface_indexes() -> None:
    prev = Result([Interface("lo0")], [IPConfig("100.64.9.9/32", None, 0)])
    ours = Result([Interface("eth0", sandbox="/x")], [IPConfig("100.64.0.5/24", None, 0)])
    merged = ours.appended_to(prev).to_dict("1.0.0")
    assert [i["name"] for i in merged["interfaces"]] == ["lo0", "eth0"]
    assert [ip.get("interface") for ip in merged["ips"]] == [0, 1]
