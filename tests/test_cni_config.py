"""Config parsing: the seed's shape, host-local's ipam schema, runtime overrides, errors."""

from __future__ import annotations

from typing import Any

import pytest

from humanz.cni import args, config
from humanz.cni.errors import CNIError

SEED = {"cniVersion": "0.3.1", "name": "humanz-cni", "type": "humanz-cni",
        "bridge": "humanz-cni0", "network": "100.100.0.0/16", "subnet": "100.100.1.0/24"}


def parse(raw: dict[str, Any], command: str = "ADD", cni_args: str = "") -> config.NetConf:
    return config.parse(raw, raw.get("cniVersion", "1.0.0"), command, args.parse(cni_args))


def error(raw: dict[str, Any], command: str = "ADD", cni_args: str = "") -> CNIError:
    with pytest.raises(CNIError) as exc:
        parse(raw, command, cni_args)
    return exc.value


def test_seed_config() -> None:
    conf = parse(SEED)
    assert (conf.name, conf.bridge, conf.network) == ("humanz-cni", "humanz-cni0",
                                                      "100.100.0.0/16")
    assert conf.is_gateway and conf.is_default_gateway
    assert conf.ipam.kind == "builtin" and conf.ipam.data_dir == "/run/humanz/networks"
    [[rng]] = conf.ipam.range_sets
    assert rng.describe() == "100.100.1.0/24 (100.100.1.1-100.100.1.254, gateway 100.100.1.1)"
    assert conf.log_file == "/var/log/humanz-cni.log" and conf.log_level == "info"


def test_seed_with_explicit_gateway_flags() -> None:
    conf = parse(dict(SEED, isGateway=False))
    assert not conf.is_gateway and not conf.is_default_gateway


def test_seed_subnet_must_be_inside_network() -> None:
    err = error(dict(SEED, subnet="100.101.1.0/24"))
    assert err.code == 7 and "subnet" in err.msg and "100.100.0.0/16" in err.msg


def test_subnet_and_ipam_together_refused() -> None:
    err = error(dict(SEED, ipam={"type": "humanz"}))
    assert err.code == 7 and err.msg.startswith("subnet:")


def test_reference_defaults() -> None:
    conf = parse({"cniVersion": "1.0.0", "name": "n", "type": "humanz",
                  "ipam": {"ranges": [[{"subnet": "100.64.0.0/24"}]]}})
    assert conf.bridge == "cni0" and not conf.is_gateway and not conf.is_default_gateway
    assert conf.mtu == 0 and conf.mac is None and conf.ipam.kind == "builtin"


def test_default_gateway_implies_gateway() -> None:
    conf = parse({"cniVersion": "1.0.0", "name": "n", "type": "t", "isDefaultGateway": True,
                  "ipam": {"subnet": "100.64.0.0/24"}})
    assert conf.is_gateway


def test_legacy_ipam_subnet_comes_first() -> None:
    conf = parse({"cniVersion": "1.0.0", "name": "n", "type": "t", "ipam": {
        "subnet": "100.64.0.0/24", "rangeStart": "100.64.0.10", "gateway": "100.64.0.254",
        "ranges": [[{"subnet": "fd00::/64"}]],
        "routes": [{"dst": "100.65.0.7/16"}, {"dst": "::/0", "gw": "fd00::1"}]}})
    first, second = conf.ipam.range_sets
    assert first[0].describe() == "100.64.0.0/24 (100.64.0.10-100.64.0.254, gateway 100.64.0.254)"
    assert second[0].family == 6
    assert [(r.cidr(), r.gw) for r in conf.ipam.routes] == [("100.65.0.0/16", None),
                                                            ("::/0", "fd00::1")]


@pytest.mark.parametrize("ipam", [None, {}])
def test_no_addressing_is_layer2(ipam: Any) -> None:
    raw: dict[str, Any] = {"cniVersion": "1.0.0", "name": "n", "type": "t"}
    if ipam is not None:
        raw["ipam"] = ipam
    assert parse(raw).ipam.kind == "none"


def test_delegated_ipam_is_not_parsed() -> None:
    conf = parse({"cniVersion": "1.0.0", "name": "n", "type": "t",
                  "ipam": {"type": "host-local", "ranges": "whatever host-local says"}})
    assert (conf.ipam.kind, conf.ipam.type) == ("delegate", "host-local")


