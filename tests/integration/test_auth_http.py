"""Authentication and access over HTTP, end to end through ``agentdock.app``.

401 with WWW-Authenticate, 498 for an expired token, 499 for a revoked key, 403 naming the
role and the permission, 429 with Retry-After; /health, /ready and /schema stay public.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import httpx
import jwt
import pytest
from agentdock import make_plugin_manager
from agentdock.auth import generate_key
from agentdock.registry import open_store
from agentdock.testing import client
from auth_support import stored_key
from capturedevents import CapturedEvents

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
SECRET = "planted-http-secret-0123456789abcdef-0123"

API_KEY_DOCKFILE = """\
version: "1.1"
agent: {name: echo, entrypoint: "echo.graph:build_graph", framework: langgraph}
model: {provider: custom, name: echo}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}, required: [text]}
auth:
  mode: api_key
  api_keys: {enabled: true}
  rate_limits: {developer: "3/h"}
expose: {rest: true, streaming: sse, port: 8080}
"""

JWT_DOCKFILE = """\
version: "1.1"
agent: {name: echo, entrypoint: "echo.graph:build_graph", framework: langgraph}
model: {provider: custom, name: echo}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}, required: [text]}
auth:
  mode: jwt
  jwt: {secret_key: "${JWT_SECRET}"}
  roles:
    - {name: caller, permissions: [invoke]}
    - {name: reader, permissions: [read_docs]}
