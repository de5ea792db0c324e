"""The litestar server plugin over HTTP: the echo example and scriptable test agents.

Every error answers with the runtime's envelope and never a traceback; streams are SSE
frames; a client that goes away cancels its run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.run import RunContext, RunResult, StreamEvent, Usage
from agentdock_plugins.litestar import litestar_server
from agentdock_plugins.litestar.app import DEFAULT_MAX_BODY_BYTES
from agentdock_runtime import compile_pipeline
from litestar.testing import TestClient
from scripted_server import scripted_spec as served_spec

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml"
SECRET = "sk-planted-secret-0123456789abcdef"


# -- the echo example ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echo() -> Iterator[TestClient[Any]]:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    app = agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    with TestClient(app) as client:
        yield client


def test_an_app_without_authentication_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    with caplog.at_level(logging.WARNING, logger="agentdock.runtime"):
        agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    warnings = [r.getMessage() for r in caplog.records if "authentication is OFF" in r.getMessage()]
    assert len(warnings) == 1, warnings


def assert_envelope(response: Any, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == name
    assert body["code"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    assert set(body) <= {"error", "code", "detail", "run_id", "path", "details"}
    return dict(body)


def sse_frames(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        run_id, _, number = fields["id"].rpartition(":")
        frames.append(
            {
                **json.loads(fields["data"]),
                "event": fields["event"],
                "id": int(number),
                "sse_run_id": run_id,
            }
        )
    return frames


def test_invoke_echo(echo: TestClient[Any]) -> None:
    response = echo.post("/invoke", json={"text": "hi"})
    assert response.status_code == 200
    assert response.json() == {"text": "HI"}
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.headers["x-run-id"]) == 32


def test_invoke_errors_are_envelopes(echo: TestClient[Any]) -> None:
    body = assert_envelope(echo.post("/invoke", content=b'{"text": '), 400, "MalformedJSONError")
    assert len(body["run_id"]) == 32
    assert_envelope(echo.post("/invoke", content=b""), 400, "MalformedJSONError")
    assert_envelope(echo.post("/invoke", content=b"[" * 20_000), 400, "MalformedJSONError")
    wrong = assert_envelope(echo.post("/invoke", json={"text": 5}), 422, "ValidationError")
    assert wrong["details"] == [{"path": "text", "message": "expected string, got an integer"}]
    assert_envelope(echo.post("/invoke", json=["hi"]), 422, "ValidationError")
    missing = assert_envelope(echo.post("/invoke", json={}), 422, "ValidationError")
    assert missing["details"][0]["path"] == "text"


def test_wrong_content_type_is_415(echo: TestClient[Any]) -> None:
    response = echo.post(
        "/invoke", content=b"text=hi", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_envelope(response, 415, "UnsupportedMediaType")
    ok = echo.post(
        "/invoke",
        content=b'{"text": "a"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.json() == {"text": "A"}


def test_body_over_the_limit_is_413(echo: TestClient[Any]) -> None:
    big = b'{"text": "' + b"a" * DEFAULT_MAX_BODY_BYTES + b'"}'
    assert_envelope(echo.post("/invoke", content=big), 413, "PayloadTooLarge")
    assert_envelope(echo.post("/stream", content=big), 413, "PayloadTooLarge")


def test_litestar_errors_are_envelopes(echo: TestClient[Any]) -> None:
    assert_envelope(echo.get("/nowhere"), 404, "NotFound")
    response = echo.get("/invoke")
    assert_envelope(response, 405, "MethodNotAllowed")
    assert "POST" in response.headers.get("allow", "")
    assert_envelope(echo.delete("/health"), 405, "MethodNotAllowed")


def test_schema_health_ready(echo: TestClient[Any]) -> None:
    schema = echo.get("/schema").json()
    assert set(schema) == {"input_schema", "output_schema"}
    assert schema["input_schema"]["required"] == ["text"]
    assert schema["output_schema"]["properties"]["text"]["type"] == "string"
    health = echo.get("/health").json()
    assert health["status"] == "healthy"
    assert health["agent"] == "echo"
    assert "version" in health
    assert health["uptime_seconds"] >= 0
    assert echo.get("/ready").status_code == 200


def test_a_deployed_runtime_reports_its_registry_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The echo Dockfile names no version: a deploy target's ``AGENTDOCK_VERSION`` is what
    ``/health`` and the OpenAPI document (Swagger UI's badge) show."""
    monkeypatch.setenv("AGENTDOCK_VERSION", "0.1.2")
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    with TestClient(agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)) as client:
        assert client.get("/health").json()["version"] == "0.1.2"
        assert client.get("/openapi.json").json()["info"]["version"] == "0.1.2"


