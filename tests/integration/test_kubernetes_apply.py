"""The kubernetes target against a stand-in API server: apply, rollout gate, status, stop.

No real cluster is reachable on the machines these tests run on. The target is exercised
through the official client against a local HTTP server that answers the calls it makes
(server-side apply PATCHes, GETs of the Deployment and its status, pod lists and logs,
DELETEs) the way the API server does for these objects. What this cannot show: scheduling,
image pulls, probes and the controllers themselves; the rollout status the stand-in reports
is scripted per test (the stand-in: tests/kubeapiserver.py). The manifests themselves are
checked against the Kubernetes OpenAPI schemas in test_kubernetes_manifests.py.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentdock import make_plugin_manager
from agentdock.deployment import Artifact, DeployFailed, HealthGateFailed, StartRequest
from agentdock.registry import open_store
from agentdock_plugins import kubernetes as k8s_plugin
from agentdock_plugins.kubernetes.target import DEPLOYMENT_ANNOTATION, KubernetesTarget
from kubeapiserver import (
    DB_PASSWORD,
    ECHO,
    PLANTED,
    SHARED,
    TOKEN,
    ImageBuilder,
    ImagePlugin,
    echo_project,
    kubeconfig_file,
)

pytest_plugins = ("kube_fixtures",)

IMAGE = "registry.example/agentdock/echo:0123abcd"


def _snapshot(extra: str = "") -> str:
    text = (ECHO / "Dockfile.yaml").read_text()
    data = yaml.safe_load(text)
    if extra:
        data.update(yaml.safe_load(extra))
    return yaml.safe_dump(data, sort_keys=False)


_SECRET_DEPLOY = """
deploy:
  replicas: 2
  env: {ECHO_GREETING: "hello ${ECHO_TOKEN}"}
  secrets: [ECHO_TOKEN]
