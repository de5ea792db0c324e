"""Starting a version's artifact behind the health gate, and switching traffic to it.

Shared by deploy and rollback: a ``pending`` deployment row is written before the runtime
starts, its handle as soon as the target returns one, and the row becomes ``active`` (the
previous one ``superseded``, in the same transaction) only after ``/ready`` answered and a
target that keeps one address per agent (``promote``) has the new runtime serving it. The
previous runtime is stopped after the switch, so it keeps serving until then. A failed gate
or promotion stops the new runtime and marks its row ``failed``; the previous one is not
touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentdock.capabilities import InPlaceTarget, Promoting, Retiring
from agentdock.deployment.artifacts import REASON_LABEL, Artifact, Progress, StartRequest
from agentdock.deployment.errors import DeployError, DeployFailed, DeployInProgress
from agentdock.deployment.inputs import resources_of
from agentdock.deployment.workspace import Workspace, actor
from agentdock.registry import DeploymentRecord, LockHeld

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "Deployment",
    "ReleasePlan",
    "deploy_lock",
    "recover_interrupted",
    "release",
    "serves_healthy",
]

#: Seconds a stopped runtime gets to drain before it is killed.
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Deployment:
    """The outcome of ``deploy`` or ``rollback``.

    ``noop`` is True when the same content was already active on the same target (nothing
    was built or started). ``api_key`` is set only when this deploy created the agent's
    first API key: it is shown once and never stored. ``host`` is the address the runtime
    listens on, as its target reports it (``local``: 127.0.0.1 unless asked for more);
    None when the target does not say. ``runtime_start`` is how the runtime started where
    the target says (``local``: ``forked`` from a superseded version's standby, else
    ``cold``); None elsewhere.
    """

    agent: str
    version: str
    deployment_id: int
    target: str
    instance: str | None
    endpoint: str | None
    status: str
    artifact: Artifact | None = None
    cached: bool = False
    noop: bool = False
    new_version: bool = False
    previous_version: str | None = None
    reason: str = "deploy"
    api_key: str | None = field(default=None, repr=False)
    key_id: str | None = None
    host: str | None = None
    runtime_start: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "agent": self.agent,
            "version": self.version,
            "deployment_id": self.deployment_id,
            "target": self.target,
            "instance": self.instance,
            "endpoint": self.endpoint,
            "host": self.host,
            "status": self.status,
            "cached": self.cached,
            "noop": self.noop,
            "new_version": self.new_version,
            "previous_version": self.previous_version,
            "reason": self.reason,
            "runtime_start": self.runtime_start,
            "artifact": self.artifact.to_json() if self.artifact else None,
        }
        if self.key_id is not None:
            out["key_id"] = self.key_id
        return out


@contextlib.contextmanager
def deploy_lock(ws: Workspace, agent: str, instance: str) -> Any:
    """Hold the registry's deploy lock of one agent and instance, or fail clearly."""
    pid, host = ws.lock_owner()
    try:
        ws.store.acquire_lock(
            agent, instance, holder=actor(), pid=pid, host=host, is_stale=ws.is_stale
        )
    except LockHeld as exc:
        label = f"{agent}" + (f" (instance {instance})" if instance else "")
        raise DeployInProgress(
            f"another deploy of {label} is in progress: {exc}",
            hint="wait for it to finish, then run the command again",
        ) from None
    try:
        yield
    finally:
        ws.store.release_lock(agent, instance, pid=pid, host=host)


def _stop_quietly(ws: Workspace, record: DeploymentRecord, *, retire: bool = False) -> str:
    """Stop (or retire) ``record``'s runtime, never raising: what became of it, in a few
    words (``stopped``, or what a :class:`Retiring` target kept)."""
    # A start interrupted before the target returned has no handle yet: targets find what
    # they started from the deployment's state directory or its id.
    handle = record.handle or {
        "state_dir": str(ws.home / "run" / str(record.id)),
        "deployment_id": record.id,
        "agent": record.agent,
        "instance": record.instance or None,
    }
    try:
        target = ws.target(record.target)
        if retire and record.handle and isinstance(target, Retiring):
            # superseded: it may stand by for a rollback
            return target.retire(handle, STOP_TIMEOUT) or "stopped"
        target.stop(handle, STOP_TIMEOUT)
    except Exception as exc:  # its runtime may be gone already: the new one serves anyway
        return f"could not be stopped cleanly ({type(exc).__name__})"
    return "stopped"


#: How many of the latest replaced deployments recovery checks for a runtime still running.
_RETIRE_CHECK = 3


def recover_interrupted(ws: Workspace, agent: str, instance: str, progress: Progress) -> None:
    """Clean up after a deploy that died (we hold the lock now): deployments left
    ``pending`` are stopped and marked failed, and a replaced runtime that was never
    retired (the deploy died between activation and the stop) is stopped."""
    for record in ws.store.list_deployments(agent, instance=instance, statuses=["pending"]):
        progress("recover", f"deployment {record.id} was interrupted; cleaning it up")
        _stop_quietly(ws, record)
        ws.store.finish_deployment(record.id, "failed", detail="interrupted before activation")
    replaced = ws.store.list_deployments(agent, instance=instance, statuses=["superseded"])
    for record in replaced[-_RETIRE_CHECK:]:
        if record.handle and _still_running(ws, record):
            progress("recover", f"deployment {record.id} was replaced but still runs; stopping it")
            _stop_quietly(ws, record)


