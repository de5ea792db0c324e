"""The control plane on the kubernetes target, against the stand-in API server of
tests/kubeapiserver.py: deploy, status, logs (tail and follow), a second version, rollback
and stop, all through the control plane's API.

The control plane is configured as ``agentdock controlplane --target kubernetes``
configures it (the echo example's Dockfile names no target); the image builder only names
images (the target needs a reference, not a build), and the echo example reads its keys
from a shared registry whose URL, password included, is in the project's ``.env``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from agentdock_plugins import kubernetes as k8s_plugin
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import DEADLINE, Plane
from kubeapiserver import DB_PASSWORD, TOKEN, FakeCluster, ImagePlugin, echo_project
from served import serving

pytest_plugins = ("kube_fixtures",)


@pytest.fixture
def plane(
    cluster: tuple[FakeCluster, str],
    kubeconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Plane]:
    """A control plane for the kubernetes target on a real socket (a followed log is a
    response that never ends by itself), with a viewer's and a developer's key."""
    echo_project(tmp_path / "projects" / "echo", monkeypatch)
    store = open_store()
    keys = {
        role: create_platform_key(store, role, created_by="test")[0].key
        for role in ("viewer", "developer")
    }
    state = ControlPlane(
        store=store,
        projects=tmp_path / "projects",
        plugins=make_plugin_manager(
            plugins=[("images", ImagePlugin()), ("kubernetes", k8s_plugin)]
        ),
        target="kubernetes",
        health_interval=0,
    )
    try:
        with (
            serving(controlplane_app(state)) as port,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            yield Plane(state, client, keys)  # type: ignore[arg-type]
    finally:
        store.close()


def _run(cp: Plane, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = cp.client.post(path, json=body, headers=cp.auth("developer"))
    assert answer.status_code == 202, answer.text
    done = cp.wait(answer.json()["operation_id"])
    assert done["status"] == "succeeded", done
    return done


def _get(cp: Plane, path: str, **params: Any) -> Any:
    answer = cp.client.get(path, params=params, headers=cp.auth("developer"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _image(cluster: FakeCluster) -> str:
    deployment = cluster.deployment()
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def _until(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_deploy_status_logs_rollback_and_stop_through_the_control_plane(
    plane: Plane, cluster: tuple[FakeCluster, str], tmp_path: Path
) -> None:
    state, _ = cluster
    first = _run(plane, "/controller/deploy", {"dockfile": "echo/Dockfile.yaml"})
    assert first["result"]["target"] == "kubernetes"
    assert first["result"]["endpoint"] == "http://echo.agents.svc.cluster.local:8080"
    steps = {s["step"] for s in first["steps"]}
    assert {"build", "health"} <= steps, steps
    assert _image(state) == "registry.example/echo:0.1.0"

    status = _get(plane, "/controller/status/echo")
    assert (status["target"], status["version"]) == ("kubernetes", "0.1.0")
    assert (status["health"], status["healthy"]) == ("running", True)
    rows = _get(plane, "/controller/agents")
    assert [(r["agent"], r["state"], r["target"]) for r in rows] == [
        ("echo", "active", "kubernetes")
    ]

    lines = _get(plane, "/controller/logs/echo", tail=5)["lines"]
    assert lines[0] == "starting the runtime"
    # A followed log is the API server's open stream: a client that leaves shuts it.
    with plane.client.stream(
        "GET", "/controller/logs/echo/follow", params={"tail": 5}, headers=plane.auth("developer")
    ) as follow:
        assert follow.status_code == 200
        assert any('"starting the runtime"' in line for line in follow.iter_lines())
    _until(lambda: plane.plane.followers.taken == 0)
    _until(lambda: state.follows_closed == 1)

    graph = tmp_path / "projects" / "echo" / "echo" / "graph.py"
    graph.write_text(graph.read_text() + "\n# the second version\n")
    second = _run(plane, "/controller/deploy", {"dockfile": "echo/Dockfile.yaml"})
    assert second["result"]["version"] == "0.1.1"
    assert _image(state) == "registry.example/echo:0.1.1"

    back = _run(plane, "/controller/rollback", {"agent": "echo"})
    assert back["result"]["version"] == "0.1.0"
    assert _image(state) == "registry.example/echo:0.1.0"
    assert _get(plane, "/controller/status/echo")["version"] == "0.1.0"

    _run(plane, "/controller/stop", {"agent": "echo"})
    assert _get(plane, "/controller/status/echo")["status"] == "stopped"
    assert state.objects == {}
    deployments = _get(plane, "/controller/deployments/echo")
    assert {d["target"] for d in deployments} == {"kubernetes"}

    # The shared registry's password (in .env) and the kubeconfig's token went nowhere a
    # client, the audit log or the cluster's objects could show.
    shown = json.dumps(
        [deployments, _get(plane, "/controller/operations"), _get(plane, "/audit"), lines]
    )
    assert DB_PASSWORD not in shown and TOKEN not in shown
    assert DB_PASSWORD not in json.dumps([r["body"] for r in state.requests])
