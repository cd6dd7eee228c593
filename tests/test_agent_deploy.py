"""deploy/humanz.yaml applies as is: a stock Python image, the humanz package in a ConfigMap.

No cluster here: the manifest is read with humanz's own YAML reader (it is written in the
block subset on purpose) and checked field by field against what the agent reads and serves.
The manifest is generated (scripts/gen_manifest.py from deploy/humanz.yaml.in): it must be
what the generator makes from this checkout, and the zip it carries must run — the agent is
started from the extracted zip, as the DaemonSet starts it, against the fake API server, and
installs the same plugin file that the checkout builds.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ip
from fake_kube import FakeKube

from humanz.agent import hostfiles, kubeyaml
from humanz.agent.__main__ import OPTIONS
from humanz.netlink import netns as nslib

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
sys.path.insert(0, str(REPO / "scripts"))
import gen_manifest  # noqa: E402

NODE_PYTHON = "/usr/bin/python3"          # what nodes run the plugin (and here the agent) with
STOCK_IMAGE = "docker.io/library/python:3.12-slim"


def documents() -> dict[str, dict[str, Any]]:
    """The manifest's objects by kind (each kind appears once)."""
    text = (DEPLOY / "humanz.yaml").read_text()
    chunks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == "---":
            chunks.append([])
        else:
            chunks[-1].append(line)
    objects: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        obj = kubeyaml.load("\n".join(chunk))
        if obj is not None:
            assert obj["kind"] not in objects
            objects[obj["kind"]] = obj
    return objects


def agent_container() -> dict[str, Any]:
    (container,) = documents()["DaemonSet"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def embedded_zip() -> bytes:
    """The package zip, as the ConfigMap carries it."""
    blob = documents()["ConfigMap"]["binaryData"]["humanz.pyz"]
    return base64.b64decode(blob, validate=True)


@pytest.fixture
def extracted(tmp_path: Path) -> Path:
    """The package zip written out, as the kubelet puts it at /opt/humanz/humanz.pyz."""
    path = tmp_path / "humanz.pyz"
    path.write_bytes(embedded_zip())
    return path


# -- generated, and current --------------------------------------------------------------------

def test_manifest_is_what_the_generator_makes_from_this_checkout() -> None:
    found = gen_manifest.check()
    if found:
        pytest.fail("deploy/humanz.yaml is stale (the package or deploy/humanz.yaml.in "
                    "changed): run `%s` and commit deploy/humanz.yaml.\n%s"
                    % (gen_manifest.COMMAND, "\n".join(found[:20])))


def test_generator_is_deterministic_and_its_check_sees_changes() -> None:
    template = gen_manifest.TEMPLATE
    text = Path(template).read_text()
    files = gen_manifest.package_files()
    fresh = gen_manifest.render(text, files)
    assert gen_manifest.render(text, dict(reversed(list(files.items())))) == fresh
    assert gen_manifest.differences(fresh, fresh) == []
    # one module edited: named, and the digest annotation in the text changes with it
    edited = dict(files, **{"humanz/bridge.py": files["humanz/bridge.py"] + b"\n"})
    found = gen_manifest.differences(fresh, gen_manifest.render(text, edited))
    assert found[0].startswith("the text differs") and "humanz/bridge.py differs" in found
    # a module added
    added = dict(files, **{"humanz/new.py": b'"""New."""\n'})
    assert ("humanz/new.py is missing from the committed zip"
            in gen_manifest.differences(fresh, gen_manifest.render(text, added)))
    # the template edited
    found = gen_manifest.differences(fresh, gen_manifest.render(
        text.replace("cpu: 10m", "cpu: 20m"), files))
    assert len(found) == 1 and found[0].startswith("the text differs")
    # the same entries compressed by another deflate: not stale
    _, blob = gen_manifest.split_blob(fresh)
    recompressed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as old, \
            zipfile.ZipFile(recompressed, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info), compresslevel=1)
    other = fresh.replace(blob, base64.b64encode(recompressed.getvalue()).decode())
    assert other != fresh and gen_manifest.differences(other, fresh) == []


def test_check_command_says_what_to_run_when_stale(tmp_path: Path) -> None:
    stale = tmp_path / "humanz.yaml"
    stale.write_text((DEPLOY / "humanz.yaml").read_text().replace("cpu: 10m", "cpu: 99m"))
    assert gen_manifest.check(str(stale))[0].startswith("the text differs")
    assert gen_manifest.check(str(tmp_path / "absent.yaml")) == [
        "%s does not exist" % os.path.relpath(tmp_path / "absent.yaml", REPO)]


# -- the package in the ConfigMap ---------------------------------------------------------------

