"""Deploy one agent as N per-tenant instances on the local target (printed, not asserted).

    uv run python benchmarks/instances_local.py [--instances 10]

A fresh AgentDock home and a copy of examples/chat; each instance gets its own env file
(its own model name variable). Prints: the first instance (which builds the bundle), each
further instance (bundle cache hit: start and health gate only), the total, a rollout of a
one-line change to every instance (one at a time, health-gated), and the memory of each
instance (the runtime's and its supervisor's RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "chat"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as tmp:
        os.environ["AGENTDOCK_HOME"] = str(Path(tmp) / "home")
        import agentdock
        from agentdock.deployment import deploy_instances, instances

        project = Path(tmp) / "chat"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        dockfile = project / "Dockfile.yaml"
        names = [f"tenant{i:02d}" for i in range(args.instances)]
        times: list[float] = []
        t_all = time.perf_counter()
        for name in names:
            env_file = Path(tmp) / f"{name}.env"
            env_file.write_text(f"AGENT_MODEL_NAME=model-of-{name}\n")
            t0 = time.perf_counter()
            agentdock.deploy(dockfile, instance=name, env_files=[env_file])
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        print(f"{args.instances} instances on the local target")
        print(f"  first instance (builds the bundle)  {times[0]:6.2f} s")
        rest = times[1:]
        if rest:
            print(
                f"  each further instance               median {statistics.median(rest):6.2f} s"
                f"  (min {min(rest):.2f}, max {max(rest):.2f})"
            )
        print(f"  total                               {total:6.2f} s")
        memory = []
        for row in instances("chat"):
            state = json.loads(
                (
                    Path(os.environ["AGENTDOCK_HOME"])
                    / "run"
                    / str(row["deployment_id"])
                    / "supervisor.json"
                ).read_text()
            )
            memory.append((rss_mb(state["runtime_pid"]), rss_mb(state["supervisor_pid"])))
        runtime = [m[0] for m in memory]
        supervisor = [m[1] for m in memory]
        print(
            f"  memory per instance                 runtime median {statistics.median(runtime):.0f}"
            f" MB, supervisor median {statistics.median(supervisor):.0f} MB"
        )
        graph = project / "agent" / "graph.py"
        graph.write_text(graph.read_text() + "\n# a one-line change\n")
        t0 = time.perf_counter()
        done = deploy_instances(dockfile)
        rollout = time.perf_counter() - t0
        print(
            f"  rollout of a change to all          {rollout:6.2f} s"
            f" ({rollout / len(done):.2f} s per instance, {len(done)} instances)"
        )
        for name in names:
            agentdock.stop("chat", instance=name)


if __name__ == "__main__":
    main()
