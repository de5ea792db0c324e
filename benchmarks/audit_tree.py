"""Time `agentdock.audit()` on a generated tree of Python files, against a baseline measured in
the same run.

    taskset -c 1 uv run python benchmarks/audit_tree.py [--files 1000] [--runs 5]

The tree: 20 agents (each a package with a Dockerfile and a Dockfile), ``--files`` Python
modules in all, each about 60 lines of the kinds of code agents hold (a LangGraph node, an
HTTP client, settings read from the environment, a Flask route) with some problems planted.
Cases (median of N runs, one process, the plugins loaded once beforehand):
- read + ast.parse of every file      the floor: any ast-based audit pays for it
- agentdock.audit(tree)                 every built-in rule, facts (env, dependencies), report
Printed: seconds, files per second, and the audit's ratio to the floor. The goal is at most
3 s for 1,000 files on one core.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import tempfile
import time
from pathlib import Path

import agentdock

MODULE = '''\
"""Module {index} of agent {agent}."""
import os
import time

import requests
from flask import Flask

SERVICE_URL = os.getenv("SERVICE_{index}_URL", "http://service-{index}:8080")
CACHE_HOST = "cache-{index}"
TIMEOUT = float(os.getenv("TIMEOUT", "5"))
app = Flask(__name__)


@app.get("/status/{index}")
def status():
    return {{"ok": True, "index": {index}}}


def fetch(path):
    response = requests.get(SERVICE_URL + path, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


async def node_{index}(state):
    values = [item * 2 for item in state.get("items", [])]
    if {planted}:
        time.sleep(0.01)
    return {{"items": values, "count": len(values)}}


class Settings{index}:
    """Settings read once."""

    def __init__(self):
        self.name = os.getenv("AGENT_NAME", "agent-{agent}")
        self.port = int(os.getenv("PORT", "8000"))
        self.debug = os.getenv("DEBUG") == "1"

    def as_dict(self):
        return {{"name": self.name, "port": self.port, "debug": self.debug}}


def build_graph():
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(dict)
    graph.add_node("n", node_{index})
    graph.add_edge(START, "n")
    graph.add_edge("n", END)
    return graph.compile()


def helper_{index}(a, b):
    total = 0
    for x in range(a):
        for y in range(b):
            total += x * y
    return total
'''

DOCKERFILE = "FROM python:3.11-slim\nCOPY . /app\nCMD python -m app\n"


def generate(root: Path, files: int, agents: int = 20) -> None:
    for index in range(files):
        agent = index % agents
        folder = root / f"agent_{agent:02}"
        if not folder.exists():
            folder.mkdir(parents=True)
            (folder / "Dockfile.yaml").write_text(f"version: '1.1'\nagent:\n  name: a{agent}\n")
            (folder / "Dockerfile").write_text(DOCKERFILE)
            (folder / "__init__.py").write_text("")
        planted = "True" if index % 7 == 0 else "False"
        (folder / f"module_{index:04}.py").write_text(
            MODULE.format(index=index, agent=agent, planted=planted)
        )


def parse_floor(root: Path) -> int:
    count = 0
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"))
        count += 1
    return count


def timed(func: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.files)
        manager = agentdock.get_plugin_manager()
        report = agentdock.audit(root, plugins=manager)  # warm: plugins, detectors, caches
        floor = timed(lambda: parse_floor(root), args.runs)
        full = timed(lambda: agentdock.audit(root, plugins=manager), args.runs)
    python_files = args.files + 20
    f_med, a_med = statistics.median(floor), statistics.median(full)
    print(
        f"tree: {report.files_scanned} files ({python_files} Python), {len(report.agents)} agents"
    )
    print(f"findings: {len(report.findings)} {report.counts_by_level()}")
    print(f"{'case':<28} {'median s':>9} {'min s':>7} {'files/s':>9}")
    for name, times in (("read + ast.parse (floor)", floor), ("agentdock.audit", full)):
        med = statistics.median(times)
        print(f"{name:<28} {med:>9.3f} {min(times):>7.3f} {report.files_scanned / med:>9.0f}")
    print(f"audit / floor: {a_med / f_med:.2f}x; goal: <= 3 s for 1,000 files on one core")


if __name__ == "__main__":
    main()