"""


def _request(tmp_path: Path, deployment_id: int = 1, **kw: Any) -> StartRequest:
    fields: dict[str, Any] = {
        "agent": "echo",
        "version": "1.0.0",
        "deployment_id": deployment_id,
        "port": 8080,
        "host": "0.0.0.0",
        "env": {"ECHO_TOKEN": PLANTED, **SHARED},
        "state_dir": tmp_path / "run" / str(deployment_id),
        "home": tmp_path,
    }
    fields.update(kw)
    return StartRequest(**fields)


def _target(snapshot: str) -> KubernetesTarget:
    return KubernetesTarget(snapshot_source=lambda request: snapshot)


def _events() -> tuple[list[tuple[str, str, dict[str, Any]]], Any]:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def progress(step: str, message: str, **fields: Any) -> None:
        seen.append((step, message, fields))

    return seen, progress


def test_apply_ready_status_logs_stop(cluster, kubeconfig, tmp_path) -> None:
    state, _ = cluster
    target = _target(_snapshot(_SECRET_DEPLOY))
    events, progress = _events()
    image_id = "sha256:" + "3c" * 32
    built = Artifact("docker", IMAGE, "d1", details={"image_id": image_id})
    handle = target.start(built, _request(tmp_path), progress)

    assert handle["namespace"] == "agents"  # the kubeconfig context's namespace
    assert handle["endpoint"] == "http://echo.agents.svc.cluster.local:8080"
    assert handle["image"] == IMAGE and handle["previous"] is None
    json.dumps(handle)  # JSON-compatible
    patches = [r for r in state.requests if r["method"] == "PATCH"]
    assert [r["path"].rsplit("/", 2)[1] for r in patches] == [
        "configmaps",
        "services",
        "networkpolicies",
        "deployments",
        "poddisruptionbudgets",
    ]
    for request in patches:
        assert request["content_type"] == "application/apply-patch+yaml"
        assert request["query"]["fieldManager"] == ["agentdock"]
        assert request["query"]["force"] == ["true"]
        assert request["authorization"] == f"Bearer {TOKEN}"
    assert state.kinds() == {
        "ConfigMap",
        "Service",
        "NetworkPolicy",
        "Deployment",
        "PodDisruptionBudget",
    }
    dep = state.deployment()
    assert dep["metadata"]["annotations"][DEPLOYMENT_ANNOTATION] == "1"
    # The engine here has no registry digest of the image: it is named by tag, its id kept.
    template = dep["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == IMAGE
    assert template["metadata"]["annotations"]["io.agentdock/image-id"] == image_id
    assert any(step == "image" and "by tag" in msg for step, msg, _ in events)
    policy = state.objects[("networkpolicies", "agents", "echo")]
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {}}]
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ECHO_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "echo-env",
        "key": "ECHO_TOKEN",
    }
    assert env["ECHO_GREETING"]["value"] == "hello $(ECHO_TOKEN)"
    # echo checks API keys: its pods read the shared registry's URL from the same Secret.
    assert env["AGENTDOCK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "echo-env",
        "key": "AGENTDOCK_DATABASE_URL",
    }
    assert any(
        step == "secret" and "kubectl create secret generic echo-env" in msg
        for step, msg, _ in events
    )

    target.wait_ready(handle, timeout=10, progress=progress)
    assert state.reads >= 2  # not complete on the first read, complete on a later one

    now = target.status(handle)
    assert now["state"] == "running" and now["healthy"] is True
    assert now["replicas"] == 2 and now["available"] == 2 and now["restarts"] == 0
    assert now["image"] == IMAGE and isinstance(now["started_at"], float)

    lines = list(target.logs(handle, tail=5, follow=False))
    assert lines[0] == "starting the runtime"
    assert not any(PLANTED in line for line in lines)  # masked with the start's values

    # Applying the same version again changes nothing: the Deployment's generation stays.
    generation = state.deployment()["metadata"]["generation"]
    again = target.start(built, _request(tmp_path), progress)
    assert state.deployment()["metadata"]["generation"] == generation
    assert again["previous"] == "1"

    target.stop(handle, timeout=5)
    assert state.objects == {}
    target.stop(handle, timeout=5)  # stopped is fine
    assert target.status(handle)["state"] == "missing"
    everything = json.dumps(state.requests) + json.dumps(handle) + repr(events)
    assert PLANTED not in everything and TOKEN not in json.dumps(handle)
    assert DB_PASSWORD not in everything


def test_a_new_version_replaces_in_place_and_retiring_the_old_one_is_a_noop(
    cluster, kubeconfig, tmp_path
) -> None:
    state, _ = cluster
    first = _target(_snapshot(_SECRET_DEPLOY))
    _, progress = _events()
    old = first.start(Artifact("docker", IMAGE, "d1"), _request(tmp_path, 1), progress)
    first.wait_ready(old, 10, progress)
    # v2 drops the second replica: its PodDisruptionBudget goes away with it.
    second = _target(_snapshot())
    new = second.start(
        Artifact("docker", IMAGE + "-v2", "d2"),
        _request(tmp_path, 2, version="1.0.1", env=dict(SHARED)),
        progress,
    )
    assert new["previous"] == "1"
    assert "PodDisruptionBudget" not in state.kinds()
    second.wait_ready(new, 10, progress)
    assert first.status(old)["state"] == "stopped"  # replaced in place
    first.stop(old, 5)  # what the service does to the previous deployment after the switch
    assert state.deployment() is not None
    assert (
        state.deployment()["spec"]["template"]["metadata"]["labels"]["io.agentdock/version"]
        == "1.0.1"
    )


def test_a_rollout_that_never_completes_fails_the_gate_with_the_pods_lines(
    cluster, kubeconfig, tmp_path
) -> None:
    state, _ = cluster
    state.rollout = "stuck"
    target = _target(_snapshot(_SECRET_DEPLOY))
    _, progress = _events()
    handle = target.start(Artifact("docker", IMAGE, "d1"), _request(tmp_path), progress)
    with pytest.raises(HealthGateFailed) as info:
        target.wait_ready(handle, timeout=0.5, progress=progress)
    error = info.value
    assert error.exit_code == 4
    assert "did not roll out within 0.5s" in error.cause
    assert "1/2 updated" in error.cause
    assert "waiting for /ready" in error.log_tail
    assert any("***" in line for line in error.log_tail)
    assert PLANTED not in json.dumps(error.to_json())
    status = target.status(handle)
    assert status["state"] == "degraded" and status["restarts"] == 1
    # Nothing was live before it, so stopping the failed deployment removes its objects.
    target.stop(handle, 5)
    assert state.objects == {}


def test_a_failed_rollout_over_a_live_version_leaves_it_serving(
    cluster, kubeconfig, tmp_path
) -> None:
    state, _ = cluster
    _, progress = _events()
    good = _target(_snapshot())
    live = good.start(
        Artifact("docker", IMAGE, "d1"), _request(tmp_path, 1, env=dict(SHARED)), progress
    )
    good.wait_ready(live, 10, progress)
    state.rollout = "stuck"
    bad = _target(_snapshot())
    handle = bad.start(
        Artifact("docker", IMAGE + "-bad", "d2"),
        _request(tmp_path, 2, version="1.0.1", env=dict(SHARED)),
        progress,
    )
    with pytest.raises(HealthGateFailed):
        bad.wait_ready(handle, timeout=0.3, progress=progress)
    bad.stop(handle, 5)  # the service stops the failed one, then applies v1's manifests again
    assert state.deployment() is not None
    state.rollout = "complete"
    again = good.start(
        Artifact("docker", IMAGE, "d1"), _request(tmp_path, 3, env=dict(SHARED)), progress
    )
    good.wait_ready(again, 10, progress)
    assert state.deployment()["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE


def test_a_missing_secret_fails_at_once_naming_the_fix(cluster, kubeconfig, tmp_path) -> None:
    state, _ = cluster
    state.rollout = "config-error"
    target = _target(_snapshot(_SECRET_DEPLOY))
    _, progress = _events()
    handle = target.start(Artifact("docker", IMAGE, "d1"), _request(tmp_path), progress)
    with pytest.raises(HealthGateFailed) as info:
        target.wait_ready(handle, timeout=60, progress=progress)
    assert "CreateContainerConfigError" in info.value.cause
    assert 'secret "echo-env" not found' in info.value.cause
    assert "kubectl create secret generic echo-env" in (info.value.hint or "")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_kubeconfig_pointing_at_a_closed_port_is_deploy_failed(tmp_path, monkeypatch) -> None:
    port = _closed_port()
    path = kubeconfig_file(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("KUBECONFIG", str(path))
    target = _target(_snapshot())
    _, progress = _events()
    with pytest.raises(DeployFailed) as info:
        target.start(
            Artifact("docker", IMAGE, "d1"), _request(tmp_path, env=dict(SHARED)), progress
        )
    error = info.value
    assert error.exit_code == 4 and not isinstance(error, HealthGateFailed)
    assert f"cannot reach the Kubernetes API at http://127.0.0.1:{port}" in error.cause
    assert "\n" not in error.cause and TOKEN not in json.dumps(error.to_json())


def test_no_kubeconfig_at_all_is_deploy_failed(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    target = _target(_snapshot())
    _, progress = _events()
    with pytest.raises(DeployFailed) as info:
        target.start(
            Artifact("docker", IMAGE, "d1"), _request(tmp_path, env=dict(SHARED)), progress
        )
    assert info.value.exit_code == 4
    assert "no kubeconfig" in info.value.cause
    missing = tmp_path / "nowhere.yaml"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    with pytest.raises(DeployFailed) as info:
        target.start(
            Artifact("docker", IMAGE, "d1"), _request(tmp_path, env=dict(SHARED)), progress
        )
    assert f"KUBECONFIG names {missing}, which does not exist" == info.value.cause


def test_a_malformed_kubeconfig_is_deploy_failed(tmp_path, monkeypatch) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\ncurrent-context: nothing\n")
    monkeypatch.setenv("KUBECONFIG", str(path))
    _, progress = _events()
    with pytest.raises(DeployFailed) as info:
        _target(_snapshot()).start(
            Artifact("docker", IMAGE, "d1"), _request(tmp_path, env=dict(SHARED)), progress
        )
    assert info.value.cause.startswith("cannot use the kubeconfig")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The echo agent, with the shared registry's URL in the .env its Secret is made from
    (this process's own registry stays the embedded one of the test's home)."""
    return echo_project(tmp_path / "echo", monkeypatch)