def test_zip_holds_the_agent_and_the_plugin_as_sources_and_nothing_else() -> None:
    with zipfile.ZipFile(io.BytesIO(embedded_zip())) as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert names == sorted(names)
    assert "__main__.py" in names
    assert {"humanz/agent/__main__.py", "humanz/agent/hostfiles.py", "humanz/agent/kube.py",
            "humanz/cni/skel.py", "humanz/bridge.py", "humanz/netlink/rtnl.py",
            "humanz/netlink/nftables.py", "humanz/ipam/store.py"} <= set(names)
    assert all(n == "__main__.py" or n.startswith("humanz/") for n in names)
    assert all(n.endswith(".py") and "__pycache__" not in n and "tests/" not in n
               and not n.rpartition("/")[2].startswith(("test_", "conftest")) for n in names)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.compress_type == zipfile.ZIP_DEFLATED
               for i in infos)
    # exactly the checkout's package: every module, byte for byte
    package = {str(p.relative_to(REPO)): p.read_bytes()
               for p in sorted((REPO / "humanz").rglob("*.py")) if "__pycache__" not in p.parts}
    with zipfile.ZipFile(io.BytesIO(embedded_zip())) as zf:
        assert {n: zf.read(n) for n in names if n != "__main__.py"} == package


def test_zip_fits_kubectl_apply_with_room_to_grow() -> None:
    """Client-side apply copies the object into an annotation (256 KiB for all of them)."""
    data = embedded_zip()
    blob = base64.b64encode(data).decode()
    annotation = gen_manifest.last_applied_size(blob)
    assert len(data) < gen_manifest.CONFIGMAP_LIMIT // 4
    assert annotation < 0.9 * gen_manifest.ANNOTATIONS_LIMIT, (
        "the package zip (%d bytes) nearly fills kubectl apply's annotation: %d of %d bytes; "
        "see scripts/gen_manifest.py" % (len(data), annotation, gen_manifest.ANNOTATIONS_LIMIT))


def test_plugin_sources_read_from_the_zip_are_the_checkouts(extracted: Path) -> None:
    """The agent builds the plugin from the package it was imported from: in the DaemonSet,
    the zip. The same modules, so the same plugin file as scripts/build makes."""
    from_zip = hostfiles.plugin_sources(str(extracted / "humanz"))
    assert from_zip == hostfiles.plugin_sources()
    assert "humanz/bridge.py" in from_zip and "hz.py" in from_zip
    assert not any(n.startswith("humanz/agent/") for n in from_zip)
    with pytest.raises(FileNotFoundError):
        hostfiles.plugin_sources(str(extracted / "elsewhere"))
    with pytest.raises(FileNotFoundError):
        hostfiles.plugin_sources(str(extracted.parent / "absent" / "humanz"))


# -- the agent runs from the extracted zip ------------------------------------------------------

def test_agent_starts_from_the_zip_as_the_daemonset_starts_it(extracted: Path) -> None:
    command = agent_container()["command"]
    assert command == ["python3", "/opt/humanz/humanz.pyz"]
    for argv, env in (([NODE_PYTHON, str(extracted), "--help"], {}),
                      ([NODE_PYTHON, "-m", "humanz.agent", "--help"],
                       {"PYTHONPATH": str(extracted)})):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              cwd=str(extracted.parent), env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("usage: python3 -m humanz.agent")
    missing = subprocess.run([NODE_PYTHON, str(extracted)], capture_output=True, text=True,
                             timeout=60, cwd=str(extracted.parent), env={})
    assert missing.returncode == 2 and "--node-name (or NODE_NAME) is required" in missing.stderr


def test_agent_from_the_zip_installs_the_plugin_the_checkout_builds(
        extracted: Path, netns: str, tmp_path: Path) -> None:
    """``--once`` against the fake API, in a throwaway namespace, the host's root being /."""
    ip("link", "add", "hztdep0", "type", "veth", "peer", "name", "hztdep1", netns=netns)
    ip("link", "set", "hztdep1", "up", netns=netns)
    ip("addr", "add", "100.64.9.1/24", "dev", "hztdep0", netns=netns)
    ip("link", "set", "hztdep0", "up", netns=netns)
    fake = FakeKube()
    nslib.run_in("/run/netns/" + netns, fake.start)
    try:
        fake.add_node("self", ["100.96.1.0/24"], ["100.64.9.1"])
        fake.add_node("peer", ["100.96.2.0/24"], ["100.64.9.2"])
        kc = tmp_path / "kubeconfig"
        kc.write_text(json.dumps(fake.kubeconfig()))
        (tmp_path / "bin").mkdir()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NODE_NAME": "self",
               "HUMANZ_CLUSTER_CIDR": "100.96.0.0/16", "KUBECONFIG": str(kc),
               "HUMANZ_HOST_ROOT": "/", "HUMANZ_CNI_CONF": str(tmp_path / "10-humanz.conflist"),
               "HUMANZ_CNI_BIN_DIR": str(tmp_path / "bin"), "HUMANZ_HEALTHZ": ""}
        proc = subprocess.run(["ip", "netns", "exec", netns, NODE_PYTHON, str(extracted),
                               "--once"], env=env, capture_output=True, text=True,
                              timeout=120, cwd=str(tmp_path))
    finally:
        fake.stop()
    assert proc.returncode == 0, proc.stderr
    assert "bytecode compiled by the host's Python" in proc.stderr
    routes = json.loads(ip("-j", "route", "show", "proto", "104", netns=netns).stdout)
    assert [(r["dst"], r["gateway"]) for r in routes] == [("100.96.2.0/24", "100.64.9.2")]
    installed = (tmp_path / "bin" / "humanz-cni").read_bytes()
    python, _ = hostfiles.find_host_python("/")
    assert python is not None and python.path == NODE_PYTHON
    built, _, _ = hostfiles.build_plugin(python, "/")
    assert installed == built                 # the zip's sources, the checkout's plugin
    version = subprocess.run([str(tmp_path / "bin" / "humanz-cni")],
                             input='{"cniVersion":"1.0.0"}', capture_output=True, text=True,
                             timeout=60, env={"CNI_COMMAND": "VERSION"})
    assert version.returncode == 0, version.stderr
    assert "1.0.0" in json.loads(version.stdout)["supportedVersions"]


