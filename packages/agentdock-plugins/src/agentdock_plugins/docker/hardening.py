"""The ``docker`` target's container posture: what the pods' restricted securityContext says,
in the Docker engine's words.

A Kubernetes pod of an agent runs with every capability dropped, no privilege escalation and
a read-only root file system, writable only through ``emptyDir`` volumes at ``/tmp`` and the
state directory (see :mod:`agentdock_plugins.kubernetes.manifests`). A container of the
``docker`` target gets the same: ``cap_drop=["ALL"]``, ``no-new-privileges`` (a setuid binary
gains nothing; the image has none left either, see :mod:`.dockerfile`), a read-only root,
and writable directories where the runtime writes:

- ``/tmp`` and ``HOME`` (library caches): a ``tmpfs``, memory that counts against the
  container's limit and is empty after every start;
- the state directory (checkpoints, the telemetry buffer), unless a volume is mounted there
  already: an anonymous volume, which, like an ``emptyDir``, outlives a restart of the
  runtime and goes with the container. The engine fills it from the image, so it keeps the
  image's owner (10001 in every AgentDock image).

The tmpfs mounts belong to the image's user when it is numeric (``USER 10001:10001``): with
no capability left, not even root can write into a directory it does not own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentdock_plugins.docker.dockerfile import HOME_DIR, STATE_DIR

__all__ = ["SCRATCH_DIRS", "SECURITY_OPT", "image_owner", "security_options"]

#: What the engine is told: no process of the container can gain privileges (setuid files,
#: file capabilities) beyond its parent's.
SECURITY_OPT = ("no-new-privileges",)
#: Scratch space: temporary files and library caches, gone with each start.
SCRATCH_DIRS = ("/tmp", HOME_DIR)  # noqa: S108 - tmpfs mount points, not files


def image_owner(config: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(uid, gid)`` of an image's ``Config.User`` when it is numeric (``10001:10001``,
    ``10001``), else None (a user name, or root by default: nothing to read it from without
    the image's ``/etc/passwd``)."""
    user = str(config.get("User") or "")
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    return int(uid), int(gid or uid)


def security_options(
    owner: tuple[int, int] | None, mounted: Iterable[str], labels: Mapping[str, str]
) -> dict[str, Any]:
    """Keyword arguments for ``containers.create``: capabilities, privileges, a read-only
    root, a tmpfs at each of :data:`SCRATCH_DIRS` and an anonymous volume (labelled with
    ``labels``) at the state directory, where no volume in ``mounted`` (the container paths
    of its other volumes) is already."""
    from docker.types import Mount

    taken = {path.rstrip("/") for path in mounted}
    base = "rw,nosuid,nodev"
    private = f"{base},uid={owner[0]},gid={owner[1]},mode=0700" if owner else f"{base},mode=1777"
    tmpfs = {
        path: f"{base},mode=1777" if path == "/tmp" else private  # noqa: S108 - a mount point
        for path in SCRATCH_DIRS
        if path not in taken
    }
    mounts = []
    if STATE_DIR not in taken:
        mounts.append(Mount(target=STATE_DIR, source=None, type="volume", labels=dict(labels)))
    return {
        "cap_drop": ["ALL"],
        "security_opt": list(SECURITY_OPT),
        "read_only": True,
        "tmpfs": tmpfs,
        "mounts": mounts,
    }