def test_openapi_and_docs(echo: TestClient[Any]) -> None:
    document = echo.get("/openapi.json").json()
    assert document["components"]["schemas"]["Input"]["required"] == ["text"]
    assert "securitySchemes" not in document["components"], "served without authentication"
    docs = echo.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text and '"openapi.json"' in docs.text


def test_stream_get_and_post(echo: TestClient[Any]) -> None:
    response = echo.get("/stream", params={"input": json.dumps({"text": "hi"})})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(response.text)
    assert [f["event"] for f in frames] == ["start", "event", "end"]
    assert [f["id"] for f in frames] == [1, 2, 3]
    assert frames[0]["run_id"] == frames[-1]["run_id"] == response.headers["x-run-id"]
    assert {f["sse_run_id"] for f in frames} == {response.headers["x-run-id"]}
    posted = sse_frames(echo.post("/stream", json={"text": "yo"}).text)
    assert posted[-1]["event"] == "end"
    assert "YO" in json.dumps(posted)


def test_stream_input_errors(echo: TestClient[Any]) -> None:
    bad = assert_envelope(
        echo.get("/stream", params={"input": "{not json"}), 400, "MalformedJSONError"
    )
    assert bad["path"] == "input"
    assert assert_envelope(echo.get("/stream"), 400, "BadRequest")["path"] == "input"
    assert_envelope(echo.get("/stream", params={"input": "[1]"}), 422, "ValidationError")
    assert_envelope(echo.get("/stream", params={"input": '{"text": 1}'}), 422, "ValidationError")
    assert_envelope(echo.post("/stream", content=b"{"), 400, "MalformedJSONError")


# -- scriptable test agents ----------------------------------------------------------------------


class ScriptedAgent:
    """Behaves as the input's ``text`` says: ``boom`` raises, ``hang`` never returns."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = 0

    async def _act(self, payload: Mapping[str, Any], context: RunContext) -> dict[str, Any]:
        self.started.set()
        text = payload["text"]
        try:
            if text == "boom":
                raise RuntimeError(f"database password {SECRET} rejected")
            if text == "hang":
                await asyncio.Event().wait()
            if text == "slow":
                await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return {"text": text.upper(), "thread": context.thread_id or "", "keys": sorted(payload)}

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        output = await self._act(payload, context)
        return RunResult(
            {"text": output["text"], "thread": output["thread"], "keys": output["keys"]},
            Usage(1, 2),
        )

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        if payload["text"] == "late":
            yield StreamEvent("token", {"text": "partial"})
            raise RuntimeError(SECRET)
        output = await self._act(payload, context)
        for word in output["text"].split():
            yield StreamEvent("token", {"text": word})


def scripted_spec(**extra: Any) -> Any:
    """:mod:`scripted_server`'s spec, streamed over SSE, its runs cut off after 0.5 s."""
    return served_spec(streaming="sse", **{"arguments": {"timeout_sec": 0.5}, **extra})


def scripted_app(agent: ScriptedAgent, spec: Any | None = None, **options: Any) -> Any:
    class Plugin:
        @hookimpl
        def agentdock_register_adapters(self, register: Any) -> None:
            register("scripted", lambda entry, spec: agent)

    manager = make_plugin_manager(plugins=[("scripted", Plugin()), agentdock_plugins.litestar])
    spec = spec if spec is not None else scripted_spec()
    pipeline = compile_pipeline(spec, entry=None, plugins=manager, insecure_no_auth=True)
    return litestar_server(spec, **options).app(pipeline)


