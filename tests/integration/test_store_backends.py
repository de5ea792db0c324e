"""One registry store suite, run on both backends: SQLite (a file) and PostgreSQL.

Every :class:`~agentdock.registry.SQLStore` operation is exercised on the embedded SQLite
store and on the ``postgres`` store plugin against a throwaway cluster (``pgserver``), so
the queries written once behave the same on both: keys, audit log, immutable versions,
artifacts, deployments with at most one active per agent and instance (also when two
threads or two processes activate at once), deploy locks and migrations.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from agentdock.protocols import Store
from agentdock.registry import (
    DATABASE_URL_ENV,
    ImmutableVersion,
    LockHeld,
    RegistryError,
    SQLStore,
    open_store,
)
from agentdock.registry.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from agentdock.registry.sql import clean_details
from agentdock_plugins.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from agentdock_plugins.postgres.store import PostgresStore, to_pyformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from pgserver import PgCluster

pytest_plugins = ("pgserver",)

BACKENDS = ("sqlite", "postgres")
_HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Backend:
    """Where one test's registry lives; ``open()`` opens (and migrates) another store on it."""

    name: str
    location: str

    def open(self) -> SQLStore:
        if self.name == "sqlite":
            return open_store(self.location)
        return open_store(url=self.location)


def _fresh(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if name == "sqlite":
        return Backend("sqlite", str(tmp_path / f"registry-{uuid.uuid4().hex[:8]}.db"))
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    database = cluster.create_database()
    request.addfinalizer(lambda: cluster.drop_database(database))
    return Backend("postgres", cluster.url(database))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _fresh(request.param, request, tmp_path)


@pytest.fixture
def fresh_backend(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], Backend]:
    """Another empty registry of the same backend (for migrations from nothing)."""
    return lambda: _fresh(backend.name, request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[SQLStore]:
    opened = backend.open()
    yield opened
    opened.close()


def _unique(prefix: str = "agent") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _key(store: SQLStore, agent: str, key_id: str | None = None, **kw: Any) -> Any:
    return store.create_api_key(
        agent=agent,
        role=kw.pop("role", "developer"),
        key_id=key_id or uuid.uuid4().hex[:12],
        hashed_key="d" * 64,
        hash_algorithm="sha256",
        **kw,
    )


def _version(store: SQLStore, agent: str, version: str = "1.0.0", content: str = "a") -> Any:
    record, _ = store.record_version(
        agent=agent,
        version=version,
        snapshot=f"agent: {{name: {agent}}}  # {content}",
        content_hash=f"hash-{content}",
    )
    return record


# -- schema and migrations ------------------------------------------------------------------


def test_store_protocol_and_schema_version(store: SQLStore) -> None:
    assert isinstance(store, Store)
    assert store.schema_version() == len(SQLITE_MIGRATIONS)  # type: ignore[attr-defined]


def test_migrations_are_idempotent(backend: Backend, store: SQLStore) -> None:
    agent = _unique()
    _version(store, agent)
    store.migrate()
    with backend.open() as again:  # reopening applies nothing twice, keeps the rows
        again.migrate()
        assert again.schema_version() == len(SQLITE_MIGRATIONS)  # type: ignore[attr-defined]
        assert [v.version for v in again.list_versions(agent)] == ["1.0.0"]
        with again._read() as conn:
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version")
            assert [r[0] for r in rows.fetchall()] == [n for n, _ in SQLITE_MIGRATIONS]


def test_two_processes_migrating_at_once_both_succeed(
    fresh_backend: Callable[[], Backend],
) -> None:
    target = fresh_backend()
    script = (
        "import sys\n"
        "from agentdock.registry import open_store\n"
        "sys.stdin.readline()\n"
        "s = open_store(sys.argv[1]) if sys.argv[2] == 'sqlite' else open_store(url=sys.argv[1])\n"
        "print(s.schema_version())\n"
    )
    procs = [_child(script, target.location, target.name) for _ in range(2)]
    outputs = _release(procs)
    assert outputs == [str(len(SQLITE_MIGRATIONS))] * 2
    with target.open() as store, store._read() as conn:
        count = conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert count == len(SQLITE_MIGRATIONS)


def test_postgres_migrations_mirror_sqlite_number_for_number(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    assert [n for n, _ in PG_MIGRATIONS] == [n for n, _ in SQLITE_MIGRATIONS]
    lite = sqlite3.connect(tmp_path / "r.db")
    for _, script in SQLITE_MIGRATIONS:
        lite.executescript(script)
    tables = [
        r[0]
        for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    lite_columns = {
        t: [(r[1], bool(r[3]) or bool(r[5])) for r in lite.execute(f"PRAGMA table_info({t})")]
        for t in tables
    }
    lite_indexes = {
        r[0]
        for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    database = pg_cluster.create_database()
    try:
        with PostgresStore(pg_cluster.url(database)) as pg:
            pg.migrate()
            with pg._read() as conn:
                pg_tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_name <> 'schema_migrations' "
                        "ORDER BY table_name",
                        (),
                    ).fetchall()
                ]
                pg_columns = {
                    t: [
                        (r[0], r[1] == "NO")
                        for r in conn.execute(
                            "SELECT column_name, is_nullable FROM information_schema.columns "
                            "WHERE table_name = ? ORDER BY ordinal_position",
                            (t,),
                        ).fetchall()
                    ]
                    for t in pg_tables
                }
                pg_indexes = {
                    r[0]: r[1]
                    for r in conn.execute(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
                        (),
                    ).fetchall()
                }
                types = {
                    (r[0], r[1]): r[2]
                    for r in conn.execute(
                        "SELECT table_name, column_name, data_type, is_identity "
                        "FROM information_schema.columns WHERE table_schema = 'public'",
                        (),
                    ).fetchall()
                }
                identities = {
                    r[0]
                    for r in conn.execute(
                        "SELECT table_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND column_name = 'id' "
                        "AND is_identity = 'YES'",
                        (),
                    ).fetchall()
                }
    finally:
        pg_cluster.drop_database(database)
    assert pg_tables == tables
    assert pg_columns == lite_columns
    assert lite_indexes <= set(pg_indexes)
    assert "WHERE (status = 'active'::text)" in pg_indexes["deployments_one_active"]
    assert "UNIQUE" in pg_indexes["deployments_one_active"]
    assert types[("deployments", "started_at")] == "double precision"
    assert types[("audit_log", "at")] == "double precision"
    # Keys are named by their id, locks by agent and instance, the chain's head is one row,
    # the Platform API's rows by their agent and the thread's or run's own id, the control
    # plane's operations by their operation id.
    named = {"api_keys", "deploy_locks", "audit_head", "controlplane_operations"}
    assert identities == {t for t in tables if t not in named and not t.startswith("platform_")}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ? , ?", "SELECT %s , %s"),
        ("SELECT 'a?b', ?", "SELECT 'a?b', %s"),
        ("SELECT '100%' || ?", "SELECT '100%%' || %s"),
        ("SELECT \"we?ird\", 'it''s ?' -- a ? here\n, ?", None),
    ],
)
def test_parameter_rewrite_leaves_literals_alone(sql: str, expected: str | None) -> None:
    out = to_pyformat(sql)
    if expected is not None:
        assert out == expected
    else:
        assert out == "SELECT \"we?ird\", 'it''s ?' -- a ? here\n, %s"


