"""The local telemetry store: one SQLite file of run, tool and policy rows, bounded.

Where it lives (first that applies): ``AGENTDOCK_TELEMETRY_DB`` (a file path),
``$AGENTDOCK_HOME/telemetry/telemetry.db``,
``$AGENTDOCK_PROJECT_DIR/.agentdock/telemetry/telemetry.db``, else ``telemetry/telemetry.db``
in the AgentDock home found from the working directory (the nearest
``.agentdock/registry.db`` up the tree, else ``./.agentdock``: :mod:`agentdock.home`). The
runtime writes it and ``agentdock metrics`` reads it, so both resolve the path the same way.
It has a directory of its own because local runtimes may write there and nowhere else in
the home (their sandbox: :mod:`agentdock_plugins.local.sandbox`); a home of an earlier
release keeps its ``telemetry.db`` at the top until a local deploy moves it.

Rows hold only metadata (names, statuses, durations, token counts, cost, trace ids): never
an input, an output, a subject or a credential. Besides ``run``, ``tool`` and ``policy`` rows,
a ``drop`` row records telemetry events a sink lost (``name`` the sink, ``matches`` how many
since the previous ``drop`` row of that sink). Retention is bounded by age
(``AGENTDOCK_TELEMETRY_RETENTION_DAYS``, default 7) and by count
(``AGENTDOCK_TELEMETRY_MAX_ROWS``, default 1,000,000); the oldest rows go first.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.home import agentdock_home

__all__ = [
    "COLUMNS",
    "DB_ENV",
    "HOME_ENV",
    "MAX_ROWS_ENV",
    "RETENTION_ENV",
    "TELEMETRY_DIR",
    "Retention",
    "connect",
    "drop_row",
    "in_home",
    "insert_rows",
    "percentile",
    "read_summary",
    "row_from_event",
    "telemetry_db_path",
]

DB_ENV = "AGENTDOCK_TELEMETRY_DB"
#: The home's directory of telemetry files (see the module docstring).
TELEMETRY_DIR = "telemetry"
HOME_ENV = "AGENTDOCK_HOME"
PROJECT_ENV = "AGENTDOCK_PROJECT_DIR"
MAX_ROWS_ENV = "AGENTDOCK_TELEMETRY_MAX_ROWS"
RETENTION_ENV = "AGENTDOCK_TELEMETRY_RETENTION_DAYS"

#: The columns of a row, in insert and export order.
COLUMNS = (
    "ts",
    "agent",
    "kind",
    "run_id",
    "trace_id",
    "name",
    "status",
    "error_type",
    "duration_ms",
    "tokens_input",
    "tokens_output",
    "cost_usd",
    "matches",
    "stage",
    "role",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT,
    trace_id TEXT,
    name TEXT,
    status TEXT,
    error_type TEXT,
    duration_ms REAL,
    tokens_input INTEGER,
    tokens_output INTEGER,
    cost_usd REAL,
    matches INTEGER,
    stage TEXT,
    role TEXT
);
CREATE INDEX IF NOT EXISTS events_agent_ts ON events (agent, ts);
-- Pruning by age deletes across agents: without it, every prune scans the whole table.
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""
_COLUMN_LIST = ", ".join(COLUMNS)
#: One row's placeholders; statements are built from the fixed :data:`COLUMNS` only, and
#: values are always bound parameters.
_ROW_PARAMS = f"({', '.join('?' * len(COLUMNS))})"
#: Rows per INSERT statement: 64 x 15 parameters stays under the 999 of SQLite before 3.32.
INSERT_CHUNK = 64
_SELECT_ROWS = f"SELECT {_COLUMN_LIST} FROM events WHERE agent = ? AND ts >= ? ORDER BY id"  # noqa: S608


def telemetry_db_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the store lives for this environment (see the module docstring)."""
    env = os.environ if env is None else env
    if env.get(DB_ENV):
        return Path(env[DB_ENV])
    if env.get(HOME_ENV):
        return in_home(Path(env[HOME_ENV]))
    if env.get(PROJECT_ENV):
        return in_home(Path(env[PROJECT_ENV]) / ".agentdock")
    return in_home(agentdock_home(environ=env))


