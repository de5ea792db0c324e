"""The control plane on the Docker target against a real dockerd: the chat example deployed
through ``POST /controller/deploy``, watched over the event stream until it is healthy,
called, read (status, logs), rolled back and stopped, with no container left behind.

The control plane is configured as ``agentdock controlplane --target docker --base-image
REF`` configures it (the chat example's Dockfile names no target); images are built offline
from the test base image (tests/dockerbase.py). Skips without dockerd; fails instead in CI
(AGENTDOCK_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from dockerbase import docker_client, ensure_base_image
from served import serving

pytestmark = pytest.mark.slow

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"
DEADLINE = 300.0


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[Any, str]]:
    client = docker_client()
    yield client, ensure_base_image(client)
    client.close()


def _frames(lines: Iterator[str], done: Any) -> list[dict[str, Any]]:
    """SSE frames (``event``, ``data``) read until ``done(frames)`` holds."""
    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    for line in lines:
        if not line:
            if frame.get("data"):
                frames.append({"event": frame.get("event"), **json.loads(frame["data"])})
                if done(frames):
                    return frames
            frame = {}
            continue
        field, _, value = line.partition(": ")
        frame[field] = value
    raise AssertionError(f"the event stream ended early: {frames}")


def _ended(op_id: str) -> Any:
    return lambda frames: any(
        f["event"] == "deploy_status"
        and f.get("operation_id") == op_id
        and f["status"] in ("succeeded", "failed")
        for f in frames
    )


class Api:
    def __init__(self, client: httpx.Client, key: str) -> None:
        self.client = client
        self.auth = {"authorization": f"Bearer {key}"}

    def start(self, path: str, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Start an operation while following the event stream; its events to the end."""
        with self.client.stream("GET", "/controller/events", headers=self.auth) as events:
            assert events.status_code == 200
            answer = self.client.post(path, json=body, headers=self.auth)
            assert answer.status_code == 202, answer.text
            op_id = answer.json()["operation_id"]
            frames = _frames(events.iter_lines(), _ended(op_id))
        return op_id, [f for f in frames if f.get("operation_id") == op_id]

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params, headers=self.auth)
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_the_chat_example_deploys_rolls_back_and_stops_through_the_control_plane(
    engine: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker, base = engine
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    project = tmp_path / "projects" / "chat"
    shutil.copytree(CHAT, project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    store = open_store()
    key = create_platform_key(store, "developer", created_by="test")[0].key
    plane = ControlPlane(
        store=store,
        projects=project.parent,
        plugins=make_plugin_manager(entry_points=True),
        target="docker",
        build_options={"base_image": base},
        health_interval=0,
    )
    try:
        with (
            serving(controlplane_app(plane)) as port,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
        ):
            _drive(Api(client, key), plane, project, docker)
    finally:
        for record in store.list_deployments("chat"):
            name = record.handle.get("name")
            if name:
                with contextlib.suppress(Exception):  # already gone
                    docker.containers.get(name).remove(force=True, v=True)
        store.close()


def _drive(api: Api, plane: ControlPlane, project: Path, docker: Any) -> None:
    op_id, events = api.start("/controller/deploy", {"dockfile": "chat/Dockfile.yaml"})
    statuses = [e["status"] for e in events if e["event"] == "deploy_status"]
    assert statuses == ["queued", "running", "succeeded"], events
    steps = [e["step"] for e in events if e["event"] == "build_event"]
    # The docker builder's and the docker target's own steps arrive, then the gate opens.
    assert "build" in steps and "health" in steps, steps
    result = events[-1]["result"]
    assert result["target"] == "docker" and result["status"] == "active"
    answer = api.client.post(f"/controller/operations/{op_id}/secret", headers=api.auth)
    agent_key = answer.json()["key"]

    status = api.get("/controller/status/chat")
    # Running; Docker's own health check may not have run yet (the gate ran it itself).
    assert (status["target"], status["version"], status["health"]) == ("docker", "0.1.0", "running")
    assert status["healthy"] is not False
    assert docker.containers.get(_name(api)).status == "running"
    called = httpx.post(
        f"{status['endpoint']}/invoke",
        json={"question": "hello?"},
        headers={"x-api-key": agent_key},
        timeout=60,
    )
    assert called.status_code == 200, called.text
    assert called.json()["answer"]
    logs = api.get("/controller/logs/chat", tail=50)["lines"]
    assert logs and len(logs) <= 50
    assert agent_key not in json.dumps(logs)
    # A client that follows the container's log and leaves frees its follower, though the
    # log says nothing more (the engine's stream is closed under the waiting thread). On a
    # loaded machine the engine has once ended a follow by itself right after its first
    # line, which frees the follower too: such a try is followed again, up to three times,
    # and each one's follower must be freed once its client leaves.
    held = []
    for _ in range(3):
        with api.client.stream(
            "GET", "/controller/logs/chat/follow", params={"tail": 1}, headers=api.auth
        ) as follow:
            assert follow.status_code == 200
            assert any(line.startswith("event: line") for line in follow.iter_lines())
            held.append(plane.followers.taken)
        _until(lambda: plane.followers.taken == 0)
        if held[-1] == 1:
            break
    assert held[-1] == 1, held

    graph = project / "agent" / "graph.py"
    graph.write_text(graph.read_text() + "\n# the second version\n")
    _, events = api.start("/controller/deploy", {"dockfile": "chat/Dockfile.yaml"})
    assert events[-1]["status"] == "succeeded", events
    assert api.get("/controller/status/chat")["version"] == "0.1.1"
    second = _name(api)

    _, events = api.start("/controller/rollback", {"agent": "chat"})
    assert events[-1]["status"] == "succeeded", events
    back = api.get("/controller/status/chat")
    assert (back["version"], back["health"]) == ("0.1.0", "running")
    assert not docker.containers.list(all=True, filters={"name": f"^/{second}$"})

    _, events = api.start("/controller/stop", {"agent": "chat"})
    assert events[-1]["status"] == "succeeded", events
    assert api.get("/controller/status/chat")["status"] == "stopped"
    for record in api.get("/controller/deployments/chat"):
        assert record["target"] == "docker"
    names = [_handle_name(api, d["deployment_id"]) for d in api.get("/controller/deployments/chat")]
    for name in filter(None, names):
        assert not docker.containers.list(all=True, filters={"name": f"^/{name}$"}), name


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def _name(api: Api) -> str:
    """The container of the agent's current deployment, as the registry recorded it."""
    status = api.get("/controller/status/chat")
    return str(_handle_name(api, status["deployment_id"]))


def _handle_name(api: Api, deployment_id: int) -> str | None:
    with open_store() as store:
        record = store.get_deployment(deployment_id)
    return record.handle.get("name") if record is not None else None