# -- API keys -------------------------------------------------------------------------------


def test_keys_create_get_list(store: SQLStore) -> None:
    agent, other = _unique(), _unique()
    first = _key(store, agent, role="admin", expires_at=5000.0, created_by="ops", now=100.0)
    second = _key(store, agent, now=200.0)
    _key(store, other, now=150.0)
    assert first.agent == agent and first.role == "admin"
    assert (first.created_at, first.expires_at, first.created_by) == (100.0, 5000.0, "ops")
    assert store.get_api_key(first.key_id) == first
    assert store.get_api_key("nope") is None
    assert [k.key_id for k in store.list_api_keys(agent)] == [first.key_id, second.key_id]
    assert len(store.list_api_keys()) == 3
    assert agent in store.list_agents() and other in store.list_agents()
    assert store.list_agents() == sorted(store.list_agents())
    with pytest.raises(RegistryError, match=first.key_id):  # same id again: a clear error
        _key(store, agent, key_id=first.key_id)


def test_keys_rotate_revoke_touch(store: SQLStore) -> None:
    agent = _unique()
    key = _key(store, agent, role="operator", expires_at=9000.0, now=100.0)
    rotated = store.rotate_api_key(
        agent=agent,
        key_id=key.key_id,
        new_key_id="new" + key.key_id,
        new_hashed_key="e" * 64,
        hash_algorithm="sha256",
        grace_seconds=60,
        now=1000.0,
    )
    assert rotated is not None
    old, new = rotated
    assert (old.rotated_at, old.grace_until, old.replaced_by) == (1000.0, 1060.0, new.key_id)
    assert (new.role, new.expires_at) == ("operator", 9000.0)
    assert old.state(1030.0) == "rotating" and old.state(1061.0) == "rotated"
    again: dict[str, Any] = dict(
        agent=agent, new_key_id="x", new_hashed_key="f", hash_algorithm="sha256", grace_seconds=1
    )
    assert store.rotate_api_key(key_id=key.key_id, **again) is None  # already rotated
    assert store.rotate_api_key(key_id="missing", **again) is None
    assert store.rotate_api_key(key_id=new.key_id, **again | {"agent": "other"}) is None

    revoked = store.revoke_api_key(agent=agent, key_id=new.key_id, now=2000.0)
    assert revoked is not None and revoked.revoked_at == 2000.0
    twice = store.revoke_api_key(agent=agent, key_id=new.key_id, now=3000.0)
    assert twice is not None and twice.revoked_at == 2000.0  # the first time stays
    assert store.revoke_api_key(agent="other", key_id=key.key_id) is None

    assert store.touch_api_keys({key.key_id: 50.0, new.key_id: 60.0, "missing": 1.0}) == 2
    assert store.touch_api_keys([(key.key_id, 40.0)]) == 0  # never backwards
    assert store.touch_api_keys({}) == 0
    assert store.get_api_key(key.key_id).last_used_at == 50.0  # type: ignore[union-attr]