def test_runtime_ip_ranges_replace_ranges() -> None:
    conf = parse({"cniVersion": "1.0.0", "name": "n", "type": "t",
                  "ipam": {"type": "humanz", "ranges": [[{"subnet": "100.64.0.0/24"}]]},
                  "runtimeConfig": {"ipRanges": [[{"subnet": "100.64.5.0/24"}]]}})
    assert [[r.subnet_text() for r in s] for s in conf.ipam.range_sets] == [["100.64.5.0/24"]]


def test_requested_ips_in_host_local_order() -> None:
    conf = parse(dict(SEED, args={"cni": {"ips": ["100.100.1.8/24", "100.100.1.7"]}},
                      runtimeConfig={"ips": ["100.100.1.9"]}), cni_args="IP=100.100.1.7")
    assert conf.ipam.requested_ips == ["100.100.1.7", "100.100.1.8", "100.100.1.9"]


def test_mac_precedence_runtime_config_wins() -> None:
    conf = parse(dict(SEED, args={"cni": {"mac": "02:00:00:00:00:02"}},
                      runtimeConfig={"mac": "02:00:00:00:00:03"}),
                 cni_args="MAC=02:00:00:00:00:01")
    assert conf.mac == "02:00:00:00:00:03"
    conf = parse(dict(SEED), cni_args="MAC=02:AA:00:00:00:01")
    assert conf.mac == "02:aa:00:00:00:01"


def test_bad_mac_in_cni_args_is_code_4() -> None:
    err = error(SEED, cni_args="MAC=zz")
    assert err.code == 4 and "CNI_ARGS MAC" in err.msg


def test_del_and_gc_ignore_ranges_and_unsupported_fields() -> None:
    broken = dict(SEED, subnet="100.100.1.5/24", ipMasq=True, vlan=3)
    for command in ("DEL", "GC"):
        conf = parse(broken, command)
        assert conf.ipam.kind == "builtin" and conf.ipam.range_sets == []
    assert error(broken, "ADD").code == 2  # vlan is refused (ipMasq is supported)


@pytest.mark.parametrize("field,value,code", [
    ("ipMasq", "yes", 7), ("vlan", 2, 2), ("vlanTrunk", [{"id": 1}], 2), ("macspoofchk", True, 2),
    ("disableContainerInterface", True, 2), ("mtu", 70000, 7), ("mtu", "1500", 7),
    ("bridge", "x" * 16, 7), ("bridge", "a:b", 7), ("forceAddress", 1, 7),
    ("logFile", 3, 7), ("logLevel", "trace", 7), ("dns", {"nameservers": "x"}, 7),
    ("prevResult", [], 7), ("network", "nope", 7), ("type", "", 7), ("name", "-x", 7)])
def test_field_errors(field: str, value: Any, code: int) -> None:
    err = error(dict(SEED, **{field: value}))
    assert err.code == code and field in err.msg, err


def test_dns_and_logging_fields() -> None:
    conf = parse(dict(SEED, dns={"nameservers": ["100.64.0.53"], "search": ["x"]},
                      logFile="", logLevel="error"))
    assert conf.dns is not None and conf.dns.nameservers == ["100.64.0.53"]
    assert (conf.log_file, conf.log_level) == ("", "error")


def test_gc_attachments() -> None:
    raw = dict(SEED, cniVersion="1.1.0", **{"cni.dev/valid-attachments": [
        {"containerID": "a", "ifname": "eth0"}, {"containerID": "b", "ifname": "net1"}]})
    assert parse(raw, "GC").valid_attachments == {("a", "eth0"), ("b", "net1")}
    assert parse(dict(SEED, cniVersion="1.1.0"), "GC").valid_attachments == set()


@pytest.mark.parametrize("name,ok", [("a", True), ("a.b-c_d", True), ("0", True), ("", False),
                                     ("_a", False), ("a b", False), ("a/b", False),
                                     ("é", False)])
def test_name_pattern(name: str, ok: bool) -> None:
    assert config.valid_name(name) is ok


@pytest.mark.parametrize("ifname,ok", [("eth0", True), ("e" * 15, True), ("e" * 16, False),
                                       ("", False), (".", False), ("..", False),
                                       ("a/b", False), ("a:b", False), ("a b", False),
                                       ("a\tb", False)])
def test_ifname_rules(ifname: str, ok: bool) -> None:
    assert (config.ifname_problem(ifname) is None) is ok
