"""Kubernetes resource quantities as the Dockfile writes them (``deploy.resources``).

``cpu``: whole or decimal CPUs (``2``, ``1.5``) or millicores (``500m``). ``memory``: bytes
with an optional unit; ``K M G T`` are powers of ten and ``Ki Mi Gi Ti`` powers of two, as
Kubernetes reads them, so one Dockfile means the same amount on every target.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["cpu_millis", "memory_bytes"]

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


def cpu_millis(value: str | int | float) -> int:
    """CPUs as millicores (``"1.5"`` → 1500); :class:`ValueError` when not a quantity."""
    match = _CPU.match(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a CPU quantity (2, 1.5 or 500m)")
    number = Decimal(match["num"])
    return int(number if match["milli"] else number * 1000)


def memory_bytes(value: str | int) -> int:
    """Memory as bytes (``"512Mi"`` → 536870912); :class:`ValueError` when not a quantity."""
    match = _MEMORY.match(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a memory quantity (512Mi, 1Gi, 500M)")
    return int(match["num"]) * _UNITS[match["unit"]]
