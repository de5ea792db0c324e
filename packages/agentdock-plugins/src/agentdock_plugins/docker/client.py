"""One way to reach the Docker engine, with an error that says how to fix a missing one.

The builder and the target both open their client here, so "dockerd is not running" reads
the same from ``deploy``, ``status`` and ``cleanup``: a
:class:`~agentdock.deployment.errors.TargetUnavailable` (exit 3) whose hint names the fix.
The engine is found as the docker CLI finds it (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``); the address is shown in the error, never any credential.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from agentdock.deployment.errors import TargetUnavailable

if TYPE_CHECKING:
    import docker

__all__ = ["DEFAULT_TIMEOUT", "engine_address", "open_client"]

#: Seconds one engine API call may take; an image build or ``docker save`` streams for
#: longer, so this bounds the wait for each response, not the whole operation.
DEFAULT_TIMEOUT = 600

_HINT = (
    "start the Docker engine (`sudo systemctl start docker`, or `dockerd &`), or point "
    "DOCKER_HOST at a running one; `docker info` must work. Without Docker, deploy with "
    "--target local"
)


def engine_address() -> str:
    """Where the client looks for the engine: ``DOCKER_HOST`` or the default socket."""
    address = os.environ.get("DOCKER_HOST", "").strip() or "unix:///var/run/docker.sock"
    # A URL could carry user:password@; only scheme, host and path are worth showing.
    if "@" in address:
        scheme, _, rest = address.partition("://")
        address = f"{scheme}://{rest.rpartition('@')[2]}"
    return address


def open_client(timeout: int = DEFAULT_TIMEOUT) -> docker.DockerClient:
    """A docker SDK client for a live engine (it answered a ping).

    :raises TargetUnavailable: the SDK is not installed, or no engine answers at the
        configured address (the cause names the address, the hint how to start one).
    """
    try:
        import docker
        import docker.errors
    except ImportError as exc:  # pragma: no cover - docker is a dependency of the plugins
        raise TargetUnavailable(
            f"the docker SDK is not installed ({exc.name})",
            hint="install agentdock-plugins with its dependencies (uv sync)",
        ) from None
    address = engine_address()
    try:
        client = docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        raise TargetUnavailable(
            f"dockerd is not running or not reachable at {address} ({_reason(exc)})",
            hint=_HINT,
        ) from None
    try:
        client.ping()
    except Exception as exc:  # requests' ConnectionError, APIError, socket errors ...
        client.close()
        raise TargetUnavailable(
            f"dockerd is not running or not reachable at {address} ({_reason(exc)})",
            hint=_HINT,
        ) from None
    return client


def _reason(exc: BaseException) -> str:
    """A short, single-line reason: the exception's class, and its text when it is short."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if not text or len(text) > 160:
        return name
    return f"{name}: {text}"
