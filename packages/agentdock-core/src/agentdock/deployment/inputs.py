"""What a deploy reads and decides before it builds: the Dockfile, its snapshot, the version
it deploys as, the settings it starts with, and the per-instance checks.

A version string is ``--version``, else ``metadata.version``, else the version that already
holds the same content, else the next patch version. Settings record how a deployment
starts (env files' paths, the port it asks for, the ``--host`` it was given) and never a
value from the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from agentdock.capabilities import Preflighting
from agentdock.deployment.errors import (
    InvalidDeployInput,
    MissingVariables,
    NotFound,
    VersionConflict,
)
from agentdock.deployment.runenv import read_env_file
from agentdock.findings import Code, Finding, Severity
from agentdock.registry import VersionRecord
from agentdock.storecontract import Store

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "INSTANCE_NAME",
    "Missing",
    "bind_host",
    "check_instance",
    "check_instance_port",
    "declared_target",
    "find_dockfile",
    "missing_variables",
    "missing_variables_error",
    "next_patch",
    "pick_version",
    "preflight",
    "reach_of",
    "require_variables",
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


def validate_for_deploy(
    path: Path,
    values: dict[str, str],
    skip_imports: bool,
    *,
    instance: str | None = None,
    require_values: bool = True,
    plugins: Any = None,
) -> tuple[Any, Any]:
    """The loaded Dockfile and its spec, or :class:`InvalidDeployInput` (exit 1).

    With ``require_values`` a variable without a value or default is refused first
    (:class:`MissingVariables`, naming all of them): nothing that follows could work.
    ``plugins`` is the deploy's plugin manager: the frameworks and ``plugins`` entries it
    registers are accepted, besides the installed plugins' (the process-wide manager).
    """
    from agentdock.spec.loader import load_document
    from agentdock.validation import validate_document

    document = load_document(path, env=values, allow_unresolved=True)
    if require_values:
        require_variables(document, instance)
    # Imported only: a builder may need what only the deployed runtime has (a service of its
    # network, a mounted file); the health gate sees it fail there.
    report = validate_document(
        document, skip_imports=skip_imports, build=False, plugins=plugins, with_installed=True
    )
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
    store: Store | None,
    agent: str,
    requested: str | None,
    declared: str | None,
    digest: str,
) -> tuple[str, VersionRecord | None]:
    """The version string this content deploys as, and its row when already recorded.

    The one rule every target and ``--dry-run`` follows (see the module doc). ``store`` None
    is a registry that does not exist yet: nothing is recorded, the first version is next.
    """
    wanted = requested or declared
    if wanted is not None:
        if not _VERSION.match(wanted):
            raise InvalidDeployInput(
                f"invalid version {wanted!r}: letters, digits and . + _ - (at most 64)",
                path="--version" if requested else "metadata.version",
            )
        if store is None:
            return wanted, None
        existing = store.get_version(agent, wanted)
        if existing is not None and existing.content_hash != digest:
            raise VersionConflict(
                f"version {wanted} of {agent} is already recorded with other content",
                hint="versions are immutable: bump metadata.version or pass --version",
                path="--version" if requested else "metadata.version",
            )
        return wanted, existing
    if store is None:
        return next_patch([]), None
    same = store.find_version_by_hash(agent, digest)
    if same is not None:
        return same.version, same
    return next_patch([v.version for v in store.list_versions(agent)]), None


def preflight(
    target: Any,
    spec: DockSpec,
    snapshot: str,
    version: str,
    env: Mapping[str, str],
    instance: str,
) -> None:
    """Ask the target whether it could ever serve this version, before anything is built
    or started (an optional ``preflight`` method; see docs/plugins.md)."""
    if isinstance(target, Preflighting):
        target.preflight(
            spec, snapshot=snapshot, version=version, env=env, instance=instance or None
        )


def declared_target(spec: DockSpec) -> str | None:
    deploy_cfg = getattr(spec, "deploy", None)
    return deploy_cfg.target if deploy_cfg is not None else None


def resources_of(spec: DockSpec) -> dict[str, Any]:
    deploy_cfg = getattr(spec, "deploy", None)
    if deploy_cfg is None or deploy_cfg.resources is None:
        return {}
    return dict(deploy_cfg.resources.model_dump(exclude_none=True))


_PORT_PATH = ("expose", "port")

_PLACEHOLDER_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


#: Where a deployment on this machine is reachable when nobody asked for more (``--host``
#: or ``expose.host``): this machine only. The ``local`` target listens there and the
#: ``docker`` target publishes the container's port there, so what a deploy prints is
#: where it can be reached, and from where.
DEFAULT_HOST = "127.0.0.1"


def bind_host(spec: DockSpec, requested: str | None = None) -> str | None:
    """The address a runtime is asked to listen on: ``requested`` (``--host``), else
    ``expose.host`` when the Dockfile writes one, else None: the target's default,
    :data:`DEFAULT_HOST` for the ``local`` target and for the host side of a ``docker``
    container's published port (the container itself listens on its every interface:
    who reaches it is the publish address's business).

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
    document: Any, spec: DockSpec, env_files: Sequence[Any], host: str | None = None
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


