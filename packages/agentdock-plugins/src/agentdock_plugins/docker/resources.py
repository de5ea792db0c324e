"""``deploy.resources`` of a Dockfile as the Docker engine's container limits.

The Dockfile writes resources as Kubernetes quantities (``cpu: 500m`` or ``1.5``;
``memory: 512Mi``, ``1G`` or plain bytes), so one Dockfile means the same limit on every
target. That is why ``M``, ``G`` ... are read as powers of ten, as Kubernetes reads them,
and not as the powers of two ``docker run --memory 512M`` would use; ``Mi``, ``Gi`` ... are
the powers of two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from agentdock.deployment.errors import InvalidDeployInput

__all__ = ["container_limits", "cpu_to_nano", "memory_to_bytes"]

_NANO = 1_000_000_000
_CPU = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?)(?P<milli>m)?$")
_MEMORY = re.compile(r"^(?P<num>[0-9]+)(?P<unit>Ki|Mi|Gi|Ti|K|M|G|T)?$")
_UNITS = {
    None: 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def cpu_to_nano(value: str | int | float) -> int:
    """CPUs (``"500m"``, ``"1.5"``, ``2``) as Docker's ``NanoCpus`` (10⁻⁹ CPU units)."""
    match = _CPU.match(str(value).strip())
    if match is None:
        raise InvalidDeployInput(
            f"deploy.resources.cpu {value!r} is not a CPU quantity",
            hint="write whole or decimal CPUs (2, 1.5) or millicores (500m)",
            path="deploy.resources.cpu",
        )
    try:
        cpus = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise InvalidDeployInput(f"deploy.resources.cpu {value!r} is not a number") from exc
    if match["milli"]:
        cpus /= 1000
    nano = int(cpus * _NANO)
    if nano <= 0:
        raise InvalidDeployInput(
            f"deploy.resources.cpu {value!r} is zero",
            hint="give at least 1m",
            path="deploy.resources.cpu",
        )
    return nano


def memory_to_bytes(value: str | int) -> int:
    """Memory (``"512Mi"``, ``"1G"``, ``"1048576"``) as a byte count."""
    match = _MEMORY.match(str(value).strip())
    if match is None:
        raise InvalidDeployInput(
            f"deploy.resources.memory {value!r} is not a memory quantity",
            hint="write bytes with an optional unit: 512Mi, 1Gi, 500M, 1G",
            path="deploy.resources.memory",
        )
    size = int(match["num"]) * _UNITS[match["unit"]]
    if size <= 0:
        raise InvalidDeployInput(
            f"deploy.resources.memory {value!r} is zero",
            path="deploy.resources.memory",
        )
    return size


def container_limits(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for ``containers.create`` (``mem_limit``, ``nano_cpus``,
    ``device_requests``); empty when the Dockfile sets no limits."""
    out: dict[str, Any] = {}
    if not resources:
        return out
    if resources.get("cpu") is not None:
        out["nano_cpus"] = cpu_to_nano(resources["cpu"])
    if resources.get("memory") is not None:
        out["mem_limit"] = memory_to_bytes(resources["memory"])
    gpus = resources.get("gpu")
    if gpus:
        from docker.types import DeviceRequest

        out["device_requests"] = [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    return out
