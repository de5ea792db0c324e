"""``agentdock.testing``: in-process clients against the echo agent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import httpx
import pytest
from agentdock import make_plugin_manager
from agentdock.testing import async_client, client

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"


def test_sync_client_serves_echo() -> None:
    with client(ECHO, insecure_no_auth=True) as http:
        assert isinstance(http, httpx.Client)
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["agent"] == "echo"
        response = http.post("/invoke", json={"text": "hi"})
        assert response.status_code == 200
        assert response.json() == {"text": "HI"}
        assert response.headers["x-run-id"]
        schema = http.get("/schema")
        assert schema.status_code == 200
        assert schema.json()["input_schema"]["required"] == ["text"]
        assert http.post("/invoke", json={}).status_code == 422


def test_sync_client_without_context_manager() -> None:
    http = client(ECHO.parent, insecure_no_auth=True)
    try:
        assert http.get("/ready").status_code == 200
        assert http.post("/invoke", json={"text": "nb"}).json() == {"text": "NB"}
    finally:
        http.close()


def test_sync_client_streams_sse() -> None:
    with client(ECHO, insecure_no_auth=True) as http:
        response = http.post("/stream", json={"text": "sse"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "SSE" in response.text


def test_async_client_serves_echo() -> None:
    async def scenario() -> None:
        async with async_client(ECHO, insecure_no_auth=True) as http:
            assert isinstance(http, httpx.AsyncClient)
            assert (await http.get("/ready")).status_code == 200
            response = await http.post("/invoke", json={"text": "hi"})
            assert response.status_code == 200
            assert response.json() == {"text": "HI"}
            schema = await http.get("/schema")
            assert schema.status_code == 200
            assert set(schema.json()) == {"input_schema", "output_schema"}

    asyncio.run(scenario())


def test_async_client_without_context_manager() -> None:
    async def scenario() -> None:
        http = async_client(ECHO, insecure_no_auth=True)
        try:
            assert (await http.post("/invoke", json={"text": "x"})).json() == {"text": "X"}
        finally:
            await http.aclose()

    asyncio.run(scenario())


def test_client_without_auth_provider_refuses() -> None:
    from agentdock_runtime.pipeline import PipelineError

    only_adapter_and_server = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar]
    )
    with pytest.raises(PipelineError, match="auth provider"):
        client(ECHO, plugins=only_adapter_and_server)


def test_client_takes_a_spec_object(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = agentdock.load(ECHO)
    monkeypatch.chdir(ECHO.parent)
    with client(spec, insecure_no_auth=True, headers={"x-thread-id": "t1"}) as http:
        assert http.post("/invoke", json={"text": "obj"}).json() == {"text": "OBJ"}


def test_testing_module_imports_no_runtime() -> None:
    code = (
        "import sys, agentdock.testing; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'agentdock_runtime', 'agentdock_plugins', 'httpx', 'litestar'}]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


NOTEBOOK = """
import logging, sys
import agentdock

root = logging.getLogger()
before = (root.level, list(root.handlers))
with agentdock.testing.client({dockfile!r}, insecure_no_auth=True) as http:
    for text in ("one", "two"):
        assert http.post("/invoke", json={{"text": text}}).json() == {{"text": text.upper()}}
    assert http.post("/stream", json={{"text": "three"}}).status_code == 200
after = (root.level, list(root.handlers))
assert before == after, (before, after)
print("done")
"""


def test_a_notebook_session_leaves_logging_alone_and_prints_no_event_lines() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTDOCK_LOG_FORMAT"}
    result = subprocess.run(
        [sys.executable, "-c", NOTEBOOK.format(dockfile=str(ECHO))],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    output = result.stdout + result.stderr
    assert "run_end" not in output and "run ok" not in output
    assert "HTTP Request" not in output
