"""``deploy`` and ``rollback``: the Python API behind ``agentdock deploy`` and ``rollback``.

deploy: validate → snapshot (placeholders kept) → content hash → version (``metadata.version``,
``--version``, the version already holding this content, or the next patch) → lock → build
(content-addressed; a cache hit builds nothing) → record the version and its artifact →
start behind the health gate → activate. Nothing is recorded before the build succeeds, and
an interrupted deploy leaves at most a ``pending`` row that the next one closes.

rollback: a new deployment of an old version's recorded artifact and snapshot, gated the same
way. It never builds.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress, no_progress
from agentdock.deployment.errors import (
    DeployError,
    InvalidDeployInput,
    NotFound,
    VersionConflict,
)
from agentdock.deployment.release import (
    Deployment,
    deploy_lock,
    recover_interrupted,
    release,
)
from agentdock.deployment.runenv import read_env_file, runtime_env, value_sources
from agentdock.deployment.sources import collect_sources, content_hash
from agentdock.deployment.workspace import Workspace, actor
from agentdock.registry import ImmutableVersion, SQLStore, VersionRecord

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "deploy",
    "deploy_instances",
    "dry_run",
    "next_patch",
    "rollback",
]

DEFAULT_TARGET = "local"
#: Seconds a new runtime gets to answer /ready.
DEFAULT_TIMEOUT = 60.0
_INSTANCE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
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


def _check_instance(instance: str | None) -> str:
    if instance is None or instance == "":
        return ""
    if not _INSTANCE.match(instance):
        raise InvalidDeployInput(
            f"invalid instance name {instance!r}: expected a DNS label of at most 32 "
            "characters (a-z, 0-9, -)",
            path="--instance",
        )
    return instance


def _validated(path: Path, values: dict[str, str], skip_imports: bool) -> tuple[Any, Any]:
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


def _dockfile(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if file.is_dir():
        file = file / "Dockfile.yaml"
    if not file.is_file():
        raise NotFound(f"no Dockfile at {file}", path=str(file))
    return file


def _snapshot(raw: Any) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def _pick_version(
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


def _first_key(ws: Workspace, spec: Any, force: bool = False) -> tuple[str | None, str | None]:
    """Create the agent's first API key (api_key mode, none live yet), or a new one when
    ``force``: shown once, stored as a digest."""
    import time

    from agentdock.auth import generate_key

    if spec.auth.mode != "api_key":
        return None, None
    now = time.time()
    live = ws.store.list_api_keys(spec.agent.name)
    if not force and any(k.state(now) in {"active", "rotating"} for k in live):
        return None, None
    roles = [r for r in spec.auth.roles if "invoke" in r.permissions] or list(spec.auth.roles)
    role = roles[0].name if roles else "developer"
    generated = generate_key()
    record = ws.store.create_api_key(
        agent=spec.agent.name,
        role=role,
        key_id=generated.key_id,
        hashed_key=generated.digest,
        hash_algorithm=generated.algorithm,
        created_by=actor(),
    )
    ws.store.append_audit(
        "key.create",
        actor=actor(),
        agent=spec.agent.name,
        target=record.key_id,
        details={"role": role, "reason": "requested at deploy" if force else "first deploy"},
    )
    return generated.key, record.key_id


def deploy(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str | None = None,
    version: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    instance: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    build_options: dict[str, Any] | None = None,
    check_imports: bool = True,
    new_key: bool = False,
    progress: Progress = no_progress,
    store: SQLStore | None = None,
    plugins: Any = None,
) -> Deployment:
    """Deploy the agent of a Dockfile; returns the active :class:`Deployment`.

    An ``api_key`` agent gets a key on its first deploy (or on every deploy with
    ``new_key``); it is in ``Deployment.api_key`` and nowhere else.

    New content has its entrypoint imported once, in a probe process, before anything is
    built (``check_imports=False`` skips that; the health gate still catches it later).

    :raises DeployError: a subclass with ``exit_code`` (1 invalid, 3 build, 4 deploy or
        health gate, 5 not found), a one-line ``cause`` and a ``hint``.
    """
    instance_name = _check_instance(instance)
    file = _dockfile(path)
    project_dir = file.resolve().parent
    values = value_sources(project_dir, env_files)
    with Workspace.open(store, plugins) as ws:
        progress("validate", f"validating {file}")
        document, spec = _validated(file, values, skip_imports=True)
        snapshot = _snapshot(document.raw)
        sources = collect_sources(project_dir)
        digest = content_hash(snapshot, project_dir, sources)
        agent = spec.agent.name
        settings = _settings(document, spec, env_files)
        if instance_name:
            _check_instance_env(instance_name, document)
            _check_instance_port(ws.store, agent, instance_name, settings)
        target_name = target or _declared_target(spec) or DEFAULT_TARGET
        target_plugin = ws.target(target_name)
        builder_name = str(getattr(target_plugin, "builder", target_name))
        chosen, existing = _pick_version(ws.store, agent, version, spec.metadata.version, digest)
        if existing is None and check_imports:
            # New content: import the entrypoint once, in a probe process, before building.
            progress("validate", "importing the entrypoint")
            _validated(file, values, skip_imports=False)
        with deploy_lock(ws, agent, instance_name):
            recover_interrupted(ws, agent, instance_name, progress)
            active = ws.store.active_deployment(agent, instance_name)
            if (
                active is not None
                and existing is not None
                and active.version_id == existing.id
                and active.target == target_name
                and _healthy(ws, active)
            ):
                progress("noop", f"{agent} {chosen} is already active: nothing to do")
                key, key_id = _first_key(ws, spec, force=new_key) if new_key else (None, None)
                return Deployment(
                    agent,
                    chosen,
                    active.id,
                    target_name,
                    instance_name or None,
                    active.endpoint,
                    active.status,
                    noop=True,
                    api_key=key,
                    key_id=key_id,
                )
            request = BuildRequest(
                agent=agent,
                version=chosen,
                project_dir=project_dir,
                snapshot=snapshot,
                content_hash=digest,
                sources=sources,
                spec=spec,
                home=ws.home,
                options=dict(build_options or {}),
            )
            progress("build", f"building {agent} {chosen} with the {builder_name} builder")
            artifact = ws.builder(builder_name).build(request, progress)
            progress(
                "build",
                ("cache hit: " if artifact.cached else "built ") + artifact.ref,
                cached=artifact.cached,
            )
            try:
                record, created = ws.store.record_version(
                    agent=agent,
                    version=chosen,
                    snapshot=snapshot,
                    content_hash=digest,
                    created_by=actor(),
                )
            except ImmutableVersion as exc:  # recorded by a concurrent deploy meanwhile
                raise VersionConflict(str(exc), hint="bump metadata.version") from None
            replaced = ws.store.get_artifact(record.id, artifact.builder)
            stored = ws.store.record_artifact(
                version_id=record.id,
                builder=artifact.builder,
                ref=artifact.ref,
                digest=artifact.digest,
                details=artifact.details,
            )
            new, previous = release(
                ws,
                agent=agent,
                version_id=record.id,
                version=chosen,
                artifact=artifact,
                artifact_id=stored.id,
                target_name=target_name,
                instance=instance_name,
                port=spec.expose.port,
                host=spec.expose.host,
                env=runtime_env(spec, document.variables, values),
                resources=_resources(spec),
                snapshot=snapshot,
                timeout=timeout,
                reason="deploy",
                progress=progress,
                settings=settings,
            )
            if replaced is not None and replaced.ref != artifact.ref:
                # The same version rebuilt (a new AgentDock, a new base image): the old
                # artifact's runtime was just retired, so nothing runs it any more.
                _remove_quietly(ws, replaced)
            key, key_id = _first_key(ws, spec, force=new_key)
        return Deployment(
            agent,
            chosen,
            new.id,
            target_name,
            instance_name or None,
            new.endpoint,
            new.status,
            artifact=artifact,
            cached=artifact.cached,
            new_version=created,
            previous_version=previous.version if previous else None,
            api_key=key,
            key_id=key_id,
        )


def dry_run(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str,
    plugins: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """What ``target`` would apply for a Dockfile (Kubernetes manifests), without building,
    recording or contacting anything. ``options`` go to the target's ``dry_run``
    (``fmt``, ``out_dir``, ``image``, ``version``, ``namespace``, ``instance``,
    ``env_files``)."""
    from agentdock.plugins import get_plugin_manager

    file = _dockfile(path)
    manager = plugins or get_plugin_manager()
    registration = manager.get("targets", target)
    if registration is None:
        known = ", ".join(sorted(manager.registrations("targets"))) or "none"
        raise InvalidDeployInput(f"no target named {target!r} (known: {known})")
    plugin = registration.factory()
    if not callable(getattr(plugin, "dry_run", None)):
        raise InvalidDeployInput(
            f"the {target} target has no dry run", hint="--dry-run works with --target kubernetes"
        )
    result: dict[str, Any] = plugin.dry_run(file, **options)
    return result


_PORT_PATH = ("expose", "port")


_PLACEHOLDER_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _settings(document: Any, spec: Any, env_files: Sequence[Any]) -> dict[str, Any]:
    """How a deployment is started, for the registry: env files' paths and the port it
    asks for (never a value from the environment). ``port_from_env`` says the port came
    from a variable an env file sets: an instance's own port."""
    raw_port = str((document.raw or {}).get("expose", {}).get("port", ""))
    own: set[str] = set()
    for file in env_files:
        own.update(read_env_file(file))
    return {
        "project_dir": str(Path(document.project_dir).resolve()),
        "env_files": [str(Path(f).resolve()) for f in env_files],
        "port": spec.expose.port,
        "port_from_env": _PORT_PATH in document.interpolated
        and any(name in own for name in _PLACEHOLDER_NAME.findall(raw_port)),
    }