# -- audit log ------------------------------------------------------------------------------

_DETAIL_NAMES = st.one_of(
    st.sampled_from(
        ["key_id", "api_key", "Secret", "token_hint", "PASSWORD", "digest", "hash_algorithm"]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12),
)
_DETAIL_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
)


@_HYPOTHESIS
@given(details=st.dictionaries(_DETAIL_NAMES, _DETAIL_VALUES, max_size=6))
def test_audit_drops_secret_looking_details(store: SQLStore, details: dict[str, Any]) -> None:
    agent = _unique()
    planted = "s3cr3t-planted-value"
    details = details | {"api_token": planted}
    entry = store.append_audit("key.create", actor="cli", agent=agent, target="k1", details=details)
    [stored] = store.list_audit(agent=agent)
    assert stored == entry
    assert stored.details == clean_details(details)
    assert planted not in json.dumps(stored.details)
    for name in stored.details:
        lowered = name.lower()
        assert lowered in {"key_id", "hash_algorithm", "new_key_id", "old_key_id"} or not any(
            w in lowered for w in ("key", "secret", "token", "password", "digest", "hash")
        )


def test_audit_order_limit_and_filter(store: SQLStore) -> None:
    agent, other = _unique(), _unique()
    for i in range(5):
        store.append_audit(f"a{i}", actor="cli", agent=agent, now=float(i))
    store.append_audit("b", actor="cli", agent=other)
    assert [e.action for e in store.list_audit(agent=agent)] == [f"a{i}" for i in range(5)]
    assert [e.action for e in store.list_audit(agent=agent, limit=2)] == ["a3", "a4"]
    assert store.list_audit(limit=1)[0].action == "b"


# -- versions -------------------------------------------------------------------------------

_VERSION_STRINGS = st.one_of(
    st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)).map(
        lambda t: ".".join(map(str, t))
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=24),
)


