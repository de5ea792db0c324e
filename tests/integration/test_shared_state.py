"""State shared by runtime processes and kept across restarts: ``checkpointer: postgres`` and
``checkpointer: redis`` (conversations), the Platform API's threads and runs in a registry
on Postgres (read, joined and cancelled from another process), and a server that is down
stopping the runtime."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import redis
from agentdock.registry import open_store
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import AuthenticationError, NotFoundError
from pgserver import PgCluster, start_cluster
from processes import stop, wait_ready

if TYPE_CHECKING:
    from redisserver import RedisServer

pytest_plugins = ("pgserver", "redisserver")

#: Counts the texts a thread has been sent: the count continues only where the state does.
GRAPH = textwrap.dedent(
    """
    import operator
    from typing import Annotated, TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        text: str
        seen: Annotated[list[str], operator.add]
        count: int


    async def wait(state: State) -> State:
        if state["text"].startswith("slow"):
            import asyncio

            await asyncio.sleep(30)
        return {}


    def build_graph():
        graph = StateGraph(State)
        graph.add_node("note", lambda state: {"seen": [state["text"]]})
        graph.add_node("tally", lambda state: {"count": len(state["seen"])})
        graph.add_node("wait", wait)
        graph.add_edge(START, "note")
        graph.add_edge("note", "wait")
        graph.add_edge("wait", "tally")
        graph.add_edge("tally", END)
        return graph.compile()
    """
)


def dockfile(checkpointer: str) -> str:
    return textwrap.dedent(
        f"""\
        version: "1.1"
        agent: {{name: counter, entrypoint: "counter:build_graph", framework: langgraph}}
        model: {{provider: custom, name: offline, extra: {{offline: true}}}}
        io_schema:
          input: {{type: object, properties: {{text: {{type: string}}}}, required: [text]}}
          output: {{type: object, properties: {{count: {{type: integer}}}}}}
        auth: {{mode: api_key, api_keys: {{enabled: true}}}}
        expose: {{rest: true, streaming: sse, port: 8080, protocols: [langgraph]}}
        arguments: {{checkpointer: {checkpointer}}}
        """
    )


def project(root: Path, checkpointer: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "counter.py").write_text(GRAPH, encoding="utf-8")
    (root / "Dockfile.yaml").write_text(dockfile(checkpointer), encoding="utf-8")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runtime_env(spec: Path, url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env.update(
        PYTHONUNBUFFERED="1",
        AGENTDOCK_SPEC=str(spec),
        AGENTDOCK_INSECURE_NO_AUTH="1",
        AGENTDOCK_PORT=str(free_port()),
        AGENTDOCK_HOME=str(spec.parent / "home"),
        AGENTDOCK_CHECKPOINT_URL=url,
        **more,
    )
    return env


@contextmanager
def runtime(env: Mapping[str, str], cwd: Path, logs: list[str] | None = None) -> Iterator[str]:
    """A runtime process and its base URL; stopped when the block ends (then its stdout and
    stderr are added to ``logs``, if given)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdock_runtime"],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{env['AGENTDOCK_PORT']}"
    try:
        wait_ready(proc, base)
        yield base
    finally:
        stop(proc)
        if logs is not None:
            logs.extend(stream.decode("utf-8", "replace") for stream in proc.communicate())


def count(base: str, thread: str, text: str) -> int:
    response = httpx.post(
        f"{base}/invoke", json={"text": text}, headers={"x-thread-id": thread}, timeout=30
    )
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


def continuity(tmp_path: Path, checkpointer: str, url: str, logs: list[str] | None = None) -> None:
    """A thread started on one process goes on on another, and after both restart."""
    spec = project(tmp_path / "agent", checkpointer) / "Dockfile.yaml"
    first, second = runtime_env(spec, url), runtime_env(spec, url)
    with runtime(first, spec.parent, logs) as a, runtime(second, spec.parent, logs) as b:
        assert count(a, "t1", "one") == 1
        assert count(b, "t1", "two") == 2
        assert count(a, "t1", "three") == 3
        assert count(b, "t2", "other") == 1
    with runtime(runtime_env(spec, url), spec.parent, logs) as again:
        assert count(again, "t1", "four") == 4
        assert count(again, "t2", "more") == 2