def _missing_line(names: Sequence[str]) -> str:
    return f"[FATAL] Missing required environment variables: {', '.join(sorted(names))}"


def _check_instance_env(instance: str, document: Any) -> None:
    """A per-tenant instance must have every required variable before anything starts."""
    if document.unresolved:
        raise InvalidDeployInput(
            f"instance {instance}: {_missing_line(list(document.unresolved))}",
            hint="add them to the instance's --env-file (or the environment)",
            path="--env-file",
        )


def _check_instance_port(store: SQLStore, agent: str, instance: str, settings: Any) -> None:
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


def deploy_instances(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = no_progress,
    store: SQLStore | None = None,
    plugins: Any = None,
    **options: Any,
) -> list[Deployment]:
    """Roll a Dockfile out to every named instance of its agent, one at a time.

    Each instance keeps the env files and target of its last deployment. Every instance's
    required variables are checked before anything starts; the rollout stops at the first
    instance whose deploy fails (the ones before it stay on the new version, the rest on
    their old one) and raises that error, naming which instances were done.
    """
    from agentdock.spec.loader import load_document

    file = _dockfile(path)
    project_dir = file.resolve().parent
    with Workspace.open(store, plugins) as ws:
        _, spec = _validated(file, value_sources(project_dir), skip_imports=True)
        agent = spec.agent.name
        names = ws.store.list_instances(agent)
        if not names:
            raise NotFound(
                f"{agent} has no named instances",
                hint="deploy one first: agentdock deploy FILE --instance NAME --env-file F",
            )
        plans: list[tuple[str, list[str], str | None]] = []
        missing: list[str] = []
        for name in names:
            last = ws.store.list_deployments(agent, instance=name)[-1]
            env_files = list(last.settings.get("env_files") or [])
            values = value_sources(project_dir, env_files)
            document = load_document(file, env=values, allow_unresolved=True)
            if document.unresolved:
                missing.append(f"instance {name}: {_missing_line(list(document.unresolved))}")
            plans.append((name, env_files, target or last.target))
        if missing:
            raise InvalidDeployInput("; ".join(missing), hint="fix the instances' env files")
    done: list[Deployment] = []
    for name, env_files, target_name in plans:
        progress("instance", f"instance {name} ({len(done) + 1} of {len(plans)})")
        try:
            done.append(
                deploy(
                    file,
                    target=target_name,
                    instance=name,
                    env_files=env_files,
                    timeout=timeout,
                    progress=progress,
                    store=store,
                    plugins=plugins,
                    **options,
                )
            )
        except DeployError as exc:
            finished = ", ".join(d.instance or "" for d in done) or "none"
            exc.cause = f"instance {name}: {exc.cause} (rolled out before it: {finished})"
            exc.args = (exc.cause,)
            raise
    return done


