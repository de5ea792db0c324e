"""Without authentication a served agent answers only requests addressed to this machine.

A page whose host name an attacker re-points at 127.0.0.1 (DNS rebinding) reaches a runtime
started with ``--insecure-no-auth`` from the victim's browser; its requests carry the
attacker's name in ``Host``. Every serving path where authentication can be off is started
here as a real process on a free loopback port and sent such a request: 403 with the error
envelope, and the agent never runs (it writes a line per run to ``calls.log``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from processes import stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo"
ATTACKER = "attacker.example"
ALLOWED_HOSTS = "AGENTDOCK_ALLOWED_HOSTS"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def counting_echo(directory: Path, *, streaming: str = "sse") -> Path:
    """A copy of the echo example that appends a line to ``calls.log`` on every run."""
    shutil.copytree(ECHO, directory, ignore=shutil.ignore_patterns("__pycache__"))
    graph = directory / "echo" / "graph.py"
    source = graph.read_text()
    counted = source.replace(
        '    return {"text": state["text"].upper()}',
        "    with open(__file__.rsplit('/', 2)[0] + '/calls.log', 'a') as log:\n"
        "        log.write(state['text'] + '\\n')\n"
        '    return {"text": state["text"].upper()}',
    )
    assert counted != source
    graph.write_text(counted)
    dockfile = directory / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace("streaming: sse", f"streaming: {streaming}"))
    return directory


def calls(project: Path) -> list[str]:
    log = project / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


@contextmanager
def started(
    command: list[str], port: int, *, env: Mapping[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[str]:
    """The process of ``command`` until ``/ready`` answers on ``port`` (asked as
    ``127.0.0.1``); SIGTERM on exit."""
    environ = dict(os.environ if env is None else env)
    environ["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, cwd=cwd
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, timeout=120)
        yield base
    finally:
        stop(proc)


def serve(*args: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "agentdock_cli", "serve", *args]
    return [*command, "--insecure-no-auth", "--port", str(port)]


def invoke(base: str, host: str, path: str = "/invoke", text: str = "hi") -> httpx.Response:
    return httpx.post(f"{base}{path}", json={"text": text}, headers={"host": host}, timeout=30)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "Forbidden"
    assert body["code"] == 403
    assert body["path"] == "host"
    assert ATTACKER in body["detail"]


def handshake(port: int, host: str) -> str:
    """The status line the server answers a WebSocket upgrade of ``/ws/stream`` with."""
    request = (
        "GET /ws/stream HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request.encode())
        return conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_serve_refuses_a_foreign_host_name_and_answers_loopback_ones(
    tmp_path: Path,
) -> None:
    project = counting_echo(tmp_path / "echo", streaming="websocket")
    port = free_port()
    with started(serve(str(project / "Dockfile.yaml"), port=port), port) as base:
        assert_refused(invoke(base, f"{ATTACKER}:{port}"))
        assert_refused(invoke(base, ATTACKER))
        for path in ("/ready", "/openapi.json", "/threads/search", "/no-such-route"):
            assert_refused(httpx.get(f"{base}{path}", headers={"host": ATTACKER}))
        assert handshake(port, f"{ATTACKER}:{port}").startswith("HTTP/1.1 403")
        assert calls(project) == []  # nothing ran

        for n, host in enumerate(
            (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LocalHost.")
        ):
            response = invoke(base, host, text=f"ok {n}")
            assert response.status_code == 200, (host, response.text)
            assert response.json() == {"text": f"OK {n}"}
        assert handshake(port, f"localhost:{port}").startswith("HTTP/1.1 101")
        assert calls(project) == ["ok 0", "ok 1", "ok 2", "ok 3"]


@pytest.mark.parametrize("mode", [["--workers", "2"], ["--reload"]], ids=["workers", "reload"])
def test_serve_under_uvicorn_workers_refuses_a_foreign_host_name(
    tmp_path: Path, mode: list[str]
) -> None:
    """Also ``--allowed-host``: a name the developer added reaches every worker."""
    project = counting_echo(tmp_path / "echo")
    port = free_port()
    args = (str(project / "Dockfile.yaml"), *mode, "--allowed-host", "agent.test")
    with started(serve(*args, port=port), port, cwd=tmp_path) as base:
        for _ in range(4):  # whichever worker takes it
            assert_refused(invoke(base, f"{ATTACKER}:{port}"))
        assert calls(project) == []
        assert invoke(base, f"localhost:{port}").json() == {"text": "HI"}
        for n in range(4):
            assert invoke(base, f"agent.test:{port}", text=f"a{n}").json() == {"text": f"A{n}"}
        assert calls(project) == ["hi", "a0", "a1", "a2", "a3"]


def test_serve_of_a_directory_refuses_a_foreign_host_name(tmp_path: Path) -> None:
    project = counting_echo(tmp_path / "agents" / "echo")
    port = free_port()
    command = serve(str(tmp_path / "agents"), "--no-reload", port=port)
    with started(command, port) as base:
        assert_refused(invoke(base, f"{ATTACKER}:{port}", "/agents/echo/invoke"))
        assert_refused(httpx.get(f"{base}/agents", headers={"host": ATTACKER}))
        assert calls(project) == []
        response = invoke(base, f"localhost:{port}", "/agents/echo/invoke")
        assert response.json() == {"text": "HI"}
        assert calls(project) == ["hi"]


def runtime_env(spec: Path, port: int, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env.update(
        AGENTDOCK_SPEC=str(spec),
        AGENTDOCK_HOST="127.0.0.1",
        AGENTDOCK_PORT=str(port),
        AGENTDOCK_INSECURE_NO_AUTH="1",
        AGENTDOCK_LOG_FORMAT="off",
        **more,
    )
    return env


@pytest.mark.parametrize("layout", ["agent", "directory"])
def test_the_entrypoint_without_auth_answers_loopback_and_allowed_host_names_only(
    tmp_path: Path, layout: str
) -> None:
    project = counting_echo(tmp_path / "agents" / "echo")
    spec = project if layout == "agent" else tmp_path / "agents"
    path = "/invoke" if layout == "agent" else "/agents/echo/invoke"
    port = free_port()
    env = runtime_env(spec, port, AGENTDOCK_ALLOWED_HOSTS="agent.internal, *.svc.test")
    with started([sys.executable, "-m", "agentdock_runtime"], port, env=env) as base:
        assert_refused(invoke(base, f"{ATTACKER}:{port}", path))
        assert_refused(invoke(base, f"svc.test.{ATTACKER}:{port}", path))
        assert calls(project) == []
        for host in (f"localhost:{port}", "agent.internal", f"echo.svc.test:{port}"):
            assert invoke(base, host, path).status_code == 200, host
        assert calls(project) == ["hi", "hi", "hi"]


def test_the_entrypoint_refuses_a_malformed_allowed_hosts_setting(tmp_path: Path) -> None:
    env = runtime_env(ECHO, free_port(), AGENTDOCK_ALLOWED_HOSTS="ok.test,http://agent:8080")
    result = subprocess.run(
        [sys.executable, "-m", "agentdock_runtime"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78, result.stderr
    assert "[FATAL] AGENTDOCK_ALLOWED_HOSTS: 'http://agent:8080' is not a host name" in (
        result.stderr
    )


def exchange(port: int, head: str, body: bytes = b"") -> tuple[str, bytes]:
    """The status line and body the server answers a hand-written request head with."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < length(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    return status.decode("latin-1"), rest.partition(b"\r\n\r\n")[2]


