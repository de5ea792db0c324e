"""``agentdock key``, ``token issue``, ``audit-log list``, ``versions``, ``instances``,
``build`` and ``logs`` (``--follow``, ``--level``, the whole log) through a shared control
plane (``--server``), with the exit codes of their local forms; the commands that act on
this machine only refuse a server."""

from __future__ import annotations

import json
import logging
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock.deployment import deploy
from agentdock.registry import open_store
from controlplane_support import Remote
from processes import terminal_sigint

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

DEADLINE = 30


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _deployed(remote: Remote, echo: Path) -> None:
    code, out, err = run_cli(["deploy", str(echo), "--json"])
    assert code == 0, out + err


# -- keys ------------------------------------------------------------------------------------


def test_keys_are_created_listed_rotated_and_revoked_through_the_control_plane(
    remote: Remote, echo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _deployed(remote, echo)
    code, out, err = run_cli(["key", "create", "--agent", "echo", "--role", "developer"])
    assert code == 0, out + err
    made = out.strip().splitlines()[-1]
    assert made.startswith("adk_") and out.count(made) == 1
    key_id = made.split("_")[1]
    assert f"Created key {key_id} for echo (developer)" in out

    code, out, err = run_cli(["key", "list", "--agent", "echo", "--json"])
    assert code == 0, out + err
    listed = json.loads(out)
    assert listed["registry"] == remote.url
    assert key_id in {k["key_id"] for k in listed["keys"]}
    code, every, err = run_cli(["key", "list"])  # every agent's keys, as locally
    assert code == 0 and key_id in every, every + err

    code, out, err = run_cli(["key", "rotate", "echo", key_id, "--grace", "1h", "--json"])
    assert code == 0, out + err
    rotated = json.loads(out)
    assert rotated["key"].startswith("adk_") and rotated["key"] != made
    assert rotated["old"]["state"] == "rotating" and rotated["old"]["key_id"] == key_id

    code, out, err = run_cli(["key", "revoke", "echo", rotated["key_id"]])
    assert code == 0 and f"Revoked {rotated['key_id']} of echo" in out, out + err
    with open_store() as store:
        states = {r.key_id: r.state(time.time()) for r in store.list_api_keys("echo")}
        audit = json.dumps([e.details for e in store.list_audit(agent="echo", limit=100)])
    assert states[rotated["key_id"]] == "revoked"
    # The new keys were printed once; neither they nor the platform key went anywhere else.
    for secret in (made, rotated["key"], remote.keys["developer"]):
        assert secret not in audit
        assert secret not in caplog.text
    assert remote.keys["developer"] not in out + err + every


def test_a_viewer_key_lists_keys_but_may_not_change_them(
    remote: Remote, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deployed(remote, echo)
    with open_store() as store:
        key_id = store.list_api_keys("echo")[0].key_id
    monkeypatch.setenv("AGENTDOCK_SERVER_KEY", remote.keys["viewer"])
    code, out, err = run_cli(["key", "list", "--agent", "echo"])
    assert code == 0 and key_id in out, out + err
    for args in (
        ["key", "create", "--agent", "echo", "--role", "developer"],
        ["key", "rotate", "echo", key_id],
        ["key", "revoke", "echo", key_id],
    ):
        code, out, err = run_cli(args)
        assert code == 1, args
        assert "the control plane refused: Forbidden" in err
        assert "viewer role may not do this (developer needed)" in err
        assert "AGENTDOCK_SERVER_KEY" in err  # the hint says which key was refused
        assert remote.keys["viewer"] not in out + err
    code, out, _ = run_cli(["key", "create", "--agent", "echo", "--role", "developer", "--json"])
    assert code == 1 and json.loads(out)["error"] == "Forbidden"
    with open_store() as store:
        assert store.get_api_key(key_id).state(time.time()) == "active"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["key", "create", "--agent", "nobody", "--role", "developer"], 1, "nobody"),
        (["key", "create", "--agent", "echo", "--role", "wizard"], 1, "InvalidRole"),
        (["key", "revoke", "nobody", "0123456789ab"], 5, "nobody"),
        (["key", "revoke", "echo", "0123456789ab"], 5, "no such key"),
        (["key", "rotate", "echo", "0123456789ab"], 5, "no such live key"),
        (["key", "list", "--agent", "nobody"], 5, "nobody"),
        (["key", "create", "--agent", "echo", "--role", "developer", "--instance", "a"], 2, ""),
        (["key", "list", "--registry", "x.db"], 2, "--registry"),
        (["versions", "nobody"], 5, "nobody"),
        (["instances", "nobody"], 5, "nobody"),
        (["build", "--version", "9.9.9"], 2, "--version"),
        (["cleanup"], 2, "acts on this machine only"),
        (["rm", "echo", "--yes"], 2, "acts on this machine only"),
        (["sbom", "echo"], 2, "the control plane does not serve SBOMs"),
        (["audit-log", "verify"], 2, "chain key"),
        (["audit-log", "list", "--limit", "5000"], 2, "at most 1000 entries"),
        (["audit-log", "list", "--registry", "x.db"], 2, "--registry"),
        (
            [
                "token",
                "issue",
                "--agent",
                "echo",
                "--role",
                "developer",
                "--sub",
                "a",
                "--env",
                "A=b",
            ],
            2,
            "--env",
        ),
        (
            ["token", "issue", "--agent", "echo", "--role", "developer", "--sub", "a"],
            1,
            "NotJwtMode",
        ),
        (["token", "issue", "--agent", "nobody", "--role", "developer", "--sub", "a"], 1, "nobody"),
    ],
)
def test_remote_commands_keep_their_local_exit_codes(
    remote: Remote, echo: Path, args: list[str], code: int, said: str
) -> None:
    _deployed(remote, echo)
    got, out, err = run_cli(args, cwd=echo.parent)
    assert got == code, out + err
    assert said in out + err
    assert remote.keys["developer"] not in out + err


