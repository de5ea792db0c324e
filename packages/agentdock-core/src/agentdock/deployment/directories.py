"""``agentdock deploy DIR``: every agent of a directory of agents, one after another.

A directory of agents (one sub-directory per agent, each with its ``Dockfile.yaml``, as
``agentdock serve DIR`` hosts them) deploys as one deploy per agent: each agent keeps its
own versions, runtime, endpoint, keys and rollback, as if deployed alone, so one agent's
crash or rollback never touches the others. Every Dockfile is validated, and the names
checked for duplicates, before anything is built; the deploys then run in name order and
stop at the first that fails (the agents before it stay deployed, and the error says
which).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentdock.agentdirs import DOCKFILE, HostingError, agent_directories, duplicate_message
from agentdock.deployment.artifacts import Progress, no_progress
from agentdock.deployment.deploys import deploy
from agentdock.deployment.errors import DeployError, InvalidDeployInput, NotFound
from agentdock.deployment.inputs import DEFAULT_TIMEOUT, validate_for_deploy
from agentdock.deployment.release import Deployment
from agentdock.deployment.runenv import value_sources
from agentdock.storecontract import Store

__all__ = ["deploy_directory", "is_agent_directory"]


def is_agent_directory(path: str | os.PathLike[str]) -> bool:
    """``path`` is a directory of agents: a directory without a Dockfile of its own."""
    folder = Path(path)
    return folder.is_dir() and not (folder / DOCKFILE).is_file()


def _checked(directory: Path) -> list[tuple[str, Path]]:
    """``(agent name, Dockfile)`` of each agent, every Dockfile validated first."""
    try:
        folders = agent_directories(directory)
    except HostingError as exc:
        if not directory.exists():
            raise NotFound(str(exc), path=str(directory)) from None
        raise InvalidDeployInput(str(exc), path=str(directory)) from None
    seen: dict[str, Path] = {}
    for folder in folders:
        file = folder / DOCKFILE
        try:
            _, spec = validate_for_deploy(file, value_sources(folder), skip_imports=True)
        except DeployError as exc:
            exc.cause = f"{file}: {exc.cause}"
            exc.args = (exc.cause,)
            raise
        name = spec.agent.name
        if name in seen:
            raise InvalidDeployInput(duplicate_message(name, seen[name], file), path=str(file))
        seen[name] = file
    return sorted(seen.items())


def deploy_directory(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    host: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    build_options: dict[str, Any] | None = None,
    new_key: bool = False,
    check_imports: bool = True,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> list[Deployment]:
    """Deploy every agent of the directory ``path``, in name order; their deployments.

    Each agent's variables come from its own directory's ``.env`` and the environment, as
    for a deploy of its Dockfile alone.

    :raises DeployError: the first failure, its cause naming the agent (and the Dockfile
        for an invalid one) and the agents deployed before it.
    """
    agents = _checked(Path(path))
    done: list[Deployment] = []
    for number, (name, file) in enumerate(agents, start=1):
        progress("agent", f"{name} ({number} of {len(agents)})", agent=name)
        try:
            done.append(
                deploy(
                    file,
                    target=target,
                    host=host,
                    timeout=timeout,
                    build_options=build_options,
                    new_key=new_key,
                    check_imports=check_imports,
                    progress=progress,
                    store=store,
                    plugins=plugins,
                )
            )
        except DeployError as exc:
            before = ", ".join(d.agent for d in done) or "none"
            exc.cause = f"agent {name}: {exc.cause} (deployed before it: {before})"
            exc.args = (exc.cause,)
            raise
    return done
