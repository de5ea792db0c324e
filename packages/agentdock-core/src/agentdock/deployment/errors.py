"""Deployment errors: values with an exit code, a name, a one-line cause and a hint.

The CLI prints them (or their ``to_json()``) and exits with ``exit_code`` (DESIGN §11:
1 invalid input, 3 build failed, 4 deploy or health failed, 5 not found).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.findings import Finding

__all__ = [
    "BuildFailed",
    "DeployError",
    "DeployFailed",
    "DeployInProgress",
    "HealthGateFailed",
    "InvalidDeployInput",
    "MissingVariables",
    "NotFound",
    "TargetUnavailable",
    "VersionConflict",
]


class DeployError(Exception):
    """Base class. ``cause`` is one line; ``hint`` says what to do; ``log_tail`` holds the
    runtime's last log lines when a start-up failed; ``findings`` the Dockfile findings
    behind an invalid input, each with its code, path and line."""

    exit_code = 4
    name = "DeployError"

    def __init__(
        self,
        cause: str,
        *,
        hint: str | None = None,
        path: str | None = None,
        log_tail: list[str] | None = None,
        findings: Sequence[Finding] = (),
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint
        self.path = path
        self.log_tail = list(log_tail or [])
        self.findings = tuple(findings)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.name, "code": self.exit_code, "detail": self.cause}
        if self.hint:
            out["hint"] = self.hint
        if self.path:
            out["path"] = self.path
        if self.log_tail:
            out["log_tail"] = self.log_tail
        if self.findings:
            out["findings"] = [f.to_dict() for f in self.findings]
        return out


class InvalidDeployInput(DeployError):
    """The Dockfile is invalid, an option is malformed, or an env file cannot be read."""

    exit_code = 1
    name = "InvalidInput"


class MissingVariables(InvalidDeployInput):
    """Variables the Dockfile (or a recorded snapshot) needs have no value: found before
    anything is built, recorded or started. ``findings`` holds one 4001 per use."""

    name = "MissingVariables"


class VersionConflict(InvalidDeployInput):
    """A version string already recorded with other content."""

    name = "VersionConflict"


class BuildFailed(DeployError):
    """The builder could not produce an artifact (a dependency cannot be resolved, ...)."""

    exit_code = 3
    name = "BuildFailed"


class TargetUnavailable(BuildFailed):
    """The builder's or target's backend is not there (dockerd not running, no uv)."""

    name = "TargetUnavailable"


class DeployFailed(DeployError):
    """The target could not start the artifact."""

    exit_code = 4
    name = "DeployFailed"


class HealthGateFailed(DeployFailed):
    """The new runtime did not become ready in time (it crashed, lacked a variable, ...)."""

    name = "HealthGateFailed"


class DeployInProgress(DeployFailed):
    """Another deploy of the same agent holds the lock."""

    name = "DeployInProgress"


class NotFound(DeployError):
    """No such agent, version or deployment."""

    exit_code = 5
    name = "NotFound"
