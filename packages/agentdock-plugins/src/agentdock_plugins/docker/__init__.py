"""Built-in plugin: the ``docker`` builder and target (through the docker SDK).

The builder makes a hermetic, content-addressed image: dependencies are resolved and
installed on the host for the image's platform and copied in, so the build needs no network.
The target runs it with the Dockfile's port, resources and run-time environment.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_builders", "agentdock_register_targets"]


def _builder() -> Any:
    from agentdock_plugins.docker.builder import DockerBuilder

    return DockerBuilder()


def _target() -> Any:
    from agentdock_plugins.docker.target import DockerTarget

    return DockerTarget()


@hookimpl
def agentdock_register_builders(register: Any) -> None:
    register("docker", _builder, "a hermetic container image (docker SDK, no network in build)")


@hookimpl
def agentdock_register_targets(register: Any) -> None:
    register("docker", _target, "a container on the local Docker engine")
