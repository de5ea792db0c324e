"""``agentdock key``: create, list, rotate and revoke API keys in the registry.

A new key is printed once and never stored: the registry keeps its digest. Every action is
appended to the audit log (key id, role, agent; never the key).

``create`` refuses (exit 1) an agent the registry does not know and a role the agent does
not define (its roles come from the snapshot of the version its instance runs, as the
runtime reads them), unless ``--not-deployed`` says the agent has not been deployed yet:
then only the names' syntax and, with ``--file``, the Dockfile's roles are checked.
``rotate`` and ``revoke`` of an agent the registry does not know exit 5.

With ``--server URL`` (or ``AGENTDOCK_SERVER``) each acts through that control plane's key
API instead (:mod:`agentdock_cli.commands.key_remote`), with the same exit codes; the
options that name this machine's registry or a per-tenant instance are refused (exit 2).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from agentdock.capabilities import StoreAtPath

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import (
    actor,
    check_agent,
    check_role,
    fail,
    json_option,
    load_spec,
    missing_registry,
    open_registry,
    registry_option,
    require_known_agent,
)
from agentdock_cli.commands.key_remote import every_agents_keys, remote_keys
from agentdock_cli.commands.validate import parse_env_pairs
from agentdock_cli.output import console, err_console, print_json, print_table
from agentdock_cli.remote import refuse_local_options, server_option

__all__ = ["DEFAULT_GRACE_HOURS", "key_command", "pepper_warnings"]

#: How long a rotated key keeps working when neither --grace nor the Dockfile says.
DEFAULT_GRACE_HOURS = 24


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "far future"


def _duration(text: str | None, option: str, as_json: bool) -> int | None:
    if text is None:
        return None
    from agentdock.auth import DurationError, parse_duration

    try:
        return parse_duration(text)
    except DurationError as exc:
        fail(exitcodes.INVALID, "InvalidDuration", f"{option}: {exc}", as_json)


#: Why an option of this machine's registry is refused with ``--server``.
_REMOTE = "with --server (the control plane's registry holds the keys)"


#: ``--file`` Dockfiles resolve their ``${VAR}`` like ``validate`` does.
_env_option = click.option(
    "--env",
    "env_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Value for ${KEY} in the --file Dockfile.",
)


@click.group("key")
def key_command() -> None:
    """Manage the API keys of an agent (shown once, stored hashed)."""


@key_command.command("create")
@click.option("--agent", required=True, help="Agent name the key is for.")
@click.option("--role", required=True, help="Role the key acts as (e.g. developer).")
@click.option("--expires", default=None, metavar="DURATION", help="Lifetime, e.g. 30d, 12h.")
@click.option(
    "--instance",
    default="",
    metavar="NAME",
    help="Only for this per-tenant instance of the agent (default: the default instance).",
)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Dockfile whose roles the role must be one of.",
)
@click.option(
    "--not-deployed",
    is_flag=True,
    help="The agent is not deployed yet: skip the registry's agent and role checks "
    "(--file still checks the role).",
)
@_env_option
@registry_option
@server_option
@json_option
def create_command(
    agent: str,
    role: str,
    expires: str | None,
    instance: str,
    file: Path | None,
    not_deployed: bool,
    env_pairs: tuple[str, ...],
    registry: Path | None,
    server: str | None,
    as_json: bool,
) -> None:
    """Create a key; it is printed once and cannot be shown again.

    The agent must be in the registry and define the role (exit 1 otherwise), unless
    --not-deployed is given.
    """
    from agentdock.auth import generate_key

    if server:
        refuse_local_options(
            {"instance": instance, "not_deployed": not_deployed, "registry": registry},
            reason=_REMOTE,
        )
    check_agent(agent, as_json)
    from agentdock.deployment.inputs import INSTANCE_NAME

    if instance and not INSTANCE_NAME.match(instance):
        fail(
            exitcodes.INVALID,
            "InvalidInstanceName",
            f"invalid instance name {instance!r}: a DNS label of at most 32 characters",
            as_json,
        )
    check_role(role, file, as_json, parse_env_pairs(env_pairs))
    lifetime = _duration(expires, "--expires", as_json)
    if server:
        with remote_keys(server, as_json, unknown_agent=exitcodes.INVALID) as plane:
            made = plane.create_key(agent, role, lifetime)
        _print_created(made, as_json)
    now = time.time()
    if not_deployed:
        store = open_registry(registry, as_json, create=True)
    else:
        store = _deployed_registry(registry, agent, as_json)
        _check_defined_role(store, agent, role, instance, as_json)
    with store:
        generated = generate_key()
        record = store.create_api_key(
            agent=agent,
            role=role,
            key_id=generated.key_id,
            hashed_key=generated.digest,
            hash_algorithm=generated.algorithm,
            expires_at=now + lifetime if lifetime is not None else None,
            created_by=actor(),
            instance=instance,
            now=now,
        )
        store.append_audit(
            "key.create",
            actor=actor(),
            agent=agent,
            target=record.key_id,
            details={
                "role": role,
                "expires_at": record.expires_at,
                "instance": instance or None,
                **({"not_deployed": True} if not_deployed else {}),
            },
        )
    _print_created({"key": generated.key, **record.public(now)}, as_json)


def _print_created(made: dict[str, Any], as_json: bool) -> NoReturn:
    """The new key (shown once) and its row; exit 0."""
    if as_json:
        print_json({"ok": True, **made})
    else:
        out = console()
        out.print(
            f"[green]✓[/green] Created key [bold]{made['key_id']}[/bold] for {made['agent']} "
            f"({made['role']})"
        )
        out.print("Store it now; it will not be shown again:")
        click.echo(made["key"])
    raise SystemExit(exitcodes.OK)


_NOT_DEPLOYED_HINT = (
    "check the name, run this where the agent was deployed from, or pass --not-deployed "
    "to create a key for an agent not deployed yet"
)


def _deployed_registry(registry: Path | None, agent: str, as_json: bool) -> Any:
    """The existing registry, holding ``agent``; exit 1 otherwise."""
    from agentdock.registry import RegistryNotFound

    try:
        store = open_registry(registry, as_json, create=False)
    except RegistryNotFound as exc:
        missing_registry(exc, exitcodes.INVALID, "UnknownAgent", as_json, f"{agent}: ")
    require_known_agent(store, agent, exitcodes.INVALID, as_json, _NOT_DEPLOYED_HINT)
    return store


def _check_defined_role(store: Any, agent: str, role: str, instance: str, as_json: bool) -> None:
    """The role must be one the agent's runtime knows (exit 1 otherwise)."""
    from agentdock.deployment import DeployError
    from agentdock.deployment.roles import defined_roles
    from agentdock.registry import describe_store

    where = describe_store(store)
    try:
        found = defined_roles(store, agent, instance)
    except DeployError as exc:
        store.close()
        fail(
            exitcodes.INVALID,
            "UnreadableSnapshot",
            f"cannot read {agent}'s roles from the registry {where}: {exc.cause}",
            as_json,
            hint="pass --not-deployed --file Dockfile.yaml to check the role against a file",
        )
    if found is None:
        store.close()
        fail(
            exitcodes.INVALID,
            "NotDeployed",
            f"{agent} has no deployed version in the registry {where}",
            as_json,
            hint="deploy it first, or pass --not-deployed (with --file to check the role)",
        )
    if role not in found.roles:
        store.close()
        source = "auth.roles" if found.declared else "the default roles (no auth.roles)"
        fail(
            exitcodes.INVALID,
            "UnknownRole",
            f"role {role!r} is not defined for {agent} {found.version} "
            f"(roles from {source}: {', '.join(sorted(found.roles))}; registry {where})",
            as_json,
            hint="pick one of those roles, or add it to auth.roles and deploy again",
        )


