"""The environment a deployed runtime gets, and nothing more: never the deploying shell's.

A runtime needs the values of the ``${VAR}`` placeholders its snapshot keeps, the literal
``deploy.env`` entries and the ``deploy.secrets`` names of Dockfile 1.1. Values come from,
in order of precedence: ``--env-file`` files (later files win), the process environment,
then the ``.env`` file beside the Dockfile. They go to the target at start and nowhere else:
not the registry, not a label, not a log. :func:`runtime_env` computes them for every
target, with ``AGENTDOCK_SECRET_NAMES`` naming the ones whose values logs must mask.

A runtime on this machine (the ``local`` target) also needs a few variables of the machine
itself and AgentDock's own settings: :func:`host_runtime_env` adds exactly those
(:data:`HOST_VARIABLES`, ``LC_*`` and the forwarded ``AGENTDOCK_*`` settings). A container
gets its image's environment instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from agentdock.deployment.errors import InvalidDeployInput
from agentdock.listenfd import LISTEN_FD_ENV
from agentdock.masking import SECRET_NAMES_ENV
from agentdock.registry.sqlite import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "HOST_PREFIXES",
    "HOST_VARIABLES",
    "SECRET_SETTINGS",
    "TARGET_SETTINGS",
    "host_runtime_env",
    "read_env_file",
    "runtime_env",
    "value_sources",
]

#: Variables of the deploying machine that a runtime on the same machine keeps:
#: ``PATH`` (the agent's tools and ``nvidia-smi`` are found through it), ``HOME`` (libraries
#: keep caches and configuration under it), ``LANG`` and ``LC_*`` (the encoding of text
#: I/O), ``TZ`` (local time in logs) and ``TMPDIR`` (where temporary files go). Python
#: itself needs none of them to start the bundle's interpreter.
HOST_VARIABLES = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR"})
HOST_PREFIXES = ("LC_",)
#: AgentDock's settings prefix: the deploying shell's ``AGENTDOCK_*`` variables are
#: forwarded to a runtime on this machine, except :data:`TARGET_SETTINGS`.
SETTINGS_PREFIX = "AGENTDOCK_"
#: ``AGENTDOCK_*`` variables never forwarded from the deploying shell: a target sets them for
#: each runtime, or they belong to the CLI and its clients, not to a runtime. Insecure mode
#: is among them: a deployed runtime always authenticates, whatever the shell was left with.
TARGET_SETTINGS = frozenset(
    {
        "AGENTDOCK_INSECURE_NO_AUTH",
        "AGENTDOCK_HOME",
        "AGENTDOCK_STATE_DIR",
        "AGENTDOCK_SPEC",
        "AGENTDOCK_PROJECT_DIR",
        "AGENTDOCK_HOST",
        "AGENTDOCK_PORT",
        LISTEN_FD_ENV,
        "AGENTDOCK_STANDBY_FD",
        "AGENTDOCK_CONTROL_FD",
        "AGENTDOCK_VERSION",
        "AGENTDOCK_INSTANCE",
        SECRET_NAMES_ENV,
        "AGENTDOCK_ENV_FILE",
        "AGENTDOCK_DOCKFILE",
        "AGENTDOCK_ENDPOINT",
        "AGENTDOCK_API_KEY",
        "AGENTDOCK_KUBE_CONTEXT",
        "AGENTDOCK_KUBE_NAMESPACE",
        "AGENTDOCK_KUBE_INGRESS_FROM",
        "AGENTDOCK_KUBE_EGRESS_TO",
        # The audit log's chain key belongs to the registry's writers, never a runtime.
        "AGENTDOCK_AUDIT_KEY",
        "AGENTDOCK_KEY_VIEW",
    }
)
#: AgentDock settings whose values are credentials: masked in logs like ``deploy.secrets``.
SECRET_SETTINGS = frozenset(
    {
        "AGENTDOCK_DATABASE_URL",
        "AGENTDOCK_RUNTIME_DATABASE_URL",
        "AGENTDOCK_REDIS_URL",
        "AGENTDOCK_KEY_PEPPER",
        "AGENTDOCK_JWT_SECRET",
    }
)


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


def runtime_env(
    spec: DockSpec, variables: Iterable[str], values: Mapping[str, str]
) -> dict[str, str]:
    """The variables the runtime needs that have a value, plus ``deploy.env`` literals.

    ``AGENTDOCK_DATABASE_URL`` goes along when set, so the runtime uses the same registry,
    unless ``AGENTDOCK_RUNTIME_DATABASE_URL`` (a role that reads only the agent's keys) is
    set: that one goes instead.
    A referenced variable without a value is left out: the runtime names it in its
    ``[FATAL] Missing required environment variables`` line and the health gate fails.
    ``AGENTDOCK_SECRET_NAMES`` names every variable taken from ``values`` (referenced,
    ``deploy.secrets``, the database URL): the runtime masks their values in its logs.
    """
    wanted = set(variables)
    deploy = getattr(spec, "deploy", None)
    if deploy is not None:
        wanted.update(deploy.secrets)
    # A team registry (Postgres) is where the runtime checks API keys: through a role that
    # reads only its keys when one is given, and then never with the owner's credentials.
    wanted.add(RUNTIME_DATABASE_URL_ENV)
    if not values.get(RUNTIME_DATABASE_URL_ENV):
        wanted.add(DATABASE_URL_ENV)
    env = {name: values[name] for name in sorted(wanted) if name in values}
    secret_names = sorted(env)
    if deploy is not None:
        env.update(deploy.env)
    if secret_names:
        env[SECRET_NAMES_ENV] = ",".join(secret_names)
    return env


def host_runtime_env(
    env: Mapping[str, str],
    settings: Mapping[str, str] = MappingProxyType({}),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a runtime process started on this machine, and of the
    process that supervises it: nothing of the deploying shell (``environ``, default the
    process environment) but :data:`HOST_VARIABLES`, ``LC_*`` and its ``AGENTDOCK_*``
    settings (less :data:`TARGET_SETTINGS`); then ``env`` (the :class:`StartRequest`'s,
    from :func:`runtime_env`) and the target's own ``settings`` on top.

    ``AGENTDOCK_SECRET_NAMES`` also names the forwarded :data:`SECRET_SETTINGS`. With
    ``AGENTDOCK_RUNTIME_DATABASE_URL`` set, the registry owner's ``AGENTDOCK_DATABASE_URL``
    is not forwarded: the runtime reads its keys with the least-privilege role only.
    """
    shell = os.environ if environ is None else environ
    out = {
        name: value
        for name, value in shell.items()
        if name in HOST_VARIABLES
        or name.startswith(HOST_PREFIXES)
        or (name.startswith(SETTINGS_PREFIX) and name not in TARGET_SETTINGS)
    }
    if out.get(RUNTIME_DATABASE_URL_ENV) or env.get(RUNTIME_DATABASE_URL_ENV):
        out.pop(DATABASE_URL_ENV, None)
    out.update(env)
    out.update(settings)
    names = {n for n in out.get(SECRET_NAMES_ENV, "").split(",") if n}
    names.update(name for name in SECRET_SETTINGS if out.get(name))
    if names:
        out[SECRET_NAMES_ENV] = ",".join(sorted(names))
    return out