# -- token, audit-log -------------------------------------------------------------------------

JWT_SECRET = "planted-jwt-secret-0123456789abcdef-remote"


def test_a_token_is_signed_by_the_control_plane_with_the_agents_secret_there(
    remote: Remote, echo: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import jwt

    caplog.set_level(logging.DEBUG)
    echo.write_text(
        echo.read_text().replace(
            "  mode: api_key\n  api_keys: { enabled: true }\n",
            '  mode: jwt\n  jwt:\n    secret_key: "${ECHO_JWT_SECRET}"\n    expiry_minutes: 30\n',
        )
    )
    monkeypatch.setenv("ECHO_JWT_SECRET", JWT_SECRET)  # the control plane's environment
    _deployed(remote, echo)
    monkeypatch.delenv("AGENTDOCK_SERVER")  # named on the command line instead
    args = ["token", "issue", "--agent", "echo", "--role", "developer", "--sub", "alice"]
    code, out, err = run_cli([*args, "--server", remote.url, "--ttl", "10m"], cwd=echo.parent)
    assert code == 0, out + err
    token = out.strip().splitlines()[-1]
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"], claims["agent"]) == ("alice", "developer", "echo")
    assert claims["exp"] - claims["iat"] == 600
    assert out.count(token) == 1 and "Token for alice (developer) on echo" in out
    code, out, err = run_cli([*args, "--server", remote.url, "--json"], cwd=echo.parent)
    assert code == 0, out + err
    made = json.loads(out)
    assert (
        made["expires_at"] - jwt.decode(made["token"], JWT_SECRET, algorithms=["HS256"])["iat"]
        == 30 * 60
    )
    with open_store() as store:
        issued = [e for e in store.list_audit(agent="echo", limit=100) if e.action == "token.issue"]
    assert [e.target for e in issued] == ["alice", "alice"]  # audited by the control plane
    monkeypatch.setenv("AGENTDOCK_SERVER_KEY", remote.keys["viewer"])
    code, out, err = run_cli([*args, "--server", remote.url], cwd=echo.parent)
    assert code == 1 and "Forbidden" in err and "AGENTDOCK_SERVER_KEY" in err, out + err
    for secret in (remote.keys["developer"], remote.keys["viewer"]):
        assert secret not in out + err + caplog.text
    assert token not in caplog.text and JWT_SECRET not in caplog.text + out + err


def test_a_token_of_an_rs256_agent_is_refused_remotely_with_the_local_exit_code(
    remote: Remote, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    monkeypatch.setenv("ECHO_JWT_PUBLIC", public.decode())
    echo.write_text(
        echo.read_text().replace(
            "  mode: api_key\n  api_keys: { enabled: true }\n",
            '  mode: jwt\n  jwt:\n    algorithms: [RS256]\n    public_key: "${ECHO_JWT_PUBLIC}"\n',
        )
    )
    _deployed(remote, echo)
    args = ["token", "issue", "--agent", "echo", "--role", "developer", "--sub", "alice"]
    code, out, err = run_cli(args)
    assert code == 2 and "PrivateKeyRequired" not in out, out + err
    assert "private key the control plane does not hold" in err
    code, out, err = run_cli([*args, "--json"])
    assert code == 2 and json.loads(out)["error"] == "PrivateKeyRequired", out + err
    assert remote.keys["developer"] not in out + err


def test_the_audit_log_is_read_through_the_control_plane(
    remote: Remote, echo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _deployed(remote, echo)
    code, out, err = run_cli(["key", "create", "--agent", "echo", "--role", "developer"])
    assert code == 0, out + err
    with open_store() as store:
        local = [e.action for e in store.list_audit(agent="echo", limit=2)]
    code, out, err = run_cli(
        ["audit-log", "list", "--agent", "echo", "--limit", "2", "--server", remote.url, "--json"]
    )
    assert code == 0, out + err
    entries = json.loads(out)["entries"]
    assert [e["action"] for e in entries] == local  # oldest first, as locally
    assert entries[-1]["action"] == "key.create" and entries[0]["id"] < entries[1]["id"]
    code, out, err = run_cli(["audit-log", "list", "--server", remote.url])
    assert code == 0 and "key.create" in out, out + err
    code, out, err = run_cli(["audit-log", "verify", "--server", remote.url])
    assert code == 2 and "control plane's host" in err, out + err
    assert remote.keys["developer"] not in out + err + caplog.text


# -- versions, instances, build --------------------------------------------------------------


def test_versions_and_instances_read_through_the_control_plane(
    remote: Remote, echo: Path, fakes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _deployed(remote, echo)
    with open_store() as store:
        deploy(echo, instance="acme", store=store, plugins=fakes[0])
    code, out, err = run_cli(["versions", "echo", "--json"])
    assert code == 0, out + err
    rows = json.loads(out)["versions"]
    assert [(r["version"], r["active"]) for r in rows] == [("0.1.0", True)]
    code, out, err = run_cli(["versions", "echo"])
    assert code == 0 and "0.1.0" in out and "*" in out, out + err
    code, out, err = run_cli(["instances", "echo", "--json"])
    assert code == 0, out + err
    found = json.loads(out)
    assert [(i["instance"], i["version"]) for i in found["instances"]] == [("acme", "0.1.0")]
    import agentdock

    with agentdock.control_plane() as plane:
        assert [i["instance"] for i in plane.instances("echo")] == ["acme"]
    # The control plane answered (it shares this registry): a key it refuses ends both.
    monkeypatch.setenv("AGENTDOCK_SERVER_KEY", "adk_wrong")
    for command in ("versions", "instances"):
        code, out, err = run_cli([command, "echo"])
        assert code == 1 and "Unauthorized" in err, out + err


def test_a_build_through_the_control_plane_records_the_version_and_starts_nothing(
    remote: Remote, echo: Path
) -> None:
    code, out, err = run_cli(["build", str(echo), "--json"])
    assert code == 0, out + err
    events = _json_lines(out)
    assert events[0]["step"] == "upload"
    result = events[-1]
    assert (result["event"], result["agent"], result["version"]) == ("result", "echo", "0.1.0")
    assert (result["builder"], result["new_version"], result["cached"]) == ("fake", True, False)
    assert remote.plugin.target.running == {}  # nothing started
    code, out, err = run_cli(["build", str(echo)])
    assert code == 0, out + err
    assert "echo 0.1.0 cache hit with the fake builder (already recorded)" in out
    assert f"--server {remote.url}" in out
    import agentdock

    with agentdock.control_plane() as plane:
        built = plane.build(echo)
        assert (built["version"], built["cached"], built["new_version"]) == ("0.1.0", True, False)
    remote.plugin.builder.fail_with = "the build broke"
    (echo.parent / "echo" / "extra.py").write_text("X = 2\n")
    code, out, err = run_cli(["build", str(echo)])
    assert code == 3, out + err
    assert "the build broke" in err


# -- logs --follow ---------------------------------------------------------------------------


class _Log:
    """A runtime log the test writes to; ``None`` ends it (the runtime stopped)."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self.new: queue.Queue[str | None] = queue.Queue()
        self.lines = lines or ["line 0", "line 1", "line 2"]

    def logs(self, handle: Any, tail: int | None, follow: bool) -> Iterator[str]:
        yield from self.lines[-tail:] if tail else self.lines
        while follow and (line := self.new.get()) is not None:
            yield line


@pytest.fixture
def runtime_log(
    remote: Remote, echo: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[_Log]:
    """The deployed echo's log; ``@pytest.mark.parametrize("runtime_log", [LINES],
    indirect=True)`` gives its first lines."""
    import deploy_fakes

    log = _Log(getattr(request, "param", None))
    monkeypatch.setattr(
        deploy_fakes.FakeTarget, "logs", lambda self, h, tail, follow: log.logs(h, tail, follow)
    )
    _deployed(remote, echo)
    yield log
    log.new.put(None)


def test_a_followed_log_prints_each_line_and_ends_with_the_runtime(
    remote: Remote, runtime_log: _Log
) -> None:
    for line in ("line 3", "line 4", None):
        runtime_log.new.put(line)
    code, out, err = run_cli(["logs", "echo", "--follow", "--tail", "1"])
    assert code == 0, out + err
    assert out.splitlines() == ["line 2", "line 3", "line 4"]
    for line in ("line 5", None):
        runtime_log.new.put(line)
    code, out, err = run_cli(["logs", "echo", "-f", "--tail", "1", "--json"])
    assert code == 0, out + err
    assert _json_lines(out) == [{"line": "line 2"}, {"line": "line 5"}]


def test_a_followed_log_prints_lines_as_they_come_and_ctrl_c_ends_it(
    remote: Remote, runtime_log: _Log
) -> None:
    # stdout is a pipe (block-buffered by Python): each line must be flushed as it comes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentdock_cli", "logs", "echo", "--follow", "--tail", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=terminal_sigint,  # Ctrl-C as at a terminal, however the tests were started
    )
    try:
        assert proc.stdout is not None
        assert _read_line(proc) == "line 2"
        runtime_log.new.put("a line written later")
        assert _read_line(proc) == "a line written later"  # the stream is still open
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert remote.keys["developer"] not in out + err


LEVELED = [
    "12:00:00.000 INFO echo started",
    "12:00:01.000 ERROR echo failed",
    "Traceback (most recent call last):",
    "12:00:02.000 DEBUG echo detail",
    '{"level": "warning", "message": "slow"}',
]


@pytest.mark.parametrize("runtime_log", [LEVELED], indirect=True)
def test_logs_level_keeps_the_lines_at_that_level_or_above_remotely_and_locally(
    remote: Remote,
    runtime_log: _Log,
    cli_fakes: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors = ["12:00:01.000 ERROR echo failed", "Traceback (most recent call last):"]
    warnings = [*errors, '{"level": "warning", "message": "slow"}']
    code, out, err = run_cli(["logs", "echo", "--level", "error"])
    assert code == 0 and out.splitlines() == errors, out + err
    code, out, err = run_cli(["logs", "echo", "--level", "WARN", "--json"])
    assert code == 0 and _json_lines(out) == [{"line": line} for line in warnings], out + err
    for line in ("12:00:03.000 INFO later", "12:00:04.000 CRITICAL later", None):
        runtime_log.new.put(line)
    code, out, err = run_cli(["logs", "echo", "--follow", "--level", "warning"])
    assert code == 0, out + err
    assert out.splitlines() == [*warnings, "12:00:04.000 CRITICAL later"]
    assert remote.keys["developer"] not in out + err + caplog.text
    # The same filter on this machine's log (the runtime writes the same lines).
    monkeypatch.delenv("AGENTDOCK_SERVER")
    code, out, err = run_cli(["logs", "echo", "--level", "error"])
    assert code == 0 and out.splitlines() == errors, out + err
    code, out, err = run_cli(["logs", "echo", "--level", "loud"])
    assert code == 2 and "--level" in err, out + err


LONG = [f"line {n}" for n in range(10_005)]


@pytest.mark.parametrize("runtime_log", [LONG[:250]], indirect=True)
def test_logs_without_tail_show_the_whole_log_as_locally(
    remote: Remote, runtime_log: _Log, cli_fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(["logs", "echo"])
    assert code == 0 and out.splitlines() == LONG[:250], err
    assert "longer than" not in err  # nothing was cut
    code, out, err = run_cli(["logs", "echo", "--tail", "5"])
    assert code == 0 and out.splitlines() == LONG[245:250], err
    runtime_log.new.put(None)
    code, out, err = run_cli(["logs", "echo", "--follow"])
    assert code == 0 and out.splitlines() == LONG[:250], err
    monkeypatch.delenv("AGENTDOCK_SERVER")
    code, out, err = run_cli(["logs", "echo"])
    assert code == 0 and out.splitlines() == LONG[:250], err  # the same here


@pytest.mark.parametrize("runtime_log", [LONG], indirect=True)
def test_a_log_longer_than_the_apis_bound_is_cut_and_says_so(
    remote: Remote, runtime_log: _Log
) -> None:
    code, out, err = run_cli(["logs", "echo"])
    assert code == 0 and out.splitlines() == LONG[5:], err
    assert "longer than 10,000 lines" in err and "last 10,000" in err
    code, out, err = run_cli(["logs", "echo", "--json"])
    assert code == 0 and len(_json_lines(out)) == 10_000 and "longer than" in err
    code, out, err = run_cli(["logs", "echo", "--tail", "20"])
    assert code == 0 and out.splitlines() == LONG[-20:] and "longer than" not in err
    import agentdock

    with agentdock.control_plane() as plane:
        assert plane.read_logs("echo", tail=3) == (LONG[-3:], True)
        assert plane.read_logs("echo") == (LONG[5:], True)
    assert remote.keys["developer"] not in out + err


def _read_line(proc: subprocess.Popen[str]) -> str:
    """The next line the process prints, within the deadline."""
    got: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: got.put(stdout.readline()), daemon=True).start()
    try:
        return got.get(timeout=DEADLINE).rstrip("\n")
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"no line within {DEADLINE} s: {proc.communicate()}") from None


@pytest.fixture
def cut_stream() -> Iterator[str]:
    """A server that answers a followed log with one line, then drops the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            frame = b'event: line\r\ndata: {"line": "before the cut"}\r\n\r\n'
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
                + f"{len(frame):x}\r\n".encode()
                + frame
                + b"\r\n"
            )
            conn.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(DEADLINE)
    listener.close()


@pytest.mark.parametrize("as_json", [False, True])
def test_a_lost_connection_ends_a_followed_log_with_exit_4(
    cut_stream: str, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    monkeypatch.setenv("AGENTDOCK_SERVER", cut_stream)
    monkeypatch.setenv("AGENTDOCK_SERVER_KEY", "adk_planted0000_followKeyNeverShown")
    code, out, err = run_cli(["logs", "echo", "--follow"] + (["--json"] if as_json else []))
    assert code == 4, out + err
    if as_json:
        assert _json_lines(out)[0] == {"line": "before the cut"}
        assert _json_lines(out)[-1]["code"] == 4
        assert "was lost" in _json_lines(out)[-1]["detail"]
    else:
        assert out.splitlines() == ["before the cut"]
        assert "the connection to the control plane" in err and "was lost" in err
    assert "followKeyNeverShown" not in out + err
