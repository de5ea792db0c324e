"""What of the AgentDock home a container gets: its key view and its state directory.

Nothing else of the home is mounted: never the registry, another agent's keys, the
bundles or the audit chain key.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.deployment.artifacts import StartRequest

__all__ = ["KEYS_MOUNT", "STATE_MOUNT", "home_mounts", "writable_by_container"]


#: Where a container finds its key view: the host's ``<home>/keys/<agent>[.<instance>]``,
#: bind-mounted read-only (the directory, so that a view replaced by a rename shows).
KEYS_MOUNT = "/etc/agentdock/keys"
#: Where a container's state directory (checkpoints, key use, LangFuse buffer) is mounted.
STATE_MOUNT = "/var/lib/agentdock/state"


def home_mounts(request: StartRequest) -> dict[str, Any]:
    """What of the AgentDock home a container gets: its own key view read-only and its own
    state directory, nothing else (never the registry, another agent's keys, the bundles
    or the chain key), and no supplementary group.

    The key view (:mod:`agentdock.registry.keyview`) is a 0644 file of digests in a 0755
    directory: the container's user (10001) reads it as "other". The state directory must
    be writable by that user: handed to it (``chown``) when AgentDock runs as root, else
    opened to everyone (0777) inside a home that is then kept 0700, so that no other user
    of the host can reach it. With a database URL in the run-time environment the runtime
    reads its keys there and no view is mounted.
    """
    from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV
    from agentdock.registry.keyview import VIEW_FILE, instance_name, state_dir, view_dir

    home = Path(request.home)
    name = instance_name(request.agent, request.instance)
    inside = f"{STATE_MOUNT}/{name}"
    state = state_dir(home, request.agent, request.instance)
    state.mkdir(parents=True, exist_ok=True)
    writable_by_container(state, home)
    volumes: dict[str, dict[str, str]] = {str(state): {"bind": inside, "mode": "rw"}}
    environment = {
        "AGENTDOCK_STATE_DIR": inside,
        "AGENTDOCK_LANGFUSE_BUFFER": f"{inside}/langfuse-buffer.db",
    }
    if not (request.env.get(DATABASE_URL_ENV) or request.env.get(RUNTIME_DATABASE_URL_ENV)):
        keys = view_dir(home, request.agent, request.instance)
        keys.mkdir(mode=0o755, parents=True, exist_ok=True)
        for directory in (keys.parent, keys):
            with contextlib.suppress(OSError):
                directory.chmod(0o755)
        volumes[str(keys)] = {"bind": KEYS_MOUNT, "mode": "ro"}
        environment["AGENTDOCK_KEY_VIEW"] = f"{KEYS_MOUNT}/{VIEW_FILE}"
    return {"environment": environment, "volumes": volumes}


def writable_by_container(path: Path, home: Path) -> None:
    """Let the image's user (10001) write ``path`` (see :func:`home_mounts`)."""
    from agentdock_plugins.docker.dockerfile import GID, UID

    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.chown(path, UID, GID)
            path.chmod(0o700)
            return
    with contextlib.suppress(OSError):
        home.chmod(stat.S_IMODE(home.stat().st_mode) & 0o700)
        path.chmod(0o777)
