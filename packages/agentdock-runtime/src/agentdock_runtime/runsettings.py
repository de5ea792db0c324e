"""The run knobs of a Dockfile's ``arguments``, and the error of a pipeline that cannot be built.

Both are checked once, when the pipeline is compiled: a wrong ``timeout_sec`` or
``max_retries`` stops the start-up with :class:`PipelineError` instead of failing requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentdock.spec.runarguments import argument_problems

__all__ = ["DEFAULT_TIMEOUT_SEC", "PipelineError", "RunSettings"]

#: How long an agent may run when ``arguments.timeout_sec`` is not given.
DEFAULT_TIMEOUT_SEC = 60.0


class PipelineError(Exception):
    """The pipeline cannot be compiled from this spec and these plugins (start-up only)."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The run knobs read from the Dockfile's ``arguments``."""

    #: Seconds the agent may run (all attempts together); ``None``: no bound.
    timeout_sec: float | None = DEFAULT_TIMEOUT_SEC
    #: Further attempts after the agent raised.
    max_retries: int = 0

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> RunSettings:
        """The settings of ``arguments``, by the rule ``validate`` applies too."""
        problems = argument_problems(arguments)
        if problems:
            key, cause = problems[0]
            raise PipelineError(f"arguments.{key} {cause}")
        timeout = arguments.get("timeout_sec", DEFAULT_TIMEOUT_SEC)
        retries: int = arguments.get("max_retries", 0)
        return cls(float(timeout) if timeout is not None else None, retries)
