"""``agentdock serve``: refusals before start-up, and one real server end to end."""

from __future__ import annotations

import json
import os
import re
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
from processes import LineReader, stop, wait_ready

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
        stop(proc)


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
    assert stderr.count(b"authentication is OFF") == 1  # warned once, not per layer


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
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert stderr.count(b"authentication is OFF") == 1  # by serve, not again by each worker


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


# -- the port, the banner and the log format --------------------------------------------------


@contextmanager
def taken_port() -> Iterator[int]:
    """A port another process (this one) listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield int(holder.getsockname()[1])


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentdock_cli", "serve", *args]


@contextmanager
def started(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], LineReader, LineReader]]:
    """``agentdock serve ARGS`` with both pipes read line by line; SIGTERM on exit."""
    proc = subprocess.Popen(
        serve_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=ROOT,
    )
    out, err = LineReader(proc.stdout), LineReader(proc.stderr)  # type: ignore[arg-type]
    try:
        yield proc, out, err
    finally:
        stop(proc)


def json_line(line: str) -> dict[str, object] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def test_a_taken_port_exits_4_with_hints_and_no_banner() -> None:
    with taken_port() as port:
        result = subprocess.run(
            serve_command(str(ECHO), "--insecure-no-auth", "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "AGENTDOCK_LOG_FORMAT": "text"},
        )
    assert result.returncode == 4, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: already in use" in result.stderr
    assert "--port 0" in result.stderr and "agentdock status" in result.stderr
    assert "Serving" not in result.stdout + result.stderr


def test_a_taken_port_with_json_is_one_json_error() -> None:
    with taken_port() as port:
        result = subprocess.run(
            serve_command(str(ECHO), "--insecure-no-auth", "--port", str(port), "--json"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 4, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False and "already in use" in document["error"]
    assert "--port 0" in document["hint"]


@pytest.mark.slow
def test_port_0_serves_on_the_port_the_banner_names() -> None:
    with started(str(ECHO), "--insecure-no-auth", "--port", "0", "--json") as (proc, out, _):
        banner = json_line(out.wait_for(lambda line: '"serving"' in line))
        assert banner is not None and banner["agent"] == "echo"
        port = banner["port"]
        assert isinstance(port, int) and port > 0
        assert banner["url"] == f"http://127.0.0.1:{port}"
        assert banner["docs"] == f"http://127.0.0.1:{port}/docs"
        wait_ready(proc, str(banner["url"]))
        answer = httpx.post(f"{banner['url']}/invoke", json={"text": "zero"}, timeout=10)
        assert answer.json() == {"text": "ZERO"}


@pytest.mark.slow
def test_a_piped_run_writes_json_lines_only_uvicorns_included() -> None:
    with started(str(ECHO), "--insecure-no-auth", "--port", "0") as (proc, out, err):
        banner = json_line(err.wait_for(lambda line: '"serving"' in line))
        assert banner is not None
        base = str(banner["url"])
        wait_ready(proc, base)
        assert httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=10).status_code == 200
        out.wait_for(lambda line: '"run_end"' in line)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    lines = [line for line in out.rest() + err.rest() if line.strip()]
    not_json = [line for line in lines if json_line(line) is None]
    assert not_json == []
    records = [json_line(line) for line in lines]
    loggers = {str(r.get("logger")) for r in records if r is not None and "logger" in r}
    assert any(name.startswith("uvicorn") for name in loggers), loggers
    assert "agentdock.serve" in loggers
    warning = next(r for r in records if r and "authentication is OFF" in str(r["message"]))
    assert warning["level"] == "WARN"


@pytest.mark.slow
def test_text_format_writes_no_json_line() -> None:
    env = {"AGENTDOCK_LOG_FORMAT": "text"}
    with started(str(ECHO), "--insecure-no-auth", "--port", "0", env=env) as (proc, out, err):
        banner = err.wait_for(lambda line: "Serving echo on" in line)
        match = re.search(r"http://127\.0\.0\.1:(\d+) \(docs: ", banner)
        assert match, banner
        base = f"http://127.0.0.1:{match.group(1)}"
        wait_ready(proc, base)
        assert httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=10).status_code == 200
        out.wait_for(lambda line: "run ok (invoke)" in line)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    lines = [line for line in out.rest() + err.rest() if line.strip()]
    assert [line for line in lines if json_line(line) is not None] == []
    assert any(" INFO  uvicorn" in line for line in lines), lines


FAILING_BUILDER = """
from langgraph.graph import StateGraph


def _connect_to_the_model(name):
    raise RuntimeError(f"no such model: {name}")


def build_graph():
    _connect_to_the_model("missing")
    return StateGraph(dict).compile()
"""


def failing_project(tmp_path: Path) -> Path:
    project = tmp_path / "broken"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "echo" / "graph.py").write_text(FAILING_BUILDER, encoding="utf-8")
    return project / "Dockfile.yaml"


def test_an_agent_that_fails_to_build_is_one_line_and_v_shows_the_traceback(
    tmp_path: Path,
) -> None:
    dockfile = failing_project(tmp_path)
    args = [str(dockfile), "--insecure-no-auth", "--port", "0"]
    env = {**os.environ, "AGENTDOCK_LOG_FORMAT": "text"}
    quiet = subprocess.run(
        serve_command(*args), capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert quiet.returncode == 4, quiet.stderr
    assert "no such model: missing" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    assert "-v" in quiet.stderr
    loud = subprocess.run(
        serve_command(*args, "-v"),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert loud.returncode == 4, loud.stderr
    assert "Traceback (most recent call last)" in loud.stderr
    assert "_connect_to_the_model" in loud.stderr
    assert "Serving" not in loud.stderr
