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

__all__ = [
    "ARM64_BASE_IMAGE",
    "BASE_IMAGE",
    "docker_client",
    "ensure_arm64_base_image",
    "ensure_base_image",
]

BASE_IMAGE = "agentdock-test-base:bookworm"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agentdock-tests"
_TARBALL = _CACHE / "bookworm-minbase-python3.tar"
ARM64_BASE_IMAGE = "agentdock-test-base:bookworm-arm64"
_ARM64_TARBALL = _CACHE / "bookworm-minbase-python3-arm64.tar"


def docker_client():  # type: ignore[no-untyped-def]
    """A docker SDK client for a live daemon, or skip (fail in CI) with the reason."""
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # DockerException, connection refused, no socket ...
        unavailable(f"dockerd is not running ({type(exc).__name__}); start it: dockerd &")
    return client


def _bootstrap(tarball: Path, arch: str | None = None) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        unavailable("debootstrap is not installed (apt-get install -y debootstrap)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agentdock-rootfs-") as root:
        subprocess.run(
            [
                debootstrap,
                *([f"--arch={arch}"] if arch else []),
                "--variant=minbase",
                "--include=python3",
                "bookworm",
                root,
            ],
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


def arm64_emulation() -> bool:
    """Whether this machine runs arm64 programs (qemu-user-static registered with binfmt,
    with the F flag so containers need no interpreter of their own)."""
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    try:
        text = entry.read_text()
    except OSError:
        return False
    return text.startswith("enabled") and "flags: " in text and "F" in text.split("flags: ")[1]


def ensure_arm64_base_image(client) -> str:  # type: ignore[no-untyped-def]
    """The arm64 test base image: debootstrap for arm64 (its second stage runs under
    emulation), then ``FROM scratch`` + ``ADD`` built for ``linux/arm64``, which gives the
    image that platform (``docker import --platform`` needs an experimental daemon)."""
    import docker

    try:
        client.images.get(ARM64_BASE_IMAGE)
        return ARM64_BASE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    if not arm64_emulation():
        unavailable(
            "arm64 emulation is off: apt-get install -y qemu-user-static binfmt-support, "
            "then update-binfmts --enable qemu-aarch64"
        )
    if not _ARM64_TARBALL.is_file():
        _bootstrap(_ARM64_TARBALL, arch="arm64")
    with tempfile.TemporaryDirectory(prefix="agentdock-arm64-base-") as context:
        shutil.copyfile(_ARM64_TARBALL, Path(context) / "rootfs.tar")
        (Path(context) / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n")
        client.images.build(path=context, tag=ARM64_BASE_IMAGE, platform="linux/arm64", rm=True)
    return ARM64_BASE_IMAGE