@key_command.command("list")
@click.option("--agent", default=None, help="Only this agent's keys.")
@registry_option
@server_option
@json_option
def list_command(
    agent: str | None, registry: Path | None, server: str | None, as_json: bool
) -> None:
    """List keys (ids, roles, states; never the keys).

    Piped, it prints tab-separated lines with every value whole.
    """
    from agentdock.registry import RegistryNotFound, describe_store

    if server:
        refuse_local_options({"registry": registry}, reason=_REMOTE)
    if agent is not None:
        check_agent(agent, as_json)
    if server:
        with remote_keys(server, as_json, unknown_agent=exitcodes.NOT_FOUND) as plane:
            found = plane.list_keys(agent) if agent else every_agents_keys(plane)
        _print_keys(found, server, [], as_json)
    now = time.time()
    try:
        store = open_registry(registry, as_json, create=False)
    except RegistryNotFound as exc:
        if agent is not None:
            missing_registry(exc, exitcodes.NOT_FOUND, "UnknownAgent", as_json, f"{agent}: ")
        if as_json:
            print_json({"ok": True, "keys": [], "registry": None})
        else:
            err_console().print(f"No API keys: {exc}.", markup=False, highlight=False)
        raise SystemExit(exitcodes.OK) from None
    with store:
        if agent is not None:
            require_known_agent(
                store, agent, exitcodes.NOT_FOUND, as_json, "agentdock key list shows every key"
            )
        records = store.list_api_keys(agent)
        where = describe_store(store)
        home = store.path if isinstance(store, StoreAtPath) else None
    if home is not None:  # the embedded registry: last uses the runtimes recorded beside it
        from agentdock.registry.keyview import merge_key_use

        records = merge_key_use(Path(home).parent, records)
    _print_keys([r.public(now) for r in records], where, pepper_warnings(records), as_json)


