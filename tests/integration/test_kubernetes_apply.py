"""The kubernetes target against a stand-in API server: apply, rollout gate, status, stop.

No real cluster is reachable on the machines these tests run on. The target is exercised
through the official client against a local HTTP server that answers the calls it makes
(server-side apply PATCHes, GETs of the Deployment and its status, pod lists and logs,
DELETEs) the way the API server does for these objects. What this cannot show: scheduling,
image pulls, probes and the controllers themselves; the rollout status the stand-in reports
is scripted per test. The manifests themselves are checked against the Kubernetes OpenAPI
schemas in test_kubernetes_manifests.py.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from agentdock import hookimpl, make_plugin_manager
from agentdock.deployment import Artifact, DeployFailed, HealthGateFailed, StartRequest
from agentdock.registry import open_store
from agentdock_plugins import kubernetes as k8s_plugin
from agentdock_plugins.kubernetes.target import DEPLOYMENT_ANNOTATION, KubernetesTarget

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo"
PLANTED = "planted-secret-value-5b1e9c0d7a"
TOKEN = "planted-bearer-token-0c4f2e"
IMAGE = "registry.example/agentdock/echo:0123abcd"
DB_PASSWORD = "planted-db-password-7c1d0e"
#: A shared registry: the echo agent checks API keys, which its pods read from there.
SHARED = {"AGENTDOCK_DATABASE_URL": f"postgresql://agentdock:{DB_PASSWORD}@db.example/agentdock"}

_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[a-z0-9.]+/v[0-9a-z]+))/namespaces/(?P<ns>[^/]+)/"
    r"(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>log|status))?$"
)


class FakeCluster:
    """What the stand-in API server knows: objects by (plural, namespace, name), every request,
    and how the Deployment's rollout goes (``complete``, ``stuck``, ``config-error``)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.rollout = "complete"
        self.reads = 0
        #: Deployments whose new spec the "controller" has not observed yet.
        self.unseen: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()

    def deployment(self, ns: str = "agents", name: str = "echo") -> dict[str, Any] | None:
        return self.objects.get(("deployments", ns, name))

    def kinds(self) -> set[str]:
        return {obj["kind"] for obj in self.objects.values()}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _missing(self, what: str) -> None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": f"{what} not found",
                },
            )

        def _route(self) -> tuple[Any, dict[str, list[str]], bytes]:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(url.query)
            with cluster.lock:
                cluster.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": query,
                        "content_type": self.headers.get("Content-Type"),
                        "authorization": self.headers.get("Authorization"),
                        "body": body.decode("utf-8", errors="replace"),
                    }
                )
            return _PATH.match(url.path), query, body

        def do_PATCH(self) -> None:
            match, _, body = self._route()
            if match is None or match["name"] is None:
                return self._missing(self.path)
            if self.headers.get("Content-Type") != "application/apply-patch+yaml":
                return self._send(415, {"kind": "Status", "code": 415, "message": "apply only"})
            obj = yaml.safe_load(body)
            key = (match["plural"], match["ns"], match["name"])
            with cluster.lock:
                old = cluster.objects.get(key)
                meta = obj.setdefault("metadata", {})
                meta.setdefault("namespace", match["ns"])
                meta["creationTimestamp"] = (
                    (old or {}).get("metadata", {}).get("creationTimestamp", _now())
                )
                generation = int((old or {}).get("metadata", {}).get("generation", 0))
                if old is None or old.get("spec") != obj.get("spec"):
                    generation += 1
                    cluster.unseen.add(key)
                meta["generation"] = generation
                obj["status"] = (old or {}).get("status", {})
                cluster.objects[key] = obj
            self._send(201 if old is None else 200, obj)

        def do_GET(self) -> None:
            match, query, _ = self._route()
            if match is None:
                return self._missing(self.path)
            plural, ns, name = match["plural"], match["ns"], match["name"]
            if plural == "pods" and name is None:
                return self._send(200, {"kind": "PodList", "items": self._pods(ns, query)})
            if plural == "pods" and match["sub"] == "log":
                text = (
                    "starting the runtime\n"
                    f"[FATAL] the runtime printed {PLANTED} by mistake\n"
                    "waiting for /ready\n"
                )
                return self._send(200, text.encode(), "text/plain")
            with cluster.lock:
                obj = cluster.objects.get((plural, ns, name or ""))
                if obj is not None and plural == "deployments":
                    cluster.reads += 1
                    obj["status"] = self._status(obj, (plural, ns, name or ""))
            if obj is None:
                return self._missing(f"{plural} {name}")
            self._send(200, obj)

        def do_DELETE(self) -> None:
            match, _, _ = self._route()
            key = (match["plural"], match["ns"], match["name"]) if match else None
            with cluster.lock:
                obj = cluster.objects.pop(key, None) if key else None
            if obj is None:
                return self._missing(self.path)
            self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        def _status(self, obj: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any]:
            generation = obj["metadata"]["generation"]
            want = int(obj["spec"].get("replicas", 1))
            if cluster.rollout == "complete":
                if key in cluster.unseen:  # the controller sees the new spec on the next read
                    cluster.unseen.discard(key)
                    return {"observedGeneration": generation - 1, "replicas": want}
                return {
                    "observedGeneration": generation,
                    "replicas": want,
                    "updatedReplicas": want,
                    "readyReplicas": want,
                    "availableReplicas": want,
                }
            return {
                "observedGeneration": generation,
                "replicas": want + 1,
                "updatedReplicas": 1,
                "availableReplicas": want,
            }

        def _pods(self, ns: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
            wanted = dict(
                item.split("=", 1) for item in (query.get("labelSelector") or [""])[0].split(",")
            )
            pods = []
            with cluster.lock:
                deployments = [
                    o for (p, n, _), o in cluster.objects.items() if p == "deployments" and n == ns
                ]
            for dep in deployments:
                labels = dep["spec"]["template"]["metadata"]["labels"]
                if any(labels.get(k) != v for k, v in wanted.items()):
                    continue
                state: dict[str, Any] = {"running": {"startedAt": _now()}}
                if cluster.rollout == "config-error":
                    state = {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": f'secret "{dep["metadata"]["name"]}-env" not found',
                        }
                    }
                pods.append(
                    {
                        "metadata": {
                            "name": f"{dep['metadata']['name']}-7d9f-x1",
                            "labels": labels,
                            "creationTimestamp": _now(),
                        },
                        "status": {
                            "containerStatuses": [
                                {
                                    "name": "agent",
                                    "ready": cluster.rollout == "complete",
                                    "restartCount": 1 if cluster.rollout == "stuck" else 0,
                                    "state": state,
                                }
                            ]
                        },
                    }
                )
            return pods

    return Handler


