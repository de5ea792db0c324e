"""What a cold start imports: a runtime serving an agent that needs neither LangGraph's
SQLite store nor its prebuilt nodes loads neither (nor NumPy) before ``/ready``.

Each is a sizeable import (NumPy through ``sqlite-vec``, ``langgraph.prebuilt``) that the
echo agent never uses; the list of modules loaded is read from the served process itself
when it exits after SIGTERM, through both ways of starting a runtime: the container
entrypoint and ``agentdock serve``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from processes import stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo"

#: Runs a module as ``python -m`` does and writes ``sys.modules`` to the file named by
#: ``MODULES_OUT`` when the process exits (after SIGTERM and its drain).
DUMP = """
import atexit, os, runpy, sys
out = os.environ.pop("MODULES_OUT")
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
module = sys.argv[1]
sys.argv[:] = [module, *sys.argv[2:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

#: Loaded by neither way of serving the echo agent.
NOT_NEEDED = ("numpy", "sqlite_vec", "langgraph.store.sqlite", "langgraph.prebuilt")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _modules_while_serving(argv: list[str], env: dict[str, str], out: Path) -> set[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", DUMP, *argv],
        env={**env, "MODULES_OUT": str(out), "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(proc, f"http://127.0.0.1:{env['AGENTDOCK_PORT']}")
    finally:
        stop(proc)
    assert proc.returncode == 0
    return set(out.read_text().splitlines())


@pytest.mark.parametrize("how", ["entrypoint", "serve"])
def test_serving_echo_imports_no_store_prebuilt_nodes_or_numpy(how: str, tmp_path: Path) -> None:
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env.update(AGENTDOCK_HOME=str(tmp_path / "home"), AGENTDOCK_PORT=port)
    if how == "entrypoint":
        env.update(
            AGENTDOCK_SPEC=str(ECHO / "Dockfile.yaml"),
            AGENTDOCK_HOST="127.0.0.1",
            AGENTDOCK_INSECURE_NO_AUTH="1",
        )
        argv = ["agentdock_runtime"]
    else:
        argv = ["agentdock_cli", "serve", str(ECHO), "--insecure-no-auth", "--port", port]
    modules = _modules_while_serving(argv, env, tmp_path / "modules.txt")
    assert "agentdock_plugins.langgraph.adapter" in modules  # it did serve the agent
    loaded = sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in NOT_NEEDED))
    assert loaded == []
