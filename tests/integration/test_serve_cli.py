"""``agentdock serve``: refusals before start-up, and one real server end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from agentdock_cli.main import cli
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_refuses_without_auth() -> None:
    result = CliRunner().invoke(cli, ["serve", str(ECHO), "--port", "1"])
    assert result.exit_code == 4, result.output
    assert "auth provider" in result.output
    assert "--insecure-no-auth" in result.output


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
def test_serve_echo_end_to_end() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentdock_cli",
            "serve",
            str(ECHO),
            "--insecure-no-auth",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.1)
        response = httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=10)
        assert response.status_code == 200
        assert response.json() == {"text": "HI"}
        assert response.headers["x-run-id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, stderr.decode()
    assert b"authentication is OFF" in stderr
