"""One server hosting every agent of a directory: routes, auth, health and hot reload.

The examples' ``echo`` and ``chat`` agents are copied into one directory and served by a
real uvicorn server (api_key auth, keys in the registry), each under ``/agents/{name}/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import agentdock_plugins.policies
import agentdock_plugins.prometheus
import httpx
import httpx2
import pytest
import watchfiles
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from agentdock_cli.main import cli
from agentdock_plugins.litestar.hosting import AgentHost
from agentdock_plugins.litestar.hosting.watch import WATCH_FILTER
from agentdock_plugins.litestar.limits import DEFAULT_MAX_BODY_BYTES
from auth_support import stored_key
from click.testing import CliRunner
from langgraph.pregel.remote import RemoteGraph
from mcp.client._probe import negotiate_auto
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from processes import stop, wait_ready
from rawhttp import declared_too_large, headers_only
from served import serving
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Planted in a request's key: never in an answer.
PLANTED = "adk_planted_0123456789abcdef0123456789abcdef"


def _plugins() -> Any:
    return make_plugin_manager(
        plugins=[
            agentdock_plugins.langgraph,
            agentdock_plugins.litestar,
            agentdock_plugins.auth,
            agentdock_plugins.policies,
            agentdock_plugins.prometheus,
        ]
    )


def _copy_example(name: str, into: Path) -> Path:
    target = into / name
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    return tmp_path


@pytest.fixture
def two_agents(home: Path) -> Iterator[dict[str, Any]]:
    """``echo`` and ``chat`` served from one directory; a key per agent and role."""
    agents = home / "agents"
    agents.mkdir()
    _copy_example("echo", agents)
    _copy_example("chat", agents)
    with open_store() as store:
        keys = {
            (agent, role): stored_key(store, agent, role)[0].key
            for agent in ("echo", "chat")
            for role in ("developer", "viewer")
        }
    host = AgentHost(agents, plugins=_plugins())
    host.load_all()
    with serving(host) as port:
        yield {"url": f"http://127.0.0.1:{port}", "keys": keys, "host": host}


def _key(keys: dict[Any, str], agent: str, role: str = "developer") -> dict[str, str]:
    return {"x-api-key": keys[(agent, role)]}


def test_each_agent_is_served_under_its_name_with_its_own_keys(
    two_agents: dict[str, Any],
) -> None:
    keys = two_agents["keys"]
    with httpx.Client(base_url=two_agents["url"], timeout=30) as http:
        echo = http.post("/agents/echo/invoke", json={"text": "hi"}, headers=_key(keys, "echo"))
        assert echo.status_code == 200, echo.text
        assert echo.json() == {"text": "HI"}
        chat = http.post("/agents/chat/invoke", json={"question": "hi"}, headers=_key(keys, "chat"))
        assert chat.status_code == 200, chat.text
        assert "hi" in chat.json()["answer"]
        # echo's key is no key of chat's; chat's viewer may not invoke; no key at all.
        crossed = http.post(
            "/agents/chat/invoke", json={"question": "hi"}, headers=_key(keys, "echo")
        )
        assert crossed.status_code in (401, 403), crossed.text
        viewer = http.post(
            "/agents/chat/invoke", json={"question": "hi"}, headers=_key(keys, "chat", "viewer")
        )
        assert viewer.status_code == 403, viewer.text
        anonymous = http.post(
            "/agents/echo/invoke", json={"text": "hi"}, headers={"x-api-key": PLANTED}
        )
        assert anonymous.status_code == 401
        assert PLANTED not in anonymous.text
        # Each agent's own schema, OpenAPI document and stream, under its prefix.
        schema = http.get("/agents/chat/schema").json()
        assert "question" in schema["input_schema"]["properties"]
        document = http.get("/agents/echo/openapi.json").json()
        assert "/invoke" in document["paths"]
        # Its Swagger UI, whose relative links reach the document and assets under the prefix.
        page = http.get("/agents/echo/docs")
        assert page.status_code == 200 and 'href="docs/assets/swagger-ui.css"' in page.text
        asset = http.get("/agents/echo/docs/assets/swagger-ui.css")
        assert asset.status_code == 200
        with http.stream(
            "POST", "/agents/echo/stream", json={"text": "yo"}, headers=_key(keys, "echo")
        ) as stream:
            body = "".join(stream.iter_text())
        assert "event: end" in body and '"YO"' in body
        # With two agents there is no agent at the root; an unknown name is a 404.
        assert http.post("/invoke", json={"text": "hi"}).status_code == 404
        unknown = http.post("/agents/nobody/invoke", json={"text": "hi"})
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "NotFound"
        listed = http.get("/agents", headers=_key(keys, "chat")).json()["agents"]
        assert [a["name"] for a in listed] == ["chat"]


def test_the_agent_list_needs_a_credential_that_may_view_metrics(
    two_agents: dict[str, Any],
) -> None:
    """``/agents`` names directories and reload errors: shown, as ``/metrics`` is, to a
    caller whose role has ``view_metrics``, and only the agents that accept it."""
    keys = two_agents["keys"]
    with httpx.Client(base_url=two_agents["url"], timeout=30) as http:
        anonymous = http.get("/agents")
        assert anonymous.status_code == 401, anonymous.text
        assert "directory" not in anonymous.text
        wrong = http.get("/agents", headers={"x-api-key": PLANTED})
        assert wrong.status_code == 401 and PLANTED not in wrong.text
        assert "chat" not in wrong.text and "echo" not in wrong.text
        viewer = http.get("/agents", headers=_key(keys, "echo", "viewer"))
        assert viewer.status_code == 200, viewer.text
        assert viewer.json()["agents"] == [
            {"name": "echo", "path": "/agents/echo", "directory": "echo"}
        ]


def test_root_store_routes_point_at_the_agents_store(two_agents: dict[str, Any]) -> None:
    keys = two_agents["keys"]
    with httpx.Client(base_url=two_agents["url"], timeout=30) as http:
        for method, path in (("PUT", "/store/items"), ("POST", "/store/items/search")):
            answer = http.request(method, path, json={}, headers=_key(keys, "echo"))
            assert answer.status_code == 404, answer.text
            body = answer.json()
            assert body["error"] == "NotFound"
            assert "/agents/{name}/store/" in body["detail"], body
            assert "no route" not in body["detail"]


def test_health_ready_and_metrics_report_each_agent(two_agents: dict[str, Any]) -> None:
    keys = two_agents["keys"]
    with httpx.Client(base_url=two_agents["url"], timeout=30) as http:
        health = http.get("/health").json()
        assert health["status"] == "healthy"
        assert set(health["agents"]) == {"echo", "chat"}
        assert health["agents"]["chat"]["agent"] == "chat"
        assert health["agents"]["echo"]["status"] == "healthy"
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["agents"] == {"chat": "ready", "echo": "ready"}
        # Each agent's own /health and /ready stay under its prefix.
        assert http.get("/agents/echo/health").json()["agent"] == "echo"
        http.post("/agents/echo/invoke", json={"text": "a"}, headers=_key(keys, "echo"))
        http.post("/agents/chat/invoke", json={"question": "b"}, headers=_key(keys, "chat"))
        assert http.get("/metrics").status_code == 401
        # A caller sees the metrics of the agents its key may view: chat's key, chat's.
        chat_only = http.get("/metrics", headers=_key(keys, "chat")).text
        assert 'agentdock_runs_total{agent="chat"' in chat_only
        assert 'agent="echo"' not in chat_only
        echo_only = http.get("/metrics", headers=_key(keys, "echo")).text
        assert 'agentdock_runs_total{agent="echo"' in echo_only
        assert echo_only.count("# TYPE process_cpu_seconds_total") <= 1


def test_health_shows_reload_errors_only_to_a_caller_that_may_view_metrics(
    two_agents: dict[str, Any],
) -> None:
    """``/health`` is public: up or degraded, and each agent's status; directory names and
    reload errors (codes, paths) only to a caller whose role has ``view_metrics``, for the
    agents that accept it (and the directories loading nothing, as ``/agents`` does)."""
    keys, host = two_agents["keys"], two_agents["host"]
    hidden = host.directory / "hidden-team"
    hidden.mkdir()
    (hidden / "Dockfile.yaml").write_text("version: '1.1'\nagent: {name: X}\n")
    echo_dockfile = host.directory / "echo" / "Dockfile.yaml"
    echo_dockfile.write_text(echo_dockfile.read_text().replace("name: echo", "name: Not/A/Name"))
    for directory in (hidden, echo_dockfile.parent):
        asyncio.run(host.refresh(directory.resolve()))
    with httpx.Client(base_url=two_agents["url"], timeout=30) as http:
        for headers in ({}, {"x-api-key": PLANTED}):
            public = http.get("/health", headers=headers)
            assert public.status_code == 200, public.text
            body = public.json()
            assert body["status"] == "degraded"
            assert {n: a["status"] for n, a in body["agents"].items()} == {
                "chat": "healthy",
                "echo": "healthy",
            }
            assert body["agents"]["echo"]["reload_failed"] is True
            assert "reload_failed" not in body["agents"]["chat"]
            assert body["failed_directories"] == 1
            for detail in ("hidden-team", "Dockfile", "agent.name", "directory", "errors"):
                assert detail not in public.text, detail
            assert PLANTED not in public.text
        viewer = http.get("/health", headers=_key(keys, "echo", "viewer"))
        assert viewer.status_code == 200, viewer.text
        shown = viewer.json()
        echo = shown["agents"]["echo"]
        assert echo["directory"] == "echo"
        assert echo["reload_error"]["dockfile"] == "echo/Dockfile.yaml"
        assert {f["path"] for f in echo["reload_error"]["errors"]} == {"agent.name"}
        assert "directory" not in shown["agents"]["chat"]  # chat does not admit echo's key
        assert shown["failed"]["hidden-team"]["dockfile"] == "hidden-team/Dockfile.yaml"


def test_not_ready_lists_the_agents_that_are_not(two_agents: dict[str, Any]) -> None:
    # An agent that stops taking runs (its shutdown begun) is not ready: the host says which.
    host: AgentHost = two_agents["host"]
    echo = host.agents["echo"]
    stopping = threading.Event()
    original = echo.app

    async def refusing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/ready":
            stopping.set()
            body = b'{"error":"ServiceUnavailable","code":503,"detail":"shutting down"}'
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await original(scope, receive, send)

    echo.app = refusing
    try:
        answer = httpx.get(f"{two_agents['url']}/ready", timeout=30)
    finally:
        echo.app = original
    assert stopping.is_set()
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "ServiceUnavailable"
    assert body["details"] == [{"path": "echo", "message": "shutting down"}]


GATED_GRAPH = textwrap.dedent(
    '''
    """Answers with its VERSION; a text "wait" holds its run until the file "release"
    exists in $GATE_DIR (after writing "started" there)."""

    import os
    import time
    from pathlib import Path
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    VERSION = "one"
    HERE = Path(os.environ["GATE_DIR"])


    class State(TypedDict):
        text: str


    def answer(state: State) -> State:
        if state["text"] == "wait":
            (HERE / "started").write_text("1")
            while not (HERE / "release").exists():
                time.sleep(0.02)
        return {"text": VERSION}


    def build_graph():
        graph = StateGraph(State)
        graph.add_node("answer", answer)
        graph.add_edge(START, "answer")
        graph.add_edge("answer", END)
        return graph.compile()
    '''
)

GATED_DOCKFILE = """\
version: "1.1"
agent: {name: gated, entrypoint: "gate.graph:build_graph", framework: langgraph}
model: {provider: custom, name: offline}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}}
auth: {mode: api_key, api_keys: {enabled: true}}
expose: {rest: true, streaming: sse, port: 8080}
"""


def _write_gated(directory: Path) -> Path:
    package = directory / "gate"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "graph.py").write_text(GATED_GRAPH)
    (directory / "Dockfile.yaml").write_text(GATED_DOCKFILE)
    return package / "graph.py"


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


def test_hot_reload_adds_changes_keeps_and_removes_agents(
    home: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = home / "gate"
    gate.mkdir()
    monkeypatch.setenv("GATE_DIR", str(gate))
    agents = home / "agents"
    agents.mkdir()
    echo_dir = _copy_example("echo", agents)
    with open_store() as store:
        keys = {agent: stored_key(store, agent)[0].key for agent in ("echo", "gated")}
    host = AgentHost(agents, plugins=_plugins(), watch=True)
    host.load_all()
    with serving(host) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:

        def run(agent: str, text: str) -> httpx.Response:
            return http.post(
                f"/agents/{agent}/invoke",
                json={"text": text},
                headers={"x-api-key": keys[agent]},
                timeout=60,
            )

        # One agent: it answers the root routes too, as a one-agent server does.
        assert http.post(
            "/invoke", json={"text": "x"}, headers={"x-api-key": keys["echo"]}
        ).json() == {"text": "X"}
        listing = http.get("/agents", headers={"x-api-key": keys["echo"]})
        assert [a["name"] for a in listing.json()["agents"]] == ["echo"]
        # Added.
        gated_dir = agents / "gated"
        graph = _write_gated(gated_dir)
        _until(lambda: run("gated", "hi").status_code == 200, "gated loaded")
        assert run("gated", "hi").json() == {"text": "one"}
        assert http.post("/invoke", json={"text": "x"}).status_code == 404  # two agents now

        # Changed while a run is in flight: the run ends on the old version.
        results: dict[str, httpx.Response] = {}
        waiting = threading.Thread(target=lambda: results.update(old=run("gated", "wait")))
        waiting.start()
        _until(lambda: (gate / "started").exists(), "the slow run started")
        graph.write_text(GATED_GRAPH.replace('VERSION = "one"', 'VERSION = "two, renewed"'))
        _until(lambda: run("gated", "hi").json() == {"text": "two, renewed"}, "reloaded")
        assert waiting.is_alive()
        assert host.retiring, "the old version shut down while a run was in it"
        (gate / "release").write_text("1")
        waiting.join(60)
        assert results["old"].status_code == 200
        assert results["old"].json() == {"text": "one"}
        _until(lambda: not host.retiring, "the old version shut down once idle")
        assert run("echo", "still").json() == {"text": "STILL"}

        # Broken: the previous version keeps serving; the error is logged and in /health
        # (for a caller that may view metrics), where a value the Dockfile reads from the
        # environment never appears.
        monkeypatch.setenv("ECHO_LIMIT", PLANTED)
        dockfile = echo_dir / "Dockfile.yaml"
        working = dockfile.read_text()
        broken = working.replace("name: echo", "name: Not/A/Name").replace(
            "max_output_chars: 10000", "max_output_chars: ${ECHO_LIMIT}"
        )
        dockfile.write_text(broken)
        answer = _until(
            lambda: (h := http.get("/health")).json()["status"] == "degraded" and h,
            "the broken Dockfile reported",
        )
        assert answer.json()["agents"]["echo"]["reload_failed"] is True
        assert "Dockfile" not in answer.text
        answer = http.get("/health", headers={"x-api-key": keys["echo"]})
        error = answer.json()["agents"]["echo"]["reload_error"]
        assert error["dockfile"] == "echo/Dockfile.yaml"
        paths = {finding["path"] for finding in error["errors"]}
        assert paths == {"agent.name", "policies.safety.max_output_chars"}
        assert all(isinstance(finding["code"], int) for finding in error["errors"])
        logged = [r.getMessage() for r in caplog.records if r.name == "agentdock.serve"]
        assert any("echo/Dockfile.yaml" in line and "agent.name" in line for line in logged)
        assert PLANTED not in answer.text
        listing = http.get("/agents", headers={"x-api-key": keys["echo"]})
        listed = {a["name"]: a for a in listing.json()["agents"]}
        assert listed["echo"]["reload_error"] == error
        assert not any(PLANTED in line for line in logged)
        assert run("echo", "kept").json() == {"text": "KEPT"}
        dockfile.write_text(working)
        _until(lambda: http.get("/health").json()["status"] == "healthy", "repaired")

        # Removed: a 404 afterwards; the other agent serves on.
        shutil.rmtree(gated_dir)
        _until(lambda: run("gated", "hi").status_code == 404, "gated unloaded")
        assert run("echo", "last").json() == {"text": "LAST"}


def test_a_moved_agent_keeps_serving_and_its_state_files_do_not_reload_it(home: Path) -> None:
    agents = home / "agents"
    agents.mkdir()
    echo_dir = _copy_example("echo", agents)
    _copy_example("chat", agents)
    with open_store() as store:
        key = stored_key(store, "echo")[0].key
    host = AgentHost(agents, plugins=_plugins(), watch=True)
    host.load_all()
    with serving(host) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:

        def run() -> Any:
            answer = http.post(
                "/agents/echo/invoke", json={"text": "hi"}, headers={"x-api-key": key}
            )
            return answer.json() if answer.status_code == 200 else answer.status_code

        loaded = host.agents["echo"]
        (echo_dir / "echo" / "graph.py").touch()
        _until(lambda: host.agents["echo"] is not loaded, "the touched agent reloaded")
        # What AgentDock keeps beside an agent (checkpoints, telemetry) is no change of it.
        state = echo_dir / ".agentdock" / "checkpoints.db"
        assert not WATCH_FILTER(watchfiles.Change.modified, str(state))
        assert WATCH_FILTER(watchfiles.Change.modified, str(echo_dir / "echo" / "graph.py"))
        # Moved to another directory: unloaded there, loaded here, serving throughout.
        echo_dir.rename(agents / "another")
        _until(lambda: host.names.get((agents / "another").resolve()) == "echo", "loaded there")
        assert run() == {"text": "HI"}
        assert (agents / "echo").resolve() not in host.names
        assert not host.failures


# -- bad input ------------------------------------------------------------------------------


def _serve(directory: Path) -> Any:
    return CliRunner().invoke(cli, ["serve", str(directory), "--insecure-no-auth", "--port", "0"])


def test_serve_refuses_an_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    result = _serve(tmp_path)
    assert result.exit_code == 1
    assert "holds no agent" in result.output
    assert str(tmp_path) in result.output


def test_serve_refuses_a_missing_directory(tmp_path: Path) -> None:
    result = _serve(tmp_path / "missing")
    assert result.exit_code == 5
    assert "does not exist" in result.output


def test_serve_refuses_two_agents_of_one_name(tmp_path: Path) -> None:
    _copy_example("echo", tmp_path)
    twin = tmp_path / "twin"
    shutil.copytree(tmp_path / "echo", twin)
    result = _serve(tmp_path)
    assert result.exit_code == 1
    assert "two agents are named 'echo'" in result.output
    assert str(tmp_path / "echo" / "Dockfile.yaml") in result.output
    assert str(twin / "Dockfile.yaml") in result.output


def test_serve_refuses_an_agent_name_with_path_characters(tmp_path: Path) -> None:
    echo = _copy_example("echo", tmp_path)
    dockfile = echo / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("name: echo", "name: ../echo"))
    result = _serve(tmp_path)
    assert result.exit_code == 1
    assert "agent.name" in result.output
    assert str(dockfile) in result.output


# -- the client protocols across hosted agents ----------------------------------------------


def test_platform_api_routes_each_call_to_its_agent(two_agents: dict[str, Any]) -> None:
    from langgraph_sdk import get_sync_client

    url, keys = two_agents["url"], two_agents["keys"]
    echo = get_sync_client(url=url, api_key=keys[("echo", "developer")])
    chat = get_sync_client(url=url, api_key=keys[("chat", "developer")])
    # Each key lists the assistants of the agents that accept it; ids pick the agent.
    assert [a["graph_id"] for a in echo.assistants.search()] == ["echo"]
    assert [a["graph_id"] for a in chat.assistants.search()] == ["chat"]
    chat_id = chat.assistants.search()[0]["assistant_id"]
    assert chat.assistants.get(chat_id)["graph_id"] == "chat"
    assert echo.assistants.get("echo")["graph_id"] == "echo"
    assert echo.runs.wait(None, "echo", input={"text": "hi"}) == {"text": "HI"}
    answered: Any = chat.runs.wait(None, chat_id, input={"question": "hi"})
    assert "hi" in answered["answer"]
    # A run on another agent's assistant goes through that agent's auth: refused.
    with pytest.raises(httpx.HTTPStatusError) as refused:
        echo.runs.wait(None, "chat", input={"question": "hi"})
    assert refused.value.response.status_code in (401, 403)
    # An assistant no agent has is named in the 404, as a one-agent server names it.
    for call in (
        lambda: echo.runs.wait(None, "nosuch", input={"text": "hi"}),
        lambda: echo.assistants.get("nosuch"),
    ):
        with pytest.raises(httpx.HTTPStatusError) as unknown:
            call()
        assert unknown.value.response.status_code == 404
        assert unknown.value.response.json() == {
            "error": "NotFound",
            "code": 404,
            "detail": "assistant nosuch not found",
            "path": "assistant",
        }
    # Threads: created for every agent that accepts the caller, then used by its runs.
    thread = echo.threads.create()
    tid = thread["thread_id"]
    assert echo.runs.wait(tid, "echo", input={"text": "again"}) == {"text": "AGAIN"}
    assert echo.threads.get(tid)["thread_id"] == tid
    assert [t["thread_id"] for t in echo.threads.search()] == [tid]
    parts = list(echo.runs.stream(None, "echo", input={"text": "go"}, stream_mode="values"))
    assert parts[0].event == "metadata" and parts[-1].data == {"text": "GO"}
    # RemoteGraph at the root: its runs and its thread's state reach echo.
    remote = RemoteGraph("echo", url=url, api_key=keys[("echo", "developer")])
    config: Any = {"configurable": {"thread_id": tid}}
    assert remote.invoke({"text": "remote"}, config) == {"text": "REMOTE"}
    assert remote.get_state(config).values == {"text": "REMOTE"}
    # LangServe and A2A by the agent named in the path.
    served = httpx.post(
        f"{url}/langserve/echo/invoke",
        json={"input": {"text": "ls"}},
        headers=_key(keys, "echo"),
        timeout=30,
    )
    assert served.status_code == 200, served.text
    assert served.json()["output"] == {"text": "LS"}
    card = httpx.get(f"{url}/a2a/chat/.well-known/agent-card.json", timeout=30)
    assert card.status_code == 200 and card.json()["name"] == "chat"


def test_an_unknown_assistant_at_the_root_is_refused_to_a_stranger(
    two_agents: dict[str, Any],
) -> None:
    """An assistant or LangServe agent no agent has is decided as an unknown thread is: a
    caller no agent admits gets 401 (it learns nothing of which assistants exist, nor of
    what a body needs), a caller echo admits gets echo's 404, with any body."""
    url, keys = two_agents["url"], two_agents["keys"]
    calls = [
        ("POST", "/runs/wait", b'{"assistant_id": "nosuch", "input": {"text": "x"}}', 404),
        ("POST", "/runs/stream", b'{"assistant_id": "nosuch", "input": {}}', 404),
        ("GET", "/assistants/nosuch", b"", 404),
        ("GET", "/assistants/nosuch/schemas", b"", 404),
        ("POST", "/langserve/nosuch/invoke", b'{"input": {"text": "x"}}', 404),
        ("POST", "/langserve/nosuch/batch", b"{not json", 404),
        ("POST", "/runs/wait", b"{not json", 400),
        ("POST", "/langserve/echo/invoke", b"{not json", 400),
    ]
    with httpx.Client(base_url=url, timeout=30) as http:
        for method, path, body, good in calls:
            for key in (None, PLANTED):
                headers = {"content-type": "application/json"}
                if key is not None:
                    headers["x-api-key"] = key
                answer = http.request(method, path, content=body, headers=headers)
                assert answer.status_code == 401, (path, answer.text)
                assert answer.json()["error"] == "Unauthorized", answer.text
                for word in ("nosuch", "not found", "JSON", "input", PLANTED):
                    assert word not in answer.text, (path, word, answer.text)
            admitted = http.request(
                method,
                path,
                content=body,
                headers={**_key(keys, "echo"), "content-type": "application/json"},
            )
            assert admitted.status_code == good, (path, admitted.text)
            if good == 404:
                assert "nosuch not found" in admitted.text, admitted.text


