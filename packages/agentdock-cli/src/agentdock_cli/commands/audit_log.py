"""``agentdock audit-log``: read the registry's audit log and check its hash chain.

``verify`` walks the chain (:mod:`agentdock.registry.auditchain`) and reports the first
broken link: which row, and whether a row was changed, inserted or deleted. Exit codes:
0 intact, 1 broken (or the chain key is missing), 5 no registry.

``list --server URL`` (or ``AGENTDOCK_SERVER``) reads a control plane's ``GET /audit`` with
the same filters, table and ``--json`` document (at most
:data:`~agentdock.remote.MAX_AUDIT_ENTRIES` entries there). The chain is checked where its
registry and key are: ``verify`` refuses a server (exit 2) instead of checking this
machine's registry.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import (
    fail,
    json_option,
    missing_registry,
    open_registry,
    registry_option,
)
from agentdock_cli.commands.key_remote import remote_keys
from agentdock_cli.output import console, print_json, print_table
from agentdock_cli.remote import refuse_local_options, refuse_server, server_option

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
@server_option
@json_option
def verify_command(registry: Path | None, server: str | None, as_json: bool) -> None:
    """Check the audit log's hash chain; report the first broken link (exit 1)."""
    from agentdock.registry import AUDIT_KEY_ENV, RegistryError, describe_store

    refuse_server(
        "audit-log verify",
        server,
        "the chain is checked against its registry with the chain key, which only the "
        "control plane's host holds",
    )

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
@server_option
@json_option
def list_command(
    agent: str | None, limit: int, registry: Path | None, server: str | None, as_json: bool
) -> None:
    """The newest entries (who did what, when, to which agent), oldest first."""
    if server:
        rows = _remote_entries(server, agent, limit, registry, as_json)
    else:
        store = _existing(registry, as_json)
        with store:  # type: ignore[attr-defined]
            entries = store.list_audit(agent=agent, limit=limit)  # type: ignore[attr-defined]
        rows = [dataclasses.asdict(e) for e in entries]
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


def _remote_entries(
    server: str, agent: str | None, limit: int, registry: Path | None, as_json: bool
) -> list[dict[str, Any]]:
    """The control plane's newest ``limit`` entries, oldest first as the local list prints
    them; a limit above what it answers with exits 2 (a usage error, as a bad --limit)."""
    from agentdock.remote import MAX_AUDIT_ENTRIES

    refuse_local_options({"registry": registry}, reason="with --server (its registry is read)")
    if limit > MAX_AUDIT_ENTRIES:
        fail(
            exitcodes.USAGE,
            "LimitTooLarge",
            f"--limit {limit}: a control plane answers with at most {MAX_AUDIT_ENTRIES} entries",
            as_json,
        )
    with remote_keys(server, as_json, unknown_agent=exitcodes.NOT_FOUND) as plane:
        found: list[dict[str, Any]] = plane.audit(agent, limit)
    return list(reversed(found))
