"""The environment a deployed runtime gets: referenced variables, resolved at deploy time.

A runtime needs the values of the ``${VAR}`` placeholders its snapshot keeps, the literal
``deploy.env`` entries and the ``deploy.secrets`` names of Dockfile 1.1. Values come from,
in order of precedence: ``--env-file`` files (later files win), the process environment,
then the ``.env`` file beside the Dockfile. They go to the target at start and nowhere else:
not the registry, not a label, not a log.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentdock.deployment.errors import InvalidDeployInput

__all__ = ["read_env_file", "runtime_env", "value_sources"]


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs of a dotenv file; unreadable → :class:`InvalidDeployInput`."""
    from dotenv import dotenv_values

    file = Path(path)
    if not file.is_file():
        raise InvalidDeployInput(f"env file {file} does not exist", path=str(file))
    try:
        values = dotenv_values(file)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDeployInput(
            f"cannot read env file {file}: {type(exc).__name__}", path=str(file)
        ) from None
    return {k: v for k, v in values.items() if v is not None}


def value_sources(
    project_dir: Path,
    env_files: Sequence[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every value a placeholder may take, merged by precedence (see the module doc)."""
    merged: dict[str, str] = {}
    dotenv = project_dir / ".env"
    if dotenv.is_file():
        merged.update(read_env_file(dotenv))
    merged.update(os.environ if environ is None else environ)
    for file in env_files:
        merged.update(read_env_file(file))
    return merged


def runtime_env(spec: Any, variables: Iterable[str], values: Mapping[str, str]) -> dict[str, str]:
    """The variables the runtime needs that have a value, plus ``deploy.env`` literals.

    ``AGENTDOCK_DATABASE_URL`` goes along when set, so the runtime uses the same registry.
    A referenced variable without a value is left out: the runtime names it in its
    ``[FATAL] Missing required environment variables`` line and the health gate fails.
    """
    wanted = set(variables)
    deploy = getattr(spec, "deploy", None)
    if deploy is not None:
        wanted.update(deploy.secrets)
    # A team registry (Postgres) is where the runtime checks API keys.
    wanted.add("AGENTDOCK_DATABASE_URL")
    env = {name: values[name] for name in sorted(wanted) if name in values}
    if deploy is not None:
        env.update(deploy.env)
    return env
