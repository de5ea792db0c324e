"""Key views: a runtime's read-only window on the registry (its own agent's and instance's
rows), rewritten by every key change, watched by the runtime; last use kept beside it; the
embedded registry's files kept private; a pepper mismatch said out loud."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from agentdock.auth import generate_key
from agentdock.registry import open_store
from agentdock.registry.keyview import (
    KeyViewError,
    merge_key_use,
    read_view,
    view_dir,
    write_key_use,
)
from agentdock_plugins.auth.apikey import ApiKeyProvider, ApiKeyVerifier
from agentdock_plugins.auth.keyfile import KeyViewStore
from agentdock_runtime.errors import KeyRevoked, Unauthorized
from auth_support import AGENT, add_key, stored_key


def _view(home: Path, agent: str = AGENT, instance: str = "") -> Path:
    return view_dir(home, agent, instance) / "keys.json"


def test_a_key_change_writes_the_view_of_that_instance_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        mine = add_key(store)
        tenant = add_key(store, instance="acme")
        other = add_key(store, agent="other_agent", role="admin")
        text = _view(home).read_text()
        rows = read_view(_view(home), AGENT, "")
        assert set(rows) == {mine.key_id}
        assert set(read_view(_view(home, instance="acme"), AGENT, "acme")) == {tenant.key_id}
        assert set(read_view(_view(home, "other_agent"), "other_agent", "")) == {other.key_id}
        # Digests, never a key; readable by a container's user without any group.
        assert mine.key not in text and other.key_id not in text and "admin" not in text
        assert stat.S_IMODE(_view(home).stat().st_mode) == 0o644
        assert stat.S_IMODE(_view(home).parent.stat().st_mode) == 0o755
        before = _view(home).stat()
        store.revoke_api_key(agent=AGENT, key_id=mine.key_id)
        after = _view(home).stat()
        assert (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns)
        assert read_view(_view(home), AGENT, "")[mine.key_id].revoked_at is not None


def test_the_runtime_reads_its_view_and_sees_a_revocation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        key = add_key(store)
        view = KeyViewStore(_view(home), AGENT, key_use=tmp_path / "use" / "key-use.json")
        verifier = ApiKeyVerifier(view, AGENT, cache_ttl=3600, touch_interval=3600)
        provider = ApiKeyProvider(verifier)
        try:
            first = view.data_version()
            assert asyncio.run(provider.authenticate({"x-api-key": key.key}))["role"]
            store.revoke_api_key(agent=AGENT, key_id=key.key_id)
            assert view.data_version() != first  # what the background thread polls
            verifier.refresh()
            with pytest.raises(KeyRevoked):
                asyncio.run(provider.authenticate({"x-api-key": key.key}))
        finally:
            provider.close()


def test_a_forged_row_in_another_view_is_not_this_runtime_s(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        add_key(store)
        add_key(store, agent="other_agent")
    # A view of another agent copied over this one's is refused whole (fail closed).
    _view(home).write_bytes(_view(home, "other_agent").read_bytes())
    with pytest.raises(KeyViewError):
        read_view(_view(home), AGENT, "")


def test_an_unreadable_view_refuses_every_key_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        key = add_key(store)
    _view(home).write_text("{not json")
    view = KeyViewStore(_view(home), AGENT)
    provider = ApiKeyProvider(ApiKeyVerifier(view, AGENT, registry_poll=None))
    try:
        with caplog.at_level(logging.WARNING, "agentdock.auth"), pytest.raises(Unauthorized):
            asyncio.run(provider.authenticate({"x-api-key": key.key}))
        assert "cannot read the key view" in caplog.text
    finally:
        provider.close()


def test_last_use_is_merged_for_the_instance_s_own_keys_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        mine = add_key(store)
        theirs = add_key(store, agent="other_agent")
        use = home / "state" / AGENT / "key-use.json"
        # A runtime claims a use of another agent's key: ignored.
        write_key_use(use, {mine.key_id: 100.0, theirs.key_id: 200.0})
        write_key_use(use, {mine.key_id: 50.0})  # never backwards
        merged = {r.key_id: r.last_used_at for r in merge_key_use(home, store.list_api_keys())}
    assert merged == {mine.key_id: 100.0, theirs.key_id: None}


def test_the_registry_files_are_made_private(tmp_path: Path) -> None:
    # What earlier releases left for containers: a group-writable home and registry.
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        add_key(store)
    home.chmod(0o775)
    (home / "registry.db").chmod(0o664)
    with open_store(home / "registry.db"):
        pass
    assert stat.S_IMODE(home.stat().st_mode) & 0o022 == 0
    assert stat.S_IMODE((home / "registry.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "audit.key").stat().st_mode) == 0o600


def test_a_pepper_mismatch_is_warned_of_at_start_and_on_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    planted = "planted-pepper-value-4711"
    home = tmp_path / "home"
    monkeypatch.setenv("AGENTDOCK_KEY_PEPPER", planted)
    with open_store(home / "registry.db") as store:
        key, record = stored_key(store)
    assert record.hash_algorithm == "hmac-sha256" and record.pepper_id
    assert planted not in _view(home).read_text()
    monkeypatch.delenv("AGENTDOCK_KEY_PEPPER")
    with caplog.at_level(logging.WARNING, "agentdock.auth"):
        view = KeyViewStore(_view(home), AGENT)
        view.load()
        provider = ApiKeyProvider(ApiKeyVerifier(view, AGENT, registry_poll=None))
        with pytest.raises(Unauthorized) as refused:
            asyncio.run(provider.authenticate({"x-api-key": key.key}))
        provider.close()
    assert refused.value.detail == "unknown API key"  # the caller learns nothing more
    starts = [r for r in caplog.records if "were made with pepper" in r.getMessage()]
    uses = [r for r in caplog.records if f"API key {key.key_id} was made" in r.getMessage()]
    assert len(starts) == 1 and len(uses) == 1
    assert record.pepper_id in starts[0].getMessage()
    assert "no pepper" in starts[0].getMessage()
    assert planted not in caplog.text


def test_a_view_replaced_twice_in_a_row_still_looks_changed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(home / "registry.db") as store:
        add_key(store)
        seen = {KeyViewStore(_view(home), AGENT).data_version()}
        for _ in range(5):
            generated = generate_key()
            store.create_api_key(
                agent=AGENT,
                role="developer",
                key_id=generated.key_id,
                hashed_key=generated.digest,
                hash_algorithm=generated.algorithm,
            )
            version = KeyViewStore(_view(home), AGENT).data_version()
            assert version not in seen
            seen.add(version)
    document = json.loads(_view(home).read_text())
    assert len(document["keys"]) == 6 and os.access(_view(home), os.R_OK)
