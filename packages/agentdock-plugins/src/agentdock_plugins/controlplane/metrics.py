"""Figures per agent over a window, read from the local telemetry store.

The runtimes write run and policy rows to the store (:mod:`agentdock_plugins.localstore`);
the control plane only reads it, read-only, with the store's own ``connect``. Each figure
is one aggregate query that SQLite answers from its ``(agent, ts)`` and ``ts`` indexes,
percentiles included (a window function ranks the latencies; nearest rank, as
``agentdock metrics show`` computes them), so 100,000 recorded runs cost the home page one
scan of the window, not 100,000 Python objects. Callers run these in a worker thread.

A store that does not exist yet means no figures (``None``); one that cannot be read is
reported as :class:`TelemetryUnavailable`, which the home page shows as a banner.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from agentdock_plugins.controlplane.shared import Shared
from agentdock_plugins.localstore.store import connect

__all__ = [
    "MAX_WINDOW_S",
    "WINDOW",
    "FleetFigures",
    "TelemetryUnavailable",
    "agent_metrics",
    "fleet_figures",
    "recent_runs",
    "window_seconds",
]

#: A window as the API takes it: a count and a unit (``15m``, ``1h``, ``7d``).
WINDOW = r"^[1-9][0-9]{0,3}[smhd]$"
_WINDOW = re.compile(WINDOW)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The store keeps 7 days by default; a longer window would only promise more than it has.
MAX_WINDOW_S = 31 * 86400
#: Points per chart: enough to see a trend, few enough to draw at once.
BUCKETS = 60


class TelemetryUnavailable(Exception):
    """The store exists but cannot be read (its cause's type, never its text)."""


def window_seconds(text: str) -> int:
    """``15m`` → 900; ValueError for anything else or past :data:`MAX_WINDOW_S`."""
    if not _WINDOW.match(text):
        raise ValueError("a window is a number and a unit: s, m, h or d (e.g. 15m, 1h, 7d)")
    seconds = int(text[:-1]) * _UNIT[text[-1]]
    if seconds > MAX_WINDOW_S:
        raise ValueError("a window is at most 31 days")
    return seconds


#: p50 and p95 of run latency per group (``g``), ranked by SQLite: nearest rank
#: ``ceil(n * q / 100)`` in integer arithmetic, as the store's ``percentile`` computes it.
#: Groups and conditions filled in are constants of this module; values are bound.
_RANKED = (
    "WITH r AS (SELECT {group} AS g, duration_ms AS d,"
    " ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY duration_ms) AS k,"
    " COUNT(*) OVER (PARTITION BY {group}) AS n"
    " FROM events WHERE {where} AND kind = 'run' AND duration_ms IS NOT NULL)"
    " SELECT g, MAX(CASE WHEN k = MAX(1, (n * 50 + 99) / 100) THEN d END),"
    " MAX(CASE WHEN k = MAX(1, (n * 95 + 99) / 100) THEN d END) FROM r GROUP BY g"
)
_FLEET_RUNS = (
    "SELECT agent, COUNT(*), COALESCE(SUM(status = 'error'), 0), SUM(cost_usd), COUNT(cost_usd)"
    " FROM events WHERE ts >= ? AND kind = 'run' GROUP BY agent"
)
_FLEET_LATENCY = _RANKED.format(group="agent", where="ts >= ?")
#: The slice of the window a row falls in (parameters: the window's start, a slice's length).
_BUCKET = "CAST((ts - ?) / ? AS INTEGER)"
_AGENT_RUNS = (
    "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, COUNT(*), COALESCE(SUM(status = 'error'), 0),"
    " COALESCE(SUM(tokens_input), 0), COALESCE(SUM(tokens_output), 0), SUM(cost_usd),"
    " COUNT(cost_usd) FROM events WHERE agent = ? AND ts >= ? AND kind = 'run' GROUP BY b"
)
_AGENT_LATENCY = _RANKED.format(group=_BUCKET, where="agent = ? AND ts >= ?")
_AGENT_OVERALL = _RANKED.format(group="agent", where="agent = ? AND ts >= ?")
_AGENT_POLICY = (
    "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, COUNT(*) FROM events"
    " WHERE agent = ? AND ts >= ? AND kind = 'policy' GROUP BY b"
)
_AGENT_POLICY_NAMES = (
    "SELECT name, status, COUNT(*) FROM events WHERE agent = ? AND ts >= ? AND kind = 'policy'"
    " GROUP BY name, status ORDER BY COUNT(*) DESC LIMIT 20"
)


_RECENT_RUNS = (
    "SELECT ts, run_id, trace_id, name, status, error_type, duration_ms, tokens_input,"
    " tokens_output, cost_usd, role FROM events WHERE agent = ? AND kind = 'run'"
    " ORDER BY ts DESC LIMIT ?"
)
_RUN_FIELDS = (
    "at",
    "run_id",
    "trace_id",
    "mode",
    "status",
    "error_type",
    "latency_ms",
    "tokens_input",
    "tokens_output",
    "cost_usd",
    "role",
)


def _read(path: Path, read: Any) -> Any:
    """``read(conn)`` on the store opened read-only; None when there is no store yet."""
    if not path.exists():
        return None
    try:
        with closing(connect(path, create=False)) as conn:
            return read(conn)
    except sqlite3.Error as exc:
        raise TelemetryUnavailable(type(exc).__name__) from None


def _figures(
    requests: int, errors: int, cost: float | None, priced: int, window_s: float
) -> dict[str, Any]:
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "rate_per_min": requests * 60.0 / window_s,
        "cost_usd": cost if priced else None,
    }


