"""What pruning ``.uploads/`` adds to each upload the control plane receives.

    uv run python benchmarks/controlplane_uploads.py [--agents 50] [--deployments 20]
        [--uploads 200] [--rounds 20]

A registry in a temporary directory holds ``--agents`` agents with ``--deployments``
deployments each, each made from an upload directory of its own that is older than the
bound (as every deployed upload becomes), and the projects hold ``--uploads`` more upload
directories, recent and referenced by none. So each pruning reads every deployment and
every directory and removes nothing: what every upload pays in a steady state.
Each round times, in CPU seconds of this process (``time.process_time``), one pruning
against the baseline of the upload's own work: unpacking a small project archive (the echo
example, packed as ``agentdock deploy --server`` packs it) into a fresh directory. Figures:
the median per round in milliseconds and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from agentdock.registry import open_store
from agentdock.remote import pack_project
from agentdock_plugins.controlplane.state import ControlPlane
from agentdock_plugins.controlplane.uploads import UPLOADS, unpack_project

ECHO = Path(__file__).resolve().parent.parent / "examples" / "echo" / "Dockfile.yaml"


def _populate(plane: ControlPlane, agents: int, deployments: int, uploads: int) -> None:
    store, root = plane.store, plane.projects.resolve() / UPLOADS
    long_ago = time.time() - plane.uploads_keep_s - 3600
    for a in range(agents):
        name = f"agent-{a:03d}"
        for d in range(deployments):
            folder = root / f"{a:04x}{d:012x}"
            folder.mkdir(parents=True)
            os.utime(folder, (long_ago, long_ago))
            version, _ = store.record_version(
                agent=name, version=f"0.1.{d}", snapshot="x", content_hash=f"{a}-{d}"
            )
            store.create_deployment(
                version_id=version.id,
                artifact_id=None,
                target="local",
                settings={"project_dir": str(folder)},
            )
    for u in range(uploads):
        (root / f"ffff{u:012x}").mkdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    archive, _ = pack_project(ECHO)
    with tempfile.TemporaryDirectory() as tmp:
        projects = Path(tmp) / "projects"
        projects.mkdir()
        with open_store(Path(tmp) / "registry.db") as store:
            plane = ControlPlane(store=store, projects=projects, health_interval=0)
            _populate(plane, args.agents, args.deployments, args.uploads)
            dirs = len(list((projects / UPLOADS).iterdir()))
            prune, unpack, reads = [], [], []
            for n in range(args.rounds):
                started = time.process_time()
                _ = [d for a in store.list_agents() for d in store.list_deployments(a)]
                reads.append(time.process_time() - started)
                started = time.process_time()
                removed = plane.prune_uploads()
                prune.append(time.process_time() - started)
                assert removed == []
                started = time.process_time()
                unpack_project(Path(tmp) / f"round-{n}", archive)
                unpack.append(time.process_time() - started)
    base, cost = statistics.median(unpack), statistics.median(prune)
    read = statistics.median(reads)
    print(
        f"{args.agents * args.deployments} deployments, {dirs} upload directories, "
        f"{args.rounds} rounds (CPU time of this process)"
    )
    print(f"{'unpack the echo project (baseline)':<40} {base * 1000:8.2f} ms  1.0x")
    print(f"{'prune, nothing to remove':<40} {cost * 1000:8.2f} ms  {cost / base:.1f}x")
    print(f"{'  of which: read every deployment':<40} {read * 1000:8.2f} ms  {read / base:.1f}x")


if __name__ == "__main__":
    main()
