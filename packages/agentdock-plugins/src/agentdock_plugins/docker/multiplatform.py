"""One image for several platforms (``build.platforms``, ``--platform a,b``).

Each platform is built on its own, as a single-platform build is (hermetic: its wheels are
those uv installs for that platform, its base the one given for it), pushed to the
registry, and a manifest list naming them all goes under the version's tag
(:mod:`.imageindex`). A Docker engine keeps one platform per tag, so a multi-platform
image needs a registry: without ``--push`` it is refused before anything is built.

The base image of each platform is ``base_images[platform]`` (an option of the Python API),
else the single base image: the engine must hold it for that platform (a base made with
``FROM scratch`` and ``ADD rootfs.tar /`` built with ``--platform`` is one). An image for a
platform other than the engine's runs nothing while it is built; it runs under emulation
(Debian's ``qemu-user-static`` and ``binfmt-support``) or on a machine of its platform.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
from agentdock.deployment.artifacts import Artifact, BuildRequest, Progress
from agentdock.deployment.errors import InvalidDeployInput

from agentdock_plugins.docker.imageindex import push_manifest_list
from agentdock_plugins.docker.naming import image_tag
from agentdock_plugins.docker.push import push_image, registry_credentials

if TYPE_CHECKING:
    import docker

__all__ = ["build_platforms", "requested_platforms"]


def requested_platforms(request: BuildRequest) -> list[str]:
    """The ``platforms`` option (a list or ``a,b``), else ``build.platforms``."""
    option = request.options.get("platforms")
    if isinstance(option, str):
        option = [p for p in option.split(",") if p.strip()]
    if not option:
        build = getattr(request.spec, "build", None)
        option = list(getattr(build, "platforms", None) or [])
    return list(dict.fromkeys(str(p).strip().lower() for p in option))


def build_platforms(
    client: docker.DockerClient,
    request: BuildRequest,
    platforms: list[str],
    build_one: Callable[[BuildRequest], Artifact],
    progress: Progress,
) -> Artifact:
    """Build, push and list every platform of ``platforms``; the artifact names the list
    by its tag, ``details["pushed"]`` by its digest, ``details["platforms"]`` each image.

    :raises InvalidDeployInput: no ``push`` registry was given.
    """
    registry = str(request.options.get("push") or "").strip().rstrip("/")
    if not registry:
        raise InvalidDeployInput(
            f"an image for {len(platforms)} platforms needs a registry to hold them",
            hint="add --push REGISTRY (the engine keeps one platform per tag), or build one "
            "platform",
            path="build.platforms",
        )
    bases: dict[str, str] = dict(request.options.get("base_images") or {})
    built: list[tuple[str, Artifact]] = []
    for platform in platforms:
        options: dict[str, Any] = {**request.options, "platform": platform, "push": None}
        options.pop("platforms", None)
        if platform in bases:
            options["base_image"] = bases[platform]
        progress("platform", f"building for {platform}", platform=platform)
        one = build_one(replace(request, options=options))
        built.append((platform, push_image(client, one, registry, progress)))
    digest = hashlib.sha256(
        "\n".join(f"{p}={a.digest}" for p, a in built).encode("utf-8")
    ).hexdigest()
    first = built[0][1]
    repository = first.ref[len(registry) + 1 :].rpartition(":")[0]
    tag = image_tag(request.version, digest)
    listed = push_manifest_list(
        registry,
        repository,
        tag,
        [(p, str(a.details["repo_digest"])) for p, a in built],
        auth=registry_credentials(),
    )
    ref = f"{registry}/{repository}:{tag}"
    progress("push", f"pushed the manifest list {registry}/{repository}@{listed}", ref=ref)
    _pull_own_platform(client, f"{registry}/{repository}", tag)
    details: dict[str, Any] = {
        **(first.details or {}),
        "platforms": {p: a.details["pushed"] for p, a in built},
        "sboms": {p: a.details.get("sbom") for p, a in built},
        "pushed": f"{registry}/{repository}@{listed}",
        "repo_digest": listed,
        "registry": registry,
    }
    cached = all(a.cached for _, a in built)
    return Artifact(first.builder, ref, digest, cached, details)


def _pull_own_platform(client: docker.DockerClient, repository: str, tag: str) -> None:
    """Pull the list's tag, so the engine holds the image of its own platform under it (and
    knows the list's digest): the docker target runs it, Kubernetes pins the list. An
    engine of a platform the list lacks gets nothing; its targets say so when used."""
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
        client.images.pull(repository, tag=tag, auth_config=registry_credentials())