@pytest.fixture
def agent() -> ScriptedAgent:
    return ScriptedAgent()


@pytest.fixture
def client(agent: ScriptedAgent) -> Iterator[TestClient[Any]]:
    with TestClient(scripted_app(agent)) as test_client:
        yield test_client


def test_agent_that_raises_is_500_with_run_id(client: TestClient[Any]) -> None:
    response = client.post("/invoke", json={"text": "boom"})
    body = assert_envelope(response, 500, "AgentError")
    assert body["run_id"] == response.headers["x-run-id"]
    assert SECRET not in response.text and "RuntimeError" not in response.text


def test_agent_past_timeout_is_504(client: TestClient[Any], agent: ScriptedAgent) -> None:
    response = client.post("/invoke", json={"text": "hang"})
    body = assert_envelope(response, 504, "AgentTimeoutError")
    assert body["run_id"]
    assert agent.cancelled == 1


def test_thread_id_from_header_or_query(client: TestClient[Any]) -> None:
    by_header = client.post("/invoke", json={"text": "a"}, headers={"x-thread-id": "t-1"})
    assert by_header.json()["thread"] == "t-1"
    by_query = client.post("/invoke?thread_id=t-2", json={"text": "a"})
    assert by_query.json()["thread"] == "t-2"
    assert client.post("/invoke", json={"text": "a"}).json()["thread"] == ""


def test_extra_fields_are_passed_on(client: TestClient[Any]) -> None:
    response = client.post("/invoke", json={"text": "a", "extra": {"n": 1}})
    assert response.status_code == 200
    assert response.json()["keys"] == ["extra", "text"]


def test_stream_failure_after_start_is_an_error_frame(client: TestClient[Any]) -> None:
    response = client.post("/stream", json={"text": "late"})
    assert response.status_code == 200
    frames = sse_frames(response.text)
    assert [f["event"] for f in frames] == ["start", "token", "error"]
    assert frames[-1]["error"] == "AgentError" and frames[-1]["code"] == 500
    assert frames[-1]["run_id"] == frames[0]["run_id"]
    assert SECRET not in response.text


def test_stream_timeout_is_an_error_frame(client: TestClient[Any]) -> None:
    frames = sse_frames(client.post("/stream", json={"text": "hang"}).text)
    assert frames[-1]["event"] == "error" and frames[-1]["code"] == 504


def test_heartbeat_comments_while_idle(agent: ScriptedAgent) -> None:
    with TestClient(scripted_app(agent, heartbeat_sec=0.05)) as client:
        response = client.post("/stream", json={"text": "slow"})
    assert ": ping\n\n" in response.text
    assert [f["event"] for f in sse_frames(response.text)] == ["start", "token", "end"]


def test_small_body_limit(agent: ScriptedAgent) -> None:
    with TestClient(scripted_app(agent, max_body_bytes=64)) as client:
        assert client.post("/invoke", json={"text": "a"}).status_code == 200
        assert_envelope(client.post("/invoke", json={"text": "a" * 100}), 413, "PayloadTooLarge")