expose: {rest: true, streaming: sse, port: 8080}
"""


def manager() -> Any:
    return make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )


def project(tmp_path: Path, dockfile: str) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(ECHO / "echo", target / "echo")
    (target / "Dockfile.yaml").write_text(dockfile)
    return target


def add_key(role: str) -> Any:
    with open_store() as store:
        return stored_key(store, "echo", role)[0]


def assert_error(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == name and body["code"] == status
    assert SECRET not in response.text
    return dict(body)


@pytest.fixture
def keys_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    keys = {role: add_key(role) for role in ("developer", "viewer", "admin")}
    revoked = add_key("developer")
    with open_store() as store:
        store.revoke_api_key(agent="echo", key_id=revoked.key_id)
    keys["revoked"] = revoked
    proj = project(tmp_path, API_KEY_DOCKFILE)
    monkeypatch.chdir(proj)
    with client(proj / "Dockfile.yaml", plugins=manager()) as http:
        yield http, keys


def test_missing_credentials_get_401_with_a_challenge(
    keys_app: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, _ = keys_app
    response = http.post("/invoke", json={"text": "hi"})
    body = assert_error(response, 401, "Unauthorized")
    assert "missing" in body["detail"]
    assert response.headers["www-authenticate"] == 'ApiKey realm="agentdock"'
    bad = http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": generate_key().key})
    assert_error(bad, 401, "Unauthorized")
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    huge = http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": "a" * 8192})
    assert_error(huge, 401, "Unauthorized")


def test_public_routes_need_no_credentials(keys_app: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, _ = keys_app
    for path in ("/health", "/ready", "/schema"):
        assert http.get(path).status_code == 200, path


def test_valid_key_invokes(keys_app: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, keys = keys_app
    response = http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": keys["admin"].key})
    assert response.status_code == 200 and response.json() == {"text": "HI"}


def test_revoked_key_gets_499(keys_app: tuple[httpx.Client, dict[str, Any]]) -> None:
    http, keys = keys_app
    response = http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": keys["revoked"].key})
    assert_error(response, 499, "KeyRevoked")


def test_role_without_permission_gets_403_naming_both(
    keys_app: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, keys = keys_app
    viewer = {"x-api-key": keys["viewer"].key}
    body = assert_error(http.post("/invoke", json={"text": "hi"}, headers=viewer), 403, "Forbidden")
    assert body["detail"] == "role 'viewer' lacks permission 'invoke'"
    stream = http.post("/stream", json={"text": "hi"}, headers=viewer)
    assert_error(stream, 403, "Forbidden")
    # The Swagger UI page holds no data: anyone may load it, as /openapi.json.
    for headers in (viewer, {"x-api-key": keys["developer"].key}, {}):
        assert http.get("/docs", headers=headers).status_code == 200


def test_rate_limit_gets_429_with_retry_after(
    keys_app: tuple[httpx.Client, dict[str, Any]],
) -> None:
    http, keys = keys_app
    developer = {"x-api-key": keys["developer"].key}
    for _ in range(3):
        assert http.post("/invoke", json={"text": "hi"}, headers=developer).status_code == 200
    response = http.post("/invoke", json={"text": "hi"}, headers=developer)
    body = assert_error(response, 429, "RateLimitExceeded")
    assert "developer" in body["detail"]
    assert 1100 <= int(response.headers["retry-after"]) <= 1200  # one request per 20 minutes
    # Admins have no limit configured.
    admin = {"x-api-key": keys["admin"].key}
    for _ in range(5):
        assert http.post("/invoke", json={"text": "hi"}, headers=admin).status_code == 200


def test_limit_events_name_role_and_subject_never_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    developer, viewer = add_key("developer"), add_key("viewer")
    proj = project(tmp_path, API_KEY_DOCKFILE)
    monkeypatch.chdir(proj)
    captured = CapturedEvents()
    plugins = make_plugin_manager(
        plugins=[
            agentdock_plugins.langgraph,
            agentdock_plugins.litestar,
            agentdock_plugins.auth,
            ("captured", captured),
        ]
    )
    with client(proj / "Dockfile.yaml", plugins=plugins) as http:
        for _ in range(4):
            http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": developer.key})
        assert (
            http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": viewer.key}).status_code
            == 403
        )
    refusals = [
        e["data"]
        for e in captured.events
        if e["event"] == "auth_event" and e["data"]["outcome"] == "failure"
    ]
    assert [(r["reason"], r["role"], r["subject"]) for r in refusals] == [
        ("rate_limited", "developer", f"key:{developer.key_id}"),
        ("forbidden", "viewer", f"key:{viewer.key_id}"),
    ]
    text = json.dumps(captured.events)
    for key in (developer, viewer):
        assert key.key not in text
        assert key.key.split("_", 2)[2] not in text  # nor its secret part alone


@pytest.fixture
def jwt_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    proj = project(tmp_path, JWT_DOCKFILE)
    monkeypatch.chdir(proj)
    with client(proj / "Dockfile.yaml", plugins=manager()) as http:
        yield http


def token(**overrides: Any) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "ann", "role": "caller", "agent": "echo", "iat": now, "exp": now + 300}
    claims.update(overrides)
    return {"authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


def test_jwt_over_http(jwt_app: httpx.Client) -> None:
    http = jwt_app
    ok = http.post("/invoke", json={"text": "hi"}, headers=token())
    assert ok.status_code == 200 and ok.json() == {"text": "HI"}
    missing = http.post("/invoke", json={"text": "hi"})
    assert_error(missing, 401, "Unauthorized")
    assert missing.headers["www-authenticate"] == 'Bearer realm="agentdock"'
    expired = http.post("/invoke", json={"text": "hi"}, headers=token(exp=int(time.time()) - 600))
    assert_error(expired, 498, "TokenExpired")
    other = http.post("/invoke", json={"text": "hi"}, headers=token(agent="other"))
    assert_error(other, 401, "Unauthorized")
    reader = http.post("/invoke", json={"text": "hi"}, headers=token(role="reader"))
    assert (
        assert_error(reader, 403, "Forbidden")["detail"]
        == "role 'reader' lacks permission 'invoke'"
    )
    ghost = http.post("/invoke", json={"text": "hi"}, headers=token(role="ghost"))
    assert "not defined" in assert_error(ghost, 403, "Forbidden")["detail"]
    none = jwt.encode(
        {"sub": "x", "role": "caller", "agent": "echo", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    )
    assert_error(
        http.post("/invoke", json={"text": "hi"}, headers={"authorization": f"Bearer {none}"}),
        401,
        "Unauthorized",
    )


def test_websocket_handshake_needs_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import json

    import agentdock
    from served import serving
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    monkeypatch.setenv("JWT_SECRET", SECRET)
    proj = project(tmp_path, JWT_DOCKFILE.replace("streaming: sse", "streaming: websocket"))
    monkeypatch.chdir(proj)
    app = agentdock.app(proj / "Dockfile.yaml", plugins=manager())

    def refusal(url: str, **options: Any) -> dict[str, Any]:
        with pytest.raises(InvalidStatus) as caught:
            connect(url, proxy=None, **options).close()
        body: dict[str, Any] = json.loads(caught.value.response.body or b"")
        assert body["code"] == caught.value.response.status_code
        return body

    def first_run(url: str, **options: Any) -> list[str]:
        with connect(url, proxy=None, **options) as socket:
            socket.send(json.dumps({"input": {"text": "hi"}}))
            events = [json.loads(socket.recv(timeout=30))]
            while events[-1]["event"] not in ("end", "error"):
                events.append(json.loads(socket.recv(timeout=30)))
        return [e["event"] for e in events]

    with serving(app) as port:
        url = f"ws://127.0.0.1:{port}/ws/stream"
        assert refusal(url)["error"] == "Unauthorized"
        expired = refusal(url, additional_headers=token(exp=int(time.time()) - 600))
        assert expired["error"] == "TokenExpired"
        forbidden = refusal(url, additional_headers=token(role="reader"))
        assert forbidden["detail"] == "role 'reader' lacks permission 'invoke'"
        assert first_run(url, additional_headers=token()) == ["start", "event", "end"]
        # A browser's way: the token in the subprotocol list, base64url without padding.
        raw = token()["authorization"].removeprefix("Bearer ")
        encoded = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        offered = ["agentdock", f"agentdock.bearer.{encoded}"]
        assert first_run(url, subprotocols=offered) == ["start", "event", "end"]
