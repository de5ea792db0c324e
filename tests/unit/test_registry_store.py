"""The SQLite registry store: migrations, pragmas, key rows, audit log, no secrets at rest."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from agentdock.auth import generate_key
from agentdock.protocols import Store
from agentdock.registry import (
    HOME_ENV,
    RegistryError,
    SQLiteStore,
    default_registry_path,
    open_store,
)
from agentdock.registry.migrations import MIGRATIONS
from auth_support import rotate_key, stored_key


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = open_store(tmp_path / "registry.db")
    yield s
    s.close()


def test_store_protocol_and_pragmas(store: SQLiteStore) -> None:
    assert isinstance(store, Store)
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("foreign_keys") == 1
    assert store.pragma("busy_timeout") >= 1000
    with pytest.raises(ValueError):
        store.pragma("journal_mode; DROP TABLE agents")


def test_migrations_are_numbered_recorded_and_idempotent(tmp_path: Path) -> None:
    numbers = [n for n, _ in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    path = tmp_path / "r.db"
    with open_store(path) as first:
        assert first.schema_version() == len(MIGRATIONS)
    with open_store(path) as again:  # reopening applies nothing twice
        assert again.schema_version() == len(MIGRATIONS)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert rows == [(n,) for n in numbers]
    assert {
        "agents",
        "agent_versions",
        "deployments",
        "api_keys",
        "policies",
        "audit_log",
    } <= tables


def test_foreign_keys_are_enforced(store: SQLiteStore) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, created_at) "
            "VALUES ('x', 999, 'r', 'h', 'sha256', 0)"
        )


def test_default_path_and_home_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOME_ENV, raising=False)
    assert default_registry_path(tmp_path) == tmp_path / ".agentdock" / "registry.db"
    monkeypatch.chdir(tmp_path)
    assert default_registry_path() == tmp_path / ".agentdock" / "registry.db"
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    with open_store() as s:
        assert s.path == tmp_path / "home" / "registry.db"
    assert (tmp_path / "home" / "registry.db").is_file()


def test_unopenable_registry_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RegistryError, match="cannot open the registry"):
        open_store(blocker / "sub" / "registry.db")


def test_create_get_list(store: SQLiteStore) -> None:
    generated, record = stored_key(store, expires_at=5000.0, now=1000.0)
    assert record.key_id == generated.key_id
    assert record.agent == "echo_agent"
    assert record.state(1000.0) == "active"
    assert record.state(5000.0) == "expired"
    assert store.get_api_key(generated.key_id) == record
    assert store.get_api_key("000000000000") is None
    stored_key(store, agent="other_agent")
    assert [r.agent for r in store.list_api_keys()] == ["echo_agent", "other_agent"]
    assert [r.key_id for r in store.list_api_keys("echo_agent")] == [generated.key_id]
    assert store.list_api_keys("nobody") == []
    with pytest.raises(RegistryError, match=generated.key_id):
        store.create_api_key(
            agent="echo_agent",
            role="r",
            key_id=generated.key_id,
            hashed_key="h",
            hash_algorithm="sha256",
        )


def test_rotate_keeps_the_old_key_for_the_grace_period(store: SQLiteStore) -> None:
    old, _ = stored_key(store, role="admin", expires_at=9e9, now=100.0)
    new, result = rotate_key(store, old.key_id, grace_seconds=3600, now=200.0)
    assert result is not None
    before, after = result
    assert before.rotated_at == 200.0 and before.grace_until == 3800.0
    assert before.replaced_by == new.key_id
    assert before.state(3799.0) == "rotating"
    assert before.state(3800.0) == "rotated"
    assert after.role == "admin" and after.expires_at == 9e9
    assert after.state(3800.0) == "active"
    # A rotated key cannot be rotated again, another agent's key cannot be rotated.
    again = generate_key()
    kwargs = dict(
        new_key_id=again.key_id,
        new_hashed_key=again.digest,
        hash_algorithm=again.algorithm,
        grace_seconds=1,
    )
    assert store.rotate_api_key(agent="echo_agent", key_id=old.key_id, **kwargs) is None
    assert store.rotate_api_key(agent="other_agent", key_id=new.key_id, **kwargs) is None


def test_revoke(store: SQLiteStore) -> None:
    generated, _ = stored_key(store)
    assert store.revoke_api_key(agent="other_agent", key_id=generated.key_id) is None
    assert store.revoke_api_key(agent="echo_agent", key_id="000000000000") is None
    first = store.revoke_api_key(agent="echo_agent", key_id=generated.key_id, now=10.0)
    assert first is not None and first.revoked_at == 10.0 and first.state(11.0) == "revoked"
    second = store.revoke_api_key(agent="echo_agent", key_id=generated.key_id, now=20.0)
    assert second is not None and second.revoked_at == 10.0


def test_touch_in_batches_never_moves_back(store: SQLiteStore) -> None:
    a, _ = stored_key(store)
    b, _ = stored_key(store)
    assert store.touch_api_keys({a.key_id: 50.0, b.key_id: 60.0, "000000000000": 1.0}) == 2
    assert store.touch_api_keys([(a.key_id, 40.0)]) == 0
    assert store.get_api_key(a.key_id).last_used_at == 50.0  # type: ignore[union-attr]
    assert store.get_api_key(b.key_id).last_used_at == 60.0  # type: ignore[union-attr]
    assert store.touch_api_keys({}) == 0


def test_audit_log(store: SQLiteStore) -> None:
    store.append_audit("key.create", actor="ann", agent="a1", target="k1", details={"role": "x"})
    store.append_audit("key.revoke", actor="bob", agent="a2", target="k2")
    entry = store.append_audit(
        "token.issue",
        actor="ann",
        agent="a1",
        details={"role": "x", "token": "eyJ.planted", "secret_key": "planted", "api_key": "p"},
    )
    assert entry.details == {"role": "x"}
    assert [e.action for e in store.list_audit()] == ["key.create", "key.revoke", "token.issue"]
    assert [e.action for e in store.list_audit(agent="a1")] == ["key.create", "token.issue"]
    assert [e.action for e in store.list_audit(limit=1)] == ["token.issue"]
    assert store.list_audit()[0].details == {"role": "x"}


def test_no_key_in_clear_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with open_store(path) as s:
        generated, _ = stored_key(s)
        s.append_audit("key.create", actor="ann", agent="echo_agent", target=generated.key_id)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert generated.key.encode() not in raw
    assert generated.key.split("_", 2)[2].encode() not in raw
    assert generated.key_id.encode() in raw  # the public id is what rows are found by


def test_concurrent_writers_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    stores = [open_store(path) for _ in range(3)]
    errors: list[BaseException] = []

    def work(s: SQLiteStore) -> None:
        try:
            for _ in range(20):
                stored_key(s)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(stores[0].list_api_keys()) == 60
    for s in stores:
        s.close()


def test_key_changes_are_announced_after_their_commit(store: SQLiteStore) -> None:
    from agentdock import hookimpl
    from agentdock.plugins import get_plugin_manager

    key, _ = stored_key(store)
    heard: list[tuple[str, list[str], str, str]] = []

    class Listener:
        @hookimpl
        def agentdock_api_keys_changed(self, agent: str, key_ids: list[str], action: str) -> None:
            with open_store(store.path) as other:  # committed: another connection sees it
                state = other.get_api_key(key_ids[0]).state(time.time())  # type: ignore[union-attr]
            heard.append((agent, key_ids, action, state))

    class Broken:
        @hookimpl
        def agentdock_api_keys_changed(self) -> None:
            raise RuntimeError("bus down")

    manager = get_plugin_manager()
    names = [
        manager.register(Listener(), "test-listener"),
        manager.register(Broken(), "test-broken"),
    ]
    try:
        new, rotated = rotate_key(store, key.key_id, grace_seconds=60)
        assert rotated is not None  # a failing hook does not undo the change
        assert store.revoke_api_key(agent="echo_agent", key_id=new.key_id) is not None
        assert store.revoke_api_key(agent="echo_agent", key_id="nope") is None
    finally:
        for name in names:
            manager.unregister(name)
    assert heard == [
        ("echo_agent", [key.key_id, new.key_id], "rotate", "rotating"),
        ("echo_agent", [new.key_id], "revoke", "revoked"),
    ]
    assert any(e.name == "test-broken" and "bus down" in e.error for e in manager.errors())


def test_many_key_rows_at_once(store: SQLiteStore) -> None:
    keys = [stored_key(store)[1] for _ in range(3)]
    wanted = [k.key_id for k in keys] * 400 + ["missing"]  # over one query's worth of ids
    assert store.get_api_keys(wanted) == {k.key_id: k for k in keys}
    assert store.get_api_keys([]) == {}


def test_data_version_moves_with_commits_of_other_connections(store: SQLiteStore) -> None:
    with open_store(store.path) as other:
        before = store.data_version()
        stored_key(store)
        assert store.data_version() == before  # its own commit
        stored_key(other)
        assert store.data_version() != before
