"""``deploy.resources`` of a Dockfile as the Docker engine's container limits.

The Dockfile writes resources as Kubernetes quantities (``cpu: 500m`` or ``1.5``;
``memory: 512Mi``, ``1G`` or plain bytes), so one Dockfile means the same limit on every
target. That is why ``M``, ``G`` ... are read as powers of ten, as Kubernetes reads them,
and not as the powers of two ``docker run --memory 512M`` would use; ``Mi``, ``Gi`` ... are
the powers of two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentdock.deployment.errors import InvalidDeployInput
from agentdock.spec.quantities import cpu_millis, memory_bytes

__all__ = ["container_limits", "cpu_to_nano", "memory_to_bytes"]

_NANO_PER_MILLI = 1_000_000


def cpu_to_nano(value: str | int | float) -> int:
    """CPUs (``"500m"``, ``"1.5"``, ``2``) as Docker's ``NanoCpus`` (10⁻⁹ CPU units)."""
    try:
        nano = cpu_millis(value) * _NANO_PER_MILLI
    except ValueError:
        raise InvalidDeployInput(
            f"deploy.resources.cpu {value!r} is not a CPU quantity",
            hint="write whole or decimal CPUs (2, 1.5) or millicores (500m)",
            path="deploy.resources.cpu",
        ) from None
    if nano <= 0:
        raise InvalidDeployInput(
            f"deploy.resources.cpu {value!r} is zero",
            hint="give at least 1m",
            path="deploy.resources.cpu",
        )
    return nano


def memory_to_bytes(value: str | int) -> int:
    """Memory (``"512Mi"``, ``"1G"``, ``"1048576"``) as a byte count."""
    try:
        size = memory_bytes(value)
    except ValueError:
        raise InvalidDeployInput(
            f"deploy.resources.memory {value!r} is not a memory quantity",
            hint="write bytes with an optional unit: 512Mi, 1Gi, 500M, 1G",
            path="deploy.resources.memory",
        ) from None
    if size <= 0:
        raise InvalidDeployInput(
            f"deploy.resources.memory {value!r} is zero",
            path="deploy.resources.memory",
        )
    return size


def container_limits(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` (``mem_limit``, ``nano_cpus``,
    ``device_requests``); empty when the Dockfile sets no limits.

    Docker has only limits: ``resources.limits`` when given, else the requests.
    """
    out: dict[str, Any] = {}
    if not resources:
        return out
    limits = resources.get("limits") or {}
    cpu = limits.get("cpu") or resources.get("cpu")
    memory = limits.get("memory") or resources.get("memory")
    if cpu is not None:
        out["nano_cpus"] = cpu_to_nano(cpu)
    if memory is not None:
        out["mem_limit"] = memory_to_bytes(memory)
    gpus = resources.get("gpu")
    if gpus:
        from docker.types import DeviceRequest

        out["device_requests"] = [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    return out