@_HYPOTHESIS
@given(version=_VERSION_STRINGS, snapshot=st.text(max_size=200).filter(lambda s: "\x00" not in s))
def test_versions_are_immutable(store: SQLStore, version: str, snapshot: str) -> None:
    agent = _unique()
    record, created = store.record_version(
        agent=agent, version=version, snapshot=snapshot, content_hash="h1", created_by="ana"
    )
    assert created and (record.version, record.snapshot, record.created_by) == (
        version,
        snapshot,
        "ana",
    )
    same, created_again = store.record_version(
        agent=agent, version=version, snapshot=snapshot, content_hash="h1"
    )
    assert (same, created_again) == (record, False)
    with pytest.raises(ImmutableVersion) as caught:
        store.record_version(agent=agent, version=version, snapshot="other", content_hash="h2")
    assert caught.value.record == record
    assert store.get_version(agent, version) == record
    assert store.get_version_by_id(record.id) == record
    assert store.find_version_by_hash(agent, "h1") == record
    assert store.find_version_by_hash(agent, "h2") is None
    [audit] = store.list_audit(agent=agent)
    assert (audit.action, audit.target, audit.actor) == ("version.record", version, "ana")


def test_versions_list_order_and_hash_lookup(store: SQLStore) -> None:
    agent = _unique()
    names = ["1.0.0", "1.0.10", "1.0.2", "0.9.0"]
    records = [_version(store, agent, v, content=v) for v in names]
    assert [v.version for v in store.list_versions(agent)] == names  # recording order
    again = _version(store, agent, "2.0.0", content="1.0.2")  # same content, new string
    assert store.find_version_by_hash(agent, "hash-1.0.2") == again  # the newest one
    assert store.get_version(agent, "3.0.0") is None
    assert store.get_version_by_id(records[-1].id + 1000) is None
    assert store.list_versions(_unique()) == []


# -- artifacts ------------------------------------------------------------------------------


def test_artifacts_record_refresh_remove(store: SQLStore) -> None:
    agent = _unique()
    version = _version(store, agent)
    local = store.record_artifact(
        version_id=version.id, builder="local", ref="/b/1", digest="d1", details={"n": 1}, now=5.0
    )
    image = store.record_artifact(version_id=version.id, builder="docker", ref="img:1", digest="i")
    assert (local.ref, local.digest, local.details, local.created_at) == (
        "/b/1",
        "d1",
        {"n": 1},
        5.0,
    )
    assert store.get_artifact(version.id, "local") == local
    assert store.list_artifacts(agent) == [local, image]

    store.mark_artifact_removed(local.id)
    assert store.get_artifact(version.id, "local") is None
    assert store.list_artifacts(agent) == [image]

    refreshed = store.record_artifact(
        version_id=version.id, builder="local", ref="/b/2", digest="d2"
    )
    assert refreshed.id == local.id and (refreshed.ref, refreshed.digest) == ("/b/2", "d2")
    assert store.list_artifacts(agent) == [refreshed, image]
    with store._read() as conn:  # the version keeps the first ref it was built as
        ref = conn.execute("SELECT image_ref FROM agent_versions WHERE id = ?", (version.id,))
        assert ref.fetchone()[0] == "/b/1"


# -- deployments ----------------------------------------------------------------------------


