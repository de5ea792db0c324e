"""What a machine has: GPUs (NVML, else ``nvidia-smi``, else none), CPUs and memory.

:func:`probe` never raises. Each way of looking that fails leaves a one-line reason in
``Probe.problems`` (``"nvml: NVML Shared Library Not Found"``, ``"nvidia-smi: not found on
PATH"``), so ``agentdock hardware`` can say *why* a machine looks like a CPU machine: a
missing driver and a broken one read very differently.

NVML first: it is a library call (milliseconds), gives exact memory sizes and the driver's
CUDA version, and needs no binary on ``PATH`` (a container gets ``libnvidia-ml`` from the
NVIDIA runtime, not always ``nvidia-smi``). ``nvidia-smi`` is the fallback for machines
where the Python bindings are absent or cannot load the library they look for.

Environment variables:

``AGENTDOCK_NVML=off``
    Skip NVML (tests use it so that a real GPU on the machine cannot change their result).
``AGENTDOCK_NVIDIA_SMI``
    The ``nvidia-smi`` to run (default: the one on ``PATH``); ``off`` skips it.
"""

from __future__ import annotations

import os
import platform as _platform
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentdock_runtime.machine import (
    NVML_ENV,
    GpuFacts,
    available_cpus,
    available_memory,
    nvml_disabled,
)

__all__ = [
    "NVIDIA_SMI_ENV",
    "SMI_QUERY",
    "Gpu",
    "Probe",
    "host_platform",
    "probe",
    "probe_nvidia_smi",
    "probe_nvml",
]

NVIDIA_SMI_ENV = "AGENTDOCK_NVIDIA_SMI"
#: The fields asked of ``nvidia-smi --query-gpu`` (all supported by drivers since 2015).
SMI_QUERY = "index,name,memory.total,driver_version,uuid"
SMI_TIMEOUT = 15.0
_MIB = 1024**2
_CUDA_LINE = re.compile(r"CUDA Version\s*:\s*([0-9]+\.[0-9]+)")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

Source = Literal["nvml", "nvidia-smi", "none"]
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU as the driver reports it."""

    index: int
    name: str
    memory_bytes: int
    uuid: str | None = None
    compute_capability: str | None = None

    @property
    def memory_gib(self) -> float:
        return round(self.memory_bytes / 1024**3, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "memory_bytes": self.memory_bytes,
            "memory_gib": self.memory_gib,
            "uuid": self.uuid,
            "compute_capability": self.compute_capability,
        }


@dataclass(frozen=True, slots=True)
class Probe:
    """What was detected about one machine, and how."""

    source: Source
    gpus: tuple[Gpu, ...] = ()
    driver_version: str | None = None
    cuda_version: str | None = None
    cpus: int = 1
    memory_bytes: int | None = None
    platform: str = "linux/amd64"
    problems: tuple[str, ...] = field(default=())

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def gpu_facts(self) -> list[GpuFacts]:
        """The GPUs as the tuning tables see them (index and memory)."""
        return [GpuFacts(gpu.index, gpu.memory_bytes) for gpu in self.gpus]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "gpus": [gpu.to_json() for gpu in self.gpus],
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "cpus": self.cpus,
            "memory_bytes": self.memory_bytes,
            "platform": self.platform,
            "problems": list(self.problems),
        }


def host_platform(machine: str | None = None) -> str:
    """This machine as an OCI platform (``linux/amd64``, ``linux/arm64``)."""
    arch = (machine or _platform.machine()).lower()
    return f"linux/{_ARCH.get(arch, arch)}"


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text[:200]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _cuda_from_int(value: int) -> str:
    """NVML's 12040 as ``"12.4"``."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def probe_nvml(nvml: Any) -> tuple[list[Gpu], str | None, str | None, list[str]]:
    """GPUs, driver version, CUDA version and problems, read through ``nvml`` (the
    ``pynvml`` module or a stand-in with the same functions).

    A device that cannot be read (fallen off the bus) is left out with a problem line;
    the others still count.
    """
    problems: list[str] = []
    try:
        nvml.nvmlInit()
    except Exception as exc:
        return [], None, None, [f"nvml: {_one_line(exc)}"]
    try:
        driver = cuda = None
        try:
            driver = _text(nvml.nvmlSystemGetDriverVersion())
        except Exception as exc:
            problems.append(f"nvml: driver version: {_one_line(exc)}")
        try:
            cuda = _cuda_from_int(int(nvml.nvmlSystemGetCudaDriverVersion()))
        except Exception as exc:
            problems.append(f"nvml: CUDA version: {_one_line(exc)}")
        try:
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:
            return [], driver, cuda, [*problems, f"nvml: device count: {_one_line(exc)}"]
        gpus: list[Gpu] = []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                name = _text(nvml.nvmlDeviceGetName(handle))
                memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            except Exception as exc:
                problems.append(f"nvml: GPU {index}: {_one_line(exc)}")
                continue
            uuid = capability = None
            try:
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            except Exception:
                uuid = None
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                capability = f"{int(major)}.{int(minor)}"
            except Exception:
                capability = None
            gpus.append(Gpu(index, name, memory, uuid, capability))
        return gpus, driver, cuda, problems
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception as exc:
            problems.append(f"nvml: shutdown: {_one_line(exc)}")


