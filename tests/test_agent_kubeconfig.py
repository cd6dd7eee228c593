"""The kubeconfig side of the agent: the YAML subset reader, kubeconfig and in-cluster loading."""

from __future__ import annotations

import base64
import json
import os
import ssl
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from humanz.agent import kubeconfig, kubeyaml
from fake_kube import make_certs

# What `kubeadm init` writes to /etc/kubernetes/admin.conf (data shortened).
KUBEADM_ADMIN_CONF = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTg==
    server: https://100.64.0.10:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
"""


def test_yaml_reads_a_kubeadm_kubeconfig() -> None:
    doc = kubeyaml.load(KUBEADM_ADMIN_CONF)
    assert doc == {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": "LS0tLS1CRUdJTg==",
                                  "server": "https://100.64.0.10:6443"},
                      "name": "kubernetes"}],
        "contexts": [{"context": {"cluster": "kubernetes", "user": "kubernetes-admin"},
                      "name": "kubernetes-admin@kubernetes"}],
        "current-context": "kubernetes-admin@kubernetes",
        "kind": "Config",
        "preferences": {},
        "users": [{"name": "kubernetes-admin",
                   "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}],
    }


def test_yaml_comments_quotes_booleans_and_indented_sequences() -> None:
    text = """\
---
# a comment line
clusters:   # trailing comment
  - name: "quoted # not a comment"
    cluster:
      server: 'https://h:1'   # comment
      insecure-skip-tls-verify: true
      note: 'it''s'
      empty: ""
      nothing: ~
      url: http://x/#frag
  -
    name: second
list:
- - nested
  - seq
"key with: colon": v
"""
    assert kubeyaml.load(text) == {
        "clusters": [
            {"name": "quoted # not a comment",
             "cluster": {"server": "https://h:1", "insecure-skip-tls-verify": True,
                         "note": "it's", "empty": "", "nothing": None,
                         "url": "http://x/#frag"}},
            {"name": "second"},
        ],
        "list": [["nested", "seq"]],
        "key with: colon": "v",
    }


@pytest.mark.parametrize("text, words", [
    ("a: &anchor x\n", "anchor"),
    ("a: *alias\n", "alias"),
    ("a: !!str x\n", "tag"),
    ("a: |\n  block\n", "block scalar"),
    ("a: [1, 2]\n", "flow collection"),
    ("a: x\n  b: y\n", "indentation"),
    ("a: x\na: y\n", "duplicate key"),
    ("a:\n\tb: x\n", "tab"),
    ("a: x\n---\nb: y\n", "one document"),
    ('a: "open\n', "unterminated"),
    ("{not json", "invalid JSON"),
])
def test_yaml_outside_the_subset_is_refused_with_the_line(text: str, words: str) -> None:
    with pytest.raises(kubeyaml.YAMLSubsetError) as info:
        kubeyaml.load(text)
    assert words in str(info.value)


def test_yaml_json_form_is_read_by_json() -> None:
    assert kubeyaml.load('  {"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


# -- property tests: what the subset can express round-trips; nothing else escapes -------------

_plain = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./@", min_size=1, max_size=12)
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_scalars = st.one_of(_plain.filter(lambda s: s not in ("true", "false", "null")), _text)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3),
                            st.dictionaries(_plain, inner, min_size=1, max_size=3)),
    max_leaves=12)


def _emit(value: Any, indent: int) -> list[str]:
    """A block-YAML emitter for the test: mappings, sequences (compact '- k: v'), quoted text."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                lines.append("%s%s:" % (pad, key))
                lines.extend(_emit(item, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, key, json.dumps(item)))
    else:
        for item in value:
            if isinstance(item, (dict, list)):
                inner = _emit(item, indent + 2)
                lines.append(pad + "- " + inner[0][indent + 2:])
                lines.extend(inner[1:])
            else:
                lines.append("%s- %s" % (pad, json.dumps(item)))
    return lines


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_plain, _values, min_size=1, max_size=4))
def test_yaml_round_trips_block_documents(doc: dict[str, Any]) -> None:
    assert kubeyaml.load("\n".join(_emit(doc, 0)) + "\n") == doc


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" -:#'\"\n\tab{}[]|>&*!~", max_size=60))
def test_yaml_any_text_parses_or_raises_the_subset_error(text: str) -> None:
    try:
        kubeyaml.load(text)
    except kubeyaml.YAMLSubsetError:
        pass


# -- kubeconfig files ------------------------------------------------------------------------------

def _write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _config(cluster: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    return {"current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}},
                         {"name": "other", "context": {"cluster": "k2", "user": "u"}}],
            "clusters": [{"name": "k", "cluster": cluster},
                         {"name": "k2", "cluster": {"server": "http://100.64.0.2:8080/prefix/"}}],
            "users": [{"name": "u", "user": user}]}