def fleet_figures(
    path: Path, window_s: float, now: float | None = None
) -> dict[str, dict[str, Any]] | None:
    """Per agent: requests, errors, error rate, requests a minute, cost, p50/p95 latency
    over the last ``window_s`` seconds. None: no store yet."""
    since = (time.time() if now is None else now) - window_s

    def read(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
        out = {
            agent: _figures(requests, errors, cost, priced, window_s)
            for agent, requests, errors, cost, priced in conn.execute(_FLEET_RUNS, (since,))
        }
        for agent, p50, p95 in conn.execute(_FLEET_LATENCY, (since,)):
            if agent in out:
                out[agent]["latency_ms"] = {"p50": p50, "p95": p95}
        for figures in out.values():
            figures.setdefault("latency_ms", {"p50": None, "p95": None})
        return out

    found: dict[str, dict[str, Any]] | None = _read(path, read)
    return found


def agent_metrics(
    path: Path, agent: str, window_s: int, now: float | None = None, buckets: int = BUCKETS
) -> dict[str, Any]:
    """One agent's totals over the window and the same figures in ``buckets`` equal
    slices of it (``series``: parallel arrays, a slice's start time in ``t``; a slice
    without runs has 0 requests and null latency)."""
    end = time.time() if now is None else now
    since = end - window_s
    step = window_s / buckets

    def read(conn: sqlite3.Connection) -> tuple[list[Any], ...]:
        return (
            conn.execute(_AGENT_RUNS, (since, step, agent, since)).fetchall(),
            conn.execute(_AGENT_LATENCY, (since, step) * 3 + (agent, since)).fetchall(),
            conn.execute(_AGENT_POLICY, (since, step, agent, since)).fetchall(),
            conn.execute(_AGENT_POLICY_NAMES, (agent, since)).fetchall(),
            conn.execute(_AGENT_OVERALL, (agent, since)).fetchall(),
        )

    found = _read(path, read)
    runs, latency, policy, names, overall = found if found is not None else ([],) * 5
    series: dict[str, list[Any]] = {
        "t": [round(since + i * step, 3) for i in range(buckets)],
        "requests": [0] * buckets,
        "errors": [0] * buckets,
        "tokens_input": [0] * buckets,
        "tokens_output": [0] * buckets,
        "cost_usd": [None] * buckets,
        "p50_ms": [None] * buckets,
        "p95_ms": [None] * buckets,
        "policy_violations": [0] * buckets,
    }
    totals = [0, 0, 0, 0, 0.0, 0]
    for b, requests, errors, tokens_in, tokens_out, cost, priced in runs:
        i = min(max(b, 0), buckets - 1)  # a run stamped at ``now`` belongs to the last slice
        series["requests"][i] += requests
        series["errors"][i] += errors
        series["tokens_input"][i] += tokens_in
        series["tokens_output"][i] += tokens_out
        if priced:
            series["cost_usd"][i] = (series["cost_usd"][i] or 0.0) + cost
        for n, value in enumerate((requests, errors, tokens_in, tokens_out, cost or 0.0, priced)):
            totals[n] += value
    for b, p50, p95 in latency:
        i = min(max(b, 0), buckets - 1)
        series["p50_ms"][i], series["p95_ms"][i] = p50, p95
    violations = 0
    for b, count in policy:
        series["policy_violations"][min(max(b, 0), buckets - 1)] += count
        violations += count
    requests, errors, tokens_in, tokens_out, cost, priced = totals
    return {
        "agent": agent,
        "window_s": window_s,
        "since": since,
        "until": end,
        "store": found is not None,
        **_figures(int(requests), int(errors), float(cost), int(priced), window_s),
        "latency_ms": {
            "p50": overall[0][1] if overall else None,
            "p95": overall[0][2] if overall else None,
        },
        "tokens": {"input": tokens_in, "output": tokens_out},
        "policy_violations": violations,
        "policy_events": [
            {"policy": name, "action": action, "count": count} for name, action, count in names
        ],
        "bucket_s": step,
        "series": series,
    }


def recent_runs(path: Path, agent: str, limit: int) -> list[dict[str, Any]] | None:
    """The agent's newest ``limit`` runs, newest first (what the store keeps of a run:
    ids, mode, outcome, latency, tokens, cost, role; never an input or an output). None: no
    store yet."""

    def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute(_RECENT_RUNS, (agent, limit)).fetchall()
        return [dict(zip(_RUN_FIELDS, row, strict=True)) for row in rows]

    found: list[dict[str, Any]] | None = _read(path, read)
    return found


class FleetFigures:
    """Every agent's figures over ``window_s``, read at most once per ``ttl_s`` seconds
    (:class:`~.shared.Shared`): one read ranks every run of the window (about 0.4 s for
    100,000 runs), and the home table, ``/controller/agents`` and the health watcher all
    want the same figures. Figures over an hour are at most ``ttl_s`` old.
    """

    def __init__(self, path: Path, window_s: int, ttl_s: float) -> None:
        self.path, self.window_s = path, window_s
        self._shared: Shared[tuple[dict[str, dict[str, Any]], str]] = Shared(ttl_s)

    def _read(self) -> tuple[dict[str, dict[str, Any]], str]:
        try:
            found = fleet_figures(self.path, self.window_s)
        except TelemetryUnavailable:
            return {}, "unavailable"
        return (found, "read") if found is not None else ({}, "absent")

    def get(self) -> tuple[dict[str, dict[str, Any]], str]:
        """The figures by agent, and whether the store was ``read``, is ``absent`` (nothing
        recorded yet) or ``unavailable``."""
        return self._shared.get(self._read)