def _smi_rows(stdout: str) -> list[Gpu]:
    gpus = []
    for line in stdout.splitlines():
        fields = [part.strip() for part in line.split(",")]
        if len(fields) < 5:
            continue
        # The name is the only field that could hold a comma: it is what lies between.
        index, memory, driver_uuid = fields[0], fields[-3], fields[-1]
        name = ", ".join(fields[1:-3])
        try:
            number = int(index)
        except ValueError:
            continue
        try:
            memory_bytes = int(float(memory) * _MIB)
        except ValueError:
            memory_bytes = 0
        gpus.append(Gpu(number, name, memory_bytes, driver_uuid or None))
    return gpus


def probe_nvidia_smi(
    executable: str, run: Runner = subprocess.run
) -> tuple[list[Gpu], str | None, str | None, list[str]]:
    """GPUs, driver version, CUDA version and problems, asked of ``nvidia-smi``."""
    args = [executable, f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        done = run(args, capture_output=True, text=True, timeout=SMI_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return [], None, None, [f"nvidia-smi: no answer within {SMI_TIMEOUT:g} s"]
    except OSError as exc:
        return [], None, None, [f"nvidia-smi: {exc.strerror or _one_line(exc)}"]
    if done.returncode != 0:
        said = (done.stdout or done.stderr or "").strip().splitlines()
        reason = said[0][:200] if said else "no output"
        return [], None, None, [f"nvidia-smi: exit {done.returncode}: {reason}"]
    gpus = _smi_rows(done.stdout)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    driver = None
    if lines:
        fields = [part.strip() for part in lines[0].split(",")]
        driver = fields[-2] if len(fields) >= 5 else None
    problems = [] if gpus or not lines else ["nvidia-smi: output not understood"]
    cuda = None
    if gpus:
        # The driver's CUDA version is only in the banner of the plain command.
        try:
            banner = run([executable], capture_output=True, text=True, timeout=SMI_TIMEOUT)
            found = _CUDA_LINE.search(banner.stdout or "")
            cuda = found.group(1) if found else None
        except (OSError, subprocess.TimeoutExpired):
            cuda = None
    return gpus, driver, cuda, problems


def _find_smi(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The ``nvidia-smi`` to run, or why there is none."""
    chosen = environ.get(NVIDIA_SMI_ENV, "").strip()
    if chosen.lower() in {"off", "0", "false", "no"}:
        return None, f"nvidia-smi: disabled by {NVIDIA_SMI_ENV}=off"
    if chosen:
        return chosen, None
    found = shutil.which("nvidia-smi", path=environ.get("PATH", os.defpath))
    return (found, None) if found else (None, "nvidia-smi: not found on PATH")


def probe(
    *,
    nvml: Any | None = None,
    environ: Mapping[str, str] | None = None,
    run: Runner = subprocess.run,
    cgroup_root: Path | None = None,
    cpus: int | None = None,
    memory_bytes: int | None = None,
    machine: str | None = None,
) -> Probe:
    """Detect this machine; never raises.

    :param nvml: the NVML bindings to use (tests pass a fake); default ``pynvml``, unless
        ``AGENTDOCK_NVML=off``.
    :param environ: where ``PATH``, ``AGENTDOCK_NVML`` and ``AGENTDOCK_NVIDIA_SMI`` are read.
    :param run: runs ``nvidia-smi`` (``subprocess.run``'s signature).
    :param cpus: / ``memory_bytes`` / ``machine``: fixed values instead of reading them.
    """
    env = os.environ if environ is None else environ
    problems: list[str] = []
    gpus: list[Gpu] = []
    driver = cuda = None
    source: Source = "none"
    bindings = nvml
    if bindings is None:
        if nvml_disabled(env):
            problems.append(f"nvml: disabled by {NVML_ENV}=off")
        else:
            try:
                import pynvml

                bindings = pynvml
            except ImportError:
                problems.append("nvml: pynvml is not installed")
    if bindings is not None:
        gpus, driver, cuda, found = probe_nvml(bindings)
        problems.extend(found)
        if gpus:
            source = "nvml"
    if not gpus:
        executable, why = _find_smi(env)
        if executable is None:
            problems.append(str(why))
        else:
            smi_gpus, smi_driver, smi_cuda, found = probe_nvidia_smi(executable, run)
            problems.extend(found)
            if smi_gpus:
                gpus, driver, cuda, source = smi_gpus, smi_driver, smi_cuda, "nvidia-smi"
    root = cgroup_root if cgroup_root is not None else Path("/sys/fs/cgroup")
    return Probe(
        source=source,
        gpus=tuple(gpus),
        driver_version=driver,
        cuda_version=cuda,
        cpus=cpus if cpus is not None else available_cpus(cgroup_root=root),
        memory_bytes=(
            memory_bytes if memory_bytes is not None else available_memory(cgroup_root=root)
        ),
        platform=host_platform(machine),
        problems=tuple(problems),
    )