def test_deployments_lifecycle(store: SQLStore) -> None:
    agent = _unique()
    v1, v2 = _version(store, agent, "1.0.0", "a"), _version(store, agent, "1.0.1", "b")
    art = store.record_artifact(version_id=v1.id, builder="local", ref="/b", digest="d")
    first = store.create_deployment(
        version_id=v1.id, artifact_id=art.id, target="local", deployed_by="ana", now=10.0
    )
    assert (first.status, first.agent, first.version, first.artifact_id) == (
        "pending",
        agent,
        "1.0.0",
        art.id,
    )
    assert (first.instance, first.reason, first.started_at, first.handle) == (
        "",
        "deploy",
        10.0,
        {},
    )
    store.set_deployment_handle(first.id, {"pid": 42, "port": 8080}, "http://127.0.0.1:8080")
    handled = store.get_deployment(first.id)
    assert handled is not None
    assert (handled.handle, handled.endpoint) == (
        {"pid": 42, "port": 8080},
        "http://127.0.0.1:8080",
    )

    assert store.activate_deployment(first.id, now=11.0) is None  # nothing active before
    assert store.active_deployment(agent).id == first.id  # type: ignore[union-attr]
    with pytest.raises(RegistryError, match="not pending"):
        store.activate_deployment(first.id)

    second = store.create_deployment(
        version_id=v2.id, artifact_id=None, target="local", reason="rollback"
    )
    superseded = store.activate_deployment(second.id, actor="ops", now=20.0)
    assert superseded is not None and superseded.id == first.id
    assert (superseded.status, superseded.stopped_at) == ("superseded", 20.0)
    assert store.active_deployment(agent).id == second.id  # type: ignore[union-attr]
    audit = [e for e in store.list_audit(agent=agent) if e.action.endswith(".activate")]
    assert [(e.action, e.actor) for e in audit] == [
        ("deploy.activate", "cli"),
        ("rollback.activate", "ops"),
    ]
    assert audit[-1].details["previous_deployment_id"] == first.id

    store.finish_deployment(second.id, "stopped", detail="stop requested", now=30.0)
    stopped = store.get_deployment(second.id)
    assert stopped is not None
    assert (stopped.status, stopped.detail, stopped.stopped_at) == (
        "stopped",
        "stop requested",
        30.0,
    )
    assert store.active_deployment(agent) is None
    with pytest.raises(ValueError):
        store.finish_deployment(second.id, "active")
    with pytest.raises(RegistryError):
        store.create_deployment(version_id=v2.id + 1000, artifact_id=None, target="local")
    assert store.get_deployment(second.id + 1000) is None


def test_deployments_list_filters_and_instances(store: SQLStore) -> None:
    agent = _unique()
    version = _version(store, agent)
    made = {}
    for instance in ("", "blue", "green"):
        made[instance] = store.create_deployment(
            version_id=version.id, artifact_id=None, target="docker", instance=instance
        )
        store.activate_deployment(made[instance].id)
    failed = store.create_deployment(version_id=version.id, artifact_id=None, target="docker")
    store.finish_deployment(failed.id, "failed", detail="/ready never answered")
    for instance, record in made.items():  # one active per instance, independently
        assert store.active_deployment(agent, instance).id == record.id  # type: ignore[union-attr]
    assert [d.id for d in store.list_deployments(agent)] == [
        *(r.id for r in made.values()),
        failed.id,
    ]
    assert [d.id for d in store.list_deployments(agent, instance="blue")] == [made["blue"].id]
    assert [d.id for d in store.list_deployments(agent, statuses=["failed"])] == [failed.id]
    both = store.list_deployments(agent, instance="", statuses=("active", "failed"))
    assert [d.id for d in both] == [made[""].id, failed.id]
    assert store.list_deployments(agent, statuses=["superseded"]) == []
    assert store.list_deployments(_unique()) == []


def test_the_partial_unique_index_refuses_a_second_active(store: SQLStore) -> None:
    agent = _unique()
    version = _version(store, agent)
    one = store.create_deployment(version_id=version.id, artifact_id=None, target="local")
    two = store.create_deployment(version_id=version.id, artifact_id=None, target="local")
    store.activate_deployment(one.id)
    with pytest.raises(Exception) as caught, store._tx() as conn:  # the driver's own class
        conn.execute("UPDATE deployments SET status = 'active' WHERE id = ?", (two.id,))
    assert store._is_integrity_error(caught.value)
    assert [d.id for d in store.list_deployments(agent, statuses=["active"])] == [one.id]


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # returned; the caller's assertion names it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_threads_activating_at_once_leave_one_active(backend: Backend) -> None:
    agent = _unique()
    stores = [backend.open(), backend.open()]  # two connections, as two CLIs would have
    try:
        version = _version(stores[0], agent)
        for _ in range(10):
            pending = [
                s.create_deployment(version_id=version.id, artifact_id=None, target="local")
                for s in stores
            ]
            outcomes = _race(
                [partial(s.activate_deployment, d.id) for s, d in zip(stores, pending, strict=True)]
            )
            assert not [o for o in outcomes if isinstance(o, BaseException)]
            active = stores[0].list_deployments(agent, statuses=["active"])
            assert len(active) == 1 and active[0].id in {d.id for d in pending}
    finally:
        for s in stores:
            s.close()


