"""Time deploys, rollbacks and starts on the local and Docker targets (printed, not asserted).

    uv run python benchmarks/deploy_times.py [--target local|docker|both] [--rounds 3]
        [--base-image IMG] [--cold-docker]

Each round works on a fresh AgentDock home and a copy of examples/chat, through the Python
API (the CLI adds about 0.5 s of its own start-up). Figures per round, then medians:

local:  cold deploy (no bundle yet; uv's cache and AgentDock's wheels warm), warm deploy
        (same content after a stop: cache hit, start, gate), no-op deploy (already active),
        deploy of a one-line change, rollback; "start→ready" is the time from the target's
        start to a passed health gate, read from the progress events.
docker: first build (with --cold-docker the shared dependency and runtime levels are
        removed first), rebuild after a one-line change, warm deploy (same content after a
        stop), rollback; and the size of AgentDock's own layers above the base image.

Goals (issue): warm local deploy <= 5 s, rollback <= 3 s local and <= 5 s Docker, AgentDock's
layers <= 150 MB. The baseline in the same run is `python -c pass` plus the runtime's own
cold start (`agentdock_runtime` to /ready), which bounds any start→ready from below.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "chat"


class Clock:
    """A progress callback that remembers when each step was first and last seen."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seen: dict[str, list[float]] = {}

    def __call__(self, step: str, message: str, **fields: Any) -> None:
        self.seen.setdefault(step, []).append(time.perf_counter() - self.t0)

    def start_to_ready(self) -> float | None:
        if "start" in self.seen and "activate" in self.seen:
            return self.seen["activate"][0] - self.seen["start"][0]
        return None


def timed(fn: Callable[[Clock], Any]) -> tuple[float, float | None, Any]:
    clock = Clock()
    t0 = time.perf_counter()
    result = fn(clock)
    return time.perf_counter() - t0, clock.start_to_ready(), result


def edit(project: Path, n: int) -> None:
    graph = project / "agent" / "graph.py"
    graph.write_text(graph.read_text() + f"\n# change {n}\n")


def local_round(work: Path, n: int) -> dict[str, float]:
    import agentdock

    project = work / "chat"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    dockfile = project / "Dockfile.yaml"
    out: dict[str, float] = {}

    def deploy(clock: Clock) -> Any:
        return agentdock.deploy(dockfile, progress=clock)

    out["cold deploy"], out["cold start→ready"], _ = timed(deploy)
    out["no-op deploy"], _, result = timed(deploy)
    assert result.noop
    agentdock.stop("chat")
    out["warm deploy"], out["warm start→ready"], result = timed(deploy)
    assert result.cached and not result.noop
    edit(project, n)
    out["changed deploy"], out["changed start→ready"], _ = timed(deploy)
    out["rollback"], out["rollback start→ready"], _ = timed(
        lambda clock: agentdock.rollback("chat", progress=clock)
    )
    agentdock.stop("chat")
    return out


def docker_round(work: Path, n: int, base: str, cold: bool) -> dict[str, float]:
    import agentdock
    import docker

    client = docker.from_env()
    if cold:
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith(("agentdock-layers/", "agentdock/chat")):
                    client.images.remove(tag, force=True)
        shutil.rmtree(Path.home() / ".cache" / "agentdock" / "docker", ignore_errors=True)
    project = work / "chat"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    edit(project, 1000 + n)  # new content every round: a real build
    dockfile = project / "Dockfile.yaml"
    out: dict[str, float] = {}

    def deploy(clock: Clock) -> Any:
        return agentdock.deploy(
            dockfile, target="docker", build_options={"base_image": base}, progress=clock
        )

    out["first deploy"], out["first start→ready"], first = timed(deploy)
    details = first.artifact.details
    out["AgentDock layers MB"] = details["added_bytes"] / 1e6
    out["image MB"] = details["size_bytes"] / 1e6
    edit(project, n)
    out["one-line change deploy"], out["change start→ready"], _ = timed(deploy)
    agentdock.stop("chat")
    out["warm deploy"], out["warm start→ready"], result = timed(deploy)
    assert result.cached
    out["rollback"], out["rollback start→ready"], _ = timed(
        lambda clock: agentdock.rollback("chat", progress=clock)
    )
    agentdock.stop("chat")
    return out


def runtime_cold_start() -> float:
    """The bare runtime's own start to /ready (``agentdock serve`` of the chat example)."""
    import httpx

    port = 18765
    env = {**os.environ, "AGENTDOCK_HOME": tempfile.mkdtemp()}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentdock_cli",
            "serve",
            str(EXAMPLE),
            "--port",
            str(port),
            "--insecure-no-auth",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.TransportError:
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait()


def report(title: str, rounds: list[dict[str, float]]) -> None:
    print(f"\n{title} ({len(rounds)} rounds)")
    for key in rounds[0]:
        values = [r[key] for r in rounds if r.get(key) is not None]
        if not values:
            continue
        unit = "" if "MB" in key else " s"
        cells = "  ".join(f"{v:7.2f}" for v in values)
        print(f"  {key:<24} median {statistics.median(values):7.2f}{unit}   [{cells}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["local", "docker", "both"], default="local")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base-image", default="agentdock-test-base:bookworm")
    parser.add_argument("--cold-docker", action="store_true")
    args = parser.parse_args()
    print(f"baseline: runtime cold start (serve → /ready) {runtime_cold_start():.2f} s")
    for target in ("local", "docker"):
        if args.target not in (target, "both"):
            continue
        rounds = []
        for n in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as tmp:
                os.environ["AGENTDOCK_HOME"] = str(Path(tmp) / "home")
                work = Path(tmp)
                if target == "local":
                    rounds.append(local_round(work, n))
                else:
                    rounds.append(
                        docker_round(work, n, args.base_image, args.cold_docker and n == 0)
                    )
        report(f"{target} target", rounds)


if __name__ == "__main__":
    main()
