"""``deploy`` and ``dry_run``: the Python API behind ``agentdock deploy`` and its
``--dry-run``.

deploy: validate → snapshot (placeholders kept) → content hash → version (``metadata.version``,
``--version``, the version already holding this content, or the next patch) → lock → build
(content-addressed; a cache hit builds nothing) → record the version and its artifact →
start behind the health gate → activate. Nothing is recorded before the build succeeds, and
an interrupted deploy leaves at most a ``pending`` row that the next one closes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentdock.capabilities import KeyViewWriting, TargetDryRun
from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress, no_progress
from agentdock.deployment.errors import (
    DeployError,
    InvalidDeployInput,
    VersionConflict,
)
from agentdock.deployment.inputs import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    bind_host,
    check_instance,
    check_instance_port,
    declared_target,
    find_dockfile,
    pick_version,
    preflight,
    snapshot_of,
    start_settings,
    validate_for_deploy,
)
from agentdock.deployment.release import (
    Deployment,
    ReleasePlan,
    deploy_lock,
    recover_interrupted,
    release,
    serves_healthy,
)
from agentdock.deployment.runenv import host_runtime_env, runtime_env, value_sources
from agentdock.deployment.sources import collect_sources, content_hash
from agentdock.deployment.workspace import Workspace, actor
from agentdock.registry import ImmutableVersion
from agentdock.storecontract import Store

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["DeployPlan", "build_and_record", "deploy", "dry_run", "plan_deploy"]


def _first_key(
    ws: Workspace, spec: DockSpec, instance: str, force: bool = False
) -> tuple[str | None, str | None]:
    """Create the agent's first API key (api_key mode, none live yet), or a new one when
    ``force``: shown once, stored as a digest."""
    from agentdock.auth import generate_key

    if spec.auth.mode != "api_key":
        return None, None
    now = time.time()
    live = [k for k in ws.store.list_api_keys(spec.agent.name) if k.instance == instance]
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
        instance=instance,
    )
    ws.store.append_audit(
        "key.create",
        actor=actor(),
        agent=spec.agent.name,
        target=record.key_id,
        details={"role": role, "reason": "requested at deploy" if force else "first deploy"},
    )
    return generated.key, record.key_id


def _checks_keys(spec: DockSpec) -> bool:
    keys = spec.auth.api_keys
    return bool(spec.auth.mode == "api_key" or (keys is not None and keys.enabled))


def _key_access(
    ws: Workspace,
    spec: DockSpec,
    instance: str,
    env: dict[str, str],
    target: str,
    progress: Progress,
) -> None:
    """Before an agent that checks API keys starts: its key view is written (the embedded
    registry: the runtime reads that file, never the registry), and what would make its
    keys fail or its access too wide is said: keys made with a pepper its environment
    lacks, or the registry owner's database URL handed to it."""
    from agentdock.auth import HMAC_SHA256, PEPPER_ENV, pepper_id
    from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV

    if not _checks_keys(spec):
        return
    if target == "local":  # it also gets the deploying shell's AGENTDOCK_* settings
        env = host_runtime_env(env)
    agent = spec.agent.name
    if isinstance(ws.store, KeyViewWriting):
        ws.store.write_key_views(agent, instance)
    pepper = env.get(PEPPER_ENV) or None
    mine = pepper_id(pepper) if pepper else None
    now = time.time()
    others = sorted(
        {
            k.pepper_id
            for k in ws.store.list_api_keys(agent)
            if k.instance == instance
            and k.hash_algorithm == HMAC_SHA256
            and k.pepper_id not in (None, mine)
            and k.state(now) in {"active", "rotating"}
        }
    )
    if others:
        progress(
            "warning",
            f"live keys of {agent} were made with pepper {', '.join(others)} but the runtime "
            f"gets {'pepper ' + mine if mine else 'no pepper'} ({PEPPER_ENV}): it will "
            "refuse them",
        )
    if env.get(DATABASE_URL_ENV) and not env.get(RUNTIME_DATABASE_URL_ENV):
        progress(
            "warning",
            f"the runtime gets {DATABASE_URL_ENV}, the registry owner's credentials: code "
            "in the agent could write keys and the audit log. Give it a role that reads "
            f"only its keys (agentdock postgres runtime-role {agent}) in "
            f"{RUNTIME_DATABASE_URL_ENV}",
        )


