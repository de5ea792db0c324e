"""``build``: the first half of a deploy, on its own (``agentdock build``, ``POST /build/start``).

validate → snapshot → content hash → version → lock → build (content-addressed: a cache hit
builds nothing) → record the version and its artifact. Nothing is started and no deployment
row is written, so a later ``deploy`` of the same content, or a ``rollback`` to the version,
starts the artifact this built without building again. CI uses it to build once and deploy
many times; the control plane uses it to build ahead of a release.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentdock.deployment.artifacts import Artifact, Progress, no_progress
from agentdock.deployment.deploys import build_and_record, plan_deploy
from agentdock.deployment.inputs import find_dockfile, validate_for_deploy
from agentdock.deployment.release import deploy_lock
from agentdock.deployment.runenv import value_sources
from agentdock.deployment.workspace import Workspace
from agentdock.storecontract import Store

__all__ = ["Build", "build"]


@dataclass(frozen=True)
class Build:
    """The outcome of :func:`build`: the version recorded and the artifact it holds.

    ``new_version`` is True when this build recorded the version (False: the content was
    already recorded under it); ``artifact.cached`` when the builder found the artifact.
    """

    agent: str
    version: str
    target: str
    builder: str
    artifact: Artifact
    new_version: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "version": self.version,
            "target": self.target,
            "builder": self.builder,
            "new_version": self.new_version,
            "cached": self.artifact.cached,
            "artifact": self.artifact.to_json(),
        }


def build(
    path: str | os.PathLike[str] = "Dockfile.yaml",
    *,
    target: str | None = None,
    version: str | None = None,
    env_files: Sequence[str | os.PathLike[str]] = (),
    build_options: dict[str, Any] | None = None,
    check_imports: bool = True,
    progress: Progress = no_progress,
    store: Store | None = None,
    plugins: Any = None,
) -> Build:
    """Build the agent of a Dockfile for ``target``'s builder and record the version.

    The version is chosen as ``deploy`` chooses it (``version``, ``metadata.version``, the
    version already holding this content, or the next patch), under the agent's deploy
    lock, so a build and a deploy of the same agent never record the same version twice.

    :raises DeployError: as ``deploy`` (1 invalid, 3 build failed or builder unavailable,
        5 not found), with a one-line ``cause`` and a ``hint``.
    """
    file = find_dockfile(path)
    values = value_sources(file.resolve().parent, env_files)
    progress("validate", f"validating {file}")
    document, spec = validate_for_deploy(file, values, skip_imports=True, plugins=plugins)
    with Workspace.open(store, plugins, create=True) as ws:
        if ws.created:
            progress("registry", ws.created, path=ws.registry)
        plan = plan_deploy(ws, file, document, spec, values, env_files, "", target, version, None)
        if plan.existing is None and check_imports:
            progress("validate", "importing the entrypoint")
            validate_for_deploy(file, values, skip_imports=False, plugins=plugins)
        with deploy_lock(ws, plan.agent, plan.instance):
            artifact, _record, created, _replaced, _stored = build_and_record(
                ws, plan, build_options, progress
            )
    return Build(
        agent=plan.agent,
        version=plan.version,
        target=plan.target_name,
        builder=artifact.builder,
        artifact=artifact,
        new_version=created,
    )
