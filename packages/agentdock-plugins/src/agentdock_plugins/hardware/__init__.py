"""Built-in plugin: the ``cpu`` and ``cuda`` hardware profiles.

``build.hardware`` (Dockfile 1.1) picks one: ``cpu``, ``cuda``, or ``auto`` (detected at
build time through NVML, then ``nvidia-smi``, then CPU; and again at start-up). A profile
chooses the base image family, the platforms, the tuned defaults baked into
``/etc/agentdock/machine-profile.json`` and how targets ask for GPUs. See
:mod:`~agentdock_plugins.hardware.tuning` for the values and why.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = ["agentdock_register_commands", "agentdock_register_hardware_profiles"]


def _cpu() -> Any:
    from agentdock_plugins.hardware.profiles import CpuProfile

    return CpuProfile()


def _cuda() -> Any:
    from agentdock_plugins.hardware.profiles import CudaProfile

    return CudaProfile()


@hookimpl
def agentdock_register_hardware_profiles(register: Any) -> None:
    register("cpu", _cpu, "CPU machines: python slim base, OpenMP and worker threads by CPUs")
    register(
        "cuda",
        _cuda,
        "NVIDIA GPU machines: CUDA runtime base, allocator settings by GPU memory, GPU requests",
    )


@hookimpl
def agentdock_register_commands(cli: Any) -> None:
    """``agentdock hardware``: what this machine has and which profile it gets."""
    from agentdock_plugins.hardware.commands import hardware_command

    cli.add_command(hardware_command)
