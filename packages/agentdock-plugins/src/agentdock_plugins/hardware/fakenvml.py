"""A stand-in for ``pynvml`` that describes any machine: for tests and demonstrations.

No CI machine has a GPU, so every GPU code path is exercised through this object at the
plugin boundary (``probe(nvml=FakeNvml(...))``, ``apply_machine_profile(nvml=...)``). It
raises the real ``pynvml`` error classes, so code under test sees what a broken driver
would give it::

    FakeNvml([("NVIDIA GeForce RTX 4090", 24564)])              # one 24 GB card (MiB)
    FakeNvml([])                                                 # a driver, no devices
    FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)     # a broken driver
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

__all__ = ["FakeNvml", "models"]

_MIB = 1024**2

#: Memory sizes as drivers report them (MiB), for tests that want real-looking machines.
models: dict[str, tuple[str, int, tuple[int, int]]] = {
    "h100": ("NVIDIA H100 80GB HBM3", 81559, (9, 0)),
    "a100-40": ("NVIDIA A100-SXM4-40GB", 40536, (8, 0)),
    "rtx4090": ("NVIDIA GeForce RTX 4090", 24564, (8, 9)),
    "a10g": ("NVIDIA A10G", 23028, (8, 6)),
    "t4": ("Tesla T4", 15360, (7, 5)),
    "rtx3060": ("NVIDIA GeForce RTX 3060", 12288, (8, 6)),
    "rtx3080": ("NVIDIA GeForce RTX 3080", 10018, (8, 6)),
    "gtx1080": ("NVIDIA GeForce GTX 1080", 8192, (6, 1)),
}


@dataclass
class FakeNvml:
    """The NVML functions the probes call, answering for the GPUs given.

    :param gpus: ``(name, memory_mib)`` or ``(name, memory_mib, (major, minor))`` each.
    :param init_error: an ``NVML_ERROR_*`` code ``nvmlInit`` raises (no library, no driver).
    :param lost: indices of devices that raise ``GPU is lost`` when read.
    :param count_error: an ``NVML_ERROR_*`` code ``nvmlDeviceGetCount`` raises.
    """

    gpus: list[tuple[Any, ...]] = field(default_factory=list)
    driver: str = "550.54.14"
    cuda: int = 12040
    init_error: int | None = None
    count_error: int | None = None
    lost: frozenset[int] = frozenset()
    names_as_bytes: bool = False
    calls: list[str] = field(default_factory=list)
    initialised: int = 0

    NVMLError = pynvml.NVMLError

    # The method names are NVML's own, so the fake drops in where the module would.

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self.initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        if self.count_error is not None:
            raise pynvml.NVMLError(self.count_error)
        return len(self.gpus)

    def _gpu(self, handle: int) -> tuple[Any, ...]:
        if handle in self.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return self.gpus[handle]

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        name = str(self._gpu(handle)[0])
        return name.encode() if self.names_as_bytes else name

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        total = int(self._gpu(handle)[1]) * _MIB
        return SimpleNamespace(total=total, free=total, used=0)

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        self._gpu(handle)
        return f"GPU-{handle:08d}-fake"

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:
        gpu = self._gpu(handle)
        if len(gpu) < 3:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        major, minor = gpu[2]
        return int(major), int(minor)

    @classmethod
    def of(cls, *names: str, **kwargs: Any) -> FakeNvml:
        """A machine with the named :data:`models` (``FakeNvml.of("rtx4090", "rtx3060")``)."""
        return cls(gpus=[models[name] for name in names], **kwargs)
