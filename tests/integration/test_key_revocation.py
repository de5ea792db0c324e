"""A key revoked by ``agentdock key revoke`` in another process stops working in a running
runtime without waiting for its cached row to expire: through its key view (rewritten by the
revocation, watched by the runtime) on the registry's host, through Redis pub/sub or a
Postgres registry's NOTIFY elsewhere.

The runtime here trusts a cached row for an hour, so only the change signal can make it
refuse the key; the refusal is polled for with a generous bound (tests never assert on
wall-clock time; ``benchmarks/auth_overhead.py`` measures the latency).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import agentdock_plugins.postgres
import httpx
import pytest
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from agentdock.testing import client
from agentdock_plugins.auth import apikey, keyfile
from auth_support import add_key

pytest_plugins = ("pgserver", "redisserver")

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
DOCKFILE = """\
version: "1.1"
agent: {name: echo, entrypoint: "echo.graph:build_graph", framework: langgraph}
model: {provider: custom, name: echo}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}, required: [text]}
auth:
  mode: api_key
  api_keys: {enabled: true}
expose: {rest: true, streaming: sse, port: 8080}
"""
#: Generous: the signal arrives in well under a second; this only bounds a broken run.
WITHIN_S = 20.0


class Registry:
    """Where the runtime and the CLI find the keys: the environment both of them get."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def add_key(self) -> Any:
        url = self.env.get("AGENTDOCK_DATABASE_URL")
        path = None if url else Path(self.env["AGENTDOCK_HOME"]) / "registry.db"
        with open_store(path, url=url) as store:
            return add_key(store, "echo")

    def revoke(self, key_id: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``agentdock key revoke`` in a process of its own, as an operator runs it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
        env.update(self.env, **extra_env)
        command = [sys.executable, "-m", "agentdock_cli", "key", "revoke", "echo", key_id]
        done = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["state"] == "revoked"
        return done


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``serve(env)`` → an httpx client of the echo agent running in this process with
    ``env`` (registry settings), its key rows trusted for an hour."""
    monkeypatch.setitem(apikey.ApiKeyVerifier.__init__.__kwdefaults__, "cache_ttl", 3600.0)
    for name in ("AGENTDOCK_REDIS_URL", "AGENTDOCK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    proj = tmp_path / "proj"
    shutil.copytree(ECHO / "echo", proj / "echo")
    (proj / "Dockfile.yaml").write_text(DOCKFILE)
    monkeypatch.chdir(proj)
    opened: list[httpx.Client] = []

    def start(env: dict[str, str]) -> httpx.Client:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        manager = make_plugin_manager(
            plugins=[
                agentdock_plugins.langgraph,
                agentdock_plugins.litestar,
                agentdock_plugins.auth,
                agentdock_plugins.postgres,
            ]
        )
        http = client(proj / "Dockfile.yaml", plugins=manager)
        opened.append(http)
        return http

    yield start
    for http in opened:
        http.close()


def _invoke(http: httpx.Client, key: str) -> httpx.Response:
    return http.post("/invoke", json={"text": "hi"}, headers={"x-api-key": key})


def _refused_in_time(http: httpx.Client, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + WITHIN_S
    while True:
        response = _invoke(http, key)
        if response.status_code != 200:
            break
        assert time.monotonic() < deadline, "the revocation never reached the runtime"
        time.sleep(0.05)
    assert response.status_code == 499, response.text
    assert key not in response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "KeyRevoked" and body["code"] == 499
    return body


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sqlite_registry_revocation_from_another_process(serve: Any, tmp_path: Path) -> None:
    registry = Registry({"AGENTDOCK_HOME": str(tmp_path / "home")})
    key, other = registry.add_key(), registry.add_key()
    http = serve(registry.env)
    assert _invoke(http, key.key).status_code == 200
    assert _invoke(http, other.key).status_code == 200
    # A Redis the writer cannot reach does not fail the revocation, nor leak its password.
    unreachable = f"redis://:planted-redis-pass@127.0.0.1:{_closed_port()}/0"
    done = registry.revoke(key.key_id, AGENTDOCK_REDIS_URL=unreachable)
    assert "planted-redis-pass" not in done.stdout + done.stderr
    _refused_in_time(http, key.key)
    assert _invoke(http, other.key).status_code == 200


def test_redis_carries_the_revocation_to_a_runtime_on_another_host(
    serve: Any, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runtime that does not watch its key view (as one on another host cannot watch the
    # registry) hears of the change only through Redis.
    monkeypatch.setattr(keyfile.KeyViewStore, "data_version", lambda self: None)
    registry = Registry({"AGENTDOCK_HOME": str(tmp_path / "home")})
    key = registry.add_key()
    http = serve({**registry.env, "AGENTDOCK_REDIS_URL": redis_url})
    assert _invoke(http, key.key).status_code == 200
    registry.revoke(key.key_id, AGENTDOCK_REDIS_URL=redis_url)
    _refused_in_time(http, key.key)


def test_postgres_registry_revocation_reaches_the_runtime(pg_url: str, serve: Any) -> None:
    registry = Registry({"AGENTDOCK_DATABASE_URL": pg_url})
    key, other = registry.add_key(), registry.add_key()
    http = serve(registry.env)
    # The runtime reads the keys of the registry AGENTDOCK_DATABASE_URL names.
    assert _invoke(http, key.key).status_code == 200
    assert _invoke(http, other.key).status_code == 200
    registry.revoke(key.key_id)
    _refused_in_time(http, key.key)
    assert _invoke(http, other.key).status_code == 200


def test_postgres_listener_hears_changes_and_comes_back_after_a_drop(pg_url: str) -> None:
    heard: queue.Queue[str | None] = queue.Queue()
    registry = Registry({"AGENTDOCK_DATABASE_URL": pg_url})
    key = registry.add_key()
    with open_store(url=pg_url) as store:
        stop = store.listen_key_changes(heard.put)  # type: ignore[attr-defined]
        try:
            assert heard.get(timeout=WITHIN_S) is None  # listening: re-read everything once
            store.revoke_api_key(agent="echo", key_id=key.key_id)
            message = json.loads(heard.get(timeout=WITHIN_S))  # type: ignore[arg-type]
            assert message == {"agent": "echo", "key_ids": [key.key_id], "action": "revoke"}
            with store._read() as conn:  # type: ignore[attr-defined]
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
                )
            # Back, and what was missed meanwhile counts as a change of unknown extent.
            assert heard.get(timeout=WITHIN_S) is None
        finally:
            stop()


def test_redis_subscription_hears_changes_and_comes_back_after_a_drop(redis_url: str) -> None:
    import redis
    from agentdock.registry import change_message
    from agentdock_plugins.auth.redisfeed import RedisKeyChanges, publish

    heard: queue.Queue[bytes | None] = queue.Queue()
    feed = RedisKeyChanges(redis_url, heard.put, retry_s=0.1)
    try:
        assert heard.get(timeout=WITHIN_S) is None
        assert publish(redis_url, change_message("echo", ["k1"], "revoke"))
        assert json.loads(heard.get(timeout=WITHIN_S) or b"")["key_ids"] == ["k1"]
        admin = redis.Redis.from_url(redis_url)
        assert admin.client_kill_filter(_type="pubsub") >= 1
        admin.close()
        assert heard.get(timeout=WITHIN_S) is None
    finally:
        feed.stop()