def _restore_active(ws: Workspace, target: Any, request: StartRequest, progress: Progress) -> None:
    """A target that updates one set of objects in place (Kubernetes) was left holding the
    failed version's manifests: apply the active version's again (it never stopped
    serving, and stays the registry's active deployment)."""
    active = ws.store.active_deployment(request.agent, request.instance or "")
    if active is None:
        return
    stored = ws.store.get_artifact(active.version_id, str(getattr(target, "builder", "")))
    version = ws.store.get_version_by_id(active.version_id)
    if stored is None or version is None:
        return
    progress("restore", f"applying {active.version}'s manifests again")
    previous = dataclasses.replace(
        request,
        version=active.version,
        deployment_id=active.id,
        snapshot=version.snapshot,
        state_dir=ws.home / "run" / str(active.id),
    )
    with contextlib.suppress(Exception):
        target.start(Artifact.from_json(stored.public()), previous, progress)


def serves_healthy(ws: Workspace, record: DeploymentRecord) -> bool:
    """Whether ``record``'s runtime runs and its target finds it healthy (what lets a deploy
    or rollback of the version already serving change nothing)."""
    try:
        state = ws.target(record.target).status(record.handle)
    except DeployError:
        return False
    return state.get("state") == "running" and state.get("healthy") is not False


def _still_running(ws: Workspace, record: DeploymentRecord) -> bool:
    try:
        state = ws.target(record.target).status(record.handle)
    except Exception:  # a target that cannot tell: leave it alone
        return False
    # "down": nothing serves, but a container or a Deployment may still be there to remove.
    return state.get("state") in {"running", "degraded", "starting", "down"}


@dataclass(frozen=True)
class ReleasePlan:
    """What deploy and rollback hand to :func:`release`: a recorded version's artifact, its
    resolved spec and runtime environment, and where and why it is started.

    ``host`` is the address asked for (:func:`~agentdock.deployment.inputs.bind_host`);
    None leaves it to the target (the ``local`` target's is 127.0.0.1). ``settings`` are
    recorded with the deployment row (a later rollback reads them back)."""

    agent: str
    version_id: int
    version: str
    artifact: Artifact
    artifact_id: int | None
    target_name: str
    instance: str
    spec: DockSpec
    env: Mapping[str, str]
    snapshot: str
    reason: str
    settings: Mapping[str, Any] | None = None
    host: str | None = None


def release(ws: Workspace, plan: ReleasePlan, *, timeout: float, progress: Progress) -> Deployment:
    """Start, gate, activate, then retire the previous deployment.

    Returns the outcome with the new deployment's id, endpoint, status and host and the
    version it replaced; the caller adds what only it knows (a new key, a new version)."""
    new, previous = _start_and_switch(ws, plan, timeout=timeout, progress=progress)
    return Deployment(
        plan.agent,
        plan.version,
        new.id,
        plan.target_name,
        plan.instance or None,
        new.endpoint,
        new.status,
        artifact=plan.artifact,
        cached=plan.artifact.cached,
        previous_version=previous.version if previous else None,
        reason=plan.reason,
        host=new.handle.get("host"),
        runtime_start=new.handle.get("runtime_start"),
    )


def _start_and_switch(
    ws: Workspace, plan: ReleasePlan, *, timeout: float, progress: Progress
) -> tuple[DeploymentRecord, DeploymentRecord | None]:
    """(new, previous): the new deployment's row once active, and the one it superseded."""
    agent, version, target_name = plan.agent, plan.version, plan.target_name
    instance, spec, artifact = plan.instance, plan.spec, plan.artifact
    target = ws.target(target_name)
    record = ws.store.create_deployment(
        version_id=plan.version_id,
        artifact_id=plan.artifact_id,
        target=target_name,
        instance=instance,
        reason=plan.reason,
        deployed_by=actor(),
        settings=plan.settings,
    )
    state_dir = ws.home / "run" / str(record.id)
    request = StartRequest(
        agent=agent,
        version=version,
        deployment_id=record.id,
        port=spec.expose.port,
        host=plan.host,
        env={
            **plan.env,
            "AGENTDOCK_VERSION": version,
            **({"AGENTDOCK_INSTANCE": instance} if instance else {}),
        },
        state_dir=state_dir,
        home=ws.home,
        instance=instance or None,
        resources=resources_of(spec),
        labels={REASON_LABEL: plan.reason},
        snapshot=plan.snapshot,
    )
    handle: Mapping[str, Any] = {}
    try:
        progress("start", f"starting {agent} {version} on the {target_name} target")
        handle = target.start(artifact, request, progress)
        ws.store.set_deployment_handle(record.id, handle, handle.get("endpoint"))
        # The target reports what it waits for (a "health" step): said once, in its words.
        target.wait_ready(handle, timeout, progress)
        if isinstance(target, Promoting):  # the new runtime takes the agent's address over
            target.promote(handle, progress)
    except BaseException as exc:
        if handle:
            with contextlib.suppress(Exception):
                target.stop(handle, 5.0)
        cause = exc.cause if isinstance(exc, DeployError) else f"{type(exc).__name__}: {exc}"
        ws.store.finish_deployment(record.id, "failed", detail=cause[:500])
        if isinstance(target, InPlaceTarget) and target.replaces_in_place:
            _restore_active(ws, target, request, progress)
        if isinstance(exc, DeployError) or not isinstance(exc, Exception):
            raise
        raise DeployFailed(f"the {target_name} target failed: {cause}") from None
    previous = ws.store.activate_deployment(record.id, actor=actor())
    progress("activate", f"{agent} {version} is active at {handle.get('endpoint')}")
    if previous is not None:
        outcome = _stop_quietly(ws, previous, retire=True)
        progress("retire", f"the previous deployment ({previous.version}) {outcome}")
    active = ws.store.get_deployment(record.id)
    assert active is not None
    return active, previous
