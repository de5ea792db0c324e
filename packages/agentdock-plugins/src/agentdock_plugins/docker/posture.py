"""The locked-down settings of a container and how its variables reach it.

Composes :mod:`.hardening` (user, capabilities, read-only root, limits) with
:mod:`.envfile` (the run-time variables in a file only the runtime's user reads, for an
image that reads one; in the environment for an older image).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentdock_plugins.docker.envfile import (
    ENV_FILE,
    ENV_FILE_ENV,
    env_file_archive,
    env_file_mount,
    reads_env_file,
)
from agentdock_plugins.docker.hardening import image_owner, security_options

__all__ = ["container_posture"]


def container_posture(
    image_config: Mapping[str, Any],
    env: Mapping[str, str],
    settings: Mapping[str, str],
    registry: Mapping[str, Any],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The keyword arguments of ``containers.create`` that make a container as locked down
    as a pod (:mod:`.hardening`) and carry its variables: ``environment`` (the target's
    ``settings``, plus ``env`` itself for an image that predates env files) and ``mounts``;
    and ``hand_over``, the env file's tar stream (None: no file)."""
    owner = image_owner(image_config)
    mounted = [str(m.get("bind", "")) for m in (registry.get("volumes") or {}).values()]
    out = security_options(owner, mounted, labels)
    handed = {k: v for k, v in env.items() if k not in settings}
    if reads_env_file(image_config) and handed:
        out["environment"] = {**settings, ENV_FILE_ENV: ENV_FILE}
        out["mounts"].append(env_file_mount(labels))
        out["hand_over"] = env_file_archive(handed, owner)
    else:
        out["environment"] = {**env, **settings}
        out["hand_over"] = None
    return out
