"""``agentdock metrics``: read the local telemetry store of a runtime with no backend.

``show AGENT`` prints requests, error rate, p50/p90/p99 latency, tokens, cost, policy
violations, time per tool and telemetry events lost per sink over a window (a rich table,
or ``--json``); ``export AGENT`` (or ``--agent AGENT``) writes the rows out as CSV or JSON.
Exit codes: 0 ok, 1 the store cannot be read, 2 usage, 5 no data for that agent. The
command comes with the collector's plugin, added to the CLI through
``agentdock_register_commands``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from agentdock_cli import exitcodes
from agentdock_cli.output import err_console, print_json, print_table
from rich.markup import escape

__all__ = ["metrics_command", "parse_since"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(value: str, *, now: float | None = None) -> float:
    """Unix seconds for ``1h``/``30m``/``7d`` (that long ago) or an ISO-8601 time.

    :raises ValueError: neither form.
    """
    now = time.time() if now is None else now
    match = _DURATION.match(value)
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (30m, 1h, 7d) nor an ISO-8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _Since(click.ParamType[float]):
    name = "duration|time"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_since(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _fail(message: str, code: int, *, as_json: bool) -> NoReturn:
    if as_json:
        print_json({"error": message, "code": code})
    else:
        err_console().print(f"[red]✗[/] {escape(message)}", markup=True, highlight=False)
    raise SystemExit(code)


def _store(db: Path | None) -> Path:
    from agentdock_plugins.localstore.store import telemetry_db_path

    return db if db is not None else telemetry_db_path()


def _check_agent(path: Path, agent: str, *, as_json: bool) -> None:
    from agentdock_plugins.localstore.store import has_agent

    try:
        found = has_agent(path, agent)
    except sqlite3.Error as exc:
        _fail(f"cannot read the telemetry store {path}: {exc}", exitcodes.INVALID, as_json=as_json)
    if not found:
        _fail(
            f"no telemetry for agent {agent!r} in {path}",
            exitcodes.NOT_FOUND,
            as_json=as_json,
        )


_DB_OPTION = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The telemetry store (default: $AGENTDOCK_TELEMETRY_DB, else telemetry.db in the "
    "AgentDock home: $AGENTDOCK_HOME, or the nearest .agentdock/ holding a registry).",
)


@click.group("metrics")
def metrics_command() -> None:
    """Runs, latency, tokens, cost, policy events and tool time from the local store."""


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


@metrics_command.command("show")
@click.argument("agent")
@click.option(
    "--window",
    type=_Since(),
    default="1h",
    show_default=True,
    help="How far back: 30m, 1h, 7d, or an ISO-8601 start time.",
)
@_DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def show_command(agent: str, window: float, db: Path | None, as_json: bool) -> None:
    """Summarise AGENT's runs over a window (default: the last hour)."""
    from agentdock_plugins.localstore.store import read_summary

    path = _store(db)
    _check_agent(path, agent, as_json=as_json)
    try:
        summary = read_summary(path, agent, window)
    except sqlite3.Error as exc:
        _fail(f"cannot read the telemetry store {path}: {exc}", exitcodes.INVALID, as_json=as_json)
    summary["since"] = datetime.fromtimestamp(window, UTC).isoformat().replace("+00:00", "Z")
    if as_json:
        print_json(summary)
        raise SystemExit(exitcodes.OK)
    _print_summary(summary)
    raise SystemExit(exitcodes.OK)


def _print_summary(summary: dict[str, Any]) -> None:
    """The summary as tables (tab-separated lines when piped). The agent's name is shown as
    written, never at the start of a line, where some displays capitalise."""
    latency = summary["latency_ms"]
    cost = summary["cost_usd"]
    print_table(
        ("metric", "value"),
        [
            ("requests", f"{summary['requests']:,}"),
            ("error rate", f"{summary['error_rate']:.2%} ({summary['errors']:,})"),
            ("latency p50", _fmt_ms(latency["p50"])),
            ("latency p90", _fmt_ms(latency["p90"])),
            ("latency p99", _fmt_ms(latency["p99"])),
            (
                "tokens in / out",
                f"{summary['tokens']['input']:,} / {summary['tokens']['output']:,}",
            ),
            ("cost", "unknown (no price)" if cost is None else f"${cost:,.6f}"),
            ("policy events", f"{summary['policy_violations']:,}"),
            (
                "telemetry dropped",
                ", ".join(
                    f"{sink} {count:,}"
                    for sink, count in (summary.get("telemetry_dropped") or {}).items()
                )
                or "0",
            ),
        ],
        title=f"metrics of {summary['agent']} since {summary['since']}",
        show_header=False,
        justify=("left", "right"),
    )
    if summary["tools"]:
        print_table(
            ("tool", "calls", "failures", "total", "mean"),
            [
                (
                    row["tool"],
                    f"{row['calls']:,}",
                    f"{row['failures']:,}",
                    _fmt_ms(row["total_ms"]),
                    _fmt_ms(row["mean_ms"]),
                )
                for row in summary["tools"]
            ],
            title="time per tool",
        )
    if summary["policy_events"]:
        print_table(
            ("policy", "action", "events", "matches"),
            [
                (row["policy"], row["action"], f"{row['count']:,}", f"{row['matches']:,}")
                for row in summary["policy_events"]
            ],
            title="policy events",
        )


@metrics_command.command("export")
@click.argument("agent", required=False)
@click.option(
    "--agent",
    "agent_option",
    metavar="NAME",
    multiple=True,
    help="The agent, as AGENT names it (kept for earlier scripts).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--since",
    type=_Since(),
    default="7d",
    show_default=True,
    help="From when: 30m, 1h, 7d, or an ISO-8601 time.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
@_DB_OPTION
def export_command(
    agent: str | None,
    agent_option: tuple[str, ...],
    fmt: str,
    since: float,
    out: Path | None,
    db: Path | None,
) -> None:
    """Write AGENT's run, tool and policy rows as CSV or JSON (--agent NAME names it too)."""
    from agentdock_plugins.localstore.store import COLUMNS, read_rows

    agent = _export_agent(agent, agent_option)
    path = _store(db)
    _check_agent(path, agent, as_json=fmt == "json")
    try:
        rows = read_rows(path, agent, since)
    except sqlite3.Error as exc:
        _fail(f"cannot read the telemetry store {path}: {exc}", exitcodes.INVALID, as_json=False)
    for row in rows:
        row["time"] = datetime.fromtimestamp(row["ts"], UTC).isoformat().replace("+00:00", "Z")
    columns = ["time", *COLUMNS]
    if fmt == "json":
        text = json.dumps([{k: row[k] for k in columns} for row in rows], ensure_ascii=False)
        text += "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror or exc}", exitcodes.INVALID, as_json=False)
        err_console().print(f"✓ {len(rows):,} rows written to {escape_path(out)}")
    raise SystemExit(exitcodes.OK)


def _export_agent(argument: str | None, options: tuple[str, ...]) -> str:
    """The agent ``export`` reads: AGENT or ``--agent`` (given once or more), all only when
    they name the same agent (exit 2 otherwise: a repeated option never quietly keeps its
    last value)."""
    named = dict.fromkeys(([argument] if argument is not None else []) + list(options))
    if len(named) > 1:
        raise click.UsageError(
            "AGENT and --agent name different agents ("
            + ", ".join(repr(name) for name in named)
            + "): give one"
        )
    if not named:
        raise click.UsageError("Missing argument 'AGENT' (or --agent NAME).")
    return next(iter(named))


def escape_path(path: Path) -> str:
    from rich.markup import escape

    return escape(str(path))