def test_the_deploy_service_applies_gates_and_activates(
    cluster, kubeconfig, project, monkeypatch
) -> None:
    """``deploy`` with the kubernetes target registered like a plugin: the snapshot comes
    from the registry row the service records before starting."""
    from agentdock.deployment import deploy, status

    state, _ = cluster
    monkeypatch.setenv("ECHO_TOKEN", PLANTED)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text() + _SECRET_DEPLOY)
    manager = make_plugin_manager(plugins=[("images", ImagePlugin()), ("kubernetes", k8s_plugin)])
    done = deploy(dockfile, target="kubernetes", plugins=manager, check_imports=False)
    assert done.status == "active"
    assert done.endpoint == "http://echo.agents.svc.cluster.local:8080"
    assert state.deployment()["spec"]["replicas"] == 2
    live = status("echo", plugins=manager)
    assert live["health"] == "running" and live["healthy"] is True
    with open_store() as store:
        active = store.active_deployment("echo")
        assert active is not None and PLANTED not in json.dumps(active.handle)
    assert PLANTED not in json.dumps(state.requests)


def test_the_deploy_service_keeps_the_live_version_when_a_rollout_fails(
    cluster, kubeconfig, project
) -> None:
    """A new version whose rollout never completes: the gate fails (exit 4), the registry
    keeps the earlier version active, the objects are left to the earlier version's pods
    (maxUnavailable 0), and the service applies the earlier version's manifests again."""
    from agentdock.deployment import deploy, rollback

    state, _ = cluster
    manager = make_plugin_manager(plugins=[("images", ImagePlugin()), ("kubernetes", k8s_plugin)])
    dockfile = project / "Dockfile.yaml"
    first = deploy(dockfile, target="kubernetes", plugins=manager, check_imports=False)
    graph = project / "echo" / "graph.py"
    graph.write_text(graph.read_text() + "\n# a one-line change\n")
    state.rollout = "stuck"
    with pytest.raises(HealthGateFailed) as info:
        deploy(dockfile, target="kubernetes", plugins=manager, check_imports=False, timeout=0.3)
    assert info.value.exit_code == 4 and info.value.log_tail
    with open_store() as store:
        active = store.active_deployment("echo")
    assert active is not None and active.id == first.deployment_id
    assert state.deployment() is not None  # not deleted under the serving pods
    image = state.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.example/echo:{first.version}"  # rolled back to v1's manifests
    annotations = state.deployment()["metadata"]["annotations"]
    assert annotations["io.agentdock/deployment-id"] == str(first.deployment_id)
    state.rollout = "complete"
    back = rollback("echo", first.version, plugins=manager)
    assert back.status == "active"
    image = state.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"registry.example/echo:{first.version}"


