"""Pushing a built image to a registry, so a cluster (or another machine) pulls exactly it.

The image is tagged ``<registry>/<repository>:<tag>`` (its content-addressed tag kept) and
pushed through the engine. The registry answers with the manifest digest, which makes the
reference every target runs from then on: ``<registry>/<repository>@sha256:...`` (the
Kubernetes manifests name the image by it).

Credentials come from ``AGENTDOCK_REGISTRY_USERNAME`` and ``AGENTDOCK_REGISTRY_PASSWORD``
when both are set, else from docker's own configuration (``docker login``,
``~/.docker/config.json``, its credential helpers), as the docker SDK reads it. They are
never printed: a message of the engine or the registry that holds the password has it
masked. A registry that refuses the credentials, or that does not answer, fails the build
step (exit 3) before anything is deployed or recorded as deployed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
from agentdock.deployment.artifacts import Artifact, Progress
from agentdock.deployment.errors import BuildFailed, InvalidDeployInput, TargetUnavailable

if TYPE_CHECKING:
    import docker

__all__ = [
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "push_image",
    "registry_credentials",
    "valid_registry",
]

USERNAME_ENV = "AGENTDOCK_REGISTRY_USERNAME"
PASSWORD_ENV = "AGENTDOCK_REGISTRY_PASSWORD"  # noqa: S105 (a variable name)

# host[:port][/path], as a registry prefix of an image reference (no scheme, no tag).
_REGISTRY = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
)
_REFUSED = ("unauthorized", "authentication required", "no basic auth credentials", "denied")
_UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "dial tcp", "EOF")


def valid_registry(registry: str) -> bool:
    """Whether ``registry`` is ``host[:port][/path]`` (``registry.example:5000/team``).
    The host needs a dot, a port or to be ``localhost``: else Docker reads it as a Docker
    Hub namespace."""
    host = registry.split("/", 1)[0]
    return bool(_REGISTRY.match(registry)) and ("." in host or ":" in host or host == "localhost")


def registry_credentials(env: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The ``auth_config`` of the push from the environment; None lets the docker SDK use
    docker's own configuration."""
    source = os.environ if env is None else env
    user, password = source.get(USERNAME_ENV), source.get(PASSWORD_ENV)
    if user and password:
        return {"username": user, "password": password}
    return None


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


def push_image(
    client: docker.DockerClient,
    artifact: Artifact,
    registry: str,
    progress: Progress,
    *,
    credentials: dict[str, str] | None = None,
) -> Artifact:
    """Push ``artifact``'s image to ``registry``; the artifact returned names the pushed
    tag, with ``details["pushed"]`` the reference by digest.

    :raises InvalidDeployInput: ``registry`` is not ``host[:port][/path]``.
    :raises BuildFailed: the registry refused the push (credentials, permissions).
    :raises TargetUnavailable: the registry does not answer.
    """
    import docker.errors

    registry = registry.strip().rstrip("/")
    if not valid_registry(registry):
        raise InvalidDeployInput(
            f"--push: {registry!r} is not a registry address",
            hint="give host[:port][/path], such as registry.example:5000/team or localhost:5000",
            path="--push",
        )
    auth = credentials if credentials is not None else registry_credentials()
    secrets = [auth.get("password", "")] if auth else []
    repository, _, tag = artifact.ref.rpartition(":")  # agentdock/<agent>:<version>-<digest>
    target = f"{registry}/{repository}"
    repo_digest: str | None = None
    error: str | None = None
    try:
        client.images.get(artifact.ref).tag(target, tag)
        progress("push", f"pushing {target}:{tag}")
        stream = client.images.push(target, tag, stream=True, decode=True, auth_config=auth)
        for chunk in stream:
            if "error" in chunk:
                error = _mask(str(chunk["error"]), secrets)
                break
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                repo_digest = str(aux["Digest"])
            status = chunk.get("status")
            if status and not chunk.get("progressDetail"):
                progress("push", _mask(str(status), secrets))
    except (docker.errors.DockerException, requests.RequestException) as exc:
        error = _mask(str(getattr(exc, "explanation", "") or exc), secrets)
    if error is not None or repo_digest is None:
        _untag(client, f"{target}:{tag}")
        why = error or "the engine did not report the pushed digest"
        if any(word in why.lower() for word in _REFUSED):
            raise BuildFailed(
                f"the registry {registry} refused the push: {why}",
                hint=f"set {USERNAME_ENV} and {PASSWORD_ENV}, or `docker login {registry}`",
            )
        if any(word.lower() in why.lower() for word in _UNREACHABLE):
            raise TargetUnavailable(
                f"the registry {registry} does not answer: {why}",
                hint=f"check that {registry} is up and reachable from the Docker engine",
            )
        raise BuildFailed(f"cannot push to {registry}: {why}")
    pinned = f"{target}@{repo_digest}"
    progress("push", f"pushed {pinned}", ref=pinned)
    details: dict[str, Any] = {
        **(artifact.details or {}),
        "registry": registry,
        "pushed": pinned,
        "repo_digest": repo_digest,
    }
    return replace(artifact, ref=f"{target}:{tag}", details=details)


def _untag(client: docker.DockerClient, ref: str) -> None:
    """Drop the registry tag a failed push added (the image itself stays)."""
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
        client.images.remove(ref, noprune=True)
