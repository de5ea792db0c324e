"""``stop`` then ``rollback`` on the ``local`` target, through the Python API: the rollback
goes back to the version before the one that served last, as a rollback of a serving
deployment does, rather than starting the stopped version again."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import agentdock
import httpx
import pytest

pytestmark = pytest.mark.slow

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer(endpoint: str, key: str) -> str:
    reply = httpx.post(
        f"{endpoint}/invoke",
        json={"text": "hi"},
        headers={"x-api-key": key},
        timeout=30,
        trust_env=False,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["text"])


def test_stop_then_rollback_serves_the_version_before_the_stopped_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AGENTDOCK_WARM_ROLLBACK", "off")  # no standby outlives the test
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    project = tmp_path / "echo"
    shutil.copytree(ECHO, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(
        dockfile.read_text("utf-8").replace("port: 8080", f"port: {_free_port()}"), "utf-8"
    )
    monkeypatch.chdir(project)
    graph = project / "echo" / "graph.py"
    try:
        first = agentdock.deploy(dockfile, target="local", timeout=120)
        key = str(first.api_key)
        assert _answer(first.endpoint, key) == "HI"
        graph.write_text(graph.read_text("utf-8").replace(".upper()", '.upper() + "!"'))
        second = agentdock.deploy(dockfile, target="local", timeout=120)
        assert second.version != first.version
        assert _answer(second.endpoint, key) == "HI!"

        stopped = agentdock.stop("echo")
        assert stopped["version"] == second.version and not stopped["already_stopped"]
        back = agentdock.rollback("echo", timeout=120)
        assert (back.version, back.reason) == (first.version, "rollback")
        assert _answer(back.endpoint, key) == "HI"
        assert agentdock.status("echo")["version"] == first.version

        agentdock.stop("echo")  # the first version served last: before it, the second
        forward = agentdock.rollback("echo", timeout=120)
        assert forward.version == second.version
        assert _answer(forward.endpoint, key) == "HI!"
    finally:
        agentdock.stop("echo")