def test_an_api_key_agent_without_a_shared_registry_is_refused_before_building(
    cluster, kubeconfig, project
) -> None:
    """Keys made here would live in this machine's SQLite file, which no pod can read."""
    from agentdock.deployment import InvalidDeployInput, deploy

    state, _ = cluster
    (project / ".env").unlink()
    ImageBuilder.built.clear()
    manager = make_plugin_manager(plugins=[("images", ImagePlugin()), ("kubernetes", k8s_plugin)])
    with pytest.raises(InvalidDeployInput) as info:
        deploy(project / "Dockfile.yaml", target="kubernetes", plugins=manager)
    assert info.value.exit_code == 1
    assert "AGENTDOCK_DATABASE_URL=postgresql://" in info.value.cause
    assert "Secret echo-env" in info.value.cause and "SQLite" in info.value.cause
    assert ImageBuilder.built == [] and state.requests == []
    with open_store() as store:
        assert store.list_versions("echo") == [] and store.list_api_keys("echo") == []
    # A jwt agent shares nothing with the deploying machine: it deploys.
    dockfile = project / "Dockfile.yaml"
    data = yaml.safe_load(dockfile.read_text())
    data["auth"] = {"mode": "jwt", "jwt": {"secret_key": "${ECHO_JWT}"}}
    dockfile.write_text(yaml.safe_dump(data))
    (project / ".env").write_text(f"ECHO_JWT={PLANTED * 2}\n")
    assert deploy(dockfile, target="kubernetes", plugins=manager, check_imports=False).status == (
        "active"
    )