def _print_keys(
    rows: list[dict[str, Any]], where: str, warnings: list[str], as_json: bool
) -> NoReturn:
    """The keys' rows (a table, or one JSON document naming ``where`` they were read);
    exit 0."""
    if as_json:
        print_json({"ok": True, "keys": rows, "registry": where, "warnings": warnings})
        raise SystemExit(exitcodes.OK)
    for line in warnings:
        err_console().print(f"[yellow]![/yellow] {line}", highlight=False)
    if not rows:
        console().print(f"No API keys (registry: {where}).", markup=False, highlight=False)
        raise SystemExit(exitcodes.OK)
    print_table(
        ("key id", "agent", "instance", "role", "state", "created", "expires", "last used"),
        [
            (
                row["key_id"],
                row["agent"],
                row["instance"] or "-",
                row["role"],
                row["state"],
                _when(row["created_at"]),
                _when(row["expires_at"]),
                _when(row["last_used_at"]),
            )
            for row in rows
        ],
        whole=("key id", "state"),
    )
    raise SystemExit(exitcodes.OK)


def pepper_warnings(records: Any) -> list[str]:
    """One line per pepper that live ``hmac-sha256`` keys were made with and this
    environment lacks (``AGENTDOCK_KEY_PEPPER`` unset or another value): runtimes given
    this environment's pepper refuse those keys."""
    from agentdock.auth import HMAC_SHA256, pepper_id

    mine = pepper_id()
    now = time.time()
    counts: dict[str, int] = {}
    for record in records:
        if (
            record.hash_algorithm == HMAC_SHA256
            and record.pepper_id not in (None, mine)
            and record.state(now) in {"active", "rotating"}
        ):
            counts[record.pepper_id] = counts.get(record.pepper_id, 0) + 1
    have = f"pepper {mine}" if mine else "no pepper"
    return [
        f"{count} live key(s) were made with pepper {fingerprint} but AGENTDOCK_KEY_PEPPER "
        f"here is {have}: runtimes with this environment refuse them"
        for fingerprint, count in sorted(counts.items())
    ]


def _existing_registry(registry: Path | None, agent: str, as_json: bool) -> Any:
    """The existing registry, holding ``agent``; exit 5 otherwise."""
    from agentdock.registry import RegistryNotFound

    try:
        store = open_registry(registry, as_json, create=False)
    except RegistryNotFound as exc:
        missing_registry(exc, exitcodes.NOT_FOUND, "UnknownAgent", as_json, f"{agent}: ")
    require_known_agent(
        store, agent, exitcodes.NOT_FOUND, as_json, "agentdock key list shows every agent's keys"
    )
    return store


