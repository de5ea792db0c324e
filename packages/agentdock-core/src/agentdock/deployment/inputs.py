"""What a deploy reads and decides before it builds: the Dockfile, its snapshot, the version
it deploys as, the settings it starts with, and the per-instance checks.

A version string is ``--version``, else ``metadata.version``, else the version that already
holds the same content, else the next patch version. Settings record how a deployment
starts (env files' paths, the port it asks for, the ``--host`` it was given) and never a
value from the environment.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from agentdock.deployment.errors import (
    InvalidDeployInput,
    NotFound,
    VersionConflict,
)
from agentdock.deployment.runenv import read_env_file
from agentdock.registry import SQLStore, VersionRecord

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "INSTANCE_NAME",
    "bind_host",
    "check_instance",
    "check_instance_env",
    "check_instance_port",
    "declared_target",
    "find_dockfile",
    "missing_variables_line",
    "next_patch",
    "pick_version",
    "reach_of",
    "resources_of",
    "snapshot_of",
    "spec_of_snapshot",
    "start_settings",
    "validate_for_deploy",
]

DEFAULT_TARGET = "local"

#: Seconds a new runtime gets to answer /ready.
DEFAULT_TIMEOUT = 60.0

#: A per-tenant instance name: a DNS label of at most 32 characters.
INSTANCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")

_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def next_patch(versions: Sequence[str]) -> str:
    """The next patch version after the highest ``X.Y.Z`` (``0.1.0`` when there is none)."""
    best: tuple[int, int, int] | None = None
    for text in versions:
        match = _SEMVER.match(text)
        if match:
            triple = (int(match[1]), int(match[2]), int(match[3]))
            best = triple if best is None or triple > best else best
    if best is None:
        return "0.1.0"
    return f"{best[0]}.{best[1]}.{best[2] + 1}"


def check_instance(instance: str | None) -> str:
    if instance is None or instance == "":
        return ""
    if not INSTANCE_NAME.match(instance):
        raise InvalidDeployInput(
            f"invalid instance name {instance!r}: expected a DNS label of at most 32 "
            "characters (a-z, 0-9, -)",
            path="--instance",
        )
    return instance


def validate_for_deploy(path: Path, values: dict[str, str], skip_imports: bool) -> tuple[Any, Any]:
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    document = load_document(path, env=values, allow_unresolved=True)
    report = validate_document(document, skip_imports=skip_imports)
    if not report.ok:
        first = report.errors[0]
        more = len(report.errors) - 1
        raise InvalidDeployInput(
            f"{first.code.value} {first.code.name}: {first.message}"
            + (f" (and {more} more)" if more else ""),
            path=".".join(str(p) for p in first.path) or None,
            hint=f"agentdock validate {path}",
        )
    return document, report.spec


def find_dockfile(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if file.is_dir():
        file = file / "Dockfile.yaml"
    if not file.is_file():
        raise NotFound(f"no Dockfile at {file}", path=str(file))
    return file


def snapshot_of(raw: Any) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def pick_version(
    store: SQLStore, agent: str, requested: str | None, declared: str | None, digest: str
) -> tuple[str, VersionRecord | None]:
    """The version string this content deploys as, and its row when already recorded."""
    wanted = requested or declared
    if wanted is not None:
        if not _VERSION.match(wanted):
            raise InvalidDeployInput(
                f"invalid version {wanted!r}: letters, digits and . + _ - (at most 64)",
                path="--version" if requested else "metadata.version",
            )
        existing = store.get_version(agent, wanted)
        if existing is not None and existing.content_hash != digest:
            raise VersionConflict(
                f"version {wanted} of {agent} is already recorded with other content",
                hint="versions are immutable: bump metadata.version or pass --version",
                path="--version" if requested else "metadata.version",
            )
        return wanted, existing
    same = store.find_version_by_hash(agent, digest)
    if same is not None:
        return same.version, same
    return next_patch([v.version for v in store.list_versions(agent)]), None


def declared_target(spec: Any) -> str | None:
    deploy_cfg = getattr(spec, "deploy", None)
    return deploy_cfg.target if deploy_cfg is not None else None


def resources_of(spec: Any) -> dict[str, Any]:
    deploy_cfg = getattr(spec, "deploy", None)
    if deploy_cfg is None or deploy_cfg.resources is None:
        return {}
    return dict(deploy_cfg.resources.model_dump(exclude_none=True))


_PORT_PATH = ("expose", "port")

_PLACEHOLDER_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def bind_host(spec: Any, requested: str | None = None) -> str | None:
    """The address a runtime is asked to listen on: ``requested`` (``--host``), else
    ``expose.host`` when the Dockfile writes one, else None: the target's default, which
    for the ``local`` target is 127.0.0.1 (this machine only) and for a container its
    every interface, since who reaches it is the publish address's business.

    :raises InvalidDeployInput: ``requested`` is blank or holds white space.
    """
    if requested is not None:
        if not requested.strip() or any(c.isspace() for c in requested):
            raise InvalidDeployInput(
                f"--host must be an address or host name, got {requested!r}",
                hint="for example --host 0.0.0.0 (every interface) or --host 127.0.0.1",
                path="--host",
            )
        return requested
    expose = getattr(spec, "expose", None)
    if expose is not None and "host" in getattr(expose, "model_fields_set", ()):
        return str(expose.host)
    return None


def reach_of(host: str) -> str:
    """Who can reach a runtime listening on ``host``, in words for the deploy output."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: whoever can resolve and route to it
        loopback = False
    if loopback:
        return "this machine only (--host 0.0.0.0 to accept other machines)"
    return "reachable from other machines"