def test_cors_from_expose(agent: ScriptedAgent) -> None:
    spec = scripted_spec(
        expose={"port": 8080, "cors": {"origins": ["https://app.example"], "methods": ["POST"]}}
    )
    with TestClient(scripted_app(agent, spec)) as client:
        preflight = client.options(
            "/invoke",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,x-api-key",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        simple = client.post(
            "/invoke", json={"text": "a"}, headers={"origin": "https://app.example"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        other = client.post(
            "/invoke", json={"text": "a"}, headers={"origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_sse_client_disconnect_cancels_the_run(agent: ScriptedAgent) -> None:
    app = scripted_app(agent)

    async def scenario() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        first_frame = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b'{"text": "hang"}', "more_body": False}
            await first_frame.wait()
            await agent.started.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                first_frame.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/stream",
            "raw_path": b"/stream",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
            "server": ("test", 80),
            "client": ("127.0.0.1", 5000),
            "state": {},
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == []
        return sent

    sent = asyncio.run(scenario())
    assert sent[0]["status"] == 200
    assert agent.cancelled == 1
    assert b"event: start" in sent[1]["body"]


# -- WebSocket -----------------------------------------------------------------------------------


def test_websocket_stream(agent: ScriptedAgent) -> None:
    spec = scripted_spec(expose={"rest": True, "streaming": "websocket"})
    with (
        TestClient(scripted_app(agent, spec)) as client,
        client.websocket_connect("/ws/stream") as socket,
    ):
        socket.send_text(json.dumps({"input": {"text": "a b"}, "thread_id": "t"}))
        events = []
        while not events or events[-1]["event"] not in ("end", "error"):
            events.append(json.loads(socket.receive_text()))
        assert [e["event"] for e in events] == ["start", "token", "token", "end"]
        assert [e["id"] for e in events] == [1, 2, 3, 4]
        socket.send_text("{garbage")
        garbage = json.loads(socket.receive_text())
        assert garbage["event"] == "error" and garbage["data"]["error"] == "MalformedJSONError"
        socket.send_text(json.dumps([1]))
        assert json.loads(socket.receive_text())["data"]["code"] == 400
        socket.send_text(json.dumps({"input": {"text": 3}}))
        invalid = json.loads(socket.receive_text())
        assert invalid["data"]["error"] == "ValidationError" and invalid["data"]["run_id"]
        socket.send_text(json.dumps({"input": {"text": "still open"}}))
        assert json.loads(socket.receive_text())["event"] == "start"


def test_the_end_of_a_stream_carries_the_output_sse_and_websocket(tmp_path: Path) -> None:
    """The ``end`` frame holds what ``/invoke`` answers, on both stream transports."""
    import shutil

    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    sse_app = agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    with TestClient(sse_app) as client:
        invoked = client.post("/invoke", json={"text": "same"}).json()
        frames = sse_frames(client.post("/stream", json={"text": "same"}).text)
    assert frames[-1]["event"] == "end"
    assert frames[-1]["output"] == invoked == {"text": "SAME"}
    assert set(frames[-1]) >= {"run_id", "usage", "output"}

    project = tmp_path / "echo"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text(encoding="utf-8")
    assert "streaming: sse" in text
    dockfile.write_text(text.replace("streaming: sse", "streaming: websocket"), encoding="utf-8")
    ws_app = agentdock.app(dockfile, insecure_no_auth=True, plugins=manager)
    with TestClient(ws_app) as client, client.websocket_connect("/ws/stream") as socket:
        socket.send_text(json.dumps({"input": {"text": "same"}}))
        events: list[dict[str, Any]] = []
        while not events or events[-1]["event"] not in ("end", "error"):
            events.append(json.loads(socket.receive_text()))
    assert events[-1]["event"] == "end"
    assert events[-1]["data"]["output"] == invoked


# -- /docs ---------------------------------------------------------------------------------------


def echo_variant(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the echo example with ``old`` replaced by ``new`` in its Dockfile."""
    import shutil

    project = tmp_path / "echo"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text(encoding="utf-8")
    assert old in text
    dockfile.write_text(text.replace(old, new), encoding="utf-8")
    return dockfile


def test_docs_page_and_assets_are_public_with_auth_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentdock_plugins.auth

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    with TestClient(agentdock.app(ECHO, plugins=manager)) as client:
        assert client.post("/invoke", json={"text": "hi"}).status_code == 401
        page = client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        # The trailing slash sends the browser to the page whose relative links work.
        slash = client.get("/docs/", follow_redirects=False)
        assert slash.status_code in (301, 308)
        assert slash.headers["location"] == "../docs"
        followed = client.get("/docs/")
        assert followed.status_code == 200 and str(followed.url).endswith("/docs")
        # "Authorize" offers what auth.mode accepts: here an API key in x-api-key.
        document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "apiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An API key (auth.mode api_key): agentdock key create.",
        }
    }
    assert document["security"] == [{"apiKeyAuth": []}]
    assert document["paths"]["/schema"]["get"]["security"] == []


def test_docs_off_in_the_dockfile_is_404_but_the_document_stays(tmp_path: Path) -> None:
    dockfile = echo_variant(tmp_path, "streaming: sse\n", "streaming: sse\n  docs: false\n")
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    with TestClient(agentdock.app(dockfile, insecure_no_auth=True, plugins=manager)) as client:
        for path in ("/docs", "/docs/", "/docs/assets/swagger-ui-bundle.js"):
            assert_envelope(client.get(path, follow_redirects=False), 404, "NotFound")
        assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("auth", "schemes"),
    [
        ('auth:\n  mode: jwt\n  jwt: {secret_key: "${JWT_SECRET}"}\n', {"bearerAuth"}),
        (
            'auth:\n  mode: jwt\n  jwt: {secret_key: "${JWT_SECRET}"}\n'
            "  api_keys: {enabled: true}\n",
            {"bearerAuth", "apiKeyAuth"},
        ),
        (
            "auth:\n  mode: oauth2\n  oauth2: {issuer: https://id.example, "
            "jwks_url: https://id.example/jwks, audience: echo}\n",
            {"bearerAuth"},
        ),
    ],
    ids=["jwt", "jwt-and-keys", "oauth2"],
)
def test_security_schemes_follow_the_auth_mode(
    auth: str, schemes: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentdock_plugins.litestar.openapi import openapi_document

    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    echo_auth = "auth:\n  mode: api_key\n  api_keys: { enabled: true }\n"
    dockfile = echo_variant(tmp_path, echo_auth, auth)
    document = openapi_document(agentdock.load(dockfile))
    assert set(document["components"]["securitySchemes"]) == schemes
    assert document["security"] == [{name: []} for name in sorted(schemes)]


# -- shutdown ------------------------------------------------------------------------------------

_COUNTER_GRAPH = """
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict):
    text: str


def upper(state: State) -> State:
    return {"text": state["text"].upper()}


def build():
    builder = StateGraph(State)
    builder.add_node("upper", upper)
    builder.add_edge(START, "upper")
    builder.add_edge("upper", END)
    return builder.compile()
"""


def test_shutdown_closes_the_adapter_its_threads_and_its_sqlite_file(tmp_path: Path) -> None:
    from agentdock_runtime.app import load_agent

    (tmp_path / "shutgraph.py").write_text(_COUNTER_GRAPH)
    dockfile = tmp_path / "Dockfile.yaml"
    dockfile.write_text(
        'version: "1.1"\n'
        "agent: {name: closing, description: closes at shutdown,\n"
        "        entrypoint: 'shutgraph:build', framework: langgraph}\n"
        "model: {provider: custom, name: echo}\n"
        "io_schema:\n"
        "  input: {type: object, required: [text], properties: {text: {type: string}}}\n"
        "  output: {type: object, properties: {text: {type: string}}}\n"
        "arguments: {checkpointer: sqlite}\n"
        "auth: {mode: api_key, api_keys: {enabled: true}}\n"
        "expose: {rest: true, streaming: sse}\n"
    )
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    agent = load_agent(dockfile, plugins=manager)
    pipeline = compile_pipeline(
        agent.spec, entry=agent.entry, plugins=manager, insecure_no_auth=True
    )
    adapter = pipeline.adapter
    assert adapter.synchronous  # its runs go to worker threads
    app = litestar_server(agent.spec).app(pipeline)
    with TestClient(app) as http:
        answer = http.post("/invoke", json={"text": "hi"}, headers={"x-thread-id": "t1"})
        assert answer.status_code == 200, answer.text
        threads = list(adapter._workers._threads)
        assert threads and all(thread.is_alive() for thread in threads)
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        adapter.checkpointer.conn.execute("select 1")
