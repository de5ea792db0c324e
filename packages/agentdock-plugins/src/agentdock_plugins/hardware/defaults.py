"""Tuned defaults by machine family, and which family a Dockfile gets.

The tables here start from the per-machine table of seed 001 §D (a 24 GB RTX 4090 machine
with 16 cores and a 12 GB RTX 3060 machine with 8 cores), generalised from "which machine"
to "how many CPUs this process may use" and "how much memory the smallest visible GPU has".
They are evaluated by :func:`agentdock_runtime.machine.evaluate_tuning`, the same code the
runtime uses when it re-detects at start-up, so build time and start-up agree.

What each default is for:

``OMP_NUM_THREADS``
    OpenMP (and so NumPy's BLAS, PyTorch's CPU ops, MKL) starts one thread per *host* CPU
    by default, ignoring a container's CPU quota: on a 64-core node with ``cpu: 2``, 64
    threads share two CPUs' worth of time and everything slows down. The tables count the
    CPUs the process may use (affinity and cgroup quota).
``AGENTDOCK_WORKER_THREADS``
    Threads in flight for synchronous graphs while calls are quick (the worker pool's core;
    it still grows when calls stall). Two per CPU: most of an agent's time is spent waiting
    on a model, and a waiting thread costs no CPU.
``CUDA_VISIBLE_DEVICES`` and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
    CUDA numbers devices fastest-first by default, NVML and ``nvidia-smi`` by PCI bus: with
    ``PCI_BUS_ID`` the indices in ``CUDA_VISIBLE_DEVICES`` (every GPU detected) name the same
    cards ``agentdock hardware`` shows. Inside a container the NVIDIA runtime has already
    limited the devices to those the deploy asked for.
``PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:N``
    PyTorch's caching allocator splits large cached blocks to serve small requests; over a
    long-running service that fragments memory until a large allocation fails although
    enough is free in total. Blocks above N MiB are never split. The smaller the card, the
    closer it runs to full and the sooner fragmentation turns into an out-of-memory error,
    so smaller cards keep more blocks whole (a smaller N); large cards can afford to split
    more and reuse the cache better. Seed 001 §D: 64 for the 24 GB card, 32 for the 12 GB
    card; we extend it with 128 for 40 GB and larger cards and 16 below 10 GB.

Seed 001 §D also gives the 12 GB machine fewer request threads (one per core) and half its
cores for OpenMP: a small card serves fewer batches at once, so more request threads only
queue up in GPU memory, and the CPU does more of the pre- and post-processing. The classes
below keep that. ``NUMBA_CACHE_SIZE`` and ``MODEL_EVICT_THRESHOLD_PCT`` of the seed are
settings of that fleet's own code, read by no library an agent here uses: left out.

GPU classes are chosen by the memory of the *smallest* detected GPU (the allocator setting
applies to every device of the process) and their thresholds sit a little below the
marketed sizes, since drivers report less than the label (a "40 GB" A100 reports 39.6 GiB,
a "10 GB" RTX 3080 9.8 GiB).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentdock.deployment.errors import InvalidDeployInput
from agentdock_runtime.machine import SCHEMA, evaluate_tuning

if TYPE_CHECKING:
    from agentdock.protocols import HardwareProfile

    from agentdock_plugins.hardware.probe import Probe

__all__ = [
    "CPU_TUNING",
    "CUDA_GPU_CLASSES",
    "CUDA_TUNING",
    "DEFAULT_CUDA_VERSION",
    "DEFAULT_PYTHON_VERSION",
    "BaseImage",
    "base_image_for",
    "hardware_problem",
    "hardware_problems",
    "load_profiles",
    "machine_profile",
    "requested_gpus",
    "resolve",
    "tuned_document",
]

DEFAULT_PYTHON_VERSION = "3.11"
#: The CUDA runtime a ``cuda`` image gets when ``build.cuda_version`` is not set: new enough
#: for current PyTorch wheels, old enough for the 550 drivers most GPU hosts run.
DEFAULT_CUDA_VERSION = "12.4"

#: CPU machines: two request threads per CPU, every CPU for OpenMP.
CPU_TUNING: dict[str, Any] = {"worker_threads_per_cpu": 2, "omp_cpu_share": 1.0}

#: GPU memory classes, largest first (see the module docstring for why each value).
CUDA_GPU_CLASSES: list[dict[str, Any]] = [
    {
        "name": "40+ GiB",
        "min_memory_gib": 38,
        "worker_threads_per_cpu": 2,
        "omp_cpu_share": 1.0,
        "env": {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"},
    },
    {
        "name": "20+ GiB",
        "min_memory_gib": 20,
        "worker_threads_per_cpu": 2,
        "omp_cpu_share": 1.0,
        "env": {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:64"},
    },
    {
        "name": "10+ GiB",
        "min_memory_gib": 9.5,
        "worker_threads_per_cpu": 1,
        "omp_cpu_share": 0.5,
        "env": {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:32"},
    },
    {
        "name": "under 10 GiB",
        "min_memory_gib": 0,
        "worker_threads_per_cpu": 1,
        "omp_cpu_share": 0.5,
        "env": {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:16"},
    },
]

#: CUDA machines: the CPU ratios until a GPU is seen, then those of its class.
CUDA_TUNING: dict[str, Any] = {
    "worker_threads_per_cpu": 2,
    "omp_cpu_share": 1.0,
    "env": {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"},
    "gpu_classes": CUDA_GPU_CLASSES,
}


def _get(cfg: Any, key: str) -> Any:
    """A key of a Dockfile block given as a model, a mapping or ``None``."""
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        return cfg.get(key)
    return getattr(cfg, key, None)


def _summary(machine: Probe) -> dict[str, Any]:
    return {
        "source": machine.source,
        "cpus": machine.cpus,
        "memory_bytes": machine.memory_bytes,
        "gpus": [{"name": gpu.name, "memory_gib": gpu.memory_gib} for gpu in machine.gpus],
        "driver_version": machine.driver_version,
        "cuda_version": machine.cuda_version,
        "platform": machine.platform,
    }


def tuned_document(name: str, tuning: Mapping[str, Any], machine: Probe) -> dict[str, Any]:
    """The machine profile of family ``name`` for ``machine`` (schema 1 of
    :mod:`agentdock_runtime.machine`); what ``HardwareProfile.tuned`` returns."""
    uses_gpu = tuning.get("gpu_classes") is not None
    gpus = machine.gpu_facts() if uses_gpu else []
    result = evaluate_tuning(tuning, machine.cpus, gpus)
    return {
        "schema": SCHEMA,
        "hardware": name,
        "profile": name,
        # A GPU family built where no GPU was seen cannot know its GPU defaults yet.
        "redetect": uses_gpu and not gpus,
        "gpu_class": result.gpu_class,
        "env": result.env,
        "tuning": {name: copy.deepcopy(dict(tuning))},
        "detected": _summary(machine),
    }


def _builtin_profiles() -> dict[str, HardwareProfile]:
    from agentdock_plugins.hardware.profiles import CpuProfile, CudaProfile

    return {"cpu": CpuProfile(), "cuda": CudaProfile()}


def resolve(
    build_cfg: Any,
    probe: Probe | None,
    *,
    gpus: int = 0,
    profiles: Mapping[str, HardwareProfile] | None = None,
) -> HardwareProfile:
    """The profile ``build.hardware`` means on the probed machine.

    ``cpu`` and ``cuda`` are taken as written. ``auto`` is ``cuda`` when the deploy asks for
    GPUs (``gpus`` > 0: the image must be able to use them), else the first profile other
    than ``cpu`` whose ``detect(probe)`` is true, else ``cpu``; without a probe, ``cpu``.

    :param profiles: the profiles by name (default: the built-in ``cpu`` and ``cuda``; a
        host with plugins passes what ``agentdock_register_hardware_profiles`` gave).
    :raises InvalidDeployInput: ``build.hardware`` names a profile nobody registered.
    """
    known = dict(profiles) if profiles is not None else _builtin_profiles()
    wanted = str(_get(build_cfg, "hardware") or "auto")
    if wanted != "auto":
        if wanted not in known:
            raise InvalidDeployInput(
                f"build.hardware is {wanted!r} but no hardware profile of that name is loaded",
                hint=f"known profiles: {', '.join(sorted(known)) or 'none'}",
                path="build.hardware",
            )
        return known[wanted]
    if gpus > 0 and "cuda" in known:
        return known["cuda"]
    if probe is not None:
        for name, profile in known.items():
            if name != "cpu" and _safe_detect(profile, probe):
                return profile
    if "cpu" not in known:
        raise InvalidDeployInput(
            "build.hardware is auto but no cpu hardware profile is loaded",
            path="build.hardware",
        )
    return known["cpu"]


def _safe_detect(profile: Any, probe: Probe) -> bool:
    try:
        return bool(profile.detect(probe))
    except Exception:
        return False


def requested_gpus(resources_cfg: Any, profile: HardwareProfile) -> int:
    """How many GPUs targets ask for: ``deploy.resources.gpu`` when set, else one for a
    GPU family (an image built for CUDA is of no use without a device) and none for CPU."""
    declared = _get(resources_cfg, "gpu")
    if declared is not None:
        return int(declared)
    return 1 if profile.name == "cuda" else 0


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def hardware_problems(
    build_cfg: Any,
    resources_cfg: Any = None,
    probe: Probe | None = None,
    *,
    profiles: Mapping[str, HardwareProfile] | None = None,
) -> list[str]:
    """Every reason the Dockfile's hardware asks cannot be met, one line each.

    Without ``probe`` only the Dockfile is checked (what a build on any machine can tell);
    with it (pass it when the target runs on this machine: the local Docker engine), also
    whether this machine has the GPUs and the driver it asks for.
    """
    problems: list[str] = []
    hardware = str(_get(build_cfg, "hardware") or "auto")
    declared_gpus = _get(resources_cfg, "gpu")
    gpus = int(declared_gpus or 0)
    if hardware == "cpu" and gpus > 0:
        problems.append(
            f"deploy.resources.gpu asks for {gpus} GPU{'s' if gpus > 1 else ''} but "
            "build.hardware is cpu: set build.hardware to cuda (or auto), or drop the GPU"
        )
        return problems
    try:
        profile = resolve(build_cfg, probe, gpus=gpus, profiles=profiles)
    except InvalidDeployInput as exc:
        return [exc.cause]
    declared_platforms = _get(build_cfg, "platforms") or []
    supported = profile.platforms()
    odd = [p for p in declared_platforms if p not in supported]
    if odd:
        problems.append(
            f"build.platforms {', '.join(odd)} not available for the {profile.name} profile "
            f"(it has {', '.join(supported)})"
        )
    if probe is None:
        return problems
    need = requested_gpus(resources_cfg, profile)
    have = len(probe.gpus)
    if need > 0 and have == 0:
        asked = (
            f"deploy.resources.gpu asks for {need}" if declared_gpus else "build.hardware is cuda"
        )
        why = "; ".join(probe.problems) or "no NVIDIA GPU detected"
        problems.append(f"{asked} but this machine has no GPU ({why})")
    elif need > have:
        problems.append(f"deploy.resources.gpu asks for {need} GPUs but this machine has {have}")
    wanted_cuda = _get(build_cfg, "cuda_version")
    if profile.name == "cuda" and have and probe.cuda_version:
        cuda = str(wanted_cuda or DEFAULT_CUDA_VERSION)
        if _version_tuple(cuda) > _version_tuple(probe.cuda_version):
            problems.append(
                f"build.cuda_version {cuda} needs a newer driver: this machine's driver "
                f"{probe.driver_version or '?'} supports CUDA {probe.cuda_version} at most"
            )
    return problems


def hardware_problem(
    build_cfg: Any,
    resources_cfg: Any = None,
    probe: Probe | None = None,
    *,
    profiles: Mapping[str, HardwareProfile] | None = None,
) -> str | None:
    """The first of :func:`hardware_problems`, or ``None`` when the asks can be met.

    Callers turn it into ``InvalidDeployInput`` (``path="deploy.resources.gpu"``) before
    building or starting anything.
    """
    found = hardware_problems(build_cfg, resources_cfg, probe, profiles=profiles)
    return found[0] if found else None


def machine_profile(
    build_cfg: Any,
    probe: Probe,
    *,
    gpus: int = 0,
    profiles: Mapping[str, HardwareProfile] | None = None,
) -> dict[str, Any]:
    """The ``/etc/agentdock/machine-profile.json`` document for a build.

    The resolved profile's ``tuned(probe)``, marked with ``build.hardware`` as declared.
    For ``auto`` it also carries every built-in family's tuning and asks the runtime to
    re-detect, so the image follows the machine it starts on (a CPU-family image started
    on a GPU host still gets CPU counts right; a CUDA image on a smaller card gets that
    card's allocator settings).
    """
    known = dict(profiles) if profiles is not None else _builtin_profiles()
    profile = resolve(build_cfg, probe, gpus=gpus, profiles=known)
    document = profile.tuned(probe)
    hardware = str(_get(build_cfg, "hardware") or "auto")
    document["hardware"] = hardware
    if hardware == "auto":
        document["redetect"] = True
        tunings = {"cuda": CUDA_TUNING, "cpu": CPU_TUNING}
        document["tuning"] = {
            **{name: copy.deepcopy(t) for name, t in tunings.items()},
            **document.get("tuning", {}),
        }
    return document


@dataclass(frozen=True, slots=True)
class BaseImage:
    """The base image a build starts from, and what is known about it."""

    ref: str
    profile: str
    #: Whether ``build.base_image`` chose it instead of the profile.
    overridden: bool
    #: Whether it carries ``python_version``; ``None`` when the user chose it (the builder
    #: checks, as for any base).
    bundles_python: bool | None
    python_version: str
    cuda_version: str | None


def base_image_for(build_cfg: Any, profile: HardwareProfile) -> BaseImage:
    """``build.base_image`` when set, else the profile's family image for
    ``build.python_version`` (default 3.11) and ``build.cuda_version`` (default 12.4)."""
    python = str(_get(build_cfg, "python_version") or DEFAULT_PYTHON_VERSION)
    cuda = _get(build_cfg, "cuda_version")
    if profile.name == "cuda":
        cuda = str(cuda or DEFAULT_CUDA_VERSION)
    declared = _get(build_cfg, "base_image")
    if declared:
        return BaseImage(str(declared), profile.name, True, None, python, cuda)
    return BaseImage(
        profile.base_image(python, cuda),
        profile.name,
        False,
        bool(getattr(profile, "bundles_python", True)),
        python,
        cuda,
    )


def load_profiles(manager: Any) -> dict[str, HardwareProfile]:
    """Every hardware profile a plugin manager collected, built once, by name (a factory
    that fails is left out: ``agentdock plugins`` already reports broken plugins)."""
    profiles: dict[str, HardwareProfile] = {}
    for name, registration in manager.registrations("hardware_profiles").items():
        with contextlib.suppress(Exception):
            profiles[name] = registration.factory()
    return profiles
