"""How the ``docker`` target hands a deployment's variables to its runtime without putting
them in the container's configuration.

``docker run`` has no secrets store (that is Swarm's), and whatever goes into a container's
environment, ``docker inspect`` prints. So the variables go into a file,
:data:`ENV_FILE` (JSON, see :mod:`agentdock_runtime.envfile`), on an anonymous volume
mounted at :data:`ENV_DIR`: the file is copied in after the container is created and
before it starts (the engine writes a read-only root file system only through a volume),
it is owned by the image's user with mode ``0400``, and the directory belongs to root, so
the runtime can read it and its (non-root) user cannot replace it. The volume outlives a
restart, so a runtime Docker restarts reads the file again; it is removed with the
container. ``docker inspect`` shows the volume's name, never the values.

Anyone who can reach the Docker engine can still read the file (``docker cp``, or the
volume's directory under ``/var/lib/docker``, where the engine keeps the environment of a
container anyway): access to the engine is access to the machine. What this prevents is
the values showing up wherever ``docker inspect`` output goes (support bundles, monitoring
agents, CI logs).

Only images whose runtime reads the file say so, with the label :data:`ENV_FILE_LABEL`
(every AgentDock image built since; see :mod:`.dockerfile`). An older image (a rollback to
a version built before) gets the variables in its environment, as it always did.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentdock.masking import SECRET_NAMES_ENV
from agentdock_runtime.envfile import ENV_FILE_ENV

if TYPE_CHECKING:
    from docker.models.containers import Container

__all__ = [
    "ENV_DIR",
    "ENV_FILE",
    "ENV_FILE_ENV",
    "ENV_FILE_LABEL",
    "env_file_archive",
    "env_file_mount",
    "reads_env_file",
    "written_values",
]

ENV_DIR = "/run/agentdock"
ENV_FILE = f"{ENV_DIR}/env"
#: Set on an image whose runtime reads ``AGENTDOCK_ENV_FILE``.
ENV_FILE_LABEL = "io.agentdock.env-file"
_NAME = "env"


def reads_env_file(image_config: Mapping[str, Any]) -> bool:
    """Whether an image (its ``Config``) says its runtime reads :data:`ENV_FILE`."""
    return (image_config.get("Labels") or {}).get(ENV_FILE_LABEL) == "1"


def env_file_mount(labels: Mapping[str, str]) -> Any:
    """The anonymous volume at :data:`ENV_DIR`, labelled like its container (so ``docker
    volume ls --filter label=io.agentdock.agent=NAME`` finds a leftover one)."""
    from docker.types import Mount

    return Mount(target=ENV_DIR, source=None, type="volume", labels=dict(labels))


def env_file_archive(values: Mapping[str, str], owner: tuple[int, int] | None) -> bytes:
    """A tar stream holding :data:`ENV_FILE`'s content, for ``put_archive(ENV_DIR, ...)``:
    owned by ``owner`` (the image's uid and gid; root when None) and readable by it alone."""
    data = json.dumps(dict(values), sort_keys=True).encode("utf-8")
    info = tarfile.TarInfo(_NAME)
    info.size = len(data)
    info.mode = 0o400
    info.uid, info.gid = owner or (0, 0)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def written_values(container: Container) -> list[str]:
    """The values in a container's :data:`ENV_FILE` (empty when it has none or it cannot be
    read): what its log lines must never show."""
    try:
        stream, _ = container.get_archive(ENV_FILE)
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            member = tar.extractfile(_NAME)
            data = json.loads(member.read()) if member is not None else {}
    except Exception:  # no such file, an engine error, a file replaced from inside
        return []
    if not isinstance(data, dict):
        return []
    return [v for k, v in data.items() if isinstance(v, str) and k != SECRET_NAMES_ENV]
