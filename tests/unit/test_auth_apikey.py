"""API-key mode: lookups by key id, revocation (499), rotation grace, expiry, the in-memory
cache and how changes made elsewhere reach it, batched last_used_at writes and the
constant-time comparison on the request path."""

from __future__ import annotations

import asyncio
import gc
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
from agentdock.auth import generate_key
from agentdock.registry import SQLiteStore, change_message, open_store
from agentdock.registry.keyview import merge_key_use, read_key_use
from agentdock_plugins.auth import api_key_provider
from agentdock_plugins.auth.apikey import ApiKeyProvider, ApiKeyVerifier
from agentdock_runtime.errors import BadRequest, KeyRevoked, Unauthorized
from auth_support import AGENT, add_key, auth_spec, rotate_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """Wraps a store and counts reads (the cache must spare them)."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.reads = 0
        self.bulk_reads = 0

    def get_api_key(self, key_id: str) -> Any:
        self.reads += 1
        return self.store.get_api_key(key_id)

    def get_api_keys(self, key_ids: Any) -> Any:
        self.bulk_reads += 1
        return self.store.get_api_keys(key_ids)

    def touch_api_keys(self, used: Any) -> int:
        return self.store.touch_api_keys(used)


def make_spec() -> Any:
    return auth_spec({"mode": "api_key", "api_keys": {"enabled": True}})


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = open_store(tmp_path / "registry.db")
    yield s
    s.close()


def provider_for(store: Any, clock: Clock, ttl: float = 5.0) -> ApiKeyProvider:
    verifier = ApiKeyVerifier(store, AGENT, cache_ttl=ttl, touch_interval=3600, clock=clock)
    return ApiKeyProvider(verifier)


def auth(provider: ApiKeyProvider, headers: dict[str, str]) -> Any:
    return asyncio.run(provider.authenticate(headers))


def refused(provider: ApiKeyProvider, headers: dict[str, str]) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        auth(provider, headers)
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"].startswith("ApiKey")
    for value in headers.values():
        if len(value) > 20:
            assert value not in info.value.detail
    return info.value


def test_factory_uses_the_registry_of_agentdock_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    with open_store() as s:
        key = add_key(s)
    provider = api_key_provider(make_spec())
    identity = auth(provider, {"x-api-key": key.key})
    assert identity == {
        "sub": f"key:{key.key_id}",
        "role": "developer",
        "agent": AGENT,
        "key_id": key.key_id,
        "auth": "api_key",
    }
    provider.close()


def test_runtime_never_creates_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    provider = api_key_provider(make_spec())
    provider.verifier.cache_ttl = 0
    key = generate_key()
    assert refused(provider, {"x-api-key": key.key}).detail == "unknown API key"
    assert not (tmp_path / "home").exists()
    # A key created afterwards (agentdock key create) is found without a restart.
    with open_store() as s:
        s.create_api_key(
            agent=AGENT,
            role="viewer",
            key_id=key.key_id,
            hashed_key=key.digest,
            hash_algorithm=key.algorithm,
        )
    assert auth(provider, {"x-api-key": key.key})["role"] == "viewer"
    provider.close()
    # Its use is recorded in the instance's state directory, never in the registry; key
    # list merges it.
    with open_store() as s:
        assert s.get_api_key(key.key_id).last_used_at is None  # type: ignore[union-attr]
        merged = merge_key_use(tmp_path / "home", s.list_api_keys(AGENT))
    assert merged[0].last_used_at is not None
    assert read_key_use(tmp_path / "home" / "state" / AGENT / "key-use.json") == {
        key.key_id: merged[0].last_used_at
    }


def test_valid_key_header_and_bearer(store: SQLiteStore) -> None:
    key = add_key(store)
    provider = provider_for(store, Clock())
    assert auth(provider, {"x-api-key": key.key})["role"] == "developer"
    assert auth(provider, {"authorization": f"Bearer {key.key}"})["role"] == "developer"


def test_missing_malformed_unknown_and_foreign_keys(store: SQLiteStore) -> None:
    foreign = add_key(store, agent="other_agent")
    provider = provider_for(store, Clock())
    assert refused(provider, {}).headers["WWW-Authenticate"] == 'ApiKey realm="agentdock"'
    assert "malformed" in refused(provider, {"x-api-key": "not-a-key"}).detail
    assert "empty" in refused(provider, {"x-api-key": "  "}).detail
    assert "too large" in refused(provider, {"x-api-key": "a" * 8192}).detail
    unknown = generate_key().key
    assert refused(provider, {"x-api-key": unknown}).detail == "unknown API key"
    assert refused(provider, {"x-api-key": foreign.key}).detail == "unknown API key"


def test_a_tenant_instance_accepts_only_its_own_keys(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = add_key(store, instance="acme")
    globex = add_key(store, instance="globex")
    default = add_key(store)
    monkeypatch.setenv("AGENTDOCK_INSTANCE", "acme")
    provider = provider_for(store, Clock())
    assert auth(provider, {"x-api-key": acme.key})["role"] == "developer"
    assert refused(provider, {"x-api-key": globex.key}).detail == "unknown API key"
    assert refused(provider, {"x-api-key": default.key}).detail == "unknown API key"
    monkeypatch.delenv("AGENTDOCK_INSTANCE")
    default_provider = provider_for(store, Clock())
    assert auth(default_provider, {"x-api-key": default.key})["role"] == "developer"
    assert refused(default_provider, {"x-api-key": acme.key}).detail == "unknown API key"
    rotated = store.rotate_api_key(
        agent=AGENT,
        key_id=acme.key_id,
        new_key_id=generate_key().key_id,
        new_hashed_key="x" * 64,
        hash_algorithm="sha256",
        grace_seconds=60,
    )
    assert rotated is not None and rotated[1].instance == "acme"


def test_right_id_wrong_secret_is_refused(store: SQLiteStore) -> None:
    key = add_key(store)
    provider = provider_for(store, Clock())
    forged = key.key[:-4] + ("AAAA" if not key.key.endswith("AAAA") else "BBBB")
    assert refused(provider, {"x-api-key": forged}).detail == "unknown API key"


def test_request_path_compares_with_hmac_compare_digest(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = add_key(store)
    seen: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    provider = provider_for(store, Clock())
    auth(provider, {"x-api-key": key.key})
    stored = store.get_api_key(key.key_id)
    assert stored is not None
    assert seen == [stored.hashed_key.encode()]


def test_revoked_key_is_499_and_invalidation_is_immediate_in_process(store: SQLiteStore) -> None:
    key = add_key(store)
    provider = provider_for(store, Clock(), ttl=3600)
    auth(provider, {"x-api-key": key.key})
    store.revoke_api_key(agent=AGENT, key_id=key.key_id)
    provider.verifier.invalidate(key.key_id)
    with pytest.raises(KeyRevoked) as info:
        auth(provider, {"x-api-key": key.key})
    assert info.value.status == 499


def eventually_refused(provider: ApiKeyProvider, key: str, within: float = 10.0) -> Exception:
    """The refusal of ``key``, polled until it comes (the bound is generous on purpose:
    tests never assert on wall-clock time)."""
    deadline = time.monotonic() + within
    while True:
        try:
            auth(provider, {"x-api-key": key})
        except (Unauthorized, KeyRevoked) as exc:
            return exc
        assert time.monotonic() < deadline, "the change was never seen"
        time.sleep(0.02)


def test_revocation_by_another_connection_is_seen_without_waiting_for_the_ttl(
    store: SQLiteStore, tmp_path: Path
) -> None:
    key = add_key(store)
    provider = provider_for(store, Clock(), ttl=3600)  # only the registry's signal can help
    auth(provider, {"x-api-key": key.key})
    with open_store(tmp_path / "registry.db") as other:  # e.g. `agentdock key revoke`
        other.revoke_api_key(agent=AGENT, key_id=key.key_id)
    refusal = eventually_refused(provider, key.key)
    assert isinstance(refusal, KeyRevoked) and refusal.status == 499
    provider.close()


def test_rotation_and_role_change_by_another_connection_are_seen(
    store: SQLiteStore, tmp_path: Path
) -> None:
    clock = Clock(time.time())
    rotated, changed = add_key(store), add_key(store)
    provider = provider_for(store, clock, ttl=3600)
    assert auth(provider, {"x-api-key": rotated.key})
    assert auth(provider, {"x-api-key": changed.key})["role"] == "developer"
    with open_store(tmp_path / "registry.db") as other:
        rotate_key(other, rotated.key_id, grace_seconds=0, now=clock.now - 1)
        with other._tx() as conn:  # no command changes a role; the registry's signal does
            conn.execute("UPDATE api_keys SET role = 'viewer' WHERE id = ?", (changed.key_id,))
    assert "grace period" in eventually_refused(provider, rotated.key).detail  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while auth(provider, {"x-api-key": changed.key})["role"] != "viewer":
        assert time.monotonic() < deadline, "the role change was never seen"
        time.sleep(0.02)
    provider.close()


def test_an_announced_change_of_this_agent_refreshes_the_rows(store: SQLiteStore) -> None:
    key = add_key(store)
    counting = CountingStore(store)
    verifier = ApiKeyVerifier(
        counting, AGENT, cache_ttl=3600, registry_poll=None, touch_interval=3600
    )
    provider = ApiKeyProvider(verifier)
    auth(provider, {"x-api-key": key.key})
    store.revoke_api_key(agent=AGENT, key_id=key.key_id)  # unseen: no polling here
    assert auth(provider, {"x-api-key": key.key})
    verifier.changed(change_message("other_agent", [key.key_id], "revoke"))
    assert not verifier._announced  # another agent's keys: nothing to re-read
    verifier.changed(b"not json")  # unreadable: treated as a change of ours
    assert verifier._announced
    verifier.changed(change_message(AGENT, [key.key_id], "revoke"))
    assert isinstance(eventually_refused(provider, key.key), KeyRevoked)
    assert counting.bulk_reads >= 1  # every kept row in one query
    provider.close()


def test_a_row_read_before_a_change_is_not_trusted_after_it(store: SQLiteStore) -> None:
    key = add_key(store)
    before = store.get_api_key(key.key_id)
    verifier = ApiKeyVerifier(store, AGENT, cache_ttl=3600, registry_poll=None)

    class ChangedDuringTheRead(CountingStore):
        def get_api_key(self, key_id: str) -> Any:
            self.reads += 1
            if self.reads == 1:  # the revocation commits while the first read is in flight
                self.store.revoke_api_key(agent=AGENT, key_id=key_id)
                verifier.refresh()
                return before
            return self.store.get_api_key(key_id)

    racing = ChangedDuringTheRead(store)
    verifier.store = racing  # type: ignore[assignment]
    provider = ApiKeyProvider(verifier)
    assert auth(provider, {"x-api-key": key.key})  # answered with the row it read
    with pytest.raises(KeyRevoked):  # but that row was not kept as fresh
        auth(provider, {"x-api-key": key.key})
    assert racing.reads == 2
    provider.close()


def test_a_dropped_verifier_ends_its_thread(store: SQLiteStore) -> None:
    key = add_key(store)
    provider = provider_for(store, Clock())
    auth(provider, {"x-api-key": key.key})
    thread = provider.verifier._thread
    assert thread is not None and thread.is_alive()
    del provider
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_cache_spares_store_reads(store: SQLiteStore) -> None:
    key = add_key(store)
    counting = CountingStore(store)
    clock = Clock()
    provider = provider_for(counting, clock)
    for _ in range(50):
        auth(provider, {"x-api-key": key.key})
    assert counting.reads == 1
    unknown = generate_key().key
    for _ in range(5):
        refused(provider, {"x-api-key": unknown})
    assert counting.reads == 2  # misses are cached too
    clock.now += 10
    auth(provider, {"x-api-key": key.key})
    assert counting.reads == 3


def test_rotation_grace_period(store: SQLiteStore) -> None:
    clock = Clock()
    old = add_key(store, now=clock.now)
    new, _ = rotate_key(store, old.key_id, grace_seconds=24 * 3600, now=clock.now)
    provider = provider_for(store, clock, ttl=0)
    assert auth(provider, {"x-api-key": old.key})["key_id"] == old.key_id
    assert auth(provider, {"x-api-key": new.key})["key_id"] == new.key_id
    clock.now += 24 * 3600
    assert "grace period" in refused(provider, {"x-api-key": old.key}).detail
    assert auth(provider, {"x-api-key": new.key})


def test_expired_key(store: SQLiteStore) -> None:
    clock = Clock()
    key = add_key(store, expires_at=clock.now + 60)
    provider = provider_for(store, clock, ttl=0)
    assert auth(provider, {"x-api-key": key.key})
    clock.now += 60
    assert "expired" in refused(provider, {"x-api-key": key.key}).detail


def test_last_used_is_written_in_batches_off_the_request_path(store: SQLiteStore) -> None:
    a, b = add_key(store), add_key(store)
    clock = Clock(2_000_000.0)
    provider = provider_for(store, clock)
    for _ in range(10):
        auth(provider, {"x-api-key": a.key})
    clock.now += 1
    auth(provider, {"x-api-key": b.key})
    # Nothing written yet: the request path only notes the use in memory.
    assert store.get_api_key(a.key_id).last_used_at is None  # type: ignore[union-attr]
    assert provider.verifier.flush() == 2
    assert store.get_api_key(a.key_id).last_used_at == 2_000_000.0  # type: ignore[union-attr]
    assert store.get_api_key(b.key_id).last_used_at == 2_000_001.0  # type: ignore[union-attr]
    assert provider.verifier.flush() == 0
    provider.close()


def test_background_writer_flushes(store: SQLiteStore) -> None:
    key = add_key(store)
    verifier = ApiKeyVerifier(store, AGENT, touch_interval=0.01)
    provider = ApiKeyProvider(verifier)
    auth(provider, {"x-api-key": key.key})
    assert verifier._thread is not None and verifier._thread.daemon
    for _ in range(500):
        if store.get_api_key(key.key_id).last_used_at is not None:  # type: ignore[union-attr]
            break
        verifier._stop.wait(0.01)
    assert store.get_api_key(key.key_id).last_used_at is not None  # type: ignore[union-attr]
    provider.close()
    assert not verifier._thread.is_alive()


def test_lookups_run_in_a_worker_thread(store: SQLiteStore) -> None:
    import threading

    key = add_key(store)
    threads: list[str] = []

    class Recording(CountingStore):
        def get_api_key(self, key_id: str) -> Any:
            threads.append(threading.current_thread().name)
            return super().get_api_key(key_id)

    provider = provider_for(Recording(store), Clock())

    async def main() -> str:
        await provider.authenticate({"x-api-key": key.key})
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert threads and threads[0] != loop_thread


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.from_regex(r"adk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", fullmatch=True),
    )
)
def test_no_key_that_was_not_issued_is_accepted(store: SQLiteStore, text: str) -> None:
    issued = add_key(store)
    provider = provider_for(store, Clock())
    if text.strip() == issued.key:
        return
    with pytest.raises((Unauthorized, BadRequest)):
        auth(provider, {"x-api-key": text})


def test_a_bad_redis_url_breaks_neither_the_writer_nor_the_runtime(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agentdock_plugins.auth.redisfeed import RedisKeyChanges, publish

    url = "redis://:planted-redis-pw@[not-a-host/0"
    with caplog.at_level("WARNING", logger="agentdock.auth"):
        assert publish(url, change_message(AGENT, ["k"], "revoke")) is False
        feed = RedisKeyChanges(url, lambda message: None, retry_s=0.01)
        deadline = time.monotonic() + 10
        while "cannot subscribe" not in caplog.text:
            assert time.monotonic() < deadline, "the subscriber never reported its failure"
            time.sleep(0.01)
        feed.stop()
    assert "could not announce the API key change" in caplog.text
    assert "planted-redis-pw" not in caplog.text
