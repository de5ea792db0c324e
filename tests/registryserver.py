"""A throwaway image registry for tests: Debian's ``docker-registry`` (the reference
``distribution`` registry) on a free port of 127.0.0.1, storage in a temporary directory.

The Docker engine pushes to a registry on 127.0.0.1 over plain HTTP without further
settings. With ``htpasswd`` the registry asks for basic auth (one user, a bcrypt hash made
with the ``bcrypt`` package). Without the binary the tests skip, unless
``AGENTDOCK_REQUIRE_SERVERS=1`` (CI) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import require_binary

__all__ = ["RegistryServer", "free_port", "registry_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bcrypt(password: str) -> str:
    import bcrypt

    # bcrypt: the only hash the registry's htpasswd accepts.
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


class RegistryServer:
    """One registry process: ``address`` (``127.0.0.1:PORT``) and its tags and manifests."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.address = f"127.0.0.1:{port}"

    def manifest(self, repository: str, reference: str) -> dict[str, Any]:
        """The manifest of ``repository:reference``, its digest under ``_digest``."""
        answer = httpx.get(
            f"http://{self.address}/v2/{repository}/manifests/{reference}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        body["_digest"] = answer.headers["Docker-Content-Digest"]
        return body


@contextlib.contextmanager
def registry_server(workdir: Path, users: dict[str, str] | None = None) -> Iterator[RegistryServer]:
    """A registry of the caller's own, stopped when the block ends; ``users`` (name →
    password) turns on basic auth."""
    binary = require_binary("docker-registry", "Debian: apt-get install docker-registry")
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}",
        f"http: {{addr: '127.0.0.1:{port}', secret: test-only-secret}}",
    ]
    if users:
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text("".join(f"{u}:{_bcrypt(p)}\n" for u, p in users.items()))
        config.append(f"auth: {{htpasswd: {{realm: test, path: {htpasswd}}}}}")
    (workdir / "config.yml").write_text("\n".join(config) + "\n")
    log = (workdir / "registry.log").open("wb")
    proc = subprocess.Popen(
        [binary, "serve", str(workdir / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    server = RegistryServer(proc, port)
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://{server.address}/v2/", timeout=0.5)  # 200, or 401 with auth
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail("docker-registry exited: " + (workdir / "registry.log").read_text())
                time.sleep(0.05)
        else:
            pytest.fail("docker-registry did not start")
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
