"""``agentdock status``, ``instances``, ``versions``, ``logs``, ``stop``, ``cleanup`` and
``rm``.

Each has ``--json`` (one JSON document; ``logs --json`` prints one object per line) and the
shared exit codes: 0 ok, 1 invalid option, 2 usage (``rm`` unconfirmed), 4 the target
failed, 5 no such agent or deployment (or no registry: none is ever created here).
``status``, ``instances``, ``versions``, ``logs`` and ``stop`` act through a control plane
with ``--server`` (the same exit codes; 4 also when it cannot be reached or a followed log's
connection is lost); ``cleanup`` and ``rm`` act on this machine only and refuse it (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from agentdock.loglevels import LEVEL_NAMES

from agentdock_cli import exitcodes
from agentdock_cli.output import console, err_console, print_json, print_table
from agentdock_cli.progress import reporting
from agentdock_cli.remote import refuse_local_options, refuse_server, server_option

__all__ = [
    "cleanup_command",
    "instances_command",
    "logs_command",
    "rm_command",
    "status_command",
    "stop_command",
    "versions_command",
]

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_instance_option = click.option(
    "--instance", default=None, metavar="NAME", help="A named instance of the agent."
)


#: A click command's callback, or the command itself (what ``click.option`` decorates).
FC = TypeVar("FC", bound=Callable[..., Any] | click.Command)


def _drain_option(help: str) -> Callable[[FC], FC]:
    """``--timeout``: how long a stopped runtime drains, the same bound for every command."""
    return click.option(
        "--timeout", type=click.FloatRange(0, 3600), default=30.0, show_default=True, help=help
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
@server_option
@_json_option
def status_command(agent: str, instance: str | None, server: str | None, as_json: bool) -> None:
    """Version, target, endpoint, health, uptime and restarts of AGENT."""
    from agentdock.deployment import status

    with reporting(as_json):
        if server:
            refuse_local_options({"instance": instance})
            info = _through(server, lambda cp: cp.status(agent))
        else:
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
    kept = info.get("standby")
    if isinstance(kept, dict):  # a superseded version's processes, kept for a rollback
        rows.append(
            (
                "standby",
                f"supervisor pid {kept.get('pid')}, warm process pid {kept.get('warm_pid')}, "
                f"{kept.get('rss_mb')} MB resident, until {_when(kept.get('until'))}",
            )
        )
    for name, value in rows:
        out.print(f"[bold]{name:>9}[/bold]  {value}")
    raise SystemExit(exitcodes.OK)


@click.command("instances")
@click.argument("agent")
@server_option
@_json_option
def instances_command(agent: str, server: str | None, as_json: bool) -> None:
    """The per-tenant instances of AGENT: version, status, endpoint, health."""
    from agentdock.deployment import instances

    with reporting(as_json):
        rows = _through(server, lambda cp: cp.instances(agent)) if server else instances(agent)
    if as_json:
        print_json({"ok": True, "agent": agent, "instances": rows})
        raise SystemExit(exitcodes.OK)
    if not rows:
        console().print(
            f"{agent} has no named instances (its default instance: agentdock status {agent})",
            markup=False,
            highlight=False,
        )
        raise SystemExit(exitcodes.OK)
    print_table(
        ("instance", "version", "status", "target", "endpoint", "health", "restarts"),
        [
            (
                row["instance"],
                row["version"],
                row["status"],
                row["target"],
                row.get("endpoint") or "-",
                row.get("health"),
                row.get("restarts", 0),
            )
            for row in rows
        ],
        whole=("instance", "status"),
    )
    raise SystemExit(exitcodes.OK)


@click.command("versions")
@click.argument("agent")
@server_option
@_json_option
def versions_command(agent: str, server: str | None, as_json: bool) -> None:
    """Every recorded version of AGENT, oldest first (immutable; * marks the active one)."""
    from agentdock.deployment import versions

    with reporting(as_json):
        rows = _through(server, lambda cp: cp.versions(agent)) if server else versions(agent)
    if as_json:
        print_json({"ok": True, "agent": agent, "versions": rows})
        raise SystemExit(exitcodes.OK)
    print_table(
        ("active", "version", "content", "created", "by", "artifacts"),
        [
            (
                "*" if row["active"] else "",
                row["version"],
                row["content_hash"][:12],
                _when(row["created_at"]),
                row["created_by"] or "-",
                ", ".join(f"{a['builder']}: {a['ref']}" for a in row["artifacts"]) or "(removed)",
            )
            for row in rows
        ],
        whole=("version",),
    )
    raise SystemExit(exitcodes.OK)


@click.command("logs")
@click.argument("agent")
@_instance_option
@click.option("--tail", type=int, default=None, metavar="N", help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C stops).")
@click.option(
    "--level",
    type=click.Choice(LEVEL_NAMES, case_sensitive=False),
    default=None,
    help="Only lines at LEVEL or above (a line naming none goes with the line before it).",
)
@server_option
@_json_option
def logs_command(
    agent: str,
    instance: str | None,
    tail: int | None,
    follow: bool,
    level: str | None,
    server: str | None,
    as_json: bool,
) -> None:
    """The runtime log of AGENT's active (else newest) deployment.

    With --follow, lines are printed as they come until the runtime stops or Ctrl-C (exit
    0); through a control plane, a lost connection exits 4. --level keeps the last N lines'
    lines at that level or above, as the control plane's filter does. Without --tail, the
    whole log, as locally: through a control plane up to its bound of lines, with a note
    on stderr when the log was longer.
    """
    from agentdock.deployment import logs
    from agentdock.loglevels import LevelFilter
    from agentdock.remote import MAX_LOG_LINES

    cut = False
    with reporting(as_json), ExitStack() as opened:
        if server:
            refuse_local_options({"instance": instance})
            from agentdock.remote import control_plane

            plane = opened.enter_context(control_plane(server))
            if follow:
                lines: Any = plane.follow_logs(agent, tail, level)
            else:
                read = plane.read_logs(agent, tail, level)
                lines, cut = read.lines, read.cut and (tail is None or tail > MAX_LOG_LINES)
        else:
            lines = logs(agent, instance=instance, tail=tail, follow=follow)
            if level:
                lines = filter(LevelFilter(level).keep, lines)
        try:
            for line in lines:
                if as_json:
                    print_json({"line": line})
                else:
                    click.echo(line)
        except KeyboardInterrupt:
            pass
    if cut:
        err_console().print(
            f"• the log is longer than {MAX_LOG_LINES:,} lines, the most a control plane "
            f"sends: only its last {MAX_LOG_LINES:,} were read",
            markup=False,
            highlight=False,
        )
    raise SystemExit(exitcodes.OK)


@click.command("stop")
@click.argument("agent")
@_instance_option
@_drain_option("Seconds in-flight requests get to finish.")
@server_option
@_json_option
def stop_command(
    agent: str, instance: str | None, timeout: float, server: str | None, as_json: bool
) -> None:
    """Stop AGENT's active deployment cleanly (drain, then exit)."""
    from agentdock.deployment import stop

    with reporting(as_json, events=False) as report:
        if server:
            refuse_local_options({"instance": instance})
            info = _through(server, lambda cp: cp.stop(agent, progress=report))
        else:
            info = stop(agent, instance=instance, timeout=timeout)
    if as_json:
        print_json({"ok": True, **info})
    elif info.get("already_stopped"):
        label = agent + (f" instance {instance}" if instance else "")
        last = f" ({info['version']})" if info.get("version") else " (never deployed)"
        console().print(f"• {label} is already stopped{last}", markup=False, highlight=False)
    else:
        console().print(f"[green]✓[/green] Stopped {agent} {info['version']}")
    raise SystemExit(exitcodes.OK)


