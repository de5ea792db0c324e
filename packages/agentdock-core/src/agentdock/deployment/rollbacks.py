"""``rollback``: a new deployment of an earlier version's recorded artifact and snapshot,
health-gated like a deploy. It never builds."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentdock.deployment.artifacts import Artifact, Progress, no_progress
from agentdock.deployment.inputs import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    bind_host,
    check_instance,
    missing_variables_error,
    preflight,
    spec_of_snapshot,
)
from agentdock.deployment.release import (
    Deployment,
    ReleasePlan,
    deploy_lock,
    recover_interrupted,
    release,
    serves_healthy,
)
from agentdock.deployment.runenv import runtime_env, value_sources
from agentdock.deployment.workspace import Workspace
from agentdock.storecontract import Store

__all__ = ["rollback"]


def rollback(
    agent: str,
    version: str | None = None,
    *,
    instance: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> Deployment:
    """Deploy an earlier version again (default: the one active before the current one;
    after a ``stop``, the one active before the stopped one).

    A ``version`` that already serves, healthy, is left as it is: the outcome is its
    deployment with ``noop`` true (as a deploy of the same content); one whose runtime is
    down is started again.

    Uses the version's recorded artifact and snapshot; never builds. The runtime listens
    where the serving deployment does (its ``--host``, else ``expose.host`` when written,
    else the target's default). ``NotFound`` (exit 5) when the agent, the version or its
    artifact is not there.
    """
    instance_name = check_instance(instance)
    with Workspace.open(store, plugins, agent=agent) as ws:
        ws.require_agent(agent)
        with deploy_lock(ws, agent, instance_name):
            recover_interrupted(ws, agent, instance_name, progress)
            history = ws.store.list_deployments(agent, instance=instance_name)
            active = ws.store.active_deployment(agent, instance_name)
            serving = _last_served(history, active)
            chosen = version or _previous_version(history, active)
            if chosen is None:
                again = (
                    f"agentdock rollback {agent} {serving.version} serves it again; "
                    if active is None and serving is not None
                    else ""
                )
                raise ws.not_found(
                    f"{agent} has no earlier version to roll back to",
                    hint=f"{again}agentdock versions {agent}",
                )
            record = ws.store.get_version(agent, chosen)
            if record is None:
                raise ws.not_found(
                    f"{agent} has no version {chosen}", hint=f"agentdock versions {agent}"
                )
            serving_now = active if active and active.version_id == record.id else None
            if serving_now and serves_healthy(ws, serving_now):  # nothing to do
                progress("noop", f"{agent} {chosen} is already serving: nothing to do")
                return _already_serving(serving_now, chosen)
            last = next((d for d in reversed(history) if d.version_id == record.id), None)
            basis = active or last
            target_name = basis.target if basis is not None else DEFAULT_TARGET
            artifact, artifact_id = _recorded_artifact(ws, agent, chosen, record.id, target_name)
            recorded = (last or history[-1]).settings if history else {}
            if not env_files:
                env_files = list(recorded.get("env_files") or [])
            # The .env beside the Dockfile the version was deployed from, wherever we are.
            project = Path(str(recorded.get("project_dir") or Path.cwd()))
            values = value_sources(project if project.is_dir() else Path.cwd(), env_files)
            spec, variables, missing = spec_of_snapshot(record, values, ws.plugins)
            if missing is not None:  # the old version needs a variable nobody sets now
                raise missing_variables_error(
                    [dataclasses.replace(missing, instance=instance_name or None)],
                    hint=f"{chosen}'s snapshot uses them: set them in the environment, "
                    f"the .env of {project} or pass --env-file",
                )
            env = runtime_env(spec, variables, values)
            preflight(ws.target(target_name), spec, record.snapshot, chosen, env, instance_name)
            # The address it listens on is the serving deployment's (its --host, if any).
            asked = (basis.settings if basis is not None else {}).get("host")
            progress("rollback", f"rolling {agent} back to {chosen} ({artifact.ref})")
            outcome = release(
                ws,
                ReleasePlan(
                    agent=agent,
                    version_id=record.id,
                    version=chosen,
                    artifact=artifact,
                    artifact_id=artifact_id,
                    target_name=target_name,
                    instance=instance_name,
                    spec=spec,
                    env=env,
                    snapshot=record.snapshot,
                    reason="rollback",
                    settings=_settings(last, env_files, asked),
                    host=bind_host(spec, asked),
                ),
                timeout=timeout,
                progress=progress,
            )
        # A rollback never builds: the artifact is the one recorded. After a ``stop`` nothing
        # was superseded: the version it went back from is the one that served last.
        went_from = outcome.previous_version or (serving.version if serving else None)
        return dataclasses.replace(outcome, cached=True, previous_version=went_from)


def _already_serving(active: Any, version: str) -> Deployment:
    """The outcome of a rollback to the version that serves, healthy: its deployment as it
    is (``noop``; nothing was started, stopped or recorded)."""
    return Deployment(
        active.agent,
        version,
        active.id,
        active.target,
        active.instance or None,
        active.endpoint,
        active.status,
        cached=True,
        noop=True,
        reason="rollback",
        host=active.handle.get("host"),
    )


def _recorded_artifact(
    ws: Workspace, agent: str, version: str, version_id: int, target_name: str
) -> tuple[Artifact, int]:
    """The artifact the target's builder recorded for the version, and its row id.

    :raises NotFound: none was recorded, or the builder no longer has it."""
    builder_name = str(getattr(ws.target(target_name), "builder", target_name))
    stored = ws.store.get_artifact(version_id, builder_name)
    artifact = Artifact.from_json(stored.public()) if stored else None
    if stored is None or artifact is None or not ws.builder(builder_name).exists(artifact):
        raise ws.not_found(
            f"the {builder_name} artifact of {agent} {version} is gone",
            hint=f"deploy that version's Dockfile again, or agentdock versions {agent}",
        )
    return artifact, stored.id


def _settings(
    last: Any, env_files: Sequence[str | os.PathLike[str]], host: str | None
) -> dict[str, Any]:
    """The settings recorded with the new deployment: those the version was last deployed
    with, the env files read now and the address asked for (the serving deployment's)."""
    kept = {k: v for k, v in (last.settings if last else {}).items() if k != "host"}
    return {
        **kept,
        "env_files": list(map(str, env_files)),
        **({"host": host} if host is not None else {}),
    }


#: The states of a deployment that served once and serves no more.
_SERVED = frozenset({"superseded", "stopped"})


def _last_served(history: Sequence[Any], active: Any) -> Any:
    """The deployment serving now, else (after a ``stop``) the one that served last."""
    if active is not None:
        return active
    return next((record for record in reversed(history) if record.status in _SERVED), None)


def _previous_version(history: Sequence[Any], active: Any) -> str | None:
    """The version a rollback without one goes back to: the latest other version that
    served before the one serving now or, when none serves (after ``stop``), before the
    one that served last; never the stopped version itself."""
    last = _last_served(history, active)
    current = last.version_id if last is not None else None
    for record in reversed(history):
        if record.status in _SERVED and record.version_id != current:
            return str(record.version)
    return None
