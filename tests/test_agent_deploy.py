"""deploy/humanz.yaml and deploy/Dockerfile say what the agent needs, and agree with its code.

No cluster here: the manifest is read with humanz's own YAML reader (it is written in the
block subset on purpose) and checked field by field against what the agent reads and serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from humanz.agent import kubeyaml
from humanz.agent.__main__ import OPTIONS

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


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


def test_manifest_has_the_four_objects_in_kube_system() -> None:
    objs = documents()
    assert sorted(objs) == ["ClusterRole", "ClusterRoleBinding", "DaemonSet", "ServiceAccount"]
    assert objs["ServiceAccount"]["metadata"] == {
        "name": "humanz", "namespace": "kube-system",
        "labels": {"app.kubernetes.io/name": "humanz"}}
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
    (container,) = pod["containers"]
    caps = container["securityContext"]["capabilities"]["add"]
    assert "NET_ADMIN" in caps and "SYS_CHROOT" in caps


def test_daemonset_mounts_what_the_agent_writes_and_the_host_root_read_only() -> None:
    pod = documents()["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    host_paths = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: (host_paths[m["name"]], m.get("readOnly", False))
              for m in container["volumeMounts"]}
    assert mounts == {"/opt/cni/bin": ("/opt/cni/bin", False),
                      "/etc/cni/net.d": ("/etc/cni/net.d", False),
                      "/run/humanz": ("/run/humanz", False),
                      "/host": ("/", True)}


def test_environment_and_probe_match_the_agents_options() -> None:
    pod = documents()["DaemonSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
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


def test_dockerfile_ships_the_package_and_runs_the_agent() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "\nFROM python:3.12-slim\n" in text
    assert "\nCOPY humanz/ /opt/humanz/humanz/\n" in text
    assert 'ENTRYPOINT ["python3", "-m", "humanz.agent"]' in text
    image = documents()["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image in text                       # the build command in the header names it