def _through(server: str, act: Callable[[Any], Any]) -> Any:
    """``act(control_plane)`` on the control plane at ``server``."""
    from agentdock.remote import control_plane

    with control_plane(server) as plane:
        return act(plane)


def _size(count: int | None) -> str:
    """Bytes for a person, in powers of ten like ``du --si``."""
    if count is None:
        return "not measured"
    if count < 1000:
        return f"{count} B"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    raise AssertionError("unreachable")


def _print_reclaimed(result: dict[str, Any], verb: str) -> None:
    """What was removed (and freed) and why the rest stays, for a person."""
    out = console()
    removed, kept = result["removed"], result["kept"]
    measured = [r for r in removed if r.get("freed_bytes") is not None]
    freed = _size(result["freed_bytes"]) if measured or not removed else "not measured"
    if len(measured) < len(removed) and measured:
        freed += f" (and {len(removed) - len(measured)} not measured)"
    out.print(
        f"[green]✓[/green] {verb} {len(removed)} artifact(s), freed {freed}",
        markup=True,
        highlight=False,
    )
    for row in removed:
        out.print(
            f"  removed  {row['agent']} {row['version']}  {row['builder']}: {row['ref']}"
            f"  ({_size(row.get('freed_bytes'))})",
            markup=False,
            highlight=False,
        )
    for row in kept:
        out.print(
            f"  kept     {row['agent']} {row['version']}  {row['builder']}: {row['ref']}"
            f"  ({row['reason']})",
            markup=False,
            highlight=False,
        )