def _child(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _release(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Let every child past its ``readline()`` at once; their last stdout lines."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.flush()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out.strip().splitlines()[-1])
    return outputs


def test_two_processes_activating_at_once_leave_one_active(
    backend: Backend, store: SQLStore
) -> None:
    agent = _unique()
    version = _version(store, agent)
    pending = [
        store.create_deployment(version_id=version.id, artifact_id=None, target="local")
        for _ in range(2)
    ]
    script = (
        "import sys\n"
        "from agentdock.registry import open_store\n"
        "s = open_store(sys.argv[1]) if sys.argv[2] == 'sqlite' else open_store(url=sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "old = s.activate_deployment(int(sys.argv[3]))\n"
        "print(old.id if old else 0)\n"
    )
    procs = [_child(script, backend.location, backend.name, str(d.id)) for d in pending]
    for proc in procs:  # both have opened the store before either is let go
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    outputs = sorted(_release(procs))
    first, second = sorted(d.id for d in pending)
    # Serialised: one found nothing active, the other superseded the first one's.
    assert outputs[0] == "0" and outputs[1] in {str(first), str(second)}
    active = store.list_deployments(agent, statuses=["active"])
    assert len(active) == 1
    assert {d.status for d in store.list_deployments(agent)} == {"active", "superseded"}


# -- deploy locks ---------------------------------------------------------------------------


def test_deploy_locks(store: SQLStore) -> None:
    agent = _unique()
    store.acquire_lock(agent, "", holder="cli", pid=100, host="h1", now=1.0)
    with pytest.raises(LockHeld) as held:
        store.acquire_lock(agent, "", holder="cli", pid=200, host="h2")
    assert (held.value.holder, held.value.pid, held.value.host, held.value.acquired_at) == (
        "cli",
        100,
        "h1",
        1.0,
    )
    seen: list[tuple[int, str, float]] = []

    def alive(pid: int, host: str, at: float) -> bool:
        seen.append((pid, host, at))
        return False

    with pytest.raises(LockHeld):
        store.acquire_lock(agent, "", holder="cli", pid=200, host="h2", is_stale=alive)
    assert seen == [(100, "h1", 1.0)]
    store.acquire_lock(agent, "blue", holder="cli", pid=200, host="h2")  # another instance
    store.acquire_lock(  # a dead holder is taken over
        agent, "", holder="rollback", pid=300, host="h3", is_stale=lambda *_: True, now=5.0
    )
    with pytest.raises(LockHeld) as taken:
        store.acquire_lock(agent, "", holder="cli", pid=400, host="h4")
    assert (taken.value.holder, taken.value.pid) == ("rollback", 300)

    store.release_lock(agent, "", pid=999, host="h3")  # not the holder: nothing happens
    with pytest.raises(LockHeld):
        store.acquire_lock(agent, "", holder="cli", pid=400, host="h4")
    store.release_lock(agent, "", pid=300, host="h3")
    store.acquire_lock(agent, "", holder="cli", pid=400, host="h4")


def test_one_of_two_racing_lock_takers_wins(backend: Backend) -> None:
    agent = _unique()
    stores = [backend.open(), backend.open()]
    try:
        for round_ in range(10):
            outcomes = _race(
                [
                    partial(s.acquire_lock, agent, f"i{round_}", holder="cli", pid=pid, host="h")
                    for pid, s in enumerate(stores, 1)
                ]
            )
            kinds = sorted(type(o).__name__ for o in outcomes)
            assert kinds == ["LockHeld", "NoneType"], outcomes
    finally:
        for s in stores:
            s.close()


# -- choosing and reaching PostgreSQL ---------------------------------------------------------


def test_open_store_picks_postgres_from_the_environment(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, pg_url)
    with open_store() as store:
        assert isinstance(store, PostgresStore)
        assert store.schema_version() == len(SQLITE_MIGRATIONS)
        password = pg_url.split(":")[2].split("@")[0]
        assert password not in store.url and "***" in store.url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_database_is_a_registry_error_without_the_password() -> None:
    planted = "planted-Pa55word"
    url = f"postgresql://agentdock:{planted}@127.0.0.1:{_free_port()}/registry"
    with pytest.raises(RegistryError) as caught:
        open_store(url=url)
    message = str(caught.value)
    assert planted not in message and "127.0.0.1" in message and "***" in message


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://agentdock:{pw}@127.0.0.1:notaport/registry",
        "postgresql://agentdock:{pw}@[::1/registry",
        "postgresql+psycopg://agentdock:{pw}@127.0.0.1:{port}/registry?sslmode=bogus",
        "postgresql://agentdock:{pw}@127.0.0.1:{port}/registry?connect_timeout=oops",
    ],
)
def test_malformed_url_is_a_registry_error_without_the_password(template: str) -> None:
    planted = "planted-Pa55word"
    url = template.format(pw=planted, port=_free_port())
    with pytest.raises(RegistryError) as caught:
        PostgresStore(url)
    assert planted not in str(caught.value) and "***" in str(caught.value)


