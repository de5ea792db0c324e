"""The machine profile: tuned defaults baked into an image and applied at start-up.

A build writes ``/etc/agentdock/machine-profile.json`` (the hardware profile plugins make
it). At start-up, before anything imports a maths or CUDA library (OpenMP reads
``OMP_NUM_THREADS`` once, when it loads; PyTorch reads ``PYTORCH_CUDA_ALLOC_CONF`` when
its allocator starts), :func:`apply_machine_profile` puts each default into the
environment **unless the environment already has it**: an operator's ``-e`` or pod ``env``
always wins over a tuned guess.

The document (schema 1)::

    {
      "schema": 1,
      "hardware": "auto",            # build.hardware as declared
      "profile": "cuda",             # the family the build resolved to
      "redetect": true,              # recompute the defaults on the machine it runs on
      "env": {"OMP_NUM_THREADS": "16", ...},          # the defaults for the build machine
      "tuning": {"cpu": {...}, "cuda": {...}},        # the tables they came from
      "detected": {...}              # what the build machine looked like (informational)
    }

``redetect`` is set for ``build.hardware: auto`` (the image follows the machine it runs
on) and for a ``cuda`` image built where no GPU was seen (its GPU defaults cannot be known
at build time). Re-detection is cheap: the CPUs this process may use (affinity and cgroup
quota) and, only when ``pynvml`` is importable, NVML's device count and memory sizes. It
never runs ``nvidia-smi`` and never raises; what it cannot read it leaves out.

A *tuning* table, evaluated by :func:`evaluate_tuning`::

    {"worker_threads_per_cpu": 2, "omp_cpu_share": 1.0, "env": {...constant...},
     "gpu_classes": [{"name": "20+ GiB", "min_memory_gib": 20, "env": {...},
                      "worker_threads_per_cpu": 2, "omp_cpu_share": 1.0}, ...]}

Environment variables read here:

``AGENTDOCK_MACHINE_PROFILE=off``
    Apply nothing (the file is ignored).
``AGENTDOCK_NVML=off``
    Never load NVML (a driver that hangs, or tests that must not see a real GPU).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PATH",
    "NVML_ENV",
    "PROFILE_ENV",
    "SCHEMA",
    "WORKER_THREADS_ENV",
    "GpuFacts",
    "Tuned",
    "apply_machine_profile",
    "available_cpus",
    "available_memory",
    "evaluate_tuning",
    "nvml_disabled",
    "nvml_gpus",
]

DEFAULT_PATH = "/etc/agentdock/machine-profile.json"
SCHEMA = 1
PROFILE_ENV = "AGENTDOCK_MACHINE_PROFILE"
NVML_ENV = "AGENTDOCK_NVML"
#: Threads in flight for synchronous graphs while calls are quick (the worker pool's core).
WORKER_THREADS_ENV = "AGENTDOCK_WORKER_THREADS"

_OFF = frozenset({"0", "off", "false", "no"})
_GIB = 1024**3
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_SELF_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True, slots=True)
class GpuFacts:
    """What the defaults depend on for one GPU: its index and memory size."""

    index: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class Tuned:
    """The environment defaults a tuning table gives, and the GPU class it picked."""

    env: dict[str, str]
    gpu_class: str | None = None
    notes: list[str] = field(default_factory=list)


# -- machine facts ----------------------------------------------------------------------------


def _cgroup_dirs(cgroup_root: Path, self_cgroup: Path) -> list[Path]:
    """This process's cgroup (v2) and every ancestor up to the root, innermost first.

    A limit may sit on any level (a systemd slice on a host, the root of a container's
    cgroup namespace); the tightest one counts.
    """
    own = ""
    try:
        for line in self_cgroup.read_text().splitlines():
            if line.startswith("0::"):
                own = line[3:].strip()
                break
    except OSError:
        pass
    dirs = []
    current = Path(own) if own.startswith("/") else Path("/")
    while True:
        dirs.append(cgroup_root / str(current).lstrip("/"))
        if current == current.parent:
            break
        current = current.parent
    return dirs


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_cpu_limit(cgroup_root: Path, self_cgroup: Path) -> float | None:
    limits: list[float] = []
    for directory in _cgroup_dirs(cgroup_root, self_cgroup):
        raw = _read(directory / "cpu.max")
        if raw:
            quota, _, period = raw.partition(" ")
            if quota != "max":
                with contextlib.suppress(ValueError, ZeroDivisionError):
                    limits.append(int(quota) / int(period or "100000"))
    # cgroup v1: one hierarchy mounted at cpu/ (or cpu,cpuacct/).
    for v1 in ("cpu", "cpu,cpuacct"):
        quota_raw = _read(cgroup_root / v1 / "cpu.cfs_quota_us")
        period_raw = _read(cgroup_root / v1 / "cpu.cfs_period_us")
        if quota_raw and period_raw:
            try:
                v1_quota, v1_period = int(quota_raw), int(period_raw)
            except ValueError:
                continue
            if v1_quota > 0 and v1_period > 0:
                limits.append(v1_quota / v1_period)
    positive = [limit for limit in limits if limit > 0]
    return min(positive) if positive else None


def available_cpus(
    *,
    cgroup_root: Path = _CGROUP_ROOT,
    self_cgroup: Path = _SELF_CGROUP,
    affinity: int | None = None,
) -> int:
    """The CPUs this process may really use: its affinity mask, capped by a cgroup quota.

    ``os.cpu_count()`` counts the host's CPUs: in a container limited to 2 CPUs on a
    64-core host, OpenMP would start 64 threads that fight over 2 CPUs' worth of time. A
    fractional quota (1.5) rounds up: the half CPU is still usable.
    """
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            affinity = os.cpu_count() or 1
    count = max(1, affinity)
    limit = _cgroup_cpu_limit(cgroup_root, self_cgroup)
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return count


def available_memory(
    *,
    cgroup_root: Path = _CGROUP_ROOT,
    self_cgroup: Path = _SELF_CGROUP,
    meminfo: Path = Path("/proc/meminfo"),
) -> int | None:
    """Bytes of memory this process may use: ``MemTotal`` capped by a cgroup limit."""
    sizes: list[int] = []
    raw = _read(meminfo)
    if raw:
        for line in raw.splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                with contextlib.suppress(IndexError, ValueError):
                    sizes.append(int(parts[1]) * 1024)
                break
    for directory in _cgroup_dirs(cgroup_root, self_cgroup):
        value = _read(directory / "memory.max")
        if value and value != "max" and value.isdigit():
            sizes.append(int(value))
    v1 = _read(cgroup_root / "memory" / "memory.limit_in_bytes")
    # cgroup v1 reports "no limit" as a huge number (a page-rounded 2**63 - 1).
    if v1 and v1.isdigit() and int(v1) < 2**62:
        sizes.append(int(v1))
    positive = [size for size in sizes if size > 0]
    return min(positive) if positive else None


def nvml_disabled(environ: Mapping[str, str]) -> bool:
    """Whether ``AGENTDOCK_NVML`` turns NVML off."""
    return environ.get(NVML_ENV, "").strip().lower() in _OFF


def nvml_gpus(
    nvml: Any | None = None, environ: Mapping[str, str] | None = None
) -> tuple[list[GpuFacts], str | None]:
    """Each GPU's index and memory through NVML, and why none could be read (or ``None``).

    The start-up re-detection: no names, no subprocess, nothing imported when ``pynvml``
    is not installed (a CPU image need not carry it). ``nvml`` is the module (tests pass a
    fake one).
    """
    env = os.environ if environ is None else environ
    if nvml is None:
        if nvml_disabled(env):
            return [], f"nvml: disabled by {NVML_ENV}=off"
        if importlib.util.find_spec("pynvml") is None:
            return [], "nvml: pynvml is not installed"
        import pynvml

        nvml = pynvml
    try:
        nvml.nvmlInit()
    except Exception as exc:
        return [], f"nvml: {_one_line(exc)}"
    try:
        gpus = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(GpuFacts(index, int(nvml.nvmlDeviceGetMemoryInfo(handle).total)))
        return gpus, None
    except Exception as exc:
        return [], f"nvml: {_one_line(exc)}"
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# -- tuning -----------------------------------------------------------------------------------


def _gpu_class(
    classes: Sequence[Mapping[str, Any]], gpus: Sequence[GpuFacts]
) -> Mapping[str, Any] | None:
    """The class of the *smallest* GPU: the allocator settings apply to every device of
    the process, and the smallest card is the one that runs out first."""
    if not gpus or not classes:
        return None
    smallest = min(gpu.memory_bytes for gpu in gpus) / _GIB
    ordered = sorted(classes, key=lambda c: float(c.get("min_memory_gib", 0)), reverse=True)
    for cls in ordered:
        if smallest >= float(cls.get("min_memory_gib", 0)):
            return cls
    return None


def evaluate_tuning(tuning: Mapping[str, Any], cpus: int, gpus: Sequence[GpuFacts] = ()) -> Tuned:
    """The environment defaults a tuning table gives for ``cpus`` CPUs and ``gpus``.

    ``AGENTDOCK_WORKER_THREADS`` is ``cpus * worker_threads_per_cpu`` and
    ``OMP_NUM_THREADS`` is ``cpus * omp_cpu_share`` (at least 1 each); with GPUs,
    ``CUDA_VISIBLE_DEVICES`` lists them all and the class of the smallest one adds its
    ``env`` and may override both ratios.
    """
    cpus = max(1, int(cpus))
    per_cpu = float(tuning.get("worker_threads_per_cpu", 2))
    share = float(tuning.get("omp_cpu_share", 1.0))
    env: dict[str, str] = {str(k): str(v) for k, v in dict(tuning.get("env") or {}).items()}
    cls = _gpu_class(list(tuning.get("gpu_classes") or ()), gpus)
    notes: list[str] = []
    if gpus and tuning.get("gpu_classes") is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(gpu.index) for gpu in gpus)
    if cls is not None:
        per_cpu = float(cls.get("worker_threads_per_cpu", per_cpu))
        share = float(cls.get("omp_cpu_share", share))
        env.update({str(k): str(v) for k, v in dict(cls.get("env") or {}).items()})
        notes.append(f"GPU class {cls.get('name', '?')} (smallest GPU)")
    env[WORKER_THREADS_ENV] = str(max(1, round(cpus * per_cpu)))
    env["OMP_NUM_THREADS"] = str(max(1, int(cpus * share)))
    return Tuned(env=env, gpu_class=str(cls["name"]) if cls and "name" in cls else None,
                 notes=notes)  # fmt: skip


# -- start-up ---------------------------------------------------------------------------------


def _redetected_env(
    document: Mapping[str, Any],
    environ: Mapping[str, str],
    nvml: Any | None,
    cgroup_root: Path,
    self_cgroup: Path,
    cpus: int | None,
) -> tuple[dict[str, str], str, str | None] | None:
    """The defaults for this machine, its family and why NVML saw nothing; ``None`` when
    the document has no tuning to recompute them from."""
    tunings = document.get("tuning")
    if not isinstance(tunings, Mapping) or not tunings:
        return None
    wants_gpu = any(isinstance(t, Mapping) and t.get("gpu_classes") for t in tunings.values())
    gpus: list[GpuFacts] = []
    problem = None
    if wants_gpu:
        gpus, problem = nvml_gpus(nvml, environ)
    if cpus is None:
        cpus = available_cpus(cgroup_root=cgroup_root, self_cgroup=self_cgroup)
    by_gpu = [
        name for name, t in tunings.items() if isinstance(t, Mapping) and t.get("gpu_classes")
    ]
    without = [name for name in tunings if name not in by_gpu]
    if gpus and by_gpu:
        family = by_gpu[0]
    elif without:
        family = without[0]
    else:
        family = next(iter(tunings))
    return evaluate_tuning(tunings[family], cpus, gpus).env, family, problem


def apply_machine_profile(
    path: str | os.PathLike[str] = DEFAULT_PATH,
    environ: MutableMapping[str, str] = os.environ,
    *,
    nvml: Any | None = None,
    cgroup_root: Path = _CGROUP_ROOT,
    self_cgroup: Path = _SELF_CGROUP,
    cpus: int | None = None,
) -> dict[str, Any]:
    """Put the machine profile's defaults into ``environ`` where it lacks them.

    ``nvml``, ``cgroup_root``, ``self_cgroup`` and ``cpus`` replace what re-detection would
    read (tests describe a machine with them).

    :returns: ``{}`` when there is no profile (a plain ``serve``, or
        ``AGENTDOCK_MACHINE_PROFILE=off``); else ``{"path", "profile", "redetected",
        "applied": {name: value}, "kept": [names the environment already set]}``, plus
        ``"problem"`` (one line) when the file cannot be used or NVML could not be read.
        Never raises: a bad profile must not stop an agent that would run without it.
    """
    if environ.get(PROFILE_ENV, "").strip().lower() in _OFF:
        return {}
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        return {"path": str(file), "problem": f"cannot read the machine profile: {exc.strerror}"}
    try:
        document = json.loads(text)
    except ValueError as exc:
        return {"path": str(file), "problem": f"the machine profile is not JSON: {exc}"}
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return {"path": str(file), "problem": f"the machine profile is not schema {SCHEMA}"}
    report: dict[str, Any] = {
        "path": str(file),
        "profile": document.get("profile"),
        "redetected": False,
        "applied": {},
        "kept": [],
    }
    defaults = {str(k): str(v) for k, v in dict(document.get("env") or {}).items()}
    if document.get("redetect"):
        found = _redetected_env(document, environ, nvml, cgroup_root, self_cgroup, cpus)
        if found is not None:
            defaults, report["profile"], problem = found
            report["redetected"] = True
            if problem and document.get("profile") != "cpu":
                report["problem"] = problem
    for name, value in defaults.items():
        if name in environ:
            report["kept"].append(name)
        else:
            environ[name] = value
            report["applied"][name] = value
    return report