def test_kubeconfig_token_and_server(tmp_path: Path) -> None:
    path = _write(tmp_path / "kc.json", _config({"server": "http://100.64.0.1:8080"},
                                                {"token": "abc"}))
    cfg = kubeconfig.from_kubeconfig(path)
    assert (cfg.scheme, cfg.host, cfg.port, cfg.base_path) == ("http", "100.64.0.1", 8080, "")
    assert cfg.token.get() == "abc"
    assert cfg.ssl_context is None
    other = kubeconfig.from_kubeconfig(path, context="other")
    assert (other.port, other.base_path) == (8080, "/prefix")
    assert other.server() == "http://100.64.0.2:8080/prefix"


def test_kubeconfig_yaml_file_and_relative_token_file(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    (tmp_path / "kc").write_text(
        "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://[fd00::1]\n"
        "    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: k\n"
        "    user: u\nusers:\n- name: u\n  user:\n    tokenFile: tok\n")
    cfg = kubeconfig.from_kubeconfig(str(tmp_path / "kc"))
    assert (cfg.host, cfg.port) == ("fd00::1", 443)
    assert cfg.server() == "https://[fd00::1]:443"
    assert cfg.token.get() == "from-file"
    assert cfg.ssl_context is not None and cfg.ssl_context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize("cluster, user, words", [
    ({"server": "http://h"}, {"exec": {"command": "aws"}}, "'exec' is not supported"),
    ({"server": "http://h"}, {"auth-provider": {"name": "gcp"}}, "'auth-provider'"),
    ({}, {}, "has no server"),
    ({"server": "ftp://h"}, {}, "not an http(s) URL"),
    ({"server": "https://h", "certificate-authority-data": "!!"}, {}, "not base64"),
    ({"server": "https://h", "insecure-skip-tls-verify": True},
     {"client-certificate-data": "Y2VydA=="}, "needs both certificate and key"),
])
def test_kubeconfig_errors_say_what_is_wrong(tmp_path: Path, cluster: dict[str, Any],
                                             user: dict[str, Any], words: str) -> None:
    path = _write(tmp_path / "kc", _config(cluster, user))
    with pytest.raises(kubeconfig.ConfigError) as info:
        kubeconfig.from_kubeconfig(path)
    assert words in str(info.value)


def test_kubeconfig_missing_file_and_context(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.ConfigError, match="cannot read kubeconfig"):
        kubeconfig.from_kubeconfig(str(tmp_path / "absent"))
    path = _write(tmp_path / "kc", _config({"server": "http://h"}, {}))
    with pytest.raises(kubeconfig.ConfigError, match="no context named 'nope'"):
        kubeconfig.from_kubeconfig(path, context="nope")


def test_in_cluster_reads_env_token_and_ca(tmp_path: Path, ca: dict[str, str]) -> None:
    (tmp_path / "token").write_text("t1")
    (tmp_path / "ca.crt").write_text(Path(ca["ca_cert"]).read_text())
    cfg = kubeconfig.in_cluster({"KUBERNETES_SERVICE_HOST": "fd00::10",
                                 "KUBERNETES_SERVICE_PORT": "443"}, sa_dir=str(tmp_path))
    assert (cfg.scheme, cfg.host, cfg.port) == ("https", "fd00::10", 443)
    assert cfg.token.get() == "t1"
    assert cfg.ssl_context is not None and cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(kubeconfig.ConfigError, match="KUBERNETES_SERVICE_HOST"):
        kubeconfig.in_cluster({}, sa_dir=str(tmp_path))
    os.unlink(tmp_path / "token")
    with pytest.raises(kubeconfig.ConfigError, match="token is missing"):
        kubeconfig.in_cluster({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"},
                              sa_dir=str(tmp_path))


def test_token_file_is_reread_when_the_kubelet_rotates_it(tmp_path: Path) -> None:
    # The kubelet's atomic writer: files in a timestamped dir, "..data" symlink swapped.
    for generation, token in (("..v1", "first"), ("..v2", "second")):
        (tmp_path / generation).mkdir()
        (tmp_path / generation / "token").write_text(token)
    os.symlink("..v1", tmp_path / "..data")
    os.symlink("..data/token", tmp_path / "token")
    source = kubeconfig.TokenSource(path=str(tmp_path / "token"))
    assert source.get() == "first"
    os.symlink("..v2", tmp_path / "..data_tmp")
    os.rename(tmp_path / "..data_tmp", tmp_path / "..data")
    assert source.get() == "second"
    source.invalidate()
    assert source.get() == "second"


def test_kubeconfig_inline_ca_data_builds_a_verifying_context(tmp_path: Path,
                                                              ca: dict[str, str]) -> None:
    pem = Path(ca["ca_cert"]).read_bytes()
    path = _write(tmp_path / "kc", _config(
        {"server": "https://h", "certificate-authority-data": base64.b64encode(pem).decode()},
        {}))
    cfg = kubeconfig.from_kubeconfig(path)
    assert cfg.ssl_context is not None
    assert cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert len(cfg.ssl_context.get_ca_certs()) == 1


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_certs(str(tmp_path_factory.mktemp("certs")))
