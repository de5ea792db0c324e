"""Rolling one Dockfile out to every per-tenant instance of its agent, one at a time."""

from __future__ import annotations

import os
from typing import Any

from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.deploys import deploy
from agentdock.deployment.errors import (
    DeployError,
)
from agentdock.deployment.inputs import (
    DEFAULT_TIMEOUT,
    Missing,
    find_dockfile,
    missing_variables,
    missing_variables_error,
    validate_for_deploy,
)
from agentdock.deployment.release import (
    Deployment,
)
from agentdock.deployment.runenv import value_sources
from agentdock.deployment.workspace import Workspace
from agentdock.storecontract import Store

__all__ = ["deploy_instances"]


def deploy_instances(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str | None = None,
    host: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
    **options: Any,
) -> list[Deployment]:
    """Roll a Dockfile out to every named instance of its agent, one at a time.

    Each instance keeps the env files, target and ``--host`` of its last deployment
    (``target`` and ``host`` given here win). Every instance's
    required variables are checked before anything starts; the rollout stops at the first
    instance whose deploy fails (the ones before it stay on the new version, the rest on
    their old one) and raises that error, naming which instances were done.
    """
    from agentdock.spec.loader import load_document

    file = find_dockfile(path)
    project_dir = file.resolve().parent
    with Workspace.open(store, plugins) as ws:
        # Each instance's variables come from its own env files: checked below, per instance.
        _, spec = validate_for_deploy(
            file,
            value_sources(project_dir),
            skip_imports=True,
            require_values=False,
            plugins=ws.plugins,
        )
        agent = spec.agent.name
        names = ws.store.list_instances(agent)
        if not names:
            raise ws.not_found(
                f"{agent} has no named instances",
                hint="deploy one first: agentdock deploy FILE --instance NAME --env-file F",
            )
        plans: list[tuple[str, list[str], str | None, str | None]] = []
        missing: list[Missing] = []
        for name in names:
            last = ws.store.list_deployments(agent, instance=name)[-1]
            env_files = list(last.settings.get("env_files") or [])
            values = value_sources(project_dir, env_files)
            document = load_document(file, env=values, allow_unresolved=True)
            problem = missing_variables(document, name)
            if problem is not None:
                missing.append(problem)
            plans.append(
                (name, env_files, target or last.target, host or last.settings.get("host"))
            )
        if missing:
            raise missing_variables_error(missing, hint="add them to the instances' env files")
    done: list[Deployment] = []
    for name, env_files, target_name, bind in plans:
        progress("instance", f"instance {name} ({len(done) + 1} of {len(plans)})")
        try:
            done.append(
                deploy(
                    file,
                    target=target_name,
                    instance=name,
                    env_files=env_files,
                    host=bind,
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