@pytest.fixture
def cluster() -> Iterator[tuple[FakeCluster, str]]:
    state = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _kubeconfig(path: Path, server: str, namespace: str = "agents") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": server}}],
                "users": [{"name": "deployer", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "stand-in",
                        "context": {
                            "cluster": "stand-in",
                            "user": "deployer",
                            "namespace": namespace,
                        },
                    }
                ],
                "current-context": "stand-in",
            }
        )
    )
    return path


@pytest.fixture
def kubeconfig(
    cluster: tuple[FakeCluster, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = _kubeconfig(tmp_path / "kubeconfig", cluster[1])
    monkeypatch.setenv("KUBECONFIG", str(path))
    for name in ("AGENTDOCK_KUBE_CONTEXT", "AGENTDOCK_KUBE_NAMESPACE", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    return path


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
    path = _kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
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


class _ImageBuilder:
    """Stands in for the docker builder: the kubernetes target only needs an image ref."""

    built: ClassVar[list[str]] = []

    def build(self, request: Any, progress: Any) -> Artifact:
        self.built.append(request.version)
        return Artifact("docker", f"registry.example/{request.dns_name}:{request.version}", "d")

    def exists(self, artifact: Artifact) -> bool:
        return True

    def remove(self, artifact: Artifact) -> None:
        pass


class _Plugin:
    @hookimpl
    def agentdock_register_builders(self, register: Any) -> None:
        register("docker", _ImageBuilder)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The echo agent, with the shared registry's URL in the .env its Secret is made from
    (this process's own registry stays the embedded one of the test's home)."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    dest = tmp_path / "echo"
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / ".env").write_text("".join(f"{k}={v}\n" for k, v in SHARED.items()))
    return dest


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
    manager = make_plugin_manager(plugins=[("images", _Plugin()), ("kubernetes", k8s_plugin)])
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
    manager = make_plugin_manager(plugins=[("images", _Plugin()), ("kubernetes", k8s_plugin)])
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
    _ImageBuilder.built.clear()
    manager = make_plugin_manager(plugins=[("images", _Plugin()), ("kubernetes", k8s_plugin)])
    with pytest.raises(InvalidDeployInput) as info:
        deploy(project / "Dockfile.yaml", target="kubernetes", plugins=manager)
    assert info.value.exit_code == 1
    assert "AGENTDOCK_DATABASE_URL=postgresql://" in info.value.cause
    assert "Secret echo-env" in info.value.cause and "SQLite" in info.value.cause
    assert _ImageBuilder.built == [] and state.requests == []
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
