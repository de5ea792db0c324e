"""``agentdock status``, ``versions``, ``logs``, ``stop`` and ``cleanup``.

Each has ``--json`` (one JSON document; ``logs --json`` prints one object per line) and the
shared exit codes: 0 ok, 1 invalid option, 4 the target failed, 5 no such agent or
deployment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.output import console, print_json
from agentdock_cli.progress import reporting

__all__ = [
    "cleanup_command",
    "instances_command",
    "logs_command",
    "status_command",
    "stop_command",
    "versions_command",
]

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_instance_option = click.option(
    "--instance", default=None, metavar="NAME", help="A named instance of the agent."
)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


@click.command("status")
@click.argument("agent")
@_instance_option
@_json_option
def status_command(agent: str, instance: str | None, as_json: bool) -> None:
    """Version, target, endpoint, health, uptime and restarts of AGENT."""
    from agentdock.deployment import status

    with reporting(as_json):
        info = status(agent, instance=instance)
    if as_json:
        print_json({"ok": True, **info})
        raise SystemExit(exitcodes.OK)
    out = console()
    health = info.get("health")
    colour = {"running": "green", "degraded": "yellow"}.get(str(health), "red")
    rows: list[tuple[str, Any]] = [
        ("agent", info["agent"] + (f" ({info['instance']})" if info.get("instance") else "")),
        ("version", info["version"]),
        ("status", info["status"]),
        ("target", info["target"]),
        ("endpoint", info.get("endpoint") or "-"),
        ("health", f"[{colour}]{health}[/{colour}]"),
        ("uptime", _uptime(info.get("uptime_s"))),
        ("restarts", info.get("restarts", 0)),
        ("deployed", f"{_when(info.get('started_at'))} by {info.get('deployed_by') or '-'}"),
    ]
    for name, value in rows:
        out.print(f"[bold]{name:>9}[/bold]  {value}")
    raise SystemExit(exitcodes.OK)


@click.command("instances")
@click.argument("agent")
@_json_option
def instances_command(agent: str, as_json: bool) -> None:
    """The per-tenant instances of AGENT: version, status, endpoint, health."""
    from agentdock.deployment import instances

    with reporting(as_json):
        rows = instances(agent)
    if as_json:
        print_json({"ok": True, "agent": agent, "instances": rows})
        raise SystemExit(exitcodes.OK)
    from rich.table import Table

    table = Table()
    for column in ("instance", "version", "status", "target", "endpoint", "health", "restarts"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["instance"],
            row["version"],
            row["status"],
            row["target"],
            row.get("endpoint") or "-",
            str(row.get("health")),
            str(row.get("restarts", 0)),
        )
    console().print(table)
    raise SystemExit(exitcodes.OK)


@click.command("versions")
@click.argument("agent")
@_json_option
def versions_command(agent: str, as_json: bool) -> None:
    """Every recorded version of AGENT, oldest first (immutable; * marks the active one)."""
    from agentdock.deployment import versions

    with reporting(as_json):
        rows = versions(agent)
    if as_json:
        print_json({"ok": True, "agent": agent, "versions": rows})
        raise SystemExit(exitcodes.OK)
    from rich.table import Table

    table = Table()
    for column in ("", "version", "content", "created", "by", "artifacts"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["version"],
            row["content_hash"][:12],
            _when(row["created_at"]),
            row["created_by"] or "-",
            ", ".join(f"{a['builder']}: {a['ref']}" for a in row["artifacts"]) or "(removed)",
        )
    console().print(table)
    raise SystemExit(exitcodes.OK)


@click.command("logs")
@click.argument("agent")
@_instance_option
@click.option("--tail", type=int, default=None, metavar="N", help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@_json_option
def logs_command(
    agent: str, instance: str | None, tail: int | None, follow: bool, as_json: bool
) -> None:
    """The runtime log of AGENT's active (else newest) deployment."""
    from agentdock.deployment import logs

    with reporting(as_json):
        lines = logs(agent, instance=instance, tail=tail, follow=follow)
        try:
            for line in lines:
                if as_json:
                    print_json({"line": line})
                else:
                    click.echo(line)
        except KeyboardInterrupt:
            pass
    raise SystemExit(exitcodes.OK)


@click.command("stop")
@click.argument("agent")
@_instance_option
@click.option(
    "--timeout",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="Seconds in-flight requests get to finish.",
)
@_json_option
def stop_command(agent: str, instance: str | None, timeout: float, as_json: bool) -> None:
    """Stop AGENT's active deployment cleanly (drain, then exit)."""
    from agentdock.deployment import stop

    with reporting(as_json):
        info = stop(agent, instance=instance, timeout=timeout)
    if as_json:
        print_json({"ok": True, **info})
    else:
        console().print(f"[green]✓[/green] Stopped {agent} {info['version']}")
    raise SystemExit(exitcodes.OK)


@click.command("cleanup")
@click.argument("agent", required=False)
@click.option(
    "--keep",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Newest versions whose artifacts are kept (the active and previous always are).",
)
@_json_option
def cleanup_command(agent: str | None, keep: int, as_json: bool) -> None:
    """Remove old bundles and images (of AGENT, or of every agent)."""
    from agentdock.deployment import cleanup

    with reporting(as_json) as report:
        removed = cleanup(agent, keep=keep, progress=report)
    if as_json:
        print_json({"ok": True, "removed": removed})
    else:
        console().print(f"[green]✓[/green] Removed {len(removed)} artifact(s)")
    raise SystemExit(exitcodes.OK)
