"""Which hardware profile a Dockfile gets on a machine, its base image and its problems.

The tuned defaults of each machine family, and why each value, are in
:mod:`~agentdock_plugins.hardware.tuning`; the profiles that carry them in
:mod:`~agentdock_plugins.hardware.profiles`.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentdock.deployment.errors import InvalidDeployInput

from agentdock_plugins.hardware.tuning import (
    CPU_TUNING,
    CUDA_TUNING,
    DEFAULT_CUDA_VERSION,
)

if TYPE_CHECKING:
    from agentdock.protocols import HardwareProfile

    from agentdock_plugins.hardware.probe import Probe

__all__ = [
    "DEFAULT_PYTHON_VERSION",
    "BaseImage",
    "base_image_for",
    "hardware_problem",
    "hardware_problems",
    "load_profiles",
    "machine_profile",
    "requested_gpus",
    "resolve",
]

DEFAULT_PYTHON_VERSION = "3.11"


def _get(cfg: Any, key: str) -> Any:
    """A key of a Dockfile block given as a model, a mapping or ``None``."""
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        return cfg.get(key)
    return getattr(cfg, key, None)


def _registered_profiles() -> dict[str, HardwareProfile]:
    """The profiles registered with the process's plugin manager: the built-in ``cpu`` and
    ``cuda`` come through ``agentdock_register_hardware_profiles`` like any plugin's, so no
    caller names their classes."""
    from agentdock.plugins import get_plugin_manager

    return load_profiles(get_plugin_manager())


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

    :param profiles: the profiles by name (default: those the process's plugin manager
        registered through ``agentdock_register_hardware_profiles``, built-ins included).
    :raises InvalidDeployInput: ``build.hardware`` names a profile nobody registered.
    """
    known = dict(profiles) if profiles is not None else _registered_profiles()
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
    known = dict(profiles) if profiles is not None else _registered_profiles()
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