# -- the objects ---------------------------------------------------------------------------------

def test_manifest_has_the_five_objects_in_kube_system() -> None:
    objs = documents()
    assert sorted(objs) == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet",
                            "ServiceAccount"]
    labels = {"app.kubernetes.io/name": "humanz"}
    assert objs["ServiceAccount"]["metadata"] == {
        "name": "humanz", "namespace": "kube-system", "labels": labels}
    assert objs["ConfigMap"]["metadata"] == {
        "name": "humanz-package", "namespace": "kube-system", "labels": labels}
    assert list(objs["ConfigMap"]) == ["apiVersion", "kind", "metadata", "binaryData"]
    assert objs["DaemonSet"]["apiVersion"] == "apps/v1"


def test_rbac_grants_exactly_node_get_list_watch_to_the_service_account() -> None:
    objs = documents()
    assert objs["ClusterRole"]["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]
    binding = objs["ClusterRoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": "humanz"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "humanz",
                                    "namespace": "kube-system"}]
    pod = objs["DaemonSet"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "humanz"


def test_daemonset_runs_everywhere_on_the_host_network_with_net_admin() -> None:
    ds = documents()["DaemonSet"]
    template = ds["spec"]["template"]
    assert ds["spec"]["selector"]["matchLabels"] == template["metadata"]["labels"]
    pod = template["spec"]
    assert pod["hostNetwork"] is True
    assert pod["tolerations"] == [{"operator": "Exists"}]
    caps = agent_container()["securityContext"]["capabilities"]["add"]
    assert "NET_ADMIN" in caps and "SYS_CHROOT" in caps


def test_daemonset_runs_the_stock_image_with_the_configmap_mounted() -> None:
    objs = documents()
    template = objs["DaemonSet"]["spec"]["template"]
    container = agent_container()
    assert container["image"] == STOCK_IMAGE                       # public, no image of ours
    assert "@" not in container["image"]                          # a tag, not a digest
    (package,) = [v for v in template["spec"]["volumes"] if v["name"] == "package"]
    assert package["configMap"] == {"name": objs["ConfigMap"]["metadata"]["name"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "package"]
    assert mount == {"name": "package", "mountPath": container["command"][1],
                     "subPath": "humanz.pyz", "readOnly": True}
    assert list(objs["ConfigMap"]["binaryData"]) == [mount["subPath"]]
    # a new package changes the pod template, which rolls the DaemonSet
    with zipfile.ZipFile(io.BytesIO(embedded_zip())) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    assert template["metadata"]["annotations"] == {
        "humanz/package-sha256": gen_manifest.package_digest(files)}


def test_daemonset_mounts_what_the_agent_writes_and_the_host_root_read_only() -> None:
    pod = documents()["DaemonSet"]["spec"]["template"]["spec"]
    container = agent_container()
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["mountPath"]: (host_paths[m["name"]], m.get("readOnly", False))
              for m in container["volumeMounts"] if m["name"] in host_paths}
    assert mounts == {"/opt/cni/bin": ("/opt/cni/bin", False),
                      "/etc/cni/net.d": ("/etc/cni/net.d", False),
                      "/run/humanz": ("/run/humanz", False),
                      "/host": ("/", True)}
    assert len(pod["volumes"]) == len(host_paths) + 1            # and the package


def test_environment_and_probe_match_the_agents_options() -> None:
    container = agent_container()
    env = {e["name"]: e for e in container["env"]}
    known = {var for _, var, _, _ in OPTIONS}
    assert set(env) <= known
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["HUMANZ_HOST_ROOT"]["value"] == "/host"
    required = {var for _, var, default, _ in OPTIONS if default is None}
    assert required <= set(env)
    probe = container["livenessProbe"]["httpGet"]
    host, _, port = env["HUMANZ_HEALTHZ"]["value"].rpartition(":")
    assert (probe["host"], probe["path"], str(probe["port"])) == (host, "/healthz", port)


def test_no_image_to_build() -> None:
    """The stock image is all: no Dockerfile, no locally built image left in the docs."""
    assert sorted(p.name for p in DEPLOY.iterdir()) == ["humanz.yaml", "humanz.yaml.in"]
    for doc in (REPO / "docs" / "multinode.md", REPO / "README.md", DEPLOY / "humanz.yaml.in"):
        text = doc.read_text()
        assert "deploy/Dockerfile" not in text and "localhost/humanz-agent" not in text, doc
