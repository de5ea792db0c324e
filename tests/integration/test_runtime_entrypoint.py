"""``python -m agentdock_runtime``: configuration from the environment, refusals, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from processes import LineReader, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
ECHO_DIR = ROOT / "examples" / "echo"
ECHO = ECHO_DIR / "Dockfile.yaml"
PLANTED = "pl4nted-s3cret-value-9f2c"
DOTENV_PLANTED = "d0tenv-s3cret-value-41ab"

SLOW_GRAPH = """
from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    text: str


async def nap(state: State) -> State:
    await asyncio.sleep(1.0)
    return {"text": state["text"].upper()}


def build_graph():
    graph = StateGraph(State)
    graph.add_node("nap", nap)
    graph.add_edge(START, "nap")
    graph.add_edge("nap", END)
    return graph.compile()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def runtime_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AGENTDOCK_") and key not in {"JWT_SECRET", "MODEL_NAME"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def run_runtime(env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def echo_dockfile_with(text: str, **replacements: str) -> str:
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


@contextmanager
def serving(env: Mapping[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A started runtime and its base URL; SIGTERM on exit if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdock_runtime"],
        env=dict(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{env['AGENTDOCK_PORT']}"
    try:
        wait_ready(proc, base)
        yield proc, base
    finally:
        stop(proc)


def test_missing_variables_is_one_fatal_line_naming_all(tmp_path: Path) -> None:
    text = echo_dockfile_with(
        ECHO.read_text(encoding="utf-8"),
        **{
            "name: echo\n\nio_schema": 'name: "${MODEL_PREFIX}-${MODEL_NAME}"\n\nio_schema',
            "auth:\n  mode: api_key\n  api_keys: { enabled: true }": (
                'auth:\n  mode: jwt\n  jwt: {secret_key: "${JWT_SECRET}"}'
            ),
        },
    )
    (tmp_path / "Dockfile.yaml").write_text(text, encoding="utf-8")
    # A .env beside the spec is never read by the runtime.
    (tmp_path / ".env").write_text(f"JWT_SECRET={DOTENV_PLANTED}\n", encoding="utf-8")
    env = runtime_env(AGENTDOCK_SPEC=str(tmp_path / "Dockfile.yaml"), MODEL_PREFIX=PLANTED)
    result = run_runtime(env, tmp_path)
    assert result.returncode != 0
    assert result.returncode == 78
    assert result.stderr.strip().splitlines() == [
        "[FATAL] Missing required environment variables: JWT_SECRET, MODEL_NAME"
    ]
    for output in (result.stdout, result.stderr):
        assert PLANTED not in output
        assert DOTENV_PLANTED not in output


FAILING_GRAPH = """
import os

print("checking token", os.environ["ECHO_TOKEN"])
raise ValueError("cannot use token " + os.environ["ECHO_TOKEN"] + " (rejected)")
"""


def test_a_secret_in_an_entrypoints_exception_is_masked_in_every_line(tmp_path: Path) -> None:
    """The agent's import fails with a message quoting a secret; the [FATAL] line and
    whatever else the runtime writes show ``***`` in its place."""
    shutil.copytree(ECHO_DIR, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "app" / "echo" / "graph.py").write_text(FAILING_GRAPH, encoding="utf-8")
    spec = tmp_path / "app" / "Dockfile.yaml"
    spec.write_text(
        spec.read_text("utf-8").replace(
            "name: echo\n\nio_schema", 'name: "${ECHO_TOKEN}"\n\nio_schema'
        ),
        encoding="utf-8",
    )
    env = runtime_env(
        AGENTDOCK_SPEC=str(spec),
        ECHO_TOKEN=PLANTED,
        AGENTDOCK_SECRET_NAMES="ECHO_TOKEN",
    )
    result = run_runtime(env, tmp_path / "app")
    assert result.returncode == 70
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL]")]
    assert fatal == [
        "[FATAL] cannot load echo.graph:build_graph: ValueError: cannot use token *** (rejected)"
    ], result.stderr
    assert "checking token ***" in result.stdout  # what the agent prints is masked too
    assert PLANTED not in result.stdout + result.stderr


def test_variables_from_the_env_file_resolve_mask_and_reach_the_agent(tmp_path: Path) -> None:
    """``AGENTDOCK_ENV_FILE`` (how the docker target keeps values out of ``docker inspect``):
    its variables resolve the spec's placeholders, reach the agent's ``os.environ`` and are
    masked like the environment's; the environment wins over the file."""
    shutil.copytree(ECHO_DIR, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    graph = 'print("model", os.environ["MODEL_NAME"])\n' + FAILING_GRAPH
    (tmp_path / "app" / "echo" / "graph.py").write_text("import os\n" + graph, encoding="utf-8")
    spec = tmp_path / "app" / "Dockfile.yaml"
    spec.write_text(
        spec.read_text("utf-8").replace(
            "name: echo\n\nio_schema", 'name: "${ECHO_TOKEN}-${MODEL_NAME}"\n\nio_schema'
        ),
        encoding="utf-8",
    )
    handed = tmp_path / "env.json"
    handed.write_text(
        json.dumps(
            {
                "ECHO_TOKEN": PLANTED,
                "MODEL_NAME": "from-the-file",
                "AGENTDOCK_SECRET_NAMES": "ECHO_TOKEN",
            }
        ),
        encoding="utf-8",
    )
    env = runtime_env(
        AGENTDOCK_SPEC=str(spec), AGENTDOCK_ENV_FILE=str(handed), MODEL_NAME="from-the-env"
    )
    result = run_runtime(env, tmp_path / "app")
    # Not 78 (missing variables): the file's ECHO_TOKEN resolved the placeholder, and the
    # agent read it from its environment.
    assert result.returncode == 70, result.stderr
    assert "checking token ***" in result.stdout
    assert "model from-the-env" in result.stdout
    assert PLANTED not in result.stdout + result.stderr

    # A file that cannot be used stops the runtime naming the file, never its text.
    for content in (f"ECHO_TOKEN={PLANTED}\n", json.dumps({"ECHO_TOKEN": [PLANTED]})):
        handed.write_text(content, encoding="utf-8")
        bad = run_runtime(env, tmp_path / "app")
        assert bad.returncode == 78
        (line,) = bad.stderr.strip().splitlines()
        assert line.startswith("[FATAL] AGENTDOCK_ENV_FILE: ") and str(handed) in line
        assert PLANTED not in bad.stdout + bad.stderr
    handed.unlink()
    gone = run_runtime(env, tmp_path / "app")
    assert gone.returncode == 78
    assert "cannot read" in gone.stderr and "No such file" in gone.stderr


def test_invalid_spec_prints_one_fatal_line_per_finding(tmp_path: Path) -> None:
    bad = tmp_path / "Dockfile.yaml"
    bad.write_text('version: "1.1"\nagent: {name: X}\n', encoding="utf-8")
    result = run_runtime(runtime_env(AGENTDOCK_SPEC=str(bad)), tmp_path)
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("[FATAL] ") for line in lines)


def test_bad_settings_are_fatal(tmp_path: Path) -> None:
    env = runtime_env(AGENTDOCK_SPEC=str(tmp_path / "nope.yaml"), AGENTDOCK_PORT="http")
    result = run_runtime(env, tmp_path)
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert "AGENTDOCK_SPEC" in lines[0]
    assert "AGENTDOCK_PORT" in lines[1]


def test_bad_server_limits_are_fatal(tmp_path: Path) -> None:
    env = runtime_env(
        AGENTDOCK_SPEC=str(ECHO),
        AGENTDOCK_INSECURE_NO_AUTH="1",
        AGENTDOCK_MAX_BODY_BYTES="-1",
        AGENTDOCK_WS_IDLE_TIMEOUT="soon",
    )
    result = run_runtime(env, tmp_path)
    assert result.returncode == 78
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert len(fatal) == 1
    assert "AGENTDOCK_MAX_BODY_BYTES must be a positive whole number, got '-1'" in fatal[0]
    assert "AGENTDOCK_WS_IDLE_TIMEOUT must be a positive number of seconds" in fatal[0]


def test_missing_auth_provider_is_fatal(tmp_path: Path) -> None:
    # Only the adapter and the server: no plugin provides auth.mode api_key.
    env = runtime_env(AGENTDOCK_SPEC=str(ECHO), AGENTDOCK_LOAD_PLUGINS="langgraph,litestar")
    result = run_runtime(env, tmp_path)
    assert result.returncode == 78
    assert result.stderr.startswith("[FATAL] ")
    assert "auth provider" in result.stderr


@pytest.mark.slow
def test_serves_echo(tmp_path: Path) -> None:
    env = runtime_env(
        AGENTDOCK_SPEC=str(ECHO),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_PORT=str(free_port()),
        AGENTDOCK_INSECURE_NO_AUTH="1",
    )
    with serving(env, tmp_path) as (proc, base):
        response = httpx.post(f"{base}/invoke", json={"text": "hi"}, timeout=10)
        assert response.status_code == 200
        assert response.json() == {"text": "HI"}
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert stderr.count(b"authentication is OFF") == 1  # warned once, not per layer


@pytest.mark.slow
def test_serves_a_json_snapshot_with_placeholders(tmp_path: Path) -> None:
    from agentdock.spec.loader import load_document

    text = echo_dockfile_with(
        ECHO.read_text(encoding="utf-8"),
        **{"name: echo\n\nio_schema": 'name: "${MODEL_NAME}"\n\nio_schema'},
    )
    (tmp_path / "Dockfile.yaml").write_text(text, encoding="utf-8")
    raw = load_document(tmp_path / "Dockfile.yaml", env={"MODEL_NAME": "x"}).raw
    assert raw is not None
    assert raw["model"]["name"] == "${MODEL_NAME}"
    snapshot = tmp_path / "snapshot" / "spec.json"
    snapshot.parent.mkdir()
    snapshot.write_text(json.dumps(raw), encoding="utf-8")
    env = runtime_env(
        AGENTDOCK_SPEC=str(snapshot),
        AGENTDOCK_PROJECT_DIR=str(ECHO_DIR),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_PORT=str(free_port()),
        AGENTDOCK_INSECURE_NO_AUTH="1",
        MODEL_NAME=PLANTED,
    )
    with serving(env, tmp_path) as (proc, base):
        response = httpx.post(f"{base}/invoke", json={"text": "snap"}, timeout=10)
        assert response.json() == {"text": "SNAP"}
        assert httpx.get(f"{base}/schema", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert PLANTED.encode() not in stdout + stderr


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_then_exits_0(tmp_path: Path) -> None:
    package = tmp_path / "slow"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "graph.py").write_text(SLOW_GRAPH, encoding="utf-8")
    text = echo_dockfile_with(
        ECHO.read_text(encoding="utf-8"),
        **{"name: echo\n": "name: slow\n", "echo.graph:build_graph": "slow.graph:build_graph"},
    )
    (tmp_path / "Dockfile.yaml").write_text(text, encoding="utf-8")
    env = runtime_env(
        AGENTDOCK_SPEC=str(tmp_path / "Dockfile.yaml"),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_PORT=str(free_port()),
        AGENTDOCK_INSECURE_NO_AUTH="1",
    )
    outcome: dict[str, httpx.Response | BaseException] = {}

    def call(base: str) -> None:
        try:
            outcome["response"] = httpx.post(f"{base}/invoke", json={"text": "zz"}, timeout=30)
        except BaseException as exc:
            outcome["response"] = exc

    with serving(env, tmp_path) as (proc, base):
        worker = threading.Thread(target=call, args=(base,))
        worker.start()
        time.sleep(0.4)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        worker.join(timeout=30)
        _, stderr = proc.communicate(timeout=30)
    response = outcome["response"]
    assert isinstance(response, httpx.Response), response
    assert response.status_code == 200
    assert response.json() == {"text": "ZZ"}
    assert proc.returncode == 0, stderr.decode()
    assert b"Shutting down" in stderr


def test_a_taken_port_is_fatal_with_a_hint_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        env = runtime_env(
            AGENTDOCK_SPEC=str(ECHO),
            AGENTDOCK_HOST="127.0.0.1",
            AGENTDOCK_PORT=str(port),
            AGENTDOCK_INSECURE_NO_AUTH="1",
        )
        result = run_runtime(env, tmp_path)
    assert result.returncode == 78, result.stderr
    fatal = [line for line in result.stderr.splitlines() if line.startswith("[FATAL] ")]
    assert fatal == [
        f"[FATAL] cannot listen on 127.0.0.1:{port}: already in use; "
        "set AGENTDOCK_PORT to a free port (0 picks one)"
    ]
    assert "Serving" not in result.stdout + result.stderr


@pytest.mark.slow
def test_port_0_is_served_where_the_banner_says(tmp_path: Path) -> None:
    env = runtime_env(
        AGENTDOCK_SPEC=str(ECHO),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_PORT="0",
        AGENTDOCK_INSECURE_NO_AUTH="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdock_runtime"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        err = LineReader(proc.stderr)  # type: ignore[arg-type]
        banner = json.loads(err.wait_for(lambda line: '"serving"' in line))
        assert banner["message"] == f"Serving echo on {banner['url']}"
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*", banner["url"])
        wait_ready(proc, banner["url"])
        answer = httpx.post(f"{banner['url']}/invoke", json={"text": "hi"}, timeout=10)
        assert answer.json() == {"text": "HI"}
    finally:
        stop(proc)
    assert proc.returncode == 0