def _remove_quietly(ws: Workspace, stored: Any) -> None:
    # Still in use or already gone: cleanup can try again.
    with contextlib.suppress(DeployError):
        ws.builder(stored.builder).remove(Artifact.from_json(stored.public()))


def _declared_target(spec: Any) -> str | None:
    deploy_cfg = getattr(spec, "deploy", None)
    return deploy_cfg.target if deploy_cfg is not None else None


def _resources(spec: Any) -> dict[str, Any]:
    deploy_cfg = getattr(spec, "deploy", None)
    if deploy_cfg is None or deploy_cfg.resources is None:
        return {}
    return dict(deploy_cfg.resources.model_dump(exclude_none=True))


def _healthy(ws: Workspace, record: Any) -> bool:
    try:
        state = ws.target(record.target).status(record.handle)
    except DeployError:
        return False
    return state.get("state") == "running" and state.get("healthy") is not False


def rollback(
    agent: str,
    version: str | None = None,
    *,
    instance: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = no_progress,
    store: SQLStore | None = None,
    plugins: Any = None,
) -> Deployment:
    """Deploy an earlier version again (default: the one active before the current one).

    Uses the version's recorded artifact and snapshot; never builds. ``NotFound`` (exit 5)
    when the agent, the version or its artifact is not there.
    """
    instance_name = _check_instance(instance)
    with Workspace.open(store, plugins) as ws:
        ws.require_agent(agent)
        with deploy_lock(ws, agent, instance_name):
            recover_interrupted(ws, agent, instance_name, progress)
            history = ws.store.list_deployments(agent, instance=instance_name)
            active = ws.store.active_deployment(agent, instance_name)
            chosen = version or _previous_version(history, active)
            if chosen is None:
                raise NotFound(
                    f"{agent} has no earlier version to roll back to",
                    hint=f"agentdock versions {agent}",
                )
            record = ws.store.get_version(agent, chosen)
            if record is None:
                raise NotFound(
                    f"{agent} has no version {chosen}", hint=f"agentdock versions {agent}"
                )
            last = next((d for d in reversed(history) if d.version_id == record.id), None)
            basis = active or last
            target_name = basis.target if basis is not None else DEFAULT_TARGET
            builder_name = str(getattr(ws.target(target_name), "builder", target_name))
            stored = ws.store.get_artifact(record.id, builder_name)
            artifact = Artifact.from_json(stored.public()) if stored else None
            if stored is None or artifact is None or not ws.builder(builder_name).exists(artifact):
                raise NotFound(
                    f"the {builder_name} artifact of {agent} {chosen} is gone",
                    hint=f"deploy that version's Dockfile again, or agentdock versions {agent}",
                )
            recorded = (last or history[-1]).settings if history else {}
            if not env_files:
                env_files = list(recorded.get("env_files") or [])
            # The .env beside the Dockfile the version was deployed from, wherever we are.
            project = Path(str(recorded.get("project_dir") or Path.cwd()))
            values = value_sources(project if project.is_dir() else Path.cwd(), env_files)
            spec, variables = _snapshot_spec(record, values)
            progress("rollback", f"rolling {agent} back to {chosen} ({artifact.ref})")
            new, previous = release(
                ws,
                agent=agent,
                version_id=record.id,
                version=chosen,
                artifact=artifact,
                artifact_id=stored.id,
                target_name=target_name,
                instance=instance_name,
                port=spec.expose.port,
                host=spec.expose.host,
                env=runtime_env(spec, variables, values),
                resources=_resources(spec),
                snapshot=record.snapshot,
                timeout=timeout,
                reason="rollback",
                progress=progress,
                settings={
                    **(last.settings if last else {}),
                    "env_files": list(map(str, env_files)),
                },
            )
        return Deployment(
            agent,
            chosen,
            new.id,
            target_name,
            instance_name or None,
            new.endpoint,
            new.status,
            artifact=artifact,
            cached=True,
            previous_version=previous.version if previous else None,
            reason="rollback",
        )


def _previous_version(history: Sequence[Any], active: Any) -> str | None:
    current = active.version_id if active is not None else None
    for record in reversed(history):
        if record.status in {"superseded", "stopped"} and record.version_id != current:
            return str(record.version)
    return None


#: Stands in for a variable that has no value here, so a snapshot still makes a spec (the
#: runtime gets the real values, or names the missing ones at start-up).
_STAND_IN = "agentdock-unset-variable-stand-in-0000000000"


def _snapshot_spec(record: VersionRecord, values: Mapping[str, str]) -> tuple[Any, frozenset[str]]:
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
