"""What an image is built from: base image, platform, Python version and port.

Worked out before anything is built, from the request, the hardware profile and the
engine; every field is an input of the image's digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentdock.deployment.artifacts import BuildRequest, Progress
from agentdock.deployment.errors import BuildFailed, InvalidDeployInput

from agentdock_plugins.docker.dockerfile import valid_image_ref

if TYPE_CHECKING:
    import docker
    from agentdock.spec import DockSpec
    from docker.models.images import Image

__all__ = ["DEFAULT_PYTHON_VERSION", "Plan", "make_plan"]

DEFAULT_PYTHON_VERSION = "3.11"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True, slots=True)
class Plan:
    base_ref: str
    base_id: str
    platform: str
    declared_platform: bool
    native: bool
    python_version: str
    port: int
    #: ``/etc/agentdock/machine-profile.json`` (the hardware profile's tuned defaults).
    machine_profile: str = ""


def _build_cfg(spec: DockSpec) -> Any:
    return getattr(spec, "build", None)


def _port(spec: DockSpec) -> int:
    expose = getattr(spec, "expose", None)
    return int(getattr(expose, "port", 8080) or 8080)


def _engine_platform(client: docker.DockerClient) -> str:
    info = client.version()
    arch = str(info.get("Arch") or "amd64")
    return f"{info.get('Os') or 'linux'}/{_ARCH.get(arch, arch)}"


def _hardware(request: BuildRequest) -> tuple[str, str]:
    """The base image ref (option, ``build.base_image``, else the hardware profile's family
    image) and the machine-profile JSON baked into the image.

    :raises InvalidDeployInput: the Dockfile asks for GPUs its profile cannot give.
    """
    from agentdock_plugins.hardware.defaults import (
        base_image_for,
        hardware_problem,
        machine_profile,
        requested_gpus,
        resolve,
    )
    from agentdock_plugins.hardware.probe import probe

    build_cfg = _build_cfg(request.spec)
    deploy_cfg = getattr(request.spec, "deploy", None)
    resources = getattr(deploy_cfg, "resources", None)
    problem = hardware_problem(build_cfg, resources)
    if problem:
        raise InvalidDeployInput(problem, path="deploy.resources.gpu")
    machine = probe()
    profile = resolve(build_cfg, machine, gpus=int(getattr(resources, "gpu", 0) or 0))
    gpus = requested_gpus(resources, profile)
    document = machine_profile(build_cfg, machine, gpus=gpus)
    base = base_image_for(build_cfg, profile)
    option = request.options.get("base_image")
    ref = str(option or base.ref).strip()
    if not valid_image_ref(ref):
        raise InvalidDeployInput(
            f"build.base_image is not an image reference: {ref!r}",
            hint="write an image reference such as python:3.11-slim-bookworm",
            path="build.base_image",
        )
    if option is None and base.bundles_python is False:
        raise InvalidDeployInput(
            f"the {profile.name} family image {ref} has no Python {base.python_version}, and "
            "the build has no network to install one",
            hint=f"set build.base_image to a CUDA image that carries Python {base.python_version}",
            path="build.base_image",
        )
    return ref, json.dumps(document, sort_keys=True, indent=2) + "\n"


def _find_base(client: docker.DockerClient, ref: str, progress: Progress) -> Image:
    import docker.errors

    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        pass
    progress("base", f"pulling the base image {ref}")
    try:
        return client.images.pull(ref)
    except docker.errors.APIError as exc:
        reason = " ".join(str(getattr(exc, "explanation", "") or exc).split())[:200]
        raise BuildFailed(
            f"the base image {ref} is not on this Docker engine and cannot be pulled: {reason}",
            hint=f"`docker pull {ref}` (or `docker load` it), or set build.base_image",
            path="build.base_image",
        ) from None


def _platform(request: BuildRequest, engine: str) -> tuple[str, bool]:
    option = request.options.get("platform")
    platforms = getattr(_build_cfg(request.spec), "platforms", None) or []
    chosen = option or (platforms[0] if platforms else None)
    return (str(chosen), True) if chosen else (engine, False)


def _same_arch(a: str, b: str) -> bool:
    def norm(p: str) -> str:
        parts = p.lower().split("/")
        arch = _ARCH.get(parts[1], parts[1]) if len(parts) > 1 else parts[0]
        return f"{parts[0]}/{arch}"

    return norm(a) == norm(b)


def make_plan(
    client: docker.DockerClient, request: BuildRequest, progress: Progress
) -> tuple[Plan, Image]:
    """The plan of ``request`` and its base image (pulled when the engine lacks it)."""
    ref, machine_profile = _hardware(request)
    base = _find_base(client, ref, progress)
    engine = _engine_platform(client)
    platform, declared = _platform(request, engine)
    python_version = str(
        request.options.get("python_version")
        or getattr(_build_cfg(request.spec), "python_version", None)
        or DEFAULT_PYTHON_VERSION
    )
    plan = Plan(
        base_ref=ref,
        base_id=str(base.id),
        platform=platform,
        declared_platform=declared,
        native=_same_arch(platform, engine),
        python_version=python_version,
        port=_port(request.spec),
        machine_profile=machine_profile,
    )
    return plan, base
