"""``agentdock serve``: refusals before start-up, and one real server end to end."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from agentdock_cli.main import cli
from click.testing import CliRunner
from processes import wait_ready

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_refuses_without_auth() -> None:
    # Only the adapter and the server: no plugin provides auth.mode api_key.
    env = {**os.environ, "AGENTDOCK_LOAD_PLUGINS": "langgraph,litestar"}
    command = [sys.executable, "-m", "agentdock_cli", "serve", str(ECHO), "--port", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4, result.stderr
    assert "auth provider" in result.stderr
    assert "--insecure-no-auth" in result.stderr


def test_serve_invalid_dockfile_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "Dockfile.yaml"
    bad.write_text('version: "1.1"\nagent: {name: X}\n')
    result = CliRunner().invoke(cli, ["serve", str(bad)])
    assert result.exit_code == 1
    assert "error" in result.output


def test_serve_missing_file_exits_5(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 5


def test_insecure_refuses_a_public_host() -> None:
    result = CliRunner().invoke(
        cli, ["serve", str(ECHO), "--insecure-no-auth", "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "loopback" in result.output


@pytest.mark.slow
@contextmanager
def serving(*args: str, cwd: Path = ROOT) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``agentdock serve ARGS --insecure-no-auth --port P`` until ready; SIGTERM on exit."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "agentdock_cli", "serve", *args]
    command += ["--insecure-no-auth", "--port", str(port)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            kids = (task / "children").read_text().split()
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    frontier.append(kid)
    return found


def test_serve_echo_end_to_end() -> None:
    with serving(str(ECHO)) as (proc, base):
        response = httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=10)
        assert response.status_code == 200
        assert response.json() == {"text": "HI"}
        assert response.headers["x-run-id"]
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert b"authentication is OFF" in stderr


def test_serve_with_workers_runs_several_processes() -> None:
    with serving(str(ECHO), "--workers", "2") as (proc, base):
        deadline = time.monotonic() + 30
        while len(children(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as client:
            for n in range(20):
                response = client.post("/invoke", json={"text": f"hi {n}"})
                assert response.json() == {"text": f"HI {n}"}
    assert proc.returncode == 0, proc.communicate()[1].decode()


def test_serve_with_reload_picks_up_a_code_change(tmp_path: Path) -> None:
    project = tmp_path / "echo"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    graph = project / "echo" / "graph.py"
    with serving(str(project / "Dockfile.yaml"), "--reload", cwd=tmp_path) as (_proc, base):
        assert httpx.post(f"{base}/invoke", json={"text": "hi"}).json() == {"text": "HI"}
        source = graph.read_text()
        graph.write_text(source.replace('state["text"].upper()', 'state["text"].upper() + "!"'))
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=5).json()
            except (httpx.TransportError, ValueError):
                answer = None
            if answer == {"text": "HI!"}:
                break
            assert time.monotonic() < deadline, f"never reloaded; last answer {answer}"
            time.sleep(0.2)
