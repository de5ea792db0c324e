"""What the litestar server adds for telemetry and access: x-trace-id, /metrics, /docs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock_runtime import Forbidden, Unauthorized
from litestar.testing import TestClient

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


class Exporter:
    """A telemetry sink that serves metrics and wraps the app in a middleware."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []
        self.requests: list[str] = []

    async def emit(self, events: list[Mapping[str, Any]]) -> None:
        self.events.extend(events)

    async def flush(self) -> None:
        return None

    def render_metrics(self) -> tuple[bytes, str]:
        body = f"agentdock_test_events {len(self.events)}\n".encode()
        return body, "text/plain; version=0.0.4; charset=utf-8"

    def asgi_middleware(self, app: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.requests.append(scope["path"])
            await app(scope, receive, send)

        return middleware


class Auth:
    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        key = headers.get("x-api-key")
        if key == "admin":
            return {"sub": "root", "role": "admin"}
        if key == "dev":
            return {"sub": "dev", "role": "developer"}
        raise Unauthorized("missing or unknown API key")


class Access:
    async def check(self, identity: Mapping[str, Any], permission: str) -> None:
        if identity["role"] != "admin" and permission == "view_metrics":
            raise Forbidden(f"role {identity['role']!r} lacks permission {permission!r}")


class Plugin:
    def __init__(self, exporter: Exporter) -> None:
        self.exporter = exporter

    @hookimpl
    def agentdock_register_auth_providers(self, register: Any) -> None:
        register("api_key", lambda spec: Auth())

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        register("exporter", lambda spec: self.exporter)


@pytest.fixture
def exporter() -> Exporter:
    return Exporter()


@pytest.fixture
def client(exporter: Exporter, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient[Any]]:
    import agentdock_runtime.compile as compile_module

    monkeypatch.setattr(compile_module, "_compile_access", lambda spec: Access())
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, ("t", Plugin(exporter))]
    )
    app = agentdock.app(ECHO, plugins=manager)
    with TestClient(app) as test_client:
        yield test_client


def test_responses_name_the_trace(client: TestClient[Any]) -> None:
    plain = client.post("/invoke", json={"text": "hi"}, headers={"x-api-key": "dev"})
    assert plain.status_code == 200, plain.text
    assert plain.headers["x-trace-id"] == plain.headers["x-run-id"]
    continued = client.post(
        "/invoke", json={"text": "hi"}, headers={"x-api-key": "dev", "traceparent": TRACEPARENT}
    )
    assert continued.headers["x-trace-id"] == TRACE
    streamed = client.post(
        "/stream", json={"text": "hi"}, headers={"x-api-key": "dev", "traceparent": TRACEPARENT}
    )
    assert streamed.status_code == 200 and streamed.headers["x-trace-id"] == TRACE


def test_metrics_need_the_view_metrics_permission(
    client: TestClient[Any], exporter: Exporter
) -> None:
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"x-api-key": "dev"})
    assert refused.status_code == 403
    assert "view_metrics" in refused.json()["detail"]
    client.post("/invoke", json={"text": "hi"}, headers={"x-api-key": "dev"})
    scrape = client.get("/metrics", headers={"x-api-key": "admin"})
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert scrape.text.startswith("agentdock_test_events ")
    assert "/invoke" in exporter.requests and "/metrics" in exporter.requests


def test_docs_schema_and_health_are_public_runs_are_not(client: TestClient[Any]) -> None:
    assert client.post("/invoke", json={"text": "hi"}).status_code == 401
    for public in ("/docs", "/health", "/ready", "/schema", "/openapi.json"):
        assert client.get(public).status_code == 200, public


def test_no_metrics_route_without_an_exporter() -> None:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    with TestClient(agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)) as client:
        assert client.get("/metrics").status_code == 404


def test_metrics_can_be_public_for_a_scraper(
    exporter: Exporter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import agentdock_runtime.compile as compile_module

    monkeypatch.setattr(compile_module, "_compile_access", lambda spec: Access())
    project = tmp_path / "echo"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(
        dockfile.read_text() + "\nobservability:\n  metrics: {public: true}\n", encoding="utf-8"
    )
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, ("t", Plugin(exporter))]
    )
    with TestClient(agentdock.app(dockfile, plugins=manager)) as client:
        assert client.get("/metrics").status_code == 200
        assert client.post("/invoke", json={"text": "hi"}).status_code == 401, (
            "only /metrics is opened"
        )


def test_swagger_ui_is_served_by_the_runtime_itself(client: TestClient[Any]) -> None:
    page = client.get("/docs")
    assert "http" not in page.text.split("<body>")[0], "no CDN: assets come from the runtime"
    script = client.get("/docs/assets/swagger-ui-bundle.js")  # public, like /openapi.json
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
    style = client.get("/docs/assets/swagger-ui.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    for bad in ("LICENSE", "..%2Fapp.py", "swagger-ui.css.map", "%00"):
        missing = client.get(f"/docs/assets/{bad}")
        assert missing.status_code == 404, bad
        assert missing.json()["error"] == "NotFound"