def run_fatal(tmp_path: Path, checkpointer: str, url: str) -> subprocess.CompletedProcess[str]:
    spec = project(tmp_path / "agent", checkpointer) / "Dockfile.yaml"
    return subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=runtime_env(spec, url),
        cwd=spec.parent,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_postgres_conversations_are_shared_and_survive_restarts(
    tmp_path: Path, pg_url: str
) -> None:
    continuity(tmp_path, "postgres", pg_url)


def test_postgres_down_at_start_is_one_fatal_line_without_the_password(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    # The cluster's user and password, on a port where nothing listens.
    url = pg_cluster.url("agentdock").replace(f":{pg_cluster.port}/", f":{free_port()}/")
    result = run_fatal(tmp_path, "postgres", url)
    assert result.returncode == 78  # EX_CONFIG: the adapter cannot be built
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert len(fatal) == 1, result.stderr
    assert "CheckpointerUnavailable: checkpointer postgres: cannot use" in fatal[0]
    assert "agentdock:***@127.0.0.1" in fatal[0]
    assert pg_cluster.password not in result.stderr + result.stdout


def test_postgres_wrong_password_names_the_cause_not_the_password(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    planted = "pl4nted-pg-passw0rd-7d1e"
    url = pg_cluster.url().replace(pg_cluster.password, planted)
    result = run_fatal(tmp_path, "postgres", url)
    assert result.returncode == 78  # EX_CONFIG: the adapter cannot be built
    assert "password authentication failed" in result.stderr
    assert planted not in result.stderr + result.stdout


def test_registry_down_at_start_is_one_fatal_line_and_exit_69(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """The Platform API's records are opened before the server listens: a registry
    database that is down stops the runtime, never a traceback, never its password."""
    url = pg_cluster.url("agentdock").replace(f":{pg_cluster.port}/", f":{free_port()}/")
    spec = project(tmp_path / "agent", "memory") / "Dockfile.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=runtime_env(spec, "", AGENTDOCK_DATABASE_URL=url),
        cwd=spec.parent,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 69  # EX_UNAVAILABLE
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert len(fatal) == 1, result.stderr
    assert "cannot connect to the registry database" in fatal[0]
    assert "agentdock:***@127.0.0.1" in fatal[0]
    assert "Traceback" not in result.stderr
    assert pg_cluster.password not in result.stderr + result.stdout


def test_a_missing_url_is_fatal_and_names_the_variable(tmp_path: Path) -> None:
    result = run_fatal(tmp_path, "postgres", "")
    assert result.returncode == 78  # EX_CONFIG: the adapter cannot be built
    assert "set AGENTDOCK_CHECKPOINT_URL" in result.stderr


#: The password of the Redis servers below: never in a runtime's output.
REDIS_PASSWORD = "pl4nted-redis-passw0rd-51c9"


def test_redis_conversations_are_shared_and_survive_restarts(
    tmp_path: Path, redis_servers: Callable[..., RedisServer]
) -> None:
    """A plain ``redis-server`` (no modules) with a password: the conversation goes on
    across processes and restarts, and no process ever prints the password."""
    server = redis_servers(password=REDIS_PASSWORD)
    logs: list[str] = []
    continuity(tmp_path, "redis", server.url, logs)
    assert len(logs) == 6  # three runtimes' stdout and stderr, read after each stopped
    assert not any(REDIS_PASSWORD in text for text in logs)
    keys = redis.Redis.from_url(server.url).keys("agentdock:checkpoint:*")
    assert keys, "the conversations are in Redis"


def test_redis_down_at_start_is_one_fatal_line_without_the_password(tmp_path: Path) -> None:
    url = f"redis://agentdock:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    result = run_fatal(tmp_path, "redis", url)
    assert result.returncode == 78  # EX_CONFIG: the adapter cannot be built
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert len(fatal) == 1, result.stderr
    assert "CheckpointerUnavailable: checkpointer redis: cannot use" in fatal[0]
    assert "agentdock:***@127.0.0.1" in fatal[0]
    assert "Connection refused" in fatal[0]
    assert "Traceback" not in result.stderr
    assert REDIS_PASSWORD not in result.stderr + result.stdout


def test_redis_wrong_password_names_the_cause_not_the_password(
    tmp_path: Path, redis_servers: Callable[..., RedisServer]
) -> None:
    server = redis_servers(password=REDIS_PASSWORD)
    planted = "pl4nted-wrong-redis-passw0rd"
    result = run_fatal(tmp_path, "redis", server.url.replace(REDIS_PASSWORD, planted))
    assert result.returncode == 78  # EX_CONFIG: the adapter cannot be built
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert len(fatal) == 1, result.stderr
    assert "AuthenticationError" in fatal[0]
    assert planted not in result.stderr + result.stdout
    assert REDIS_PASSWORD not in result.stderr + result.stdout


def test_platform_threads_and_runs_are_shared_by_processes_and_survive_a_restart(
    tmp_path: Path, pg_url: str
) -> None:
    """A thread made and a background run started on one process are read, joined,
    streamed and cancelled on another; after a restart the thread and its runs remain."""
    open_store(url=pg_url).close()  # the registry's schema, as a deploy migrates it
    spec = project(tmp_path / "agent", "postgres") / "Dockfile.yaml"
    first = runtime_env(spec, pg_url, AGENTDOCK_DATABASE_URL=pg_url)
    second = runtime_env(spec, pg_url, AGENTDOCK_DATABASE_URL=pg_url)
    with runtime(first, spec.parent) as a, runtime(second, spec.parent) as b:
        one, other = get_sync_client(url=a), get_sync_client(url=b)
        thread = one.threads.create(metadata={"team": "blue"})
        tid = thread["thread_id"]
        assert other.threads.get(tid)["metadata"] == {"team": "blue"}

        run = one.runs.create(tid, "counter", input={"text": "hello"})
        assert other.runs.join(tid, run["run_id"])["count"] == 1
        assert other.runs.get(tid, run["run_id"])["status"] == "success"

        run = one.runs.create(tid, "counter", input={"text": "again"})
        events = [(p.event, p.data) for p in other.runs.join_stream(tid, run["run_id"])]
        assert ("values", {"text": "again", "seen": ["hello", "again"], "count": 2}) in events
        assert events[0][0] == "metadata"
        resumed = other.runs.join_stream(tid, run["run_id"], last_event_id="1")
        assert [(p.event, p.data) for p in resumed] == events[1:]

        slow = one.runs.create(tid, "counter", input={"text": "slow"})
        assert other.runs.get(tid, slow["run_id"])["status"] in ("pending", "running")
        other.runs.cancel(tid, slow["run_id"], wait=True)
        assert one.runs.get(tid, slow["run_id"])["status"] == "interrupted"
        assert one.threads.get(tid)["status"] in ("idle", "interrupted")
        found = {t["thread_id"] for t in other.threads.search(metadata={"team": "blue"})}
        assert tid in found
    with runtime(runtime_env(spec, pg_url, AGENTDOCK_DATABASE_URL=pg_url), spec.parent) as c:
        again = get_sync_client(url=c)
        assert again.threads.get(tid)["metadata"] == {"team": "blue"}
        statuses = [r["status"] for r in again.runs.list(tid)]
        assert statuses == ["interrupted", "success", "success"]
        values = again.threads.get_state(tid)["values"]
        # The cancelled run had noted its text before it waited; it never counted.
        assert values["seen"] == ["hello", "again", "slow"] and values["count"] == 2
        assert again.runs.wait(tid, "counter", input={"text": "more"})["count"] == 4
        again.threads.delete(tid)
    with runtime(runtime_env(spec, pg_url, AGENTDOCK_DATABASE_URL=pg_url), spec.parent) as d:
        gone = get_sync_client(url=d)
        with pytest.raises(NotFoundError):
            gone.threads.get(tid)


def test_registry_records_on_sqlite_hold_no_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads and runs in the embedded registry (two servers on one file, as two local
    replicas): shared, and neither the caller's key nor a wrong key is in any row."""
    import sqlite3

    import agentdock_plugins.auth
    import agentdock_plugins.langgraph
    import agentdock_plugins.litestar
    from agentdock import app, make_plugin_manager
    from auth_support import stored_key
    from served import serving

    home = tmp_path / "home"
    monkeypatch.setenv("AGENTDOCK_HOME", str(home))
    monkeypatch.setenv("AGENTDOCK_PLATFORM_RECORDS", "registry")
    spec = project(tmp_path / "agent", "sqlite") / "Dockfile.yaml"
    monkeypatch.chdir(spec.parent)
    monkeypatch.syspath_prepend(str(spec.parent))
    with open_store() as store:
        key = stored_key(store, "counter")[0].key
    wrong = "adk_wrong_0123456789abcdef0123456789abcdef"

    def server() -> object:
        plugins = make_plugin_manager(
            plugins=[
                agentdock_plugins.langgraph,
                agentdock_plugins.litestar,
                agentdock_plugins.auth,
            ]
        )
        return app(spec, plugins=plugins)

    with serving(server()) as a, serving(server()) as b:
        one = get_sync_client(url=f"http://127.0.0.1:{a}", api_key=key)
        other = get_sync_client(url=f"http://127.0.0.1:{b}", api_key=key)
        tid = one.threads.create(metadata={"team": "blue"})["thread_id"]
        run = one.runs.create(tid, "counter", input={"text": "hello"})
        assert other.runs.join(tid, run["run_id"])["count"] == 1
        assert [r["status"] for r in other.runs.list(tid)] == ["success"]
        stranger = get_sync_client(url=f"http://127.0.0.1:{b}", api_key=wrong)
        with pytest.raises(AuthenticationError):
            stranger.threads.get(tid)
    db = sqlite3.connect(home / "registry.db")
    try:
        rows = [
            repr(row)
            for table in ("platform_threads", "platform_runs", "platform_run_events")
            for row in db.execute(f"SELECT * FROM {table}")  # noqa: S608
        ]
    finally:
        db.close()
    assert any(tid in row for row in rows)
    assert not any(key in row or wrong in row for row in rows)


def test_redis_outage_mid_run_fails_requests_without_the_password_then_recovers(
    tmp_path: Path, redis_servers: Callable[..., RedisServer]
) -> None:
    """Redis gone while the runtime serves: a thread's request fails with an error that
    carries no password, and the runtime needs no restart once Redis is back."""
    server = redis_servers(password=REDIS_PASSWORD)
    spec = project(tmp_path / "agent", "redis") / "Dockfile.yaml"
    logs: list[str] = []
    with runtime(runtime_env(spec, server.url), spec.parent, logs) as base:
        assert count(base, "t1", "one") == 1
        tid = httpx.post(f"{base}/threads", json={}, timeout=30).json()["thread_id"]
        server.kill()
        response = httpx.post(
            f"{base}/invoke", json={"text": "two"}, headers={"x-thread-id": "t1"}, timeout=60
        )
        # The Platform API's runs and thread state say the same.
        waited = httpx.post(
            f"{base}/threads/{tid}/runs/wait",
            json={"assistant_id": "counter", "input": {"text": "x"}},
            timeout=60,
        )
        state = httpx.get(f"{base}/threads/{tid}/state", timeout=60)
        for answer in (response, waited, state):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "StateStoreUnavailable"
            assert REDIS_PASSWORD not in answer.text
        redis_servers(port=server.port, password=REDIS_PASSWORD)  # back, empty
        # Every pooled connection the old server closed is replaced, none fails a request.
        for thread in ("t2", "t3", "t4"):
            assert count(base, thread, "again") == 1
        assert count(base, "t2", "more") == 2
    assert "the Redis checkpointer cannot be reached (ConnectionError)" in logs[1]
    assert "agent raised" not in logs[1]
    assert not any(REDIS_PASSWORD in text for text in logs)


def test_postgres_outage_mid_run_is_a_503_without_the_password_then_recovers(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """Postgres gone while the runtime serves (a cluster of the test's own, stopped): a
    thread's request is the 503 a Redis outage gives, its answer and the logs without the
    password; the runtime needs no restart once the server is back."""
    with contextmanager(start_cluster)(pg_cluster.bin_dir) as cluster:
        spec = project(tmp_path / "agent", "postgres") / "Dockfile.yaml"
        logs: list[str] = []
        with runtime(runtime_env(spec, cluster.url()), spec.parent, logs) as base:
            assert count(base, "t1", "one") == 1
            tid = httpx.post(f"{base}/threads", json={}, timeout=30).json()["thread_id"]
            cluster.stop()
            response = httpx.post(
                f"{base}/invoke", json={"text": "two"}, headers={"x-thread-id": "t1"}, timeout=60
            )
            state = httpx.get(f"{base}/threads/{tid}/state", timeout=60)
            for answer in (response, state):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"] == "StateStoreUnavailable"
                assert cluster.password not in answer.text
                assert str(cluster.port) not in answer.text
            cluster.start()
            assert count(base, "t1", "three") == 2  # the state kept by the server
    assert "the Postgres checkpointer cannot be reached (" in logs[1]
    assert "agent raised" not in logs[1]
    assert not any(cluster.password in text for text in logs)


def test_platform_thread_state_history_and_delete_on_redis(
    tmp_path: Path, redis_servers: Callable[..., RedisServer]
) -> None:
    """The Platform API's thread routes read and write the Redis checkpointer: state,
    history, update_state, and a deleted thread leaves no key in Redis."""
    server = redis_servers(password=REDIS_PASSWORD)
    spec = project(tmp_path / "agent", "redis") / "Dockfile.yaml"
    client = redis.Redis.from_url(server.url)
    with runtime(runtime_env(spec, server.url), spec.parent) as base:
        sdk = get_sync_client(url=base)
        tid = sdk.threads.create()["thread_id"]
        assert sdk.runs.wait(tid, "counter", input={"text": "one"})["count"] == 1
        assert sdk.runs.wait(tid, "counter", input={"text": "two"})["count"] == 2
        state = sdk.threads.get_state(tid)
        assert state["values"] == {"text": "two", "seen": ["one", "two"], "count": 2}
        assert state["next"] == []
        assert state["checkpoint"]["thread_id"] == tid
        history = sdk.threads.get_history(tid)
        steps = [h["metadata"]["step"] for h in history]
        assert steps == sorted(steps, reverse=True) and len(steps) == 10  # 5 per run
        sdk.threads.update_state(tid, {"seen": ["edited"]}, as_node="tally")
        assert sdk.threads.get_state(tid)["values"]["seen"] == ["one", "two", "edited"]
        assert sdk.runs.wait(tid, "counter", input={"text": "three"})["count"] == 4
        assert client.keys(f"agentdock:checkpoint:{{{tid}}}:*")
        other = sdk.threads.create()["thread_id"]
        sdk.runs.wait(other, "counter", input={"text": "kept"})
        sdk.threads.delete(tid)
        assert client.keys(f"agentdock:checkpoint:{{{tid}}}:*") == []
        assert client.keys(f"agentdock:checkpoint:{{{other}}}:*")
        with pytest.raises(NotFoundError):
            sdk.threads.get(tid)
    client.close()