def start_settings(
    document: Any, spec: Any, env_files: Sequence[Any], host: str | None = None
) -> dict[str, Any]:
    """How a deployment is started, for the registry: env files' paths, the port it
    asks for and the ``--host`` it was given (never a value from the environment).
    ``port_from_env`` says the port came from a variable an env file sets: an instance's
    own port."""
    raw_port = str((document.raw or {}).get("expose", {}).get("port", ""))
    own: set[str] = set()
    for file in env_files:
        own.update(read_env_file(file))
    return {
        "project_dir": str(Path(document.project_dir).resolve()),
        "env_files": [str(Path(f).resolve()) for f in env_files],
        "port": spec.expose.port,
        **({"host": host} if host is not None else {}),
        "port_from_env": _PORT_PATH in document.interpolated
        and any(name in own for name in _PLACEHOLDER_NAME.findall(raw_port)),
    }


def missing_variables_line(names: Sequence[str]) -> str:
    return f"[FATAL] Missing required environment variables: {', '.join(sorted(names))}"


#: Stands in for a variable that has no value here, so a snapshot still makes a spec (the
#: runtime gets the real values, or names the missing ones at start-up).
_STAND_IN = "agentdock-unset-variable-stand-in-0000000000"


def spec_of_snapshot(
    record: VersionRecord, values: Mapping[str, str]
) -> tuple[Any, frozenset[str]]:
    """The recorded snapshot as a spec (for its port, host and resources), and the
    variables it uses."""
    from agentdock.spec.loader import load_document
    from agentdock.validation import DockfileError, validate_document

    # Loaded as YAML text, as the runtime will: a plain ``${PORT:-8080}`` scalar becomes an
    # integer there, which a parsed mapping would keep as a string.
    with tempfile.TemporaryDirectory(prefix="agentdock-snapshot-") as tmp:
        file = Path(tmp) / "spec.yaml"
        file.write_text(record.snapshot, encoding="utf-8")
        variables = load_document(file, environ={}, allow_unresolved=True).variables
        environ = {name: values[name] for name in variables if name in values}
        document = load_document(file, environ=environ, allow_unresolved=True)
        if document.unresolved:  # no value and no default here: a stand-in, for the spec
            environ.update(dict.fromkeys(document.unresolved, _STAND_IN))
            document = load_document(file, environ=environ, allow_unresolved=True)
        report = validate_document(document, skip_imports=True)
    try:
        spec = report.spec if report.ok else None
    except DockfileError:
        spec = None
    if spec is None:
        raise InvalidDeployInput(f"the recorded snapshot of {record.version} no longer validates")
    return spec, variables


def check_instance_env(instance: str, document: Any) -> None:
    """A per-tenant instance must have every required variable before anything starts."""
    if document.unresolved:
        raise InvalidDeployInput(
            f"instance {instance}: {missing_variables_line(list(document.unresolved))}",
            hint="add them to the instance's --env-file (or the environment)",
            path="--env-file",
        )


def check_instance_port(store: SQLStore, agent: str, instance: str, settings: Any) -> None:
    """Two instances may not ask for the same port through their own variables."""
    if not settings["port_from_env"]:
        return  # one port for all: each instance gets a free one next to it
    for name in store.list_instances(agent):
        if name == instance:
            continue
        active = store.active_deployment(agent, name)
        if (
            active is not None
            and active.settings.get("port_from_env")
            and active.settings.get("port") == settings["port"]
        ):
            raise InvalidDeployInput(
                f"instances {name} and {instance} both ask for port {settings['port']}",
                hint=f"give {instance} another port in its env file",
                path="expose.port",
            )
