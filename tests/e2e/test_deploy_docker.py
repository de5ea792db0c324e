"""End to end on the Docker target: deploy, upgrade, roll back, survive crashes.

Real images (built offline from the test base image, tests/dockerbase.py), real containers,
real HTTP with the API key the first deploy prints. Skips without dockerd; fails instead in
CI (AGENTDOCK_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.deployment import HealthGateFailed, deploy, rollback, status, stop
from agentdock.registry import open_store
from dockerbase import docker_client, ensure_base_image

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "echo"
SHELL_ONLY = "shell-only-planted-2b7e51"
#: The value of a variable the agent's Dockfile references: the runtime must get it, and
#: nothing docker inspect shows may hold it.
TOKEN = "echo-token-planted-8c3f0a9d"
GRAPH = Path("echo") / "graph.py"


def _invoke(endpoint: str, key: str, text: str) -> httpx.Response:
    return httpx.post(
        f"{endpoint}/invoke", json={"text": text}, headers={"x-api-key": key}, timeout=30
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    client = docker_client()
    base = ensure_base_image(client)
    home = tmp_path_factory.mktemp("home")
    project = tmp_path_factory.mktemp("proj") / "echo"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text(encoding="utf-8")
    marker = "extra: { offline: true }"
    assert marker in text
    dockfile.write_text(
        text.replace(marker, 'extra: { offline: true, token: "${ECHO_TOKEN}" }'), encoding="utf-8"
    )
    old = os.environ.get("AGENTDOCK_HOME")
    os.environ["AGENTDOCK_HOME"] = str(home)
    os.environ["ECHO_TOKEN"] = TOKEN
    try:
        yield {"client": client, "base": base, "home": home, "project": project}
    finally:
        with open_store() as store:
            for record in store.list_deployments("echo"):
                name = record.handle.get("name")
                if name:
                    with contextlib.suppress(Exception):  # already gone
                        client.containers.get(name).remove(force=True, v=True)
        os.environ.pop("ECHO_TOKEN", None)
        if old is None:
            os.environ.pop("AGENTDOCK_HOME", None)
        else:
            os.environ["AGENTDOCK_HOME"] = old


def _deploy(env: dict[str, Any], **kw: Any) -> Any:
    return deploy(
        env["project"] / "Dockfile.yaml",
        target="docker",
        build_options={"base_image": env["base"]},
        check_imports=False,
        **kw,
    )


def test_deploy_upgrade_rollback_and_a_crashing_version(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_TOKEN", SHELL_ONLY)  # exported in the deploying shell
    v1 = _deploy(env)
    assert v1.api_key and v1.version == "0.1.0"
    key = v1.api_key
    assert _invoke(v1.endpoint, key, "hi").json() == {"text": "HI"}
    # Inside the container: the image's environment and what the deploy gave, nothing else.
    name = open_store().get_deployment(v1.deployment_id).handle["name"]
    container = env["client"].containers.get(name)
    init = int(container.attrs["State"]["Pid"])  # dumb-init, seen from the host
    (runtime,) = Path(f"/proc/{init}/task/{init}/children").read_text().split()
    raw = Path(f"/proc/{runtime}/environ").read_bytes()
    names = {item.decode().partition("=")[0] for item in raw.split(b"\0") if item}
    assert "AGENTDOCK_SPEC" in names  # the runtime's own environment
    image_env = {i.partition("=")[0] for i in container.image.attrs["Config"].get("Env") or ()}
    assert "UNRELATED_TOKEN" not in names
    assert {n for n in names - image_env if not n.startswith("AGENTDOCK_")} == {"HOSTNAME"}
    assert SHELL_ONLY not in json.dumps(container.attrs["Config"]["Env"])
    # It serves (above) with the pods' posture on, and ECHO_TOKEN resolved its placeholder
    # (else the runtime would have stopped at start) from the env file, not the environment.
    assert "ECHO_TOKEN" not in names
    assert TOKEN not in json.dumps(env["client"].api.inspect_container(container.id))
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] is True and host["PidsLimit"] == 1024
    assert host["Memory"] == 2 * 2**30
    assert {b["HostIp"] for b in host["PortBindings"]["8080/tcp"]} == {"127.0.0.1"}
    assert v1.host == "127.0.0.1"
    status_lines = Path(f"/proc/{runtime}/status").read_text().splitlines()
    caps = dict(line.split(":", 1) for line in status_lines)
    assert int(caps["CapEff"], 16) == 0 and caps["NoNewPrivs"].strip() == "1"

    graph = env["project"] / GRAPH
    graph.write_text(graph.read_text().replace(".upper()}", '.upper() + "!"}'))
    v2 = _deploy(env)
    assert (v2.version, v2.previous_version) == ("0.1.1", "0.1.0")
    assert _invoke(v2.endpoint, key, "hi").json() == {"text": "HI!"}
    client = env["client"]
    old = client.containers.list(all=True, filters={"label": "io.agentdock.deployment=1"})
    assert old == []  # v1's container was stopped and removed after the switch

    back = rollback("echo")
    assert back.version == "0.1.0" and back.reason == "rollback"
    assert _invoke(back.endpoint, key, "hi").json() == {"text": "HI"}
    forward = rollback("echo", "0.1.1")
    assert _invoke(forward.endpoint, key, "hi").json() == {"text": "HI!"}

    # v3 crashes at start-up: the gate fails, v2 keeps serving.
    graph.write_text(graph.read_text() + "\nraise RuntimeError('v3 is broken')\n")
    try:
        with pytest.raises(HealthGateFailed) as info:
            _deploy(env, timeout=60)
    finally:
        graph.write_text(graph.read_text().replace("\nraise RuntimeError('v3 is broken')\n", ""))
    assert info.value.exit_code == 4
    assert any("v3 is broken" in line or "FATAL" in line for line in info.value.log_tail)
    assert _invoke(forward.endpoint, key, "hi").json() == {"text": "HI!"}
    with open_store() as store:
        active = store.list_deployments("echo", statuses=["active"])
        failed = store.list_deployments("echo", statuses=["failed"])
    assert [d.id for d in active] == [forward.deployment_id]
    assert failed and failed[-1].version == "0.1.2"
    assert not client.containers.list(
        all=True, filters={"label": f"io.agentdock.deployment={failed[-1].id}"}
    )


def test_a_killed_runtime_is_restarted_by_docker(env: dict[str, Any]) -> None:
    current = _deploy(env)  # the active version again: a no-op, or a fresh start
    info = status("echo")
    container = env["client"].containers.get(
        open_store().get_deployment(info["deployment_id"]).handle["name"]
    )
    host_pid = container.attrs["State"]["Pid"]
    os.kill(host_pid, signal.SIGKILL)  # a crash, not `docker kill` (which Docker honours)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["RestartCount"] >= 1 and container.status == "running":
            try:
                if httpx.get(f"{current.endpoint}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    assert container.attrs["RestartCount"] >= 1
    assert status("echo")["restarts"] >= 1
    stopped = stop("echo")
    assert stopped["status"] == "stopped"


def test_dockerd_not_running_is_exit_3_with_the_fix(env: dict[str, Any], tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentdock_cli",
            "deploy",
            str(env["project"] / "Dockfile.yaml"),
            "--target",
            "docker",
            "--json",
        ],
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["event"] == "error" and last["error"] == "TargetUnavailable"
    assert "dockerd" in (last.get("hint") or "") + last["detail"]
