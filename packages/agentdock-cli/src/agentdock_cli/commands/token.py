"""``agentdock token issue``: mint a JWT the agent's runtime accepts.

The signing key is the Dockfile's ``auth.jwt.secret_key`` (resolved from the environment,
``--env`` or ``.env``, exactly as the runtime resolves it), or ``AGENTDOCK_JWT_SECRET``
when no Dockfile is used; RS*/ES* Dockfiles need ``--private-key``. The token is printed
once; the audit log records who issued what for whom, never the token.

With ``--server URL`` (or ``AGENTDOCK_SERVER``) the control plane signs it
(``POST /auth/token``) with the agent's secret as its own environment sets it, and audits it
there; ``--file``, ``--env``, ``--private-key`` and ``--registry`` name this machine's
settings and exit 2. The exit codes are the local ones: 1 for an agent not in mode jwt, a
role it does not define, a missing secret or an agent the control plane does not know; 2
for an RS*/ES* agent (the control plane holds no private key).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from agentdock_cli import exitcodes
from agentdock_cli.commands._admin import (
    actor,
    check_agent,
    check_role,
    fail,
    json_option,
    load_spec,
    open_registry,
    registry_option,
    require_defined_role,
)
from agentdock_cli.commands.key_remote import remote_keys
from agentdock_cli.commands.validate import parse_env_pairs
from agentdock_cli.output import console, print_json
from agentdock_cli.remote import refuse_local_options, server_option

__all__ = ["SECRET_ENV", "token_command"]

SECRET_ENV = "AGENTDOCK_JWT_SECRET"  # noqa: S105 - a variable name, not a secret
_DEFAULT_FILE = Path("Dockfile.yaml")


@click.group("token")
def token_command() -> None:
    """Issue JWTs for agents in jwt mode."""


@dataclass(frozen=True)
class _Signing:
    """How a token is signed and for how long: from a Dockfile's ``auth.jwt``, or the
    defaults (HS256, one hour, the secret in the environment)."""

    key: Any
    algorithm: str = "HS256"
    issuer: str | None = None
    audience: str | None = None
    ttl_seconds: int = 3600


def _signing_of_file(
    file: Path, agent: str, role: str, env_pairs: tuple[str, ...], as_json: bool
) -> _Signing:
    """The signing settings of ``file``'s ``auth.jwt``, once the file is checked to describe
    ``agent`` in mode jwt with ``role`` defined (each mismatch exits 1, named)."""
    spec = load_spec(file, as_json, parse_env_pairs(env_pairs))
    if spec.agent.name != agent:
        fail(
            exitcodes.INVALID,
            "AgentMismatch",
            f"{file} describes agent {spec.agent.name!r}, not {agent!r}",
            as_json,
        )
    if spec.auth.mode != "jwt" or spec.auth.jwt is None:
        fail(
            exitcodes.INVALID,
            "NotJwtMode",
            f"{file} uses auth.mode {spec.auth.mode!r}; tokens are for mode jwt",
            as_json,
        )
    check_role(role, None, as_json)
    require_defined_role(spec, role, file, as_json)
    cfg = spec.auth.jwt
    # algorithms, issuer and audience are Dockfile 1.1's; a 1.0 block has none of them.
    algorithm = (getattr(cfg, "algorithms", None) or ["HS256"])[0]
    return _Signing(
        algorithm=algorithm,
        key=cfg.secret_key if algorithm.startswith("HS") else None,
        issuer=getattr(cfg, "issuer", None),
        audience=getattr(cfg, "audience", None),
        ttl_seconds=int(cfg.expiry_minutes) * 60,
    )


def _signing_key(algorithm: str, key: Any, private_key: Path | None, as_json: bool) -> Any:
    """The key to sign with: the private key file for an asymmetric algorithm (exit 2
    without one), else the secret; exit 1 when there is none."""
    if not algorithm.startswith("HS"):
        if private_key is None:
            fail(
                exitcodes.USAGE,
                "PrivateKeyRequired",
                f"{algorithm} tokens need --private-key",
                as_json,
            )
        key = private_key.read_bytes()
    if not key:
        fail(
            exitcodes.INVALID,
            "NoSigningKey",
            f"no signing secret: pass --file with auth.jwt.secret_key, or set {SECRET_ENV}",
            as_json,
        )
    return key


@token_command.command("issue")
@click.option("--agent", required=True, help="Agent the token is for (its agent claim).")
@click.option("--role", required=True, help="Role claim.")
@click.option("--sub", required=True, help="Subject claim (who the caller is).")
@click.option(
    "--ttl",
    default=None,
    metavar="DURATION",
    help="Lifetime, e.g. 1h (default: the Dockfile's expiry_minutes, else 1h).",
)
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Dockfile with auth.jwt (default: ./Dockfile.yaml when it exists).",
)
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="Value for ${KEY}.")
@click.option(
    "--private-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="PEM private key for RS*/ES*/PS*/EdDSA Dockfiles.",
)
@registry_option
@server_option
@json_option
def issue_command(
    agent: str,
    role: str,
    sub: str,
    ttl: str | None,
    file: Path | None,
    env_pairs: tuple[str, ...],
    private_key: Path | None,
    registry: Path | None,
    server: str | None,
    as_json: bool,
) -> None:
    """Print a signed token with claims sub, role, agent, iat, nbf, exp."""
    from agentdock.auth import DurationError, TokenError, mint_token, parse_duration

    check_agent(agent, as_json)
    if not sub.strip() or len(sub) > 256:
        fail(exitcodes.INVALID, "InvalidSubject", "--sub must be 1 to 256 characters", as_json)
    if server:
        refuse_local_options(
            {"file": file, "env": env_pairs, "private_key": private_key, "registry": registry},
            reason="with --server (the control plane signs with the agent's secret as its "
            "environment sets it)",
        )
        check_role(role, None, as_json)
        ttl_s = None
        if ttl is not None:
            try:
                ttl_s = parse_duration(ttl)
            except DurationError as exc:
                fail(exitcodes.INVALID, "InvalidDuration", f"--ttl: {exc}", as_json)
        with remote_keys(
            server,
            as_json,
            unknown_agent=exitcodes.INVALID,
            codes={"PrivateKeyRequired": exitcodes.USAGE},
        ) as plane:
            made = plane.issue_token(agent, role, sub, ttl_s)
        expires_at = int(made["expires_at"])
        valid_s = max(0, expires_at - int(time.time()))
        _print_token(made["token"], agent, role, sub, None, expires_at, valid_s, as_json)
    if file is None and _DEFAULT_FILE.is_file():
        file = _DEFAULT_FILE
    if file is not None:
        signing = _signing_of_file(file, agent, role, env_pairs, as_json)
    else:
        check_role(role, None, as_json)
        signing = _Signing(key=os.environ.get(SECRET_ENV) or None)
    algorithm, key, ttl_seconds = signing.algorithm, signing.key, signing.ttl_seconds
    issuer, audience = signing.issuer, signing.audience
    key = _signing_key(algorithm, key, private_key, as_json)
    if ttl is not None:
        try:
            ttl_seconds = parse_duration(ttl)
        except DurationError as exc:
            fail(exitcodes.INVALID, "InvalidDuration", f"--ttl: {exc}", as_json)
    now = time.time()
    try:
        token = mint_token(
            key=key,
            agent=agent,
            role=role,
            sub=sub,
            ttl_seconds=ttl_seconds,
            algorithm=algorithm,
            issuer=issuer,
            audience=audience,
            now=now,
        )
    except TokenError as exc:
        fail(exitcodes.INVALID, "TokenError", str(exc), as_json)
    expires_at = int(now) + ttl_seconds
    store = open_registry(registry, as_json)
    with store:
        store.append_audit(
            "token.issue",
            actor=actor(),
            agent=agent,
            target=sub,
            details={"role": role, "algorithm": algorithm, "expires_at": expires_at},
        )
    _print_token(token, agent, role, sub, algorithm, expires_at, ttl_seconds, as_json)


def _print_token(
    token: str,
    agent: str,
    role: str,
    sub: str,
    algorithm: str | None,
    expires_at: int,
    valid_s: int,
    as_json: bool,
) -> NoReturn:
    """The token once, on stdout (``--json``: with its claims; ``algorithm`` is None when a
    control plane signed it and did not say)."""
    if as_json:
        print_json(
            {"ok": True, "token": token, "agent": agent, "role": role, "sub": sub}
            | ({"algorithm": algorithm} if algorithm else {})
            | {"expires_at": expires_at}
        )
    else:
        console().print(f"[green]✓[/green] Token for {sub} ({role}) on {agent}, valid {valid_s} s:")
        click.echo(token)
    raise SystemExit(exitcodes.OK)
