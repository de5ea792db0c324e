"""Built-in plugin: the ``local`` builder and target, the embedded default of ``deploy``.

The builder makes a bundle directory (the agent's code, the spec snapshot and a virtual
environment installed from a hash-checked lock with uv); the target runs it as a supervised
background process that outlives the CLI. No Docker is needed.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_builders", "agentdock_register_targets"]


def _builder() -> Any:
    from agentdock_plugins.local.builder import LocalBuilder

    return LocalBuilder()


def _target() -> Any:
    from agentdock_plugins.local.target import LocalTarget

    return LocalTarget()


@hookimpl
def agentdock_register_builders(register: Any) -> None:
    register("local", _builder, "a bundle directory with a locked virtual environment (uv)")


@hookimpl
def agentdock_register_targets(register: Any) -> None:
    register("local", _target, "a supervised background process on this machine")
