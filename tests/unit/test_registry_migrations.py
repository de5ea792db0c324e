"""The registry's migrations come from one source, rendered per dialect."""

from __future__ import annotations

import re
import sqlite3

import pytest
from agentdock.registry.migrations import DIALECT_PLACEHOLDERS, MIGRATIONS, SQLITE_TYPES, render
from agentdock_plugins.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from agentdock_plugins.postgres.migrations import POSTGRES_TYPES


def test_each_dialect_names_every_placeholder_and_nothing_is_left_unrendered() -> None:
    assert set(SQLITE_TYPES) == set(DIALECT_PLACEHOLDERS) == set(POSTGRES_TYPES)
    for _, script in (*MIGRATIONS, *PG_MIGRATIONS):
        assert "$" not in script


def test_a_dialect_missing_a_word_is_refused() -> None:
    partial = {k: v for k, v in POSTGRES_TYPES.items() if k != "seconds"}
    with pytest.raises(KeyError, match="seconds"):
        render(partial)


def test_each_backend_gets_its_own_words_and_the_same_numbers() -> None:
    numbers = [n for n, _ in MIGRATIONS]
    assert [n for n, _ in PG_MIGRATIONS] == numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 6
    for (_, lite), (_, pg) in zip(MIGRATIONS, PG_MIGRATIONS, strict=True):
        assert not re.search(r"\bREAL\b|AUTOINCREMENT", pg)
        assert "IDENTITY" not in lite and "DOUBLE PRECISION" not in lite
        # The same statements, column for column: only the words of the dialects differ.
        assert len(lite.splitlines()) == len(pg.splitlines())
        for lite_line, pg_line in zip(lite.splitlines(), pg.splitlines(), strict=True):
            assert lite_line.split()[:1] == pg_line.split()[:1]


def test_the_sqlite_scripts_build_the_registry() -> None:
    conn = sqlite3.connect(":memory:")
    for _, script in MIGRATIONS:
        conn.executescript(script)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "agents",
        "agent_versions",
        "deployments",
        "api_keys",
        "audit_log",
        "artifacts",
    } <= tables
