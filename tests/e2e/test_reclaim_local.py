"""Disk given back on the local target, end to end: real bundles (a virtual environment
each), real supervisors. After ``stop``, ``cleanup --keep 0`` removes the bundle; ``rm``
stops a running agent and removes its bundle; both say how many bytes came back, and the
registry keeps the versions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agentdock.deployment.workspace import pid_alive
from agentdock.registry import open_store

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cli:
    def __init__(self, home: Path, project: Path) -> None:
        self.home = home
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if k != "AGENTDOCK_DATABASE_URL"}
        self.env["AGENTDOCK_HOME"] = str(home)

    def __call__(self, *args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "agentdock_cli", *args, "--json"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        assert lines, done.stderr[-3000:]
        return done.returncode, json.loads(lines[-1])


def _bundles(home: Path) -> list[Path]:
    return sorted(p for p in (home / "bundles").glob("*") if not p.name.startswith("."))


def test_stop_then_cleanup_and_rm_give_the_disk_back(tmp_path: Path) -> None:
    project = tmp_path / "echo"
    shutil.copytree(
        EXAMPLES / "echo", project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock")
    )
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("port: 8080", f"port: {_free_port()}"))
    cli = Cli(tmp_path / "home", project)
    supervisors: set[int] = set()
    try:
        code, first = cli("deploy", "--timeout", "120")
        assert code == 0, first
        (bundle,) = _bundles(cli.home)
        with open_store(cli.home / "registry.db") as store:
            supervisors.add(int(store.get_deployment(first["deployment_id"]).handle["pid"]))

        # Stopped: nothing needs the bundle any more.
        assert cli("stop", "echo")[0] == 0
        code, cleaned = cli("cleanup", "echo", "--keep", "0")
        assert code == 0 and cleaned["kept"] == []
        assert [r["ref"] for r in cleaned["removed"]] == [str(bundle)]
        assert cleaned["freed_bytes"] > 1_000_000  # a virtual environment's own files
        assert not bundle.exists()

        # Deployed again (built again), superseded by a changed version (so that the first
        # stands by for a rollback), then removed while it runs: the standby goes too.
        code, second = cli("deploy", "--timeout", "120")
        assert code == 0, second
        with open_store(cli.home / "registry.db") as store:
            kept = int(store.get_deployment(second["deployment_id"]).handle["pid"])
        supervisors.add(kept)
        state_file = cli.home / "run" / str(second["deployment_id"]) / "supervisor.json"
        deadline = time.monotonic() + 120
        while not json.loads(state_file.read_text()).get("zygote_pid"):
            assert time.monotonic() < deadline, "the warm process never got ready"
            time.sleep(0.1)
        graph = next(project.rglob("graph.py"))
        graph.write_text(graph.read_text() + "\n# a one-line change\n")
        code, third = cli("deploy", "--timeout", "120")
        assert code == 0, third
        with open_store(cli.home / "registry.db") as store:
            pid = int(store.get_deployment(third["deployment_id"]).handle["pid"])
        supervisors.add(pid)
        assert json.loads(state_file.read_text())["state"] == "standby" and pid_alive(kept)
        code, removed = cli("rm", "echo", "--yes")
        assert code == 0, removed
        assert [d["status"] for d in removed["stopped"]] == ["stopped"]
        assert removed["freed_bytes"] > 1_000_000 and _bundles(cli.home) == []
        assert not pid_alive(pid)
        deadline = time.monotonic() + 30
        while pid_alive(kept):  # the standby, dismissed by the stop of what served
            assert time.monotonic() < deadline, "the standby outlived rm"
            time.sleep(0.1)
        code, listed = cli("versions", "echo")
        assert code == 0 and [v["artifacts"] for v in listed["versions"]] == [[], []]
    finally:
        for pid in supervisors:
            if pid_alive(pid):
                os.kill(pid, 15)
