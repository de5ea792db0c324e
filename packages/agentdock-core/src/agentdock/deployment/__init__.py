"""Deploying agents: versions, builds, targets, health gates and rollback (DESIGN §3, §8).

The Python API::

    import agentdock

    d = agentdock.deploy("examples/chat/Dockfile.yaml")       # local target, no Docker
    print(d.endpoint, d.version, d.api_key)                   # key: first deploy only
    agentdock.status("chat")["health"]
    agentdock.rollback("chat")                                # the previous version
    agentdock.remove("chat")                                  # stop it, free its disk

Errors are :class:`~agentdock.deployment.errors.DeployError` subclasses with an exit code.
"""

from __future__ import annotations

from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress, StartRequest
from agentdock.deployment.builds import Build, build
from agentdock.deployment.deploys import deploy, dry_run
from agentdock.deployment.directories import deploy_directory
from agentdock.deployment.errors import (
    BuildFailed,
    DeployError,
    DeployFailed,
    DeployInProgress,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
    TargetUnavailable,
    VersionConflict,
)
from agentdock.deployment.instances import deploy_instances
from agentdock.deployment.operations import instances, logs, status, stop, versions
from agentdock.deployment.reclaim import cleanup, remove
from agentdock.deployment.release import Deployment
from agentdock.deployment.rollbacks import rollback

__all__ = [
    "Artifact",
    "Build",
    "BuildFailed",
    "BuildRequest",
    "DeployError",
    "DeployFailed",
    "DeployInProgress",
    "Deployment",
    "HealthGateFailed",
    "InvalidDeployInput",
    "NotFound",
    "Progress",
    "StartRequest",
    "TargetUnavailable",
    "VersionConflict",
    "build",
    "cleanup",
    "deploy",
    "deploy_directory",
    "deploy_instances",
    "dry_run",
    "instances",
    "logs",
    "remove",
    "rollback",
    "status",
    "stop",
    "versions",
]
