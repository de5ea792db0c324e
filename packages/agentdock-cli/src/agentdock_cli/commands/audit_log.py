"""``agentdock audit-log``: read the registry's audit log and check its hash chain.

``verify`` walks the chain (:mod:`agentdock.registry.auditchain`) and reports the first
broken link: which row, and whether a row was changed, inserted or deleted. Exit codes:
0 intact, 1 broken (or the chain key is missing), 5 no registry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import (
    fail,
    json_option,
    missing_registry,
    open_registry,
    registry_option,
)
from agentdock_cli.output import console, print_json, print_table

__all__ = ["audit_log_command"]


def _existing(registry: Path | None, as_json: bool) -> object:
    from agentdock.registry import RegistryNotFound

    try:
        return open_registry(registry, as_json, create=False)
    except RegistryNotFound as exc:
        missing_registry(exc, exitcodes.NOT_FOUND, "RegistryNotFound", as_json)
    raise AssertionError("unreachable")


@click.group("audit-log")
def audit_log_command() -> None:
    """Read the audit log and check that nobody rewrote it."""


@audit_log_command.command("verify")
@registry_option
@json_option
def verify_command(registry: Path | None, as_json: bool) -> None:
    """Check the audit log's hash chain; report the first broken link (exit 1)."""
    from agentdock.registry import AUDIT_KEY_ENV, RegistryError, describe_store

    store = _existing(registry, as_json)
    with store:  # type: ignore[attr-defined]
        where = describe_store(store)
        try:
            key = store.audit_key()  # type: ignore[attr-defined]
        except RegistryError as exc:
            fail(exitcodes.INVALID, "AuditKeyError", str(exc), as_json, registry=where)
        if key is None:
            fail(
                exitcodes.INVALID,
                "NoAuditKey",
                f"no audit chain key for the registry {where}: the chain cannot be checked",
                as_json,
                hint=f"set {AUDIT_KEY_ENV} to the value its writers use",
                registry=where,
            )
        report = store.verify_audit(key)  # type: ignore[attr-defined]
    if as_json:
        print_json({**report.public(), "registry": where})
    elif report.ok:
        console().print(
            f"[green]✓[/green] the audit log is intact: {report.rows} rows (registry {where})",
            highlight=False,
        )
    else:
        fail(
            exitcodes.INVALID,
            "AuditChainBroken",
            f"the audit log is broken at row {report.entry_id} ({report.kind}): {report.detail}",
            False,
            hint="restore the registry from a backup, or find out who could write it",
        )
    raise SystemExit(exitcodes.OK if report.ok else exitcodes.INVALID)


@audit_log_command.command("list")
@click.option("--agent", default=None, help="Only this agent's entries.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@registry_option
@json_option
def list_command(agent: str | None, limit: int, registry: Path | None, as_json: bool) -> None:
    """The newest entries (who did what, when, to which agent), oldest first."""
    store = _existing(registry, as_json)
    with store:  # type: ignore[attr-defined]
        entries = store.list_audit(agent=agent, limit=limit)  # type: ignore[attr-defined]
    rows = [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "agent": e.agent,
            "target": e.target,
            "details": e.details,
        }
        for e in entries
    ]
    if as_json:
        print_json({"ok": True, "entries": rows})
        raise SystemExit(exitcodes.OK)
    print_table(
        ("id", "at", "actor", "action", "agent", "target"),
        [
            (
                str(r["id"]),
                datetime.fromtimestamp(float(str(r["at"])), tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
                str(r["actor"]),
                str(r["action"]),
                str(r["agent"] or "-"),
                str(r["target"] or "-"),
            )
            for r in rows
        ],
        whole=("id", "action"),
    )
    raise SystemExit(exitcodes.OK)