def deploy(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str | None = None,
    version: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    instance: str | None = None,
    host: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    build_options: dict[str, Any] | None = None,
    check_imports: bool = True,
    new_key: bool = False,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> Deployment:
    """Deploy the agent of a Dockfile; returns the active :class:`Deployment`.

    An ``api_key`` agent gets a key on its first deploy (or on every deploy with
    ``new_key``); it is in ``Deployment.api_key`` and nowhere else.

    ``host`` is the address the runtime listens on (``--host``); without it, the
    Dockfile's ``expose.host`` when written there, else the target's default (``local``:
    127.0.0.1, this machine only). ``Deployment.host`` says which.

    New content has its entrypoint imported once, in a probe process, before anything is
    built (``check_imports=False`` skips that; the health gate still catches it later).

    :raises DeployError: a subclass with ``exit_code`` (1 invalid, 3 build, 4 deploy or
        health gate, 5 not found), a one-line ``cause`` and a ``hint``.
    """
    instance_name = check_instance(instance)
    file = find_dockfile(path)
    values = value_sources(file.resolve().parent, env_files)
    progress("validate", f"validating {file}")
    # A variable without a value is refused here, before anything is built or recorded (or
    # a registry opened).
    document, spec = validate_for_deploy(
        file, values, skip_imports=True, instance=instance_name, plugins=plugins
    )
    with Workspace.open(store, plugins, create=True) as ws:
        if ws.created:
            progress("registry", ws.created, path=ws.registry)
        plan = plan_deploy(
            ws, file, document, spec, values, env_files, instance_name, target, version, host
        )
        if plan.existing is None and check_imports:
            # New content: import the entrypoint once, in a probe process, before building.
            progress("validate", "importing the entrypoint")
            validate_for_deploy(file, values, skip_imports=False, plugins=plugins)
        with deploy_lock(ws, plan.agent, instance_name):
            recover_interrupted(ws, plan.agent, instance_name, progress)
            unchanged = _already_active(ws, plan, host, new_key, progress)
            if unchanged is not None:
                return unchanged
            artifact, record, created, replaced, stored = build_and_record(
                ws, plan, build_options, progress
            )
            _key_access(ws, spec, instance_name, plan.env, plan.target_name, progress)
            outcome = release(
                ws,
                plan.release_plan(record.id, artifact, stored.id),
                timeout=timeout,
                progress=progress,
            )
            if replaced is not None and replaced.ref != artifact.ref:
                # The same version rebuilt (a new AgentDock, a new base image): the old
                # artifact's runtime was just retired, so nothing runs it any more.
                _remove_quietly(ws, replaced)
            key, key_id = _first_key(ws, spec, instance_name, force=new_key)
        return dataclasses.replace(outcome, new_version=created, api_key=key, key_id=key_id)


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy settled before taking the agent's lock: the content, its version and
    where it goes."""

    agent: str
    instance: str
    project_dir: Path
    snapshot: str
    sources: Any
    digest: str
    #: The address asked for, and the settings recorded with the deployment.
    bind: str | None
    settings: dict[str, Any]
    target_name: str
    builder_name: str
    version: str
    #: The version already holding this content, if any.
    existing: Any
    env: dict[str, str]
    spec: DockSpec

    def release_plan(self, version_id: int, artifact: Artifact, artifact_id: int) -> ReleasePlan:
        """What :func:`~agentdock.deployment.release.release` starts and activates, once the
        artifact of this version is built and recorded."""
        return ReleasePlan(
            agent=self.agent,
            version_id=version_id,
            version=self.version,
            artifact=artifact,
            artifact_id=artifact_id,
            target_name=self.target_name,
            instance=self.instance,
            spec=self.spec,
            env=self.env,
            snapshot=self.snapshot,
            reason="deploy",
            settings=self.settings,
            host=self.bind,
        )


def plan_deploy(
    ws: Workspace,
    file: Path,
    document: Any,
    spec: DockSpec,
    values: Any,
    env_files: Sequence[str | os.PathLike[str]],
    instance_name: str,
    target: str | None,
    version: str | None,
    host: str | None,
) -> DeployPlan:
    """Snapshot, hash and version the content, pick the target and check it will take it."""
    project_dir = file.resolve().parent
    snapshot = snapshot_of(document.raw)
    sources = collect_sources(project_dir)
    digest = content_hash(snapshot, project_dir, sources)
    agent = spec.agent.name
    bind = bind_host(spec, host)
    settings = start_settings(document, spec, env_files, host)
    if instance_name:
        check_instance_port(ws.store, agent, instance_name, settings)
    target_name = target or declared_target(spec) or DEFAULT_TARGET
    target_plugin = ws.target(target_name)
    builder_name = str(getattr(target_plugin, "builder", target_name))
    chosen, existing = pick_version(ws.store, agent, version, spec.metadata.version, digest)
    env = runtime_env(spec, document.variables, values)
    preflight(target_plugin, spec, snapshot, chosen, env, instance_name)
    return DeployPlan(
        agent=agent,
        instance=instance_name,
        project_dir=project_dir,
        snapshot=snapshot,
        sources=sources,
        digest=digest,
        bind=bind,
        settings=settings,
        target_name=target_name,
        builder_name=builder_name,
        version=chosen,
        existing=existing,
        env=env,
        spec=spec,
    )


def _already_active(
    ws: Workspace, plan: DeployPlan, host: str | None, new_key: bool, progress: Progress
) -> Deployment | None:
    """The outcome when this content already serves, healthy, on the same target and
    address (nothing is built or started; a key is made only when asked for), else None."""
    active = ws.store.active_deployment(plan.agent, plan.instance)
    if (
        active is None
        or plan.existing is None
        or active.version_id != plan.existing.id
        or active.target != plan.target_name
        or active.settings.get("host") != host
        or not serves_healthy(ws, active)
    ):
        return None
    progress("noop", f"{plan.agent} {plan.version} is already active: nothing to do")
    key, key_id = (
        _first_key(ws, plan.spec, plan.instance, force=new_key) if new_key else (None, None)
    )
    return Deployment(
        plan.agent,
        plan.version,
        active.id,
        plan.target_name,
        plan.instance or None,
        active.endpoint,
        active.status,
        noop=True,
        api_key=key,
        key_id=key_id,
        host=active.handle.get("host"),
    )


def build_and_record(
    ws: Workspace, plan: DeployPlan, build_options: dict[str, Any] | None, progress: Progress
) -> tuple[Artifact, Any, bool, Any, Any]:
    """Build (a cache hit builds nothing), then record the version and its artifact.

    Returns (artifact, version row, whether the version is new, the artifact row this
    build replaced, the artifact row recorded)."""
    request = BuildRequest(
        agent=plan.agent,
        version=plan.version,
        project_dir=plan.project_dir,
        snapshot=plan.snapshot,
        content_hash=plan.digest,
        sources=plan.sources,
        spec=plan.spec,
        home=ws.home,
        options=dict(build_options or {}),
    )
    progress("build", f"building {plan.agent} {plan.version} with the {plan.builder_name} builder")
    artifact = ws.builder(plan.builder_name).build(request, progress)
    progress(
        "build",
        ("cache hit: " if artifact.cached else "built ") + artifact.ref,
        cached=artifact.cached,
    )
    try:
        record, created = ws.store.record_version(
            agent=plan.agent,
            version=plan.version,
            snapshot=plan.snapshot,
            content_hash=plan.digest,
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
    return artifact, record, created, replaced, stored


def dry_run(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str,
    version: str | None = None,
    image: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    instance: str | None = None,
    store: Store | None = None,
    plugins: Any = None,
    **options: Any,
) -> dict[str, Any]:
    """What ``target`` would apply for a Dockfile (Kubernetes manifests), without building,
    recording or contacting anything.

    The checks of a deploy come first (the Dockfile validates, every required variable has
    a value). The version is the one a deploy of this content would record (the same rule,
    read from the registry when there is one; none is created), and the image the one the
    target's builder recorded for that version, else ``image`` (``--image``), else the name
    a build would give it without its digest (``image_built`` is False, a note says so).
    ``options`` go to the target's ``dry_run`` (``fmt``, ``out_dir``, ``namespace``).
    """
    from agentdock.plugins import get_plugin_manager

    instance_name = check_instance(instance)
    file = find_dockfile(path)
    manager = plugins or get_plugin_manager()
    registration = manager.get("targets", target)
    if registration is None:
        known = ", ".join(sorted(manager.registrations("targets"))) or "none"
        raise InvalidDeployInput(f"no target named {target!r} (known: {known})")
    plugin = registration.factory()
    if not isinstance(plugin, TargetDryRun):
        raise InvalidDeployInput(
            f"the {target} target has no dry run", hint="--dry-run works with --target kubernetes"
        )
    project_dir = file.resolve().parent
    values = value_sources(project_dir, env_files)
    document, spec = validate_for_deploy(
        file, values, skip_imports=True, instance=instance_name, plugins=manager
    )
    digest = content_hash(snapshot_of(document.raw), project_dir, collect_sources(project_dir))
    builder = str(getattr(plugin, "builder", target))
    with _registry_if_any(store) as registry:
        chosen, existing = pick_version(
            registry, spec.agent.name, version, spec.metadata.version, digest
        )
        stored = registry.get_artifact(existing.id, builder) if registry and existing else None
    notes: list[str] = []
    if image is None and stored is not None:
        image = stored.ref
    elif image is None:
        notes.append(
            f"{spec.agent.name} {chosen} has no {builder} image yet: the manifests name it "
            f"without the digest a build adds (agentdock deploy --target {target} builds and "
            "applies it; --image names an image pushed elsewhere)"
        )
    result: dict[str, Any] = plugin.dry_run(
        file,
        version=chosen,
        image=image,
        env_files=env_files,
        instance=instance_name or None,
        **options,
    )
    result["version"] = chosen
    result["image_built"] = stored is not None and image == stored.ref
    result["notes"] = [*notes, *(result.get("notes") or [])]
    return result


@contextlib.contextmanager
def _registry_if_any(store: Store | None) -> Iterator[Store | None]:
    """The registry when there is one (a dry run never creates it), else None."""
    from agentdock.registry import (
        DATABASE_URL_ENV,
        RegistryError,
        default_registry_path,
        open_store,
    )

    if store is not None:
        yield store
        return
    if not os.environ.get(DATABASE_URL_ENV) and not default_registry_path().is_file():
        yield None
        return
    try:
        opened = open_store()
    except RegistryError as exc:
        raise InvalidDeployInput(str(exc)) from None
    try:
        yield opened
    finally:
        opened.close()


def _remove_quietly(ws: Workspace, stored: Any) -> None:
    # Still in use or already gone: cleanup can try again.
    with contextlib.suppress(DeployError):
        ws.builder(stored.builder).remove(Artifact.from_json(stored.public()))
