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

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock_runtime.machine import SCHEMA, evaluate_tuning

if TYPE_CHECKING:
    from agentdock_plugins.hardware.probe import Probe

__all__ = [
    "CPU_TUNING",
    "CUDA_GPU_CLASSES",
    "CUDA_TUNING",
    "DEFAULT_CUDA_VERSION",
    "tuned_document",
]

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