@pytest.mark.parametrize(
    "path", ["/runs/wait", "/runs", "/threads", "/assistants/search", "/langserve/nosuch/invoke"]
)
def test_a_body_too_large_at_the_root_is_413_to_an_admitted_caller_only(
    two_agents: dict[str, Any], path: str
) -> None:
    """The root routes read a body to choose the agent: one over the limit is told to a
    caller some agent admits (413), and refused unread to anyone else (401), as each
    agent's own routes answer."""
    url, keys = two_agents["url"], two_agents["keys"]
    for headers in ({}, {"x-api-key": PLANTED}):
        status, body = declared_too_large(url, "POST", path, headers)
        assert status == 401, body
        assert b"Unauthorized" in body and b"large" not in body and PLANTED.encode() not in body
    status, body = declared_too_large(url, "POST", path, _key(keys, "chat"))
    assert status == 413 and b"PayloadTooLarge" in body, body
    chunks = (b" " * 65536 for _ in range(DEFAULT_MAX_BODY_BYTES // 65536 + 1))
    answer = httpx.post(
        f"{url}{path}", content=chunks, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401, answer.text


#: The root routes that read a body to choose the agent (``/mcp`` included).
_BODY_ROUTES = [
    "/runs/wait",
    "/runs/stream",
    "/runs",
    "/threads/00000000-0000-4000-8000-000000000000/runs/wait",
    "/threads",
    "/threads/search",
    "/assistants/search",
    "/mcp",
    "/langserve/nosuch/invoke",
]


def _auth_failures(url: str, key: dict[str, str], agent: str) -> float:
    text = httpx.get(f"{url}/agents/{agent}/metrics", headers=key, timeout=30).text
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("agentdock_auth_failures_total{")
    )


@pytest.mark.parametrize("path", _BODY_ROUTES)
def test_a_caller_no_agent_knows_is_refused_at_the_root_before_its_body_is_read(
    two_agents: dict[str, Any], path: str
) -> None:
    """The body chooses the agent, so the root routes read it before an agent admits the
    caller; but a caller with no key, or a key no hosted agent knows, is refused 401 on its
    headers alone (the request declares a body and sends none: the answer comes at once)."""
    url = two_agents["url"]
    for headers in ({}, {"x-api-key": PLANTED}):
        status, body = headers_only(url, "POST", path, headers, 4096)
        assert status == 401, body
        assert json.loads(body)["error"] == "Unauthorized", body
        assert PLANTED.encode() not in body


def test_a_known_caller_at_the_root_is_admitted_once_by_its_agent(
    two_agents: dict[str, Any],
) -> None:
    """Chat's caller, at the root, reaches chat: asking whether some agent knows it costs
    no auth failure on echo (which does not) and chat still admits it, once."""
    url, keys = two_agents["url"], two_agents["keys"]
    before = _auth_failures(url, _key(keys, "echo"), "echo")
    answer = httpx.post(
        f"{url}/runs/wait",
        json={"assistant_id": "chat", "input": {"question": "hi"}},
        headers=_key(keys, "chat"),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "hi" in answer.json()["answer"]
    assert _auth_failures(url, _key(keys, "echo"), "echo") == before
    # A stranger refused before its body is read is still counted by every agent.
    refused = httpx.post(f"{url}/runs/wait", json={"assistant_id": "echo"}, timeout=30)
    assert refused.status_code == 401, refused.text
    assert _auth_failures(url, _key(keys, "echo"), "echo") == before + 1


def test_an_agent_not_hosted_is_404_without_its_body_read(two_agents: dict[str, Any]) -> None:
    """``/agents/{name}/…`` for a name no agent has: 404 to anyone, on the headers alone
    (the names are public on ``/health``, so the 404 tells a stranger nothing new)."""
    url, keys = two_agents["url"], two_agents["keys"]
    for headers in ({}, {"x-api-key": PLANTED}, _key(keys, "echo")):
        status, body = headers_only(url, "POST", "/agents/nope/invoke", headers, 4096)
        assert status == 404, body
        assert json.loads(body)["error"] == "NotFound", body
        assert PLANTED.encode() not in body
    # A hosted agent's own route refuses a stranger on its headers too.
    status, body = headers_only(url, "POST", "/agents/echo/invoke", {}, 4096)
    assert status == 401, body


def test_threads_search_is_empty_for_a_caller_with_no_threads_yet(
    two_agents: dict[str, Any],
) -> None:
    """A caller accepted by one agent and refused by the others, with no thread yet, gets
    an empty list (as a one-agent server answers it), not another agent's 401."""
    from langgraph_sdk import get_sync_client

    url, keys = two_agents["url"], two_agents["keys"]
    echo = get_sync_client(url=url, api_key=keys[("echo", "developer")])
    assert echo.threads.search() == []
    tid = echo.threads.create()["thread_id"]
    assert [t["thread_id"] for t in echo.threads.search()] == [tid]
    # With no agent accepting the caller, the refusal is still the answer.
    refused = httpx.post(
        f"{url}/threads/search", json={}, headers={"x-api-key": "adk_nope_nope"}, timeout=30
    )
    assert refused.status_code == 401, refused.text


def test_an_unknown_thread_at_the_root_is_404_not_another_agents_401(
    two_agents: dict[str, Any],
) -> None:
    """A thread no agent knows, asked at the root with echo's key: echo's 404 (the thread is
    not found, as a one-agent server says), not chat's 401 "unknown API key", which would
    tell the caller its good key is wrong."""
    from langgraph_sdk import get_sync_client
    from langgraph_sdk.errors import NotFoundError

    url, keys = two_agents["url"], two_agents["keys"]
    echo = get_sync_client(url=url, api_key=keys[("echo", "developer")])
    missing = str(uuid.uuid4())
    for call in (
        lambda: echo.threads.get(missing),
        lambda: echo.threads.get_state(missing),
        lambda: echo.runs.list(missing),
    ):
        with pytest.raises(NotFoundError) as unknown:
            call()
        assert f"thread {missing} not found" in unknown.value.response.text
    # A key no agent accepts is still told so.
    refused = httpx.get(
        f"{url}/threads/{missing}", headers={"x-api-key": "adk_nope_nope"}, timeout=30
    )
    assert refused.status_code == 401, refused.text


def test_the_calls_not_served_answer_at_the_root_as_on_one_agent(
    two_agents: dict[str, Any],
) -> None:
    """What compat.md lists as not served answers the same status at the root of a
    directory as on a one-agent server: ``assistants.count`` is a 405, not a 404 for an
    assistant named "count"."""
    from langgraph_sdk import get_sync_client

    url, keys = two_agents["url"], two_agents["keys"]
    echo = get_sync_client(url=url, api_key=keys[("echo", "developer")])
    thread = echo.threads.create()["thread_id"]
    expected = {
        "assistants.count": (405, echo.assistants.count),
        "assistants.update": (405, lambda: echo.assistants.update("echo", name="x")),
        "assistants.delete": (405, lambda: echo.assistants.delete("echo")),
        "assistants.create": (404, lambda: echo.assistants.create("echo")),
        "threads.count": (405, echo.threads.count),
        "threads.prune": (405, lambda: echo.threads.prune([thread])),
        "threads.update": (405, lambda: echo.threads.update(thread, metadata={"a": 1})),
    }
    for name, (status, call) in expected.items():
        with pytest.raises(httpx.HTTPStatusError) as raised:
            call()
        answer = raised.value.response
        assert answer.status_code == status, (name, answer.text)
        assert answer.json()["code"] == status, (name, answer.text)


def test_mcp_lists_the_tools_of_the_agents_a_caller_may_use(two_agents: dict[str, Any]) -> None:
    url, keys = two_agents["url"], two_agents["keys"]
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "mcp"}},
    }
    headers = {**_key(keys, "echo"), "accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        tools = http.post("/mcp", json=listing).json()["result"]["tools"]
        assert [tool["name"] for tool in tools] == ["echo"]
        answer = http.post("/mcp", json=call).json()["result"]
        assert answer["structuredContent"] == {"text": "MCP"}
        # chat's tool called with echo's key: chat's auth refuses it.
        call["params"] = {"name": "chat", "arguments": {"question": "x"}}
        assert http.post("/mcp", json=call).status_code in (401, 403)


async def _mcp_session(url: str, mode: str) -> tuple[list[str], Any]:
    """The tools the ``mcp`` client lists at ``url``/mcp/ and echo's answer to a call."""
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        streamable_http_client(f"{url}/mcp/", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        if mode == "handshake":
            await session.initialize()
        else:
            await negotiate_auto(session)
        tools = await session.list_tools()
        called = await session.call_tool("echo", {"text": "tool"})
        return sorted(tool.name for tool in tools.tools), called.structured_content


def test_assistants_search_lists_every_agent_open_to_the_caller(
    home: Path,
) -> None:
    from langgraph_sdk import get_sync_client

    agents = home / "agents"
    agents.mkdir()
    for name in ("echo", "chat"):
        dockfile = _copy_example(name, agents) / "Dockfile.yaml"
        # Served without auth, an agent speaks the client protocols only when asked to.
        text = dockfile.read_text()
        if name == "echo":
            text = text.replace("streaming: sse", "streaming: websocket")
        text = text.replace("  rest: true\n", "  rest: true\n  protocols: [langgraph, mcp]\n", 1)
        dockfile.write_text(text)
    host = AgentHost(agents, plugins=_plugins(), insecure_no_auth=True)
    host.load_all()
    with serving(host) as port:
        client = get_sync_client(url=f"http://127.0.0.1:{port}", api_key=None)
        found = client.assistants.search()
        assert sorted(a["graph_id"] for a in found) == ["chat", "echo"]
        assert [a["graph_id"] for a in client.assistants.search(limit=1, offset=1)] == ["echo"]
        assert client.assistants.search(graph_id="chat")[0]["graph_id"] == "chat"
        tools = httpx.post(
            f"http://127.0.0.1:{port}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            timeout=30,
        ).json()["result"]["tools"]
        assert sorted(tool["name"] for tool in tools) == ["chat", "echo"]
        # The real MCP client, in both of its modes, at the root: every agent a tool.
        for mode in ("handshake", "modern"):
            names, called = asyncio.run(_mcp_session(f"http://127.0.0.1:{port}", mode))
            assert names == ["chat", "echo"], mode
            assert called == {"text": "TOOL"}, mode
        # echo's WebSocket under its prefix.
        with connect(
            f"ws://127.0.0.1:{port}/agents/echo/ws/stream", proxy=None, open_timeout=10
        ) as socket:
            socket.send(json.dumps({"input": {"text": "ws"}}))
            frames = [json.loads(socket.recv(timeout=30))]
            while frames[-1]["event"] not in ("end", "error"):
                frames.append(json.loads(socket.recv(timeout=30)))
        assert frames[-1]["event"] == "end", frames
        assert frames[-1]["data"]["output"] == {"text": "WS"}
        # Its handshake is counted by echo, under the route without the prefix.
        metrics = httpx.get(f"http://127.0.0.1:{port}/agents/echo/metrics", timeout=30).text
        counted = 'agentdock_http_requests_total{method="GET",route="/ws/stream",status="101"} 1.0'
        assert counted in metrics


def test_the_serve_command_hosts_a_directory_until_sigterm(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    _copy_example("echo", agents)
    _copy_example("chat", agents)
    port = _free_port()
    command = [sys.executable, "-m", "agentdock_cli", "serve", str(agents), "--json"]
    command += ["--insecure-no-auth", "--port", str(port), "--no-reload"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "AGENTDOCK_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        answer = httpx.post(f"{base}/agents/chat/invoke", json={"question": "hi"}, timeout=30)
        assert "hi" in answer.json()["answer"]
    finally:
        stop(proc)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    banner = json.loads(stdout.decode().splitlines()[0])
    assert banner["event"] == "serving" and banner["reload"] is False
    assert banner["agents"] == {
        "chat": f"{base}/agents/chat",
        "echo": f"{base}/agents/echo",
    }


# -- the container entrypoint given a directory ---------------------------------------------


def _runtime_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_container_entrypoint_serves_a_directory_of_agents(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    _copy_example("echo", agents)
    _copy_example("chat", agents)
    port = _free_port()
    env = _runtime_env(
        AGENTDOCK_SPEC=str(agents),
        AGENTDOCK_PORT=str(port),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_INSECURE_NO_AUTH="1",
        AGENTDOCK_HOME=str(tmp_path / "home"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdock_runtime"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        with httpx.Client(base_url=base, timeout=30) as http:
            echo = http.post("/agents/echo/invoke", json={"text": "hi"})
            assert echo.json() == {"text": "HI"}
            chat = http.post("/agents/chat/invoke", json={"question": "hi"})
            assert "hi" in chat.json()["answer"]
            assert set(http.get("/health").json()["agents"]) == {"chat", "echo"}
    finally:
        stop(proc)
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""


def test_the_container_entrypoint_refuses_a_directory_it_cannot_serve(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=_runtime_env(AGENTDOCK_SPEC=str(empty)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert result.stderr.strip().endswith(
        f"[FATAL] {empty} holds no agent: no sub-directory has a Dockfile.yaml"
    )
    agents = tmp_path / "agents"
    agents.mkdir()
    dockfile = _copy_example("echo", agents) / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("name: echo", "name: ../echo"))
    (agents / "twin").mkdir()
    shutil.copy(EXAMPLES / "echo" / "Dockfile.yaml", agents / "twin" / "Dockfile.yaml")
    (agents / "twin2").mkdir()
    shutil.copy(EXAMPLES / "echo" / "Dockfile.yaml", agents / "twin2" / "Dockfile.yaml")
    invalid = subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=_runtime_env(AGENTDOCK_SPEC=str(agents), AGENTDOCK_PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert invalid.returncode == 78
    fatal = [line for line in invalid.stderr.splitlines() if line.startswith("[FATAL]")]
    assert len(fatal) == 1 and f"[FATAL] {dockfile}: " in fatal[0] and "agent.name" in fatal[0]
    dockfile.write_text(dockfile.read_text().replace("name: ../echo", "name: another"))
    twins = subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=_runtime_env(AGENTDOCK_SPEC=str(agents), AGENTDOCK_PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert twins.returncode == 78, twins.stderr
    assert "two agents are named 'echo'" in twins.stderr
    assert str(agents / "twin" / "Dockfile.yaml") in twins.stderr
    assert str(agents / "twin2" / "Dockfile.yaml") in twins.stderr


# -- a client that goes away, under an agent's prefix ------------------------------------------


@pytest.fixture
def deadlines(home: Path) -> Iterator[dict[str, Any]]:
    """``echo`` and ``chat`` served with one-second read deadlines; echo's developer key."""
    from agentdock_plugins.litestar.limits import ServerLimits

    agents = home / "agents"
    agents.mkdir()
    _copy_example("echo", agents)
    _copy_example("chat", agents)
    with open_store() as store:
        key = stored_key(store, "echo", "developer")[0].key
    host = AgentHost(agents, plugins=_plugins())
    host.load_all()
    limits = ServerLimits(header_timeout=1.0, body_timeout=1.0)
    with serving(host, limits) as port:
        yield {"port": port, "key": key}


def _counted(port: int, key: str, route: str, status: int | None = None) -> float:
    """echo's ``agentdock_http_requests_total`` of ``POST route`` answered ``status``
    (None: any)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(
        f"http://127.0.0.1:{port}/agents/echo/metrics", headers={"x-api-key": key}, timeout=30
    ).text
    wanted = {"route": route, "method": "POST"}
    if status is not None:
        wanted["status"] = str(status)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "agentdock_http_requests_total"
        and all(sample.labels.get(k) == v for k, v in wanted.items())
    )


def _cut_off(raw: socket.socket, status: int) -> None:
    """A half body ended as ``status`` says: 408, waited out until the server answers it
    (read to the end); 499, the client leaving (the socket closed)."""
    with raw:
        if status == 408:
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := raw.recv(65536):
                    received += chunk
            assert received.startswith(b"HTTP/1.1 408"), received
        else:
            time.sleep(0.2)


def _half_a_body(port: int, path: str, key: str) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    raw.sendall(
        f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"x-api-key: {key}\r\ncontent-length: 100\r\n\r\n".encode()
        + b'{"te'
    )
    return raw


@pytest.mark.parametrize("route", ["/invoke", "/runs/wait"])
@pytest.mark.parametrize("status", [408, 499])
def test_a_client_gone_under_an_agents_prefix_is_counted_as_on_one_agent(
    deadlines: dict[str, Any], route: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A body cut off at its deadline (408) or a client that closes before its answer
    (499), on ``/agents/echo/…``, is counted by echo under that status, as ``serve FILE``
    counts it, not as a 500, and logged as no server error."""
    port, key = deadlines["port"], deadlines["key"]
    before = {s: _counted(port, key, route, s) for s in (None, status, 500)}
    with caplog.at_level("ERROR", logger="agentdock"):
        _cut_off(_half_a_body(port, f"/agents/echo{route}", key), status)
        deadline = time.monotonic() + 60
        while _counted(port, key, route) == before[None]:
            assert time.monotonic() < deadline, f"{route} was never counted"
            time.sleep(0.05)
    assert _counted(port, key, route, status) == before[status] + 1
    assert _counted(port, key, route, 500) == before[500]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("status", [408, 499])
def test_a_client_gone_at_the_root_asks_no_agent_with_half_a_body(
    deadlines: dict[str, Any], status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """At the root, the body chooses the agent: a body cut off at its deadline (408) or by a
    client that leaves (499) is handed to no agent (which would count the half body as its
    own 400); the next whole call is counted as usual."""
    port, key = deadlines["port"], deadlines["key"]
    before = _counted(port, key, "/runs/wait")
    with caplog.at_level("ERROR", logger="agentdock"):
        _cut_off(_half_a_body(port, "/runs/wait", key), status)
        time.sleep(0.5)
        whole = httpx.post(
            f"http://127.0.0.1:{port}/runs/wait",
            json={"assistant_id": "echo", "input": {"text": "hi"}},
            headers={"x-api-key": key},
            timeout=30,
        )
    assert whole.status_code == 200, whole.text
    assert _counted(port, key, "/runs/wait") == before + 1
    assert _counted(port, key, "/runs/wait", 200) >= 1
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


# -- which refusal a caller gets at the root ----------------------------------------------------


@pytest.fixture
def echo_roles(home: Path) -> Iterator[dict[str, Any]]:
    """``echo`` (roles ``developer``: invoke, view_metrics; ``reader``: read_docs) and
    ``chat`` served from one directory; echo's keys of both roles."""
    agents = home / "agents"
    agents.mkdir()
    dockfile = _copy_example("echo", agents) / "Dockfile.yaml"
    roles = (
        "  roles:\n"
        "    - {name: developer, permissions: [invoke, view_metrics]}\n"
        "    - {name: reader, permissions: [read_docs]}\n"
    )
    text = dockfile.read_text()
    dockfile.write_text(
        text.replace(
            "  api_keys: { enabled: true }\n", "  api_keys: { enabled: true }\n" + roles, 1
        )
    )
    _copy_example("chat", agents)
    with open_store() as store:
        keys = {role: stored_key(store, "echo", role)[0].key for role in ("developer", "reader")}
    host = AgentHost(agents, plugins=_plugins())
    host.load_all()
    with serving(host) as port:
        yield {"url": f"http://127.0.0.1:{port}", "keys": keys}


def test_a_known_caller_without_the_permission_is_told_so_at_the_root(
    echo_roles: dict[str, Any],
) -> None:
    """echo knows its reader's key, whose role lacks ``invoke`` (``view_metrics``): every
    root route answers echo's 403 naming the permission, as ``/runs/wait`` does, never
    chat's 401 "unknown API key" (which would tell the caller its good key is wrong)."""
    url, key = echo_roles["url"], {"x-api-key": echo_roles["keys"]["reader"]}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    mcp = {**key, "accept": "application/json, text/event-stream"}
    calls = {
        "POST /runs/wait": ("POST", "/runs/wait", {"assistant_id": "echo"}, key, "invoke"),
        "POST /threads": ("POST", "/threads", {}, key, "invoke"),
        "POST /threads/search": ("POST", "/threads/search", {}, key, "invoke"),
        "POST /assistants/search": ("POST", "/assistants/search", {}, key, "invoke"),
        "POST /mcp tools/list": ("POST", "/mcp", listing, mcp, "invoke"),
        "GET /agents": ("GET", "/agents", None, key, "view_metrics"),
        "GET /metrics": ("GET", "/metrics", None, key, "view_metrics"),
    }
    wrong = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        for name, (method, path, body, headers, permission) in calls.items():
            answer = http.request(method, path, json=body, headers=headers)
            told = f"lacks permission '{permission}'" in answer.text
            if answer.status_code != 403 or not told:
                wrong[name] = (answer.status_code, answer.text)
    assert not wrong, wrong


# -- a caller one agent knows costs the others nothing -----------------------------------------


def _refused(url: str, key: dict[str, str], agent: str) -> tuple[float, float]:
    """``agent``'s auth failures and its requests answered 401, read with its ``key``."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/agents/{agent}/metrics", headers=key, timeout=30).text
    failures = answered = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "agentdock_auth_failures_total":
                failures += sample.value
            elif sample.name == "agentdock_http_requests_total":
                answered += sample.value if sample.labels.get("status") == "401" else 0.0
    return failures, answered


def test_a_caller_one_agent_knows_is_no_auth_failure_of_the_others_at_the_root(
    two_agents: dict[str, Any],
) -> None:
    """echo's developer at the root (the host's routes, the client protocols' routes) is
    asked of echo alone: chat, which does not know its key, counts no auth failure and no
    401; a caller no agent knows is still refused, and counted, by every agent."""
    url, keys = two_agents["url"], two_agents["keys"]
    echo, chat = _key(keys, "echo"), _key(keys, "chat")
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    missing = str(uuid.uuid4())
    before = _refused(url, chat, "chat")
    with httpx.Client(base_url=url, headers=echo, timeout=30) as http:
        for method, path, body in (
            ("GET", "/metrics", None),
            ("GET", "/agents", None),
            ("GET", "/health", None),
            ("POST", "/threads", {}),
            ("POST", "/threads/search", {}),
            ("POST", "/assistants/search", {}),
            ("GET", f"/threads/{missing}", None),
            ("GET", f"/assistants/{missing}", None),
            ("POST", "/mcp", listing),
        ):
            headers = {"accept": "application/json, text/event-stream"}
            answer = http.request(method, path, json=body, headers=headers)
            assert answer.status_code in (200, 404), (path, answer.text)
        seen = http.get("/metrics").text
        assert 'agent="echo"' in seen and 'agent="chat"' not in seen
        tools = http.post("/mcp", json=listing, headers=headers).json()["result"]["tools"]
        assert [tool["name"] for tool in tools] == ["echo"]
    assert _refused(url, chat, "chat") == before
    # A caller no agent knows: every agent refuses and reports it, as before.
    for path in ("/metrics", "/agents"):
        assert httpx.get(f"{url}{path}", headers={"x-api-key": PLANTED}).status_code == 401
    failures, answered = _refused(url, chat, "chat")
    assert failures == before[0] + 2
    assert answered == before[1] + 1  # /metrics asked of chat in-process


def test_a_public_agents_metrics_are_shown_to_a_caller_another_agent_knows(home: Path) -> None:
    """chat's metrics are public: a caller echo knows sees chat's beside echo's at the
    root, and a caller with no credential sees chat's alone."""
    agents = home / "agents"
    agents.mkdir()
    _copy_example("echo", agents)
    dockfile = _copy_example("chat", agents) / "Dockfile.yaml"
    text = dockfile.read_text()
    opened = text.replace("observability:\n", "observability:\n  metrics: {public: true}\n", 1)
    assert opened != text
    dockfile.write_text(opened)
    with open_store() as store:
        key = {"x-api-key": stored_key(store, "echo", "developer")[0].key}
    host = AgentHost(agents, plugins=_plugins())
    host.load_all()
    with serving(host) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        http.post("/agents/echo/invoke", json={"text": "a"}, headers=key, timeout=30)
        both = http.get("/metrics", headers=key, timeout=30)
        assert both.status_code == 200, both.text
        assert 'agent="echo"' in both.text and 'agent="chat"' in both.text
        anonymous = http.get("/metrics", timeout=30)
        assert anonymous.status_code == 200, anonymous.text
        assert 'agent="chat"' in anonymous.text and 'agent="echo"' not in anonymous.text
