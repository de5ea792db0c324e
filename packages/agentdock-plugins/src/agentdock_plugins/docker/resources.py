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

__all__ = [
    "DEFAULT_MEMORY",
    "DEFAULT_PIDS",
    "container_limits",
    "cpu_to_nano",
    "memory_to_bytes",
]

_NANO_PER_MILLI = 1_000_000
#: A container's memory when the Dockfile sets none (2 GiB): a runaway agent (or a tmpfs
#: filled up) is killed instead of starving the machine. ``deploy.resources.memory`` raises it.
DEFAULT_MEMORY = 2 * 2**30
#: Processes and threads a container may have: a fork bomb stops there, a runtime (its
#: event loop, thread pools, the agent's tools) stays far below it.
DEFAULT_PIDS = 1024


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
    """Keyword arguments for ``containers.create``: ``mem_limit`` (the Dockfile's, else
    :data:`DEFAULT_MEMORY`) with as much swap as that (none beyond it, as on Kubernetes),
    ``pids_limit`` (:data:`DEFAULT_PIDS`), and ``nano_cpus`` and ``device_requests`` when
    the Dockfile asks.

    Docker has only limits: ``resources.limits`` when given, else the requests.
    """
    resources = resources or {}
    limits = resources.get("limits") or {}
    cpu = limits.get("cpu") or resources.get("cpu")
    memory = limits.get("memory") or resources.get("memory")
    mem = memory_to_bytes(memory) if memory is not None else DEFAULT_MEMORY
    out: dict[str, Any] = {"mem_limit": mem, "memswap_limit": mem, "pids_limit": DEFAULT_PIDS}
    if cpu is not None:
        out["nano_cpus"] = cpu_to_nano(cpu)
    gpus = resources.get("gpu")
    if gpus:
        from docker.types import DeviceRequest

        out["device_requests"] = [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    return out
