"""The audit log is a keyed hash chain: ``agentdock audit-log verify`` finds a changed, an
inserted and a deleted row (each on its own), rows cut off the end, rows written before the
chain existed are sealed, and two writers never fork it."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from _cli import run_cli
from agentdock.registry import open_store


def _registry(tmp_path: Path, rows: int = 5) -> Path:
    path = tmp_path / "home" / "registry.db"
    with open_store(path) as store:
        for n in range(rows):
            store.append_audit("key.create", actor="ann", agent="echo", target=f"k{n}")
    return path


def _verify(path: Path) -> tuple[int, dict[str, object]]:
    code, out, _ = run_cli(["audit-log", "verify", "--registry", str(path), "--json"])
    return code, json.loads(out)


def _tamper(path: Path, sql: str, *args: object) -> None:
    """What code with write access to the file (and no chain key) can do."""
    with sqlite3.connect(path) as conn:
        conn.execute(sql, args)


def test_an_untouched_log_is_intact(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    code, report = _verify(path)
    assert (code, report["ok"], report["rows"]) == (0, True, 5)
    code, out, _ = run_cli(["audit-log", "verify", "--registry", str(path)])
    assert code == 0 and "intact" in out


def test_a_changed_row_is_found(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    _tamper(path, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    code, report = _verify(path)
    assert code == 1
    assert (report["broken_at"], report["kind"]) == (3, "changed")


def test_an_inserted_row_is_found(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    _tamper(
        path,
        "INSERT INTO audit_log (at, actor, action, agent, target) VALUES (1, 'cli', "
        "'key.create', 'echo', 'forged')",
    )
    code, report = _verify(path)
    assert (code, report["broken_at"], report["kind"]) == (1, 6, "inserted")
    # Even with copied hash columns it does not belong to the chain.
    _tamper(
        path,
        "UPDATE audit_log SET prev_hash = (SELECT row_hash FROM audit_log WHERE id = 5), "
        "row_hash = (SELECT row_hash FROM audit_log WHERE id = 4) WHERE id = 6",
    )
    assert _verify(path)[1]["kind"] in {"inserted", "changed"}
    code, _, err = run_cli(["audit-log", "verify", "--registry", str(path)])
    assert code == 1 and "row 6" in err


def test_a_deleted_row_is_found(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    _tamper(path, "DELETE FROM audit_log WHERE id = 2")
    code, report = _verify(path)
    assert (code, report["broken_at"], report["kind"]) == (1, 3, "deleted")
    assert "2..2" in str(report["detail"])


def test_rows_cut_off_the_end_are_found(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    _tamper(path, "DELETE FROM audit_log WHERE id >= 4")
    code, report = _verify(path)
    assert (code, report["kind"]) == (1, "deleted")
    assert "sealed up to row 5" in str(report["detail"])


def test_rows_before_the_chain_are_sealed_at_the_upgrade(tmp_path: Path) -> None:
    path = _registry(tmp_path, rows=3)
    # A registry of an earlier release: no chain columns filled, no head, no key.
    _tamper(path, "UPDATE audit_log SET prev_hash = NULL, row_hash = NULL")
    _tamper(path, "DELETE FROM audit_head")
    _tamper(path, "DELETE FROM schema_migrations WHERE version = 5")
    (path.parent / "audit.key").unlink()
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "ALTER TABLE audit_log DROP COLUMN prev_hash; ALTER TABLE audit_log DROP COLUMN "
            "row_hash; DROP TABLE audit_head; ALTER TABLE api_keys DROP COLUMN pepper_id;"
        )
    with open_store(path) as store:  # migrates, then seals what was there
        store.append_audit("deploy.stop", actor="ann", agent="echo")
    code, report = _verify(path)
    assert (code, report["rows"]) == (0, 4)


def test_without_the_key_nothing_can_be_vouched_for(tmp_path: Path) -> None:
    path = _registry(tmp_path)
    (path.parent / "audit.key").unlink()
    code, report = _verify(path)
    assert code == 1 and report["error"] == "NoAuditKey"
    code, report = _verify(tmp_path / "nowhere" / "registry.db")
    assert code == 5


def test_a_key_from_the_environment_chains_and_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_AUDIT_KEY", "a-team-wide-chain-key-0123456789")
    path = _registry(tmp_path)
    assert not (path.parent / "audit.key").exists()
    assert _verify(path)[0] == 0
    monkeypatch.setenv("AGENTDOCK_AUDIT_KEY", "another-chain-key-0123456789abcdef")
    code, report = _verify(path)
    assert code == 1 and report["kind"] == "head"


def test_two_writers_never_fork_the_chain(tmp_path: Path) -> None:
    path = _registry(tmp_path, rows=1)

    def write(actor: str) -> None:
        with open_store(path) as store:
            for n in range(40):
                store.append_audit("token.issue", actor=actor, agent="echo", target=str(n))

    threads = [threading.Thread(target=write, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    code, report = _verify(path)
    assert (code, report["rows"]) == (0, 81)


def test_audit_log_list_shows_the_entries(tmp_path: Path) -> None:
    path = _registry(tmp_path, rows=2)
    code, out, _ = run_cli(["audit-log", "list", "--registry", str(path), "--json"])
    assert code == 0
    assert [e["target"] for e in json.loads(out)["entries"]] == ["k0", "k1"]
