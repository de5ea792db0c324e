"""A dockerd and a base image for tests that build and run containers.

No image registry is reachable on the test machines, so the base image is made once with
``debootstrap --variant=minbase`` (Debian bookworm with ``python3``) and ``docker import``.
The root file system is cached as a tarball in ``~/.cache/agentdock-tests/`` so a daemon
that lost its images re-imports it in seconds instead of bootstrapping again.

Without dockerd (or debootstrap) the tests skip with the reason; ``.ci/run`` installs and
starts both and sets ``AGENTDOCK_REQUIRE_SERVERS=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from processes import unavailable

__all__ = ["BASE_IMAGE", "docker_client", "ensure_base_image"]

BASE_IMAGE = "agentdock-test-base:bookworm"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agentdock-tests"
_TARBALL = _CACHE / "bookworm-minbase-python3.tar"


def docker_client():  # type: ignore[no-untyped-def]
    """A docker SDK client for a live daemon, or skip (fail in CI) with the reason."""
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # DockerException, connection refused, no socket ...
        unavailable(f"dockerd is not running ({type(exc).__name__}); start it: dockerd &")
    return client


def _bootstrap(tarball: Path) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        unavailable("debootstrap is not installed (apt-get install -y debootstrap)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agentdock-rootfs-") as root:
        subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3", "bookworm", root],
            check=True,
            capture_output=True,
        )
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", root, "-cf", str(partial), "."], check=True)
        partial.replace(tarball)


def ensure_base_image(client) -> str:  # type: ignore[no-untyped-def]
    """The tag of the test base image, importing (or bootstrapping) it when missing."""
    import docker

    try:
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    if not _TARBALL.is_file():
        _bootstrap(_TARBALL)
    # The docker CLI streams a large tarball reliably (docker-py's chunked upload may not).
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        unavailable("the docker CLI is not installed (apt-get install -y docker.io)")
    subprocess.run(
        [docker_cli, "import", str(_TARBALL), BASE_IMAGE], check=True, capture_output=True
    )
    client.images.get(BASE_IMAGE)
    return BASE_IMAGE