def in_home(home: Path) -> Path:
    """``<home>/telemetry/telemetry.db``, or the ``<home>/telemetry.db`` of an earlier
    release while only that one exists."""
    current = home / TELEMETRY_DIR / "telemetry.db"
    legacy = home / "telemetry.db"
    try:
        return legacy if legacy.is_file() and not current.exists() else current
    except OSError:  # a home it may not search (EACCES): the sink reports it when it opens
        return current


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class Retention:
    """How much the store keeps: rows younger than ``max_age_s``, at most ``max_rows``."""

    max_rows: int = 1_000_000
    max_age_s: float = 7 * 86_400.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Retention:
        env = os.environ if env is None else env
        return cls(
            max_rows=int(_positive(env, MAX_ROWS_ENV, 1_000_000)),
            max_age_s=_positive(env, RETENTION_ENV, 7.0) * 86_400.0,
        )


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and with ``create``, initialise) the store; WAL so readers never block the writer."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    else:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    if create:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        conn.commit()
    return conn


@functools.lru_cache(maxsize=INSERT_CHUNK)
def _insert_many(count: int) -> str:
    return f"INSERT INTO events ({_COLUMN_LIST}) VALUES {', '.join([_ROW_PARAMS] * count)}"  # noqa: S608


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (in :data:`COLUMNS` order) with one statement per chunk of
    :data:`INSERT_CHUNK`, not one per row: SQLite's work is the same, but the writer lets go
    of the GIL (which the event loop wants) once per statement, not once per row."""
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        conn.execute(_insert_many(len(chunk)), [value for row in chunk for value in row])


def prune(conn: sqlite3.Connection, retention: Retention, now: float | None = None) -> int:
    """Delete rows past the retention bounds; returns how many went."""
    now = time.time() if now is None else now
    removed = conn.execute("DELETE FROM events WHERE ts < ?", (now - retention.max_age_s,)).rowcount
    (top,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
    removed += conn.execute(
        "DELETE FROM events WHERE id <= ?", (top - retention.max_rows,)
    ).rowcount
    conn.commit()
    return removed


def _unix(event: Mapping[str, Any], data: Mapping[str, Any]) -> float:
    for key in ("end_unix_nano", "start_unix_nano"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value / 1e9
    from datetime import datetime

    stamp = event.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
    return time.time()


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    """An integer SQLite can store (64-bit), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        return None
    return value


def _text(value: Any) -> str | None:
    return value[:128] if isinstance(value, str) else None


def row_from_event(
    event: Mapping[str, Any], tool_names: frozenset[str] | None = None
) -> tuple[Any, ...] | None:
    """The row for a ``run_end``, ``tool_event`` or ``policy_event``; ``None`` for others.

    :param tool_names: when the Dockfile has a tool allow-list, names outside it are stored
        as ``"other"`` (a denied tool's name is whatever the model asked for).
    """
    name = event.get("event")
    data: Mapping[str, Any] = event.get("data") or {}
    if name == "run_end":
        kind, label, status = "run", data.get("mode"), data.get("status")
        duration = data.get("latency_ms")
    elif name == "tool_event":
        kind, label, status = "tool", data.get("tool"), data.get("status")
        if tool_names is not None and label not in tool_names:
            label = "other"
        duration = data.get("duration_ms")
    elif name == "policy_event":
        kind, label, status = "policy", data.get("policy"), data.get("action")
        duration = data.get("duration_ms")
    else:
        return None
    return (
        _unix(event, data),
        _text(event.get("agent")) or "unknown",
        kind,
        _text(event.get("run_id")),
        _text(event.get("trace_id")),
        _text(label),
        _text(status),
        _text(data.get("error_type")),
        _num(duration),
        _int(data.get("tokens_input")),
        _int(data.get("tokens_output")),
        _num(data.get("cost_usd")),
        _int(data.get("matches")),
        _text(data.get("stage")),
        _text(data.get("role")),
    )