@click.command("cleanup")
@click.argument("agent", required=False)
@click.option(
    "--keep",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Newest versions whose artifacts are kept, besides what an instance needs (its "
    "version and its rollback target; a stopped one only its rollback target).",
)
@server_option
@_json_option
def cleanup_command(agent: str | None, keep: int, server: str | None, as_json: bool) -> None:
    """Remove old bundles and images (of AGENT, or of every agent), saying why any stay.

    A stopped agent keeps only the version `agentdock rollback` would start: after `agentdock
    stop`, `cleanup --keep 0` removes the rest (`agentdock rm` removes them all).
    """
    from agentdock.deployment import cleanup

    refuse_server("cleanup", server)

    with reporting(as_json, events=False) as report:
        result = cleanup(agent, keep=keep, progress=report)
    if as_json:
        print_json({"ok": True, **result})
    else:
        _print_reclaimed(result, "Removed")
    raise SystemExit(exitcodes.OK)


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask(plan: dict[str, Any]) -> bool:
    """Show what ``rm`` will do and ask (on stderr; the default is no)."""
    err = err_console()
    for record in plan["stop"]:
        where = f" instance {record['instance']}" if record.get("instance") else ""
        err.print(
            f"  stop    {record['agent']}{where} {record['version']} ({record['endpoint'] or '-'})",
            markup=False,
            highlight=False,
        )
    for row in plan["remove"]:
        err.print(
            f"  delete  {row['version']}  {row['builder']}: {row['ref']}",
            markup=False,
            highlight=False,
        )
    if not plan["stop"] and not plan["remove"]:
        err.print("  nothing runs and no artifact is left", markup=False, highlight=False)
    return click.confirm("Go ahead?", default=False, err=True)


@click.command("rm")
@click.argument("agent")
@_instance_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_drain_option("Seconds in-flight requests get to finish when it is stopped.")
@server_option
@_json_option
def rm_command(
    agent: str,
    instance: str | None,
    yes: bool,
    timeout: float,
    server: str | None,
    as_json: bool,
) -> None:
    """Stop AGENT (or one --instance) if it runs and remove its bundles and images.

    The registry keeps its versions, deployments, keys and audit log (an entry records the
    removal). Asks first unless --yes; without a terminal (or with --json) it refuses
    without --yes (exit 2).
    """
    from agentdock.deployment import remove

    refuse_server("rm", server)
    label = agent + (f" instance {instance}" if instance else " (every instance)")
    if not yes and (as_json or not _interactive()):
        message = f"refusing to remove {label} without confirmation: pass --yes"
        if as_json:
            print_json({"ok": False, "error": "ConfirmationRequired", "message": message})
        else:
            err_console().print(f"[red]✗[/red] {message}", markup=True, highlight=False)
        raise SystemExit(exitcodes.USAGE)
    with reporting(as_json, events=False) as report:
        result = remove(
            agent,
            instance=instance,
            timeout=timeout,
            confirm=None if yes else _ask,
            progress=report,
        )
    if result["cancelled"]:
        err_console().print("Nothing was stopped or removed.", markup=False, highlight=False)
        raise SystemExit(exitcodes.INVALID)
    if as_json:
        print_json({"ok": True, **result})
        raise SystemExit(exitcodes.OK)
    out = console()
    for record in result["stopped"]:
        where = f" instance {record['instance']}" if record.get("instance") else ""
        out.print(
            f"[green]✓[/green] Stopped {agent}{where} {record['version']}",
            markup=True,
            highlight=False,
        )
    _print_reclaimed(result, "Removed")
    out.print(
        f"The registry ({result['registry']}) keeps {agent}'s history: agentdock versions {agent}",
        markup=False,
        highlight=False,
    )
    raise SystemExit(exitcodes.OK)