@dataclasses.dataclass(frozen=True)
class Missing:
    """The variables one deployment needs and nobody sets: their sorted names, and one 4001
    finding per use (with the Dockfile's file and line when there is a Dockfile)."""

    names: tuple[str, ...]
    findings: tuple[Finding, ...]
    instance: str | None = None


#: What to do about a missing variable, wherever it is found.
MISSING_HINT = (
    "set them in the environment, the .env beside the Dockfile or an --env-file, or give "
    "each a default: ${NAME:-value}"
)


def missing_variables(
    document: Any, instance: str | None = None, *, located: bool = True
) -> Missing | None:
    """The placeholders of ``document`` (loaded with ``allow_unresolved``) that have neither
    a value nor a default, as 4001 ``EnvInterpolationError`` findings; None when none.

    They are what a runtime refuses to start without (``[FATAL] Missing required environment
    variables``), so a deploy, a rollback or a dry run asks this before it builds, records or
    starts anything. ``located=False`` drops file and line (a snapshot read from a
    temporary file has none worth showing).
    """
    if not document.unresolved:
        return None
    findings = []
    for finding in document.findings:
        unresolved = finding.code is Code.UnresolvedVariableWarning or (
            finding.code is Code.EnvInterpolationError
            and finding.message.startswith("unresolved variable ")
        )
        if not unresolved:
            continue
        name = finding.message.removeprefix("unresolved variable ")
        changes: dict[str, Any] = {
            "code": Code.EnvInterpolationError,
            "severity": Severity.ERROR,
            "hint": f"instance {instance}: add {name} to the instance's --env-file"
            if instance
            else f"export {name}, or add it to the .env beside the Dockfile or an --env-file",
        }
        if not located:
            changes.update(file=None, line=None)
        findings.append(dataclasses.replace(finding, **changes))
    return Missing(tuple(sorted(document.unresolved)), tuple(findings), instance or None)


def missing_variables_error(
    problems: Sequence[Missing], hint: str = MISSING_HINT
) -> MissingVariables:
    """One error (exit 1) naming every missing variable of every deployment in ``problems``."""
    prefix = ""
    if len(problems) == 1:
        named = ", ".join(problems[0].names)
        prefix = f"instance {problems[0].instance}: " if problems[0].instance else ""
    else:
        named = "; ".join(f"instance {p.instance}: {', '.join(p.names)}" for p in problems)
    return MissingVariables(
        f"{prefix}{int(Code.EnvInterpolationError)} {Code.EnvInterpolationError.name}: "
        f"missing required environment variables: {named} (nothing was built or started)",
        hint=hint,
        path=problems[0].findings[0].dotted_path if problems[0].findings else None,
        findings=[f for p in problems for f in p.findings],
    )


def require_variables(document: Any, instance: str | None = None) -> None:
    """Raise :class:`MissingVariables` when ``document`` needs a variable nobody sets."""
    problem = missing_variables(document, instance)
    if problem is not None:
        raise missing_variables_error([problem])


#: Stands in for a variable that has no value here, so a snapshot still makes a spec (the
#: runtime gets the real values, or names the missing ones at start-up).
_STAND_IN = "agentdock-unset-variable-stand-in-0000000000"


def spec_of_snapshot(
    record: VersionRecord, values: Mapping[str, str], plugins: Any = None
) -> tuple[Any, frozenset[str], Missing | None]:
    """The recorded snapshot as a spec (for its port, host and resources), the variables it
    uses, and those of them ``values`` lacks (see :func:`missing_variables`); ``plugins`` as
    for :func:`validate_for_deploy`."""
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
        missing = missing_variables(document, located=False)
        if document.unresolved:  # no value and no default here: a stand-in, for the spec
            environ.update(dict.fromkeys(document.unresolved, _STAND_IN))
            document = load_document(file, environ=environ, allow_unresolved=True)
        report = validate_document(
            document, skip_imports=True, plugins=plugins, with_installed=True
        )
    try:
        spec = report.spec if report.ok else None
    except DockfileError:
        spec = None
    if spec is None:
        raise InvalidDeployInput(f"the recorded snapshot of {record.version} no longer validates")
    return spec, variables, missing


def check_instance_port(store: Store, agent: str, instance: str, settings: Any) -> None:
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
