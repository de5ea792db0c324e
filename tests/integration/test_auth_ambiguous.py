"""Ambiguous credentials are refused with 400, on /invoke, /stream and /ws/stream alike.

A request that repeats a credential header, sends an empty one beside another, or sends
two different API keys cannot be answered without guessing which credential the caller
meant; guessing let an empty ``x-api-key`` beat a valid bearer key and a repeated
``x-api-key`` silently take its last value. The agent runs under ``agentdock serve`` (a
real uvicorn), so repeated headers reach it as separate lines, as they do in production
(in-process test clients merge them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from agentdock.registry import open_store
from auth_support import add_key
from processes import wait_ready
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
SECRET = "planted-ambiguity-secret-0123456789abcdef"

DOCKFILE = """\
version: "1.1"
agent: {{name: echo, entrypoint: "echo.graph:build_graph", framework: langgraph}}
model: {{provider: custom, name: echo}}
io_schema:
  input: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
  output: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
auth:
{auth}
expose: {{rest: true, streaming: {streaming}, port: 8080}}
"""
API_KEY_AUTH = "  mode: api_key\n  api_keys: {enabled: true}\n"
JWT_AUTH = (
    '  mode: jwt\n  jwt: {secret_key: "${JWT_SECRET}"}\n  api_keys: {enabled: true}\n'
    "  roles:\n    - {name: developer, permissions: [invoke]}\n"
)

Headers = list[tuple[str, str]]
Outcome = tuple[int, dict[str, Any], str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """One ``agentdock serve`` process per (auth mode, streaming transport)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.bases: dict[tuple[str, str], str] = {}

    def base(self, auth: str, streaming: str) -> str:
        if (auth, streaming) in self.bases:
            return self.bases[(auth, streaming)]
        proj = self.root / f"proj{len(self.bases)}"
        shutil.copytree(ECHO / "echo", proj / "echo")
        (proj / "Dockfile.yaml").write_text(DOCKFILE.format(auth=auth, streaming=streaming))
        port = _free_port()
        env = {**os.environ, "AGENTDOCK_HOME": str(self.home), "JWT_SECRET": SECRET}
        for name in ("AGENTDOCK_REDIS_URL", "AGENTDOCK_DATABASE_URL"):
            env.pop(name, None)
        command = [sys.executable, "-m", "agentdock_cli", "serve", "Dockfile.yaml"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(
            command, cwd=proj, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.procs.append(proc)
        base = f"127.0.0.1:{port}"
        wait_ready(proc, f"http://{base}")
        self.bases[(auth, streaming)] = base
        return base

    def add_key(self) -> Any:
        with open_store(self.home / "registry.db") as store:
            return add_key(store, "echo")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    servers = Served(tmp_path_factory.mktemp("ambiguous"))
    try:
        yield servers
    finally:
        servers.stop()


def _invoke(base: str, headers: Headers) -> Outcome:
    response = httpx.post(f"http://{base}/invoke", json={"text": "hi"}, headers=headers)
    body = response.json() if response.status_code != 200 else {}
    return response.status_code, body, response.text


def _stream(base: str, headers: Headers) -> Outcome:
    response = httpx.post(f"http://{base}/stream", json={"text": "hi"}, headers=headers)
    body = response.json() if response.status_code != 200 else {}
    return response.status_code, body, response.text


def _websocket(base: str, headers: Headers) -> Outcome:
    """One run over ``/ws/stream``: refused at the handshake (an HTTP status with the
    envelope), by closing the socket, or with an ``error`` frame answering the first frame."""
    try:
        with connect(f"ws://{base}/ws/stream", additional_headers=headers) as socket:
            socket.send(json.dumps({"input": {"text": "hi"}}))
            raw = str(socket.recv(timeout=10))
    except InvalidStatus as exc:
        text = exc.response.body.decode() if exc.response.body else ""
        return exc.response.status_code, json.loads(text) if text else {}, text
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        body = json.loads(reason) if reason.startswith("{") else {"detail": reason}
        return int(body.get("code", exc.rcvd.code if exc.rcvd else 1006)), body, reason
    frame = json.loads(raw)
    if frame["event"] != "error":
        return 200, {}, raw
    return int(frame["data"]["code"]), frame["data"], raw


ROUTES: dict[str, tuple[str, Callable[[str, Headers], Outcome]]] = {
    "invoke": ("sse", _invoke),
    "stream": ("sse", _stream),
    "websocket": ("websocket", _websocket),
}


def _refused(outcome: Outcome, *words: str, secrets: Any = ()) -> None:
    status, body, text = outcome
    assert status == 400, text
    assert body["error"] == "BadRequest" and body["code"] == 400, text
    for word in words:
        assert word in body["detail"], body["detail"]
    for secret in (SECRET, *secrets):
        assert secret not in text


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_api_key_mode_refuses_ambiguous_credentials(served: Served, route: str) -> None:
    streaming, call = ROUTES[route]
    base = served.base(API_KEY_AUTH, streaming)
    key, other = served.add_key(), served.add_key()
    planted = (key.key, other.key)
    assert call(base, [("x-api-key", key.key)])[0] == 200
    # Repeated, even with the same key twice: which one the caller meant is a guess.
    _refused(
        call(base, [("x-api-key", key.key), ("x-api-key", other.key)]),
        "x-api-key",
        secrets=planted,
    )
    _refused(call(base, [("x-api-key", key.key), ("x-api-key", key.key)]), "x-api-key")
    _refused(call(base, [("x-api-key", f"{key.key}, {other.key}")]), "x-api-key")
    _refused(
        call(
            base,
            [("authorization", f"Bearer {key.key}"), ("authorization", f"Bearer {other.key}")],
        ),
        "Authorization",
        secrets=planted,
    )
    # An empty x-api-key no longer beats a valid bearer key, nor an empty bearer a valid key.
    _refused(call(base, [("x-api-key", ""), ("authorization", f"Bearer {key.key}")]), "empty")
    _refused(call(base, [("x-api-key", key.key), ("authorization", "Bearer")]), "empty")
    # Two different keys.
    _refused(
        call(base, [("x-api-key", key.key), ("authorization", f"Bearer {other.key}")]),
        "different",
        secrets=planted,
    )
    # The same key in both headers is one credential; one empty header alone is no credential.
    assert call(base, [("x-api-key", key.key), ("authorization", f"Bearer {key.key}")])[0] == 200
    assert call(base, [("x-api-key", "")])[0] == 401


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_jwt_mode_with_keys_refuses_ambiguous_credentials(served: Served, route: str) -> None:
    streaming, call = ROUTES[route]
    base = served.base(JWT_AUTH, streaming)
    key = served.add_key()
    now = int(time.time())
    claims = {"sub": "ann", "role": "developer", "agent": "echo", "iat": now, "exp": now + 300}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    bearer = ("authorization", f"Bearer {token}")
    assert call(base, [bearer])[0] == 200
    assert call(base, [("x-api-key", key.key)])[0] == 200
    # Documented: with a bearer token and a key, the bearer token is used.
    assert call(base, [bearer, ("x-api-key", key.key)])[0] == 200
    assert call(base, [bearer, ("x-api-key", "not-a-key")])[0] == 200
    _refused(call(base, [bearer, bearer]), "Authorization", secrets=(token,))
    _refused(call(base, [bearer, ("x-api-key", key.key), ("x-api-key", key.key)]), "x-api-key")
    _refused(call(base, [bearer, ("x-api-key", "")]), "empty", secrets=(token,))
    _refused(call(base, [("authorization", ""), ("x-api-key", key.key)]), "empty")