def drop_row(agent: str, sink: str, count: int, ts: float) -> tuple[Any, ...]:
    """The row saying that ``sink`` lost ``count`` more telemetry events by ``ts``."""
    values = {"ts": ts, "agent": agent[:128], "kind": "drop", "name": sink[:128], "matches": count}
    return tuple(values.get(column) for column in COLUMNS)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (``None`` for an empty one)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(connect(path, create=False)) as conn:
        yield conn


def has_agent(path: Path, agent: str) -> bool:
    """Whether the store at ``path`` holds any row of ``agent``."""
    if not path.exists():
        return False
    with _reading(path) as conn:
        return (
            conn.execute("SELECT 1 FROM events WHERE agent = ? LIMIT 1", (agent,)).fetchone()
            is not None
        )


def read_rows(path: Path, agent: str, since: float) -> list[dict[str, Any]]:
    """Every row of ``agent`` since ``since`` (unix seconds), oldest first."""
    with _reading(path) as conn:
        cursor = conn.execute(
            _SELECT_ROWS,
            (agent, since),
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor]


def read_summary(path: Path, agent: str, since: float) -> dict[str, Any]:
    """Requests, error rate, latency percentiles, tokens, cost, policy and tool figures, and
    telemetry events lost per sink."""
    with _reading(path) as conn:
        runs = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'error'), 0), COALESCE(SUM(tokens_input), 0),"
            " COALESCE(SUM(tokens_output), 0), SUM(cost_usd), COUNT(cost_usd)"
            " FROM events WHERE agent = ? AND kind = 'run' AND ts >= ?",
            (agent, since),
        ).fetchone()
        latencies = [
            row[0]
            for row in conn.execute(
                "SELECT duration_ms FROM events WHERE agent = ? AND kind = 'run' AND ts >= ?"
                " AND duration_ms IS NOT NULL ORDER BY duration_ms",
                (agent, since),
            )
        ]
        policies = conn.execute(
            "SELECT name, status, COUNT(*), COALESCE(SUM(matches), 0) FROM events"
            " WHERE agent = ? AND kind = 'policy' AND ts >= ? GROUP BY name, status"
            " ORDER BY COUNT(*) DESC",
            (agent, since),
        ).fetchall()
        drops = conn.execute(
            "SELECT name, COALESCE(SUM(matches), 0) FROM events"
            " WHERE agent = ? AND kind = 'drop' AND ts >= ? GROUP BY name ORDER BY name",
            (agent, since),
        ).fetchall()
        tools = conn.execute(
            "SELECT name, COUNT(*), COALESCE(SUM(status != 'ok'), 0),"
            " COALESCE(SUM(duration_ms), 0), AVG(duration_ms) FROM events"
            " WHERE agent = ? AND kind = 'tool' AND ts >= ? GROUP BY name"
            " ORDER BY SUM(duration_ms) DESC",
            (agent, since),
        ).fetchall()
    requests, errors, tokens_in, tokens_out, cost, priced = runs
    return {
        "agent": agent,
        "since": since,
        "requests": requests,
        "errors": errors,
        "error_rate": (errors / requests) if requests else 0.0,
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99),
        },
        "tokens": {"input": tokens_in, "output": tokens_out},
        "cost_usd": cost if priced else None,
        "priced_runs": priced,
        "policy_events": [
            {"policy": name, "action": action, "count": count, "matches": matches}
            for name, action, count, matches in policies
        ],
        "policy_violations": sum(count for _, _, count, _ in policies),
        "telemetry_dropped": {name: count for name, count in drops},
        "tools": [
            {
                "tool": name,
                "calls": calls,
                "failures": failures,
                "total_ms": total,
                "mean_ms": mean,
            }
            for name, calls, failures, total, mean in tools
        ],
    }