def length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


def test_serve_refuses_two_hosts_and_malformed_ones_with_the_envelope_over_http_and_ws(
    tmp_path: Path,
) -> None:
    project = counting_echo(tmp_path / "echo", streaming="websocket")
    port = free_port()
    body = b'{"text": "hi"}'
    post = (
        "POST /invoke HTTP/1.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    get_ws = f"GET /ws/stream HTTP/1.1\r\n{UPGRADE}"
    with started(serve(str(project / "Dockfile.yaml"), port=port), port):
        for hosts in (("localhost", ATTACKER), (ATTACKER, "localhost")):
            lines = "".join(f"Host: {h}\r\n" for h in hosts)
            for head, sent in ((post + lines, body), (get_ws + lines, b"")):
                status, answer = exchange(port, head, sent)
                assert status.startswith("HTTP/1.1 400"), (hosts, status, answer)
                envelope = json.loads(answer)
                assert (envelope["error"], envelope["path"]) == ("BadRequest", "host")
                assert "more than one Host header" in envelope["detail"]
        for odd in ("localhost#evil", "localhost:abc", "localhost:99999", "localhost:"):
            for head, sent in ((post, body), (get_ws, b"")):
                status, answer = exchange(port, f"{head}Host: {odd}\r\n", sent)
                assert status.startswith("HTTP/1.1 400"), (odd, status, answer)
                envelope = json.loads(answer)
                assert (envelope["error"], envelope["path"]) == ("BadRequest", "host")
                assert repr(odd) in envelope["detail"]
        status, answer = exchange(port, f"{post}Host: local\thost\r\n", body)
        assert status.startswith("HTTP/1.1 400"), (status, answer)
        assert json.loads(answer)["detail"] == "the Host header holds a control character"
        assert calls(project) == []
        status, answer = exchange(port, f"{post}Host: localhost:{port}\r\n", body)
        assert status.startswith("HTTP/1.1 200"), (status, answer)
        assert calls(project) == ["hi"]


def test_a_malformed_allowed_hosts_setting_does_not_stop_a_server_with_authentication(
    tmp_path: Path,
) -> None:
    """With authentication the variable is not read (no Host check), so not checked either:
    ``serve`` and the entrypoint start and ask for a key."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDOCK_")}
    env[ALLOWED_HOSTS] = "x:80"
    command = [sys.executable, "-m", "agentdock_cli", "serve", str(ECHO), "--port", str(port)]
    with started(command, port, env=env, cwd=tmp_path) as base:
        assert invoke(base, ATTACKER).status_code == 401
    port = free_port()
    env = runtime_env(ECHO, port, **{ALLOWED_HOSTS: "x:80"})
    env["AGENTDOCK_INSECURE_NO_AUTH"] = "0"
    with started([sys.executable, "-m", "agentdock_runtime"], port, env=env) as base:
        assert invoke(base, ATTACKER).status_code == 401