@key_command.command("rotate")
@click.argument("agent")
@click.argument("key_id")
@click.option(
    "--grace",
    default=None,
    metavar="DURATION",
    help=(
        "How long the old key keeps working (default: the Dockfile's "
        f"auth.api_keys.grace_hours with --file, else {DEFAULT_GRACE_HOURS}h)."
    ),
)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Dockfile whose auth.api_keys.grace_hours sets the grace period.",
)
@_env_option
@registry_option
@server_option
@json_option
def rotate_command(
    agent: str,
    key_id: str,
    grace: str | None,
    file: Path | None,
    env_pairs: tuple[str, ...],
    registry: Path | None,
    server: str | None,
    as_json: bool,
) -> None:
    """Replace a key by a new one; the old one works for the grace period."""
    from agentdock.auth import generate_key

    if server:
        refuse_local_options({"registry": registry}, reason=_REMOTE)
    check_agent(agent, as_json)
    grace_seconds = _duration(grace, "--grace", as_json)
    if grace_seconds is None and file is not None:
        keys_cfg = load_spec(file, as_json, parse_env_pairs(env_pairs)).auth.api_keys
        hours = getattr(keys_cfg, "grace_hours", None)
        if hours is not None:
            grace_seconds = int(hours) * 3600
    if grace_seconds is None:
        grace_seconds = DEFAULT_GRACE_HOURS * 3600
    if server:
        with remote_keys(server, as_json, unknown_agent=exitcodes.NOT_FOUND) as plane:
            made = plane.rotate_key(agent, key_id, grace_seconds)
        _print_rotated(key_id, made, as_json)
    now = time.time()
    store = _existing_registry(registry, agent, as_json)
    with store:
        generated = generate_key()
        result = store.rotate_api_key(
            agent=agent,
            key_id=key_id,
            new_key_id=generated.key_id,
            new_hashed_key=generated.digest,
            hash_algorithm=generated.algorithm,
            grace_seconds=grace_seconds,
            created_by=actor(),
            now=now,
        )
        if result is None:
            fail(
                exitcodes.NOT_FOUND,
                "KeyNotFound",
                f"agent {agent!r} has no active key {key_id!r}",
                as_json,
            )
        old, new = result
        store.append_audit(
            "key.rotate",
            actor=actor(),
            agent=agent,
            target=key_id,
            details={"new_key_id": new.key_id, "grace_until": old.grace_until},
        )
    made = {"key": generated.key, **new.public(now), "old": old.public(now)}
    _print_rotated(key_id, made, as_json)


def _print_rotated(key_id: str, made: dict[str, Any], as_json: bool) -> NoReturn:
    """The new key (shown once), its row and the old one's; exit 0."""
    if as_json:
        print_json({"ok": True, **made})
    else:
        out = console()
        out.print(
            f"[green]✓[/green] Rotated {key_id} → [bold]{made['key_id']}[/bold]; "
            f"the old key works until {_when(made['old'].get('grace_until'))}"
        )
        out.print("Store the new key now; it will not be shown again:")
        click.echo(made["key"])
    raise SystemExit(exitcodes.OK)


@key_command.command("revoke")
@click.argument("agent")
@click.argument("key_id")
@registry_option
@server_option
@json_option
def revoke_command(
    agent: str, key_id: str, registry: Path | None, server: str | None, as_json: bool
) -> None:
    """Revoke a key at once (requests with it get 499 KeyRevoked)."""
    if server:
        refuse_local_options({"registry": registry}, reason=_REMOTE)
    check_agent(agent, as_json)
    if server:
        with remote_keys(server, as_json, unknown_agent=exitcodes.NOT_FOUND) as plane:
            revoked = plane.revoke_key(agent, key_id)
        _print_revoked(agent, key_id, revoked, as_json)
    now = time.time()
    store = _existing_registry(registry, agent, as_json)
    with store:
        record = store.revoke_api_key(agent=agent, key_id=key_id, now=now)
        if record is None:
            fail(
                exitcodes.NOT_FOUND,
                "KeyNotFound",
                f"agent {agent!r} has no key {key_id!r}",
                as_json,
            )
        store.append_audit("key.revoke", actor=actor(), agent=agent, target=key_id)
    _print_revoked(agent, key_id, record.public(now), as_json)


def _print_revoked(agent: str, key_id: str, row: dict[str, Any], as_json: bool) -> NoReturn:
    if as_json:
        print_json({"ok": True, **row})
    else:
        console().print(f"[green]✓[/green] Revoked {key_id} of {agent}")
    raise SystemExit(exitcodes.OK)
