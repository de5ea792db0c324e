"""The built-in hardware profiles: ``cpu`` and ``cuda``.

Base image families (``build.base_image`` overrides either):

``cpu``
    ``python:<py>-slim-bookworm``: Debian slim with the requested CPython, no GPU libraries
    (a CPU agent never carries gigabytes of CUDA it cannot use).
``cuda``
    ``nvidia/cuda:<cuda>-runtime-ubuntu22.04``: the CUDA runtime libraries (cudart, cuBLAS,
    cuFFT, ...) of the requested CUDA version; the driver comes from the host through the
    NVIDIA container runtime. These images carry **no Python** (Ubuntu 22.04 would offer
    3.10 through apt, and the hermetic build has no network to install it), so
    ``bundles_python`` is false: the builder must bring a relocatable interpreter of
    ``build.python_version``, or the Dockfile names a base that has one in
    ``build.base_image`` (an in-house ``FROM nvidia/cuda`` family image with Python, or a
    framework image such as ``pytorch/pytorch:<ver>-cuda12.4-cudnn9-runtime``). Docker Hub
    tags name a patch release (``12.4.1``), so a ``build.cuda_version`` of ``12.4`` maps to
    the last patch release of that line (:data:`CUDA_PATCH`).

Both families are published for ``linux/amd64`` and ``linux/arm64``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentdock_plugins.hardware.tuning import (
    CPU_TUNING,
    CUDA_TUNING,
    DEFAULT_CUDA_VERSION,
    tuned_document,
)

if TYPE_CHECKING:
    from agentdock_plugins.hardware.probe import Probe

__all__ = [
    "CUDA_PATCH",
    "GPU_NODE_SELECTOR",
    "GPU_RESOURCE",
    "GPU_TOLERATIONS",
    "CpuProfile",
    "CudaProfile",
    "cuda_image_version",
    "docker_device_requests",
]

#: The last patch release of each CUDA line with ``-runtime-ubuntu22.04`` images.
CUDA_PATCH: dict[str, str] = {
    "11.8": "11.8.0",
    "12.0": "12.0.1",
    "12.1": "12.1.1",
    "12.2": "12.2.2",
    "12.3": "12.3.2",
    "12.4": "12.4.1",
    "12.5": "12.5.1",
    "12.6": "12.6.3",
    "12.8": "12.8.1",
}

#: The extended resource the NVIDIA device plugin advertises on GPU nodes.
GPU_RESOURCE = "nvidia.com/gpu"
#: The label NVIDIA GPU feature discovery (and the GPU operator) puts on GPU nodes.
GPU_NODE_SELECTOR: dict[str, str] = {"nvidia.com/gpu.present": "true"}
#: GPU node pools are commonly tainted so that only pods asking for GPUs land there
#: (GKE taints ``nvidia.com/gpu=present:NoSchedule``); ``Exists`` tolerates any value.
GPU_TOLERATIONS: list[dict[str, str]] = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
]

_PLATFORMS = ["linux/amd64", "linux/arm64"]


def cuda_image_version(cuda_version: str | None) -> str:
    """``12.4`` as the image tag's ``12.4.1``; an unknown line gets ``.0``; a version with
    a patch part is kept."""
    version = (cuda_version or DEFAULT_CUDA_VERSION).strip()
    if version.count(".") >= 2:
        return version
    return CUDA_PATCH.get(version, f"{version}.0")


class CpuProfile:
    """Machines without GPUs, and the fallback of ``build.hardware: auto``."""

    name = "cpu"
    bundles_python = True

    def detect(self, probe: Probe) -> bool:
        """Every machine can run the CPU family."""
        return True

    def base_image(self, python_version: str, cuda_version: str | None = None) -> str:
        return f"python:{python_version}-slim-bookworm"

    def platforms(self) -> list[str]:
        return list(_PLATFORMS)

    def tuned(self, machine: Probe) -> dict[str, Any]:
        return tuned_document(self.name, CPU_TUNING, machine)

    def gpu_request(self, count: int) -> dict[str, Any]:
        if count > 0:
            raise ValueError(
                f"the cpu hardware profile serves no GPUs ({count} asked): "
                "set build.hardware to cuda"
            )
        return {}


class CudaProfile:
    """NVIDIA GPU machines (CUDA runtime images, device requests, ``nvidia.com/gpu``)."""

    name = "cuda"
    bundles_python = False

    def detect(self, probe: Probe) -> bool:
        """Whether the probe saw at least one NVIDIA GPU."""
        return bool(getattr(probe, "gpus", ()))

    def base_image(self, python_version: str, cuda_version: str | None = None) -> str:
        return f"nvidia/cuda:{cuda_image_version(cuda_version)}-runtime-ubuntu22.04"

    def platforms(self) -> list[str]:
        return list(_PLATFORMS)

    def tuned(self, machine: Probe) -> dict[str, Any]:
        return tuned_document(self.name, CUDA_TUNING, machine)

    def gpu_request(self, count: int) -> dict[str, Any]:
        """``count`` GPUs for each target.

        ``docker``: keyword arguments for ``containers.create`` (``device_requests`` as
        plain mappings; :func:`docker_device_requests` makes ``docker.types`` objects).
        ``kubernetes``: fields of a container (``resources.limits``) and of a pod spec
        (``nodeSelector``, ``tolerations``), named as in the manifest. Only a limit is set:
        Kubernetes requires a GPU request to equal its limit and copies the limit.
        """
        if count < 0:
            raise ValueError(f"a GPU count cannot be negative ({count})")
        if count == 0:
            return {}
        return {
            "count": count,
            "docker": {
                "device_requests": [{"Driver": "", "Count": count, "Capabilities": [["gpu"]]}]
            },
            "kubernetes": {
                "resources": {"limits": {GPU_RESOURCE: str(count)}},
                "nodeSelector": dict(GPU_NODE_SELECTOR),
                "tolerations": [dict(t) for t in GPU_TOLERATIONS],
            },
        }


def docker_device_requests(request: dict[str, Any]) -> list[Any]:
    """``gpu_request(...)["docker"]["device_requests"]`` as ``docker.types.DeviceRequest``
    objects, for ``containers.create(device_requests=...)``; ``[]`` for no GPU."""
    from docker.types import DeviceRequest

    wanted = (request or {}).get("docker", {}).get("device_requests", [])
    return [
        DeviceRequest(
            driver=item.get("Driver", ""),
            count=int(item["Count"]),
            capabilities=[list(c) for c in item["Capabilities"]],
        )
        for item in wanted
    ]
