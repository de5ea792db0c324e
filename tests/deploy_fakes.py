"""In-process builder and target plugins for testing the deploy service without processes.

The fake builder writes a marker file per digest under the home (so ``exists`` and
``remove`` are real); the fake target records every call and can be told to fail its gate.
The ``fake-promote`` target is the same with ``promote`` (one address for every version),
which can be told to fail too.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from agentdock import hookimpl, make_plugin_manager
from agentdock.deployment import Artifact, BuildFailed, HealthGateFailed


class FakeBuilder:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.fail_with: str | None = None

    def build(self, request: Any, progress: Any) -> Artifact:
        if self.fail_with:
            raise BuildFailed(self.fail_with)
        digest = hashlib.sha256(request.content_hash.encode()).hexdigest()
        folder = request.home / "fake-bundles" / digest[:16]
        cached = folder.is_dir()
        if not cached:
            folder.mkdir(parents=True)
            (folder / "spec.yaml").write_text(request.snapshot)
            for rel in request.sources:
                dest = folder / "app" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(request.project_dir / rel, dest)
        self.log.append(("build", request.version))
        progress("fake", "built")
        return Artifact("fake", str(folder), digest, cached=cached, details={"files": 1})

    def exists(self, artifact: Artifact) -> bool:
        return Path(artifact.ref).is_dir()

    def remove(self, artifact: Artifact) -> int:
        folder = Path(artifact.ref)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return size


class FakeTarget:
    builder = "fake"

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.fail_gate: str | None = None
        self.running: dict[int, dict[str, Any]] = {}
        self.envs: dict[int, dict[str, str]] = {}
        self.hosts: dict[int, str | None] = {}

    def start(self, artifact: Artifact, request: Any, progress: Any) -> dict[str, Any]:
        handle = {
            "id": request.deployment_id,
            "endpoint": f"http://127.0.0.1:{9000 + request.deployment_id}",
            "ref": artifact.ref,
            "runtime_start": "cold",
        }
        self.running[request.deployment_id] = handle
        self.envs[request.deployment_id] = dict(request.env)
        self.hosts[request.deployment_id] = request.host
        self.log.append(("start", request.version))
        return handle

    def wait_ready(self, handle: Any, timeout: float, progress: Any) -> None:
        if self.fail_gate:
            raise HealthGateFailed(self.fail_gate, log_tail=["[FATAL] boom"])

    def stop(self, handle: Any, timeout: float) -> None:
        self.running.pop(handle["id"], None)
        self.log.append(("stop", handle["id"]))

    def status(self, handle: Any) -> dict[str, Any]:
        alive = handle["id"] in self.running
        return {
            "state": "running" if alive else "stopped",
            "healthy": alive,
            "restarts": 0,
            "started_at": None,
        }

    def logs(self, handle: Any, tail: int | None, follow: bool) -> Any:
        lines = [f"line {i}" for i in range(5)]
        return iter(lines[-tail:] if tail else lines)


class PromotingTarget(FakeTarget):
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        super().__init__(log)
        self.fail_promote: str | None = None

    def promote(self, handle: Any, progress: Any) -> None:
        self.log.append(("promote", handle["id"]))
        if self.fail_promote:
            raise HealthGateFailed(self.fail_promote, log_tail=["did not take over"])


class RetiringTarget(PromotingTarget):
    """A target that keeps something of a superseded deployment (``retire``)."""

    def retire(self, handle: Any, timeout: float) -> str:
        self.running.pop(handle["id"], None)
        self.log.append(("retire", handle["id"]))
        return "stands by (fake)"


class FakePlugin:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.builder = FakeBuilder(self.log)
        self.target = FakeTarget(self.log)
        self.promoting = PromotingTarget(self.log)
        self.retiring = RetiringTarget(self.log)

    @hookimpl
    def agentdock_register_builders(self, register: Any) -> None:
        register("fake", lambda: self.builder)

    @hookimpl
    def agentdock_register_targets(self, register: Any) -> None:
        register("fake", lambda: self.target)
        register("fake-promote", lambda: self.promoting)
        register("fake-retire", lambda: self.retiring)


def fake_manager() -> tuple[Any, FakePlugin]:
    plugin = FakePlugin()
    return make_plugin_manager(plugins=[("fake", plugin)]), plugin