def test_wrong_password_is_a_registry_error_without_either_password(
    pg_cluster: PgCluster,
) -> None:
    planted = "wrong-Pa55word-planted"
    url = pg_cluster.url().replace(pg_cluster.password, planted)
    with pytest.raises(RegistryError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert planted not in message and pg_cluster.password not in message
    assert "authentication failed" in message


def test_a_role_that_cannot_create_tables_gets_a_registry_error(pg_cluster: PgCluster) -> None:
    database = pg_cluster.create_database()
    secret = "limited-Pa55word-planted"
    try:
        with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE limited_{database} LOGIN PASSWORD '{secret}'")
        url = f"postgresql://limited_{database}:{secret}@127.0.0.1:{pg_cluster.port}/{database}"
        with PostgresStore(url) as store, pytest.raises(RegistryError) as caught:
            store.migrate()
        message = str(caught.value)
        assert "cannot migrate" in message and "permission denied" in message
        assert secret not in message
    finally:
        pg_cluster.drop_database(database)
        with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS limited_{database}")


def test_integrity_errors_of_psycopg_count_as_such(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.migrate()
        unique = psycopg.errors.UniqueViolation("duplicate")
        assert store._is_integrity_error(unique)
        assert store._is_integrity_error(psycopg.errors.ForeignKeyViolation("fk"))
        assert store._is_integrity_error(psycopg.errors.CheckViolation("check"))
        assert not store._is_integrity_error(psycopg.OperationalError("down"))


def test_control_plane_operations_round_trip_and_end_when_abandoned(store: SQLStore) -> None:
    from agentdock.registry.operationrows import OperationRow, OperationRows

    rows = OperationRows(store)
    op_id = f"op-1-{uuid.uuid4().hex[:8]}"
    op = OperationRow(
        id=op_id,
        kind="build",
        agent=_unique(),
        started_by="key:0123456789ab",
        status="queued",
        started_at=time.time(),
        finished_at=None,
        steps=[],
        result=None,
        error=None,
        worker="nowhere:1:aa",
    )
    rows.save(op)
    op.status, op.steps = "running", [{"step": "build", "message": "ünïcode <b>", "at": 1.5}]
    rows.save(op)
    read = rows.get(op_id)
    assert read is not None and (read.status, read.steps) == ("running", op.steps)
    assert op_id in [r.id for r in rows.recent(50)]
    assert op_id in {r.id for r in rows.end_abandoned(stale_after=-1.0)}
    ended = rows.get(op_id)
    assert ended is not None and ended.status == "failed" and ended.finished_at is not None
    assert ended.error is not None and ended.error["error"] == "ControlPlaneStopped"
    assert op_id not in {r.id for r in rows.end_abandoned(stale_after=-1.0)}
