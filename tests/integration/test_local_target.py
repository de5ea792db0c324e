"""The ``local`` target with real processes: start, the health gate, restarts, the crash
loop, a runtime that cannot start, a taken port, stop, a supervisor that outlives the
process that started it, and one address handed from version to version. A planted secret
travels in the environment and must show up nowhere on disk or in a handle, masked in the
log even when the runtime prints it; a variable planted in the deploying shell must reach
neither the supervisor nor the runtime."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.deployment.artifacts import REASON_LABEL, Artifact, StartRequest, no_progress
from agentdock.deployment.errors import HealthGateFailed
from agentdock_plugins import pydeps
from agentdock_plugins.local.builder import LocalBuilder
from agentdock_plugins.local.supervisor import read_state
from agentdock_plugins.local.target import LocalTarget, choose_port, pid_alive
from build_requests import build_request
from hammer import Hammer

pytestmark = pytest.mark.slow

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
SECRET = "planted-secret-91c2aa07f3"
#: What the deploy service hands the target: the variable and the names of secret ones.
RUNTIME_ENV = {
    "AGENTDOCK_INSECURE_NO_AUTH": "1",
    "ECHO_TOKEN": SECRET,
    "AGENTDOCK_SECRET_NAMES": "ECHO_TOKEN",
}
#: Exported in the deploying shell, referenced by nothing.
SHELL_ONLY = "UNRELATED_TOKEN"
SHELL_ONLY_VALUE = "shell-only-planted-4e0d77"
#: Every name a local runtime's environment may hold besides AGENTDOCK_* and the request's
#: variables (docs/deploy.md, "The runtime's environment").
HOST_NAMES = {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "PYTHONUNBUFFERED", "XDG_CACHE_HOME"}
POLL = 0.05


def _build(project: Path, home: Path) -> Artifact:
    return LocalBuilder(home / "wheels").build(build_request(project, home), no_progress)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("local-target")
    frozen = pydeps.agentdock_dists(root / "home" / "wheels")
    with pytest.MonkeyPatch.context() as mp:  # edits to the workspace meanwhile change nothing
        mp.setattr(pydeps, "agentdock_dists", lambda *_a, **_k: frozen)
        yield root / "home"


@pytest.fixture(scope="module")
def echo_bundle(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    project = tmp_path_factory.mktemp("projects") / "echo"
    shutil.copytree(ECHO, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".env").write_text(f"ECHO_TOKEN={SECRET}\n")
    return _build(project, home)


@pytest.fixture
def target() -> Iterator[tuple[LocalTarget, list[dict[str, Any]]]]:
    """The target, and every handle it started: stopped at the end whatever happened."""
    local = LocalTarget()
    handles: list[dict[str, Any]] = []
    yield local, handles
    for handle in handles:
        local.stop(handle, 5)


def _project_of(bundle: Artifact, tmp_path: Path) -> Path:
    """The app of a built echo bundle as a project again (the example's Dockfile), to change
    and build anew."""
    project = tmp_path / "echo"
    shutil.copytree(Path(bundle.ref) / "app", project)
    (project / "spec.yaml").unlink()
    shutil.copy(ECHO / "Dockfile.yaml", project / "Dockfile.yaml")
    return project


def _gate_refuses(
    local: LocalTarget,
    handles: list[dict[str, Any]],
    project: Path,
    home: Path,
    deployment_id: int,
) -> tuple[dict[str, Any], HealthGateFailed]:
    """Build ``project``, start it, and the handle with the health gate's refusal."""
    bundle = _build(project, home)
    handle = dict(local.start(bundle, _request(home, deployment_id, _free_port()), no_progress))
    handles.append(handle)
    with pytest.raises(HealthGateFailed) as caught:
        local.wait_ready(handle, 600, no_progress)
    return handle, caught.value


def _request(home: Path, deployment_id: int, port: int, **changes: Any) -> StartRequest:
    fields: dict[str, Any] = {
        "agent": "echo",
        "version": "0.1.0",
        "deployment_id": deployment_id,
        "port": port,
        "host": "127.0.0.1",
        "env": dict(RUNTIME_ENV),
        "state_dir": home / "deployments" / str(deployment_id),
        "home": home,
        "instance": f"d{deployment_id}",
    }
    fields.update(changes)
    return StartRequest(**fields)


def _free_port() -> int:
    return choose_port("127.0.0.1", 0)


def _poll(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(POLL)


def _invoke(handle: dict[str, Any], text: str, endpoint: str = "endpoint") -> str:
    resp = httpx.post(f"{handle[endpoint]}/invoke", json={"text": text}, timeout=10)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["text"])


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


def _listening(port: int) -> set[str]:
    """The addresses a socket listens on ``port`` at (IPv4), from ``/proc/net/tcp``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def _assert_only_allowed(environ: dict[str, str]) -> None:
    assert SHELL_ONLY not in environ and SHELL_ONLY_VALUE not in "".join(environ.values())
    extra = {
        name
        for name in environ
        if name not in HOST_NAMES
        and not name.startswith(("LC_", "AGENTDOCK_"))
        and name not in RUNTIME_ENV
    }
    assert extra == set(), extra


def _assert_no_secret(handle: dict[str, Any]) -> None:
    assert SECRET not in json.dumps(handle)
    assert SECRET not in Path(handle["log"]).read_text("utf-8", errors="replace")
    for path in Path(handle["state_dir"]).iterdir():
        assert SECRET not in path.read_text("utf-8", errors="replace"), path


def test_start_ready_invoke_restart_and_stop(
    home: Path, echo_bundle: Artifact, target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, handles = target
    steps: list[str] = []
    port = _free_port()
    monkeypatch.setenv(SHELL_ONLY, SHELL_ONLY_VALUE)
    monkeypatch.setenv("AGENTDOCK_DRAIN_TIMEOUT", "29")  # an AgentDock setting: it goes along
    # Started cold (no warm process): its environment is its process's, and shows.
    request = _request(home, 1, port, env={**RUNTIME_ENV, "AGENTDOCK_WARM_START": "off"})
    handle = dict(local.start(echo_bundle, request, lambda s, m, **_: steps.append(s)))
    handles.append(handle)
    assert handle["port"] == port and handle["endpoint"] == f"http://127.0.0.1:{port}"
    assert {"pid", "host", "log", "state_dir"} <= handle.keys()
    assert handle["log"] == str(home / "logs" / "echo.d1.log")
    local.wait_ready(handle, 60, no_progress)
    local.promote(handle, no_progress)
    assert _invoke(handle, "hello") == "HELLO"
    status = local.status(handle)
    assert status["state"] == "running" and status["healthy"] is True
    assert status["restarts"] == 0 and status["started_at"]

    first = read_state(Path(handle["state_dir"]))
    assert first is not None and first["ready"] and first["supervisor_pid"] == handle["pid"]
    assert first["runtime_start"] == "cold" and first["zygote_pid"] is None
    for pid in (handle["pid"], first["runtime_pid"]):  # in the environment, never in argv
        assert SECRET.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    supervisor, runtime = _environ(handle["pid"]), _environ(first["runtime_pid"])
    assert runtime["ECHO_TOKEN"] == SECRET and supervisor["ECHO_TOKEN"] == SECRET
    assert runtime["AGENTDOCK_DRAIN_TIMEOUT"] == "29" and runtime["AGENTDOCK_LISTEN_FD"]
    assert runtime["AGENTDOCK_HOME"] == str(home)
    _assert_only_allowed(supervisor)
    _assert_only_allowed(runtime)
    os.kill(first["runtime_pid"], signal.SIGKILL)
    state = _poll(
        lambda: (s := read_state(Path(handle["state_dir"]))) and s["ready"] and s["restarts"] and s
    )
    assert state["restarts"] == 1 and state["runtime_pid"] != first["runtime_pid"]
    assert state["last_exit_code"] == -signal.SIGKILL
    assert state["runtime_start"] == "cold" and state["zygote_pid"] is None  # warm starts off
    local.wait_ready(handle, 60, no_progress)
    assert _invoke(handle, "again") == "AGAIN"
    assert local.status(handle)["restarts"] == 1
    log = Path(handle["log"]).read_text("utf-8")
    assert "runtime exited with code -9" in log and "restarting the runtime (restart 1)" in log

    local.stop(handle, 10)
    assert not pid_alive(handle["pid"]) and not pid_alive(state["runtime_pid"])
    stopped = local.status(handle)
    assert stopped["state"] == "stopped" and stopped["healthy"] is None
    local.stop(handle, 1)  # stopped already is fine
    lines = list(local.logs(handle, 2, False))
    assert len(lines) == 2 and lines[-1].endswith("agentdock supervisor: stopped")
    assert "runtime exited with code 0" in lines[0]  # SIGTERM drained, exit 0
    _assert_no_secret(handle)


def test_crash_loop_marks_the_deployment_down(
    home: Path, echo_bundle: Artifact, target: Any
) -> None:
    local, handles = target
    handle = dict(local.start(echo_bundle, _request(home, 2, _free_port()), no_progress))
    handles.append(handle)
    local.wait_ready(handle, 60, no_progress)
    killed: set[int] = set()

    def kill_until_down() -> bool:
        state = read_state(Path(handle["state_dir"])) or {}
        if state.get("state") == "down":
            return True
        pid = state.get("runtime_pid")
        if pid and pid not in killed:
            killed.add(pid)
            with contextlib.suppress(ProcessLookupError):  # it may be gone already
                os.kill(pid, signal.SIGKILL)
        return False

    _poll(kill_until_down)
    _poll(lambda: not pid_alive(handle["pid"]))
    status = local.status(handle)
    assert status["state"] == "down" and status["healthy"] is False
    assert status["restarts"] == 3 and status["runtime_pid"] is None
    assert _listening(handle["port"]) == set()  # nothing listens: down, not degraded
    assert len(killed) == 4
    with pytest.raises(HealthGateFailed) as caught:
        local.wait_ready(handle, 60, no_progress)
    assert "down" in caught.value.cause
    assert any("giving up, the deployment is down" in line for line in caught.value.log_tail)
    _assert_no_secret(handle)


def test_missing_variable_fails_the_gate_at_once(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    local, handles = target
    project = _project_of(echo_bundle, tmp_path)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(
        dockfile.read_text("utf-8").replace(
            "  name: echo\n\nio_schema", '  name: "${ECHO_MODEL_KEY}"\n\nio_schema'
        )
    )
    assert "${ECHO_MODEL_KEY}" in dockfile.read_text()
    handle, error = _gate_refuses(local, handles, project, home, 3)
    assert "failed" in error.cause and "78" in error.cause  # not the timeout
    assert any(
        "[FATAL] Missing required environment variables: ECHO_MODEL_KEY" in line
        for line in error.log_tail
    ), error.log_tail
    assert len(error.log_tail) <= 20
    state = read_state(Path(handle["state_dir"]))
    assert state is not None and state["state"] == "failed" and state["restarts"] == 0
    assert SECRET not in json.dumps(error.to_json())
    _assert_no_secret(handle)


def test_taken_port_gives_another(home: Path, echo_bundle: Artifact, target: Any) -> None:
    local, handles = target
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        steps: list[str] = []
        handle = dict(
            local.start(echo_bundle, _request(home, 4, taken), lambda s, m, **_: steps.append(m))
        )
        handles.append(handle)
        assert handle["port"] != taken
        assert any(f"port {taken} is taken" in m for m in steps)
        local.wait_ready(handle, 60, no_progress)
        local.promote(handle, no_progress)
        assert _invoke(handle, "port") == "PORT"


def test_it_listens_on_the_loopback_unless_asked_for_more(
    home: Path, echo_bundle: Artifact, target: Any
) -> None:
    local, handles = target
    said: list[tuple[str, dict[str, Any]]] = []
    handle = dict(
        local.start(
            echo_bundle,
            _request(home, 6, _free_port(), host=None),
            lambda s, m, **f: said.append((m, f)),
        )
    )
    handles.append(handle)
    local.wait_ready(handle, 60, no_progress)
    assert handle["host"] == "127.0.0.1" and handle["endpoint"].startswith("http://127.0.0.1:")
    assert _listening(handle["port"]) == {"127.0.0.1"}
    message, fields = next((m, f) for m, f in said if m.startswith("listening on"))
    assert fields["host"] == "127.0.0.1" and "this machine only" in message

    wide = dict(
        local.start(echo_bundle, _request(home, 7, _free_port(), host="0.0.0.0"), no_progress)
    )
    handles.append(wide)
    local.wait_ready(wide, 60, no_progress)
    assert _listening(wide["port"]) == {"0.0.0.0"}
    assert wide["endpoint"] == f"http://127.0.0.1:{wide['port']}"


def test_a_secret_in_a_failing_entrypoints_exception_is_masked_in_the_log(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    local, handles = target
    project = _project_of(echo_bundle, tmp_path)
    (project / "echo" / "graph.py").write_text(
        "import os\nraise ValueError('the token ' + os.environ['ECHO_TOKEN'] + ' was refused')\n"
    )
    handle, error = _gate_refuses(local, handles, project, home, 8)
    fatal = [line for line in error.log_tail if "[FATAL]" in line]
    assert fatal == [
        "[FATAL] cannot load echo.graph:build_graph: ValueError: the token *** was refused"
    ], error.log_tail
    _assert_no_secret(handle)


def test_the_supervisor_masks_what_reaches_the_log_around_the_runtime(
    home: Path, target: tuple[LocalTarget, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Output the runtime's own masking never sees (a child process writing to the
    inherited descriptor) is masked by the supervisor's copy into the log."""
    local, handles = target
    bundle = tmp_path / "raw"
    python = bundle / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    (bundle / "app").mkdir()
    # A value split over two writes, one inside another text, and a partial last line.
    python.write_text(
        "#!/bin/sh\n"
        'printf "a child says %s and " "$ECHO_TOKEN"\n'
        'printf "$ECHO_TOKEN" | cut -c1-9 | tr -d "\\n"\n'
        'printf "%s\\n" "$(printf "$ECHO_TOKEN" | cut -c10-)"\n'
        'printf "x${ECHO_TOKEN}y"\n'
        "exit 78\n"
    )
    python.chmod(0o755)
    artifact = Artifact("local", str(bundle), "0" * 64)
    handle = local.start(artifact, _request(home, 92, _free_port()), no_progress)
    handles.append(dict(handle))
    with pytest.raises(HealthGateFailed):
        local.wait_ready(handle, 60, no_progress)
    log = Path(handle["log"]).read_text("utf-8")
    assert "a child says *** and ***\n" in log and "x***y\n" in log, log
    _assert_no_secret(dict(handle))


def test_supervisor_outlives_the_process_that_started_it(
    home: Path, echo_bundle: Artifact, target: Any
) -> None:
    local, handles = target
    state_dir = home / "deployments" / "5"
    script = textwrap.dedent(
        f"""
        import json, os, sys
        from pathlib import Path
        from agentdock.deployment.artifacts import Artifact, StartRequest, no_progress
        from agentdock_plugins.local.target import LocalTarget
        request = StartRequest(
            agent="echo", version="0.1.0", deployment_id=5, port={_free_port()},
            host="127.0.0.1", env={{k: os.environ[k] for k in {sorted(RUNTIME_ENV)!r}}},
            state_dir=Path({str(state_dir)!r}), home=Path({str(home)!r}), instance="d5",
        )
        artifact = Artifact("local", {echo_bundle.ref!r}, {echo_bundle.digest!r})
        print(json.dumps(dict(LocalTarget().start(artifact, request, no_progress))))
        """
    )
    starter = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **RUNTIME_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert starter.returncode == 0, starter.stderr
    handle = json.loads(starter.stdout.strip().splitlines()[-1])
    handles.append(handle)
    local.wait_ready(handle, 60, no_progress)
    local.promote(handle, no_progress)
    assert pid_alive(handle["pid"])
    assert _invoke(handle, "still here") == "STILL HERE"
    _assert_no_secret(handle)


def test_stop_enforces_its_timeout_on_a_runtime_that_ignores_sigterm(
    home: Path, target: tuple[LocalTarget, list[dict[str, Any]]], tmp_path: Path
) -> None:
    local, handles = target
    bundle = tmp_path / "stubborn"
    python = bundle / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    (bundle / "app").mkdir()
    python.write_text("#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n")
    python.chmod(0o755)
    artifact = Artifact("local", str(bundle), "0" * 64)
    handle = local.start(artifact, _request(home, 91, _free_port()), no_progress)
    handles.append(dict(handle))
    runtime = _poll(lambda: (read_state(Path(handle["state_dir"])) or {}).get("runtime_pid"))
    # Before the supervisor led its own process group, the kill after the timeout missed
    # and stop() waited forever: run it in a thread so a regression fails, not hangs.
    stopper = threading.Thread(target=local.stop, args=(handle, 1.0), daemon=True)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive(), "stop() ignored its timeout"
    assert not pid_alive(int(handle["pid"])) and not pid_alive(int(runtime))


# -- one address for every version -----------------------------------------------------------


def _variant(bundle: Artifact, root: Path, suffix: str) -> Artifact:
    """Another version of ``bundle``: the same virtual environment (linked, not rebuilt)
    and an echo graph that appends ``suffix``."""
    variant = root / f"variant{len(list(root.iterdir()))}"
    variant.mkdir()
    (variant / "venv").symlink_to(Path(bundle.ref) / "venv")
    shutil.copytree(
        Path(bundle.ref) / "app", variant / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    graph = variant / "app" / "echo" / "graph.py"
    source = graph.read_text("utf-8")
    assert ".upper()}" in source
    graph.write_text(source.replace(".upper()}", f".upper() + {suffix!r}}}"), "utf-8")
    return Artifact("local", str(variant), "1" * 64)


def _runtime_of(handle: dict[str, Any]) -> int:
    return int(_poll(lambda: (read_state(Path(handle["state_dir"])) or {}).get("runtime_pid")))


def test_one_address_through_a_release_a_crash_and_a_stop(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    """The second version takes the first one's address over: clients that hold it (one
    keeping its connection, one connecting for each request) lose no request and reach
    the second version only once it is promoted; the address stays through a crash of
    its runtime, and after a stop the next start binds it again."""
    local, handles = target
    port = _free_port()
    second = _variant(echo_bundle, tmp_path, "!")
    one = dict(local.start(echo_bundle, _request(home, 20, port, instance="stable"), no_progress))
    handles.append(one)
    local.wait_ready(one, 60, no_progress)
    local.promote(one, no_progress)
    assert one["endpoint"] == f"http://127.0.0.1:{port}"
    assert one["gate_endpoint"] != one["endpoint"] and _invoke(one, "hi") == "HI"
    url = f"{one['endpoint']}/invoke"
    said: list[str] = []
    with Hammer(url, keep_alive=True) as kept, Hammer(url, keep_alive=False) as fresh:
        kept.wait_for("HI")
        two = dict(
            local.start(
                second,
                _request(home, 21, port, instance="stable"),
                lambda s, m, **_: said.append(m),
            )
        )
        handles.append(two)
        assert two["endpoint"] == one["endpoint"] and two["port"] == port
        assert two["gate_endpoint"] not in (one["gate_endpoint"], one["endpoint"])
        assert any(f"taking over 127.0.0.1:{port}" in m for m in said), said
        local.wait_ready(two, 60, no_progress)
        assert _invoke(two, "ready", "gate_endpoint") == "READY!"  # up, on its own port
        kept.wait_for("HI", 10)
        fresh.wait_for("HI", 10)
        unpromoted = kept.seen()["HI!"] + fresh.seen()["HI!"]
        local.promote(two, no_progress)
        local.promote(two, no_progress)  # idempotent
        state = read_state(Path(two["state_dir"]))
        assert state is not None and state["serving"] is True and not state["promote_error"]
        local.stop(one, 30)
        kept.wait_for("HI!", 10)
        fresh.wait_for("HI!", 10)
    assert unpromoted == 0
    for client in (kept, fresh):
        assert client.failures == [], client.failures[:5]
    assert local.status(two)["serving"] is True and local.status(one)["state"] == "stopped"

    crashed = _runtime_of(two)
    os.kill(crashed, signal.SIGKILL)
    _poll(lambda: (s := read_state(Path(two["state_dir"]))) and s["restarts"] == 1 and s["ready"])
    assert _invoke(two, "back") == "BACK!"  # the restarted runtime serves the address at once

    local.stop(two, 30)
    with pytest.raises(httpx.TransportError):
        httpx.post(url, json={"text": "x"}, timeout=2)
    three = dict(local.start(echo_bundle, _request(home, 22, port, instance="stable"), no_progress))
    handles.append(three)
    assert three["endpoint"] == one["endpoint"]
    local.wait_ready(three, 60, no_progress)
    local.promote(three, no_progress)
    assert _invoke(three, "again") == "AGAIN"


def test_a_version_that_is_never_promoted_never_answers_on_the_address(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    """What a failed gate does (stop the new runtime, unpromoted) costs the clients of the
    serving version nothing, though the new one was up and answering on its own port; a
    promotion that cannot happen fails like a gate, with the log's tail."""
    local, handles = target
    port = _free_port()
    one = dict(local.start(echo_bundle, _request(home, 30, port, instance="gated"), no_progress))
    handles.append(one)
    local.wait_ready(one, 60, no_progress)
    local.promote(one, no_progress)
    url = f"{one['endpoint']}/invoke"
    with Hammer(url, keep_alive=True) as kept, Hammer(url, keep_alive=False) as fresh:
        kept.wait_for("HI")
        bad = _variant(echo_bundle, tmp_path, "?")
        two = dict(local.start(bad, _request(home, 31, port, instance="gated"), no_progress))
        handles.append(two)
        local.wait_ready(two, 60, no_progress)
        assert _invoke(two, "up", "gate_endpoint") == "UP?"
        fresh.wait_for("HI", 20)
        kept.wait_for("HI", 20)
        local.stop(two, 30)
        kept.wait_for("HI", 10)
        fresh.wait_for("HI", 10)
    for client in (kept, fresh):
        assert client.failures == [] and set(client.seen()) == {"HI"}, (
            client.seen(),
            client.failures[:5],
        )
    assert _invoke(one, "still") == "STILL"

    three = dict(local.start(bad, _request(home, 32, port, instance="gated"), no_progress))
    handles.append(three)
    local.wait_ready(three, 60, no_progress)
    os.kill(int(three["pid"]), signal.SIGKILL)  # its supervisor, gone before the promotion
    with pytest.raises(HealthGateFailed) as caught:
        local.promote(three, no_progress)
    assert "before it took over" in caught.value.cause
    assert _invoke(one, "unharmed") == "UNHARMED"


#: Run by the agent's module at import: what code in an agent tries against the home.
ATTACK = r"""
import json, os, sqlite3, sys, tempfile
from pathlib import Path

home = Path(os.environ["AGENTDOCK_HOME"])
other = Path(os.environ["OTHER_BUNDLE"])
tried = {}


def attempt(name, fn):
    try:
        fn()
        tried[name] = "done"
    except (OSError, sqlite3.Error) as exc:
        tried[name] = type(exc).__name__


def sql(statement):
    def run():
        conn = sqlite3.connect(home / "registry.db")
        try:
            conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
    return run


attempt("insert_key", sql(
    "INSERT INTO api_keys (id, agent_id, role, hashed_key, hash_algorithm, created_at) "
    "VALUES ('forgedforged', 1, 'admin', 'x', 'sha256', 0)"))
attempt("change_role", sql("UPDATE api_keys SET role = 'admin'"))
attempt("delete_audit", sql("DELETE FROM audit_log"))
attempt("append_registry", lambda: open(home / "registry.db", "ab").write(b"x"))
attempt("replace_view", lambda: (home / "keys" / "echo" / "keys.json").write_text("{}"))
attempt("new_view", lambda: (home / "keys" / "planted.json").write_text("{}"))
attempt("other_bundle_code", lambda: open(other / "app" / "echo" / "graph.py", "a").write("#"))
attempt("other_bundle_pth", lambda: (next((other / "venv" / "lib").glob("python*"))
        / "site-packages" / "planted.pth").write_text("import os"))
attempt("move_bundles", lambda: os.rename(home / "bundles", home / "bundles.orig"))
attempt("audit_key", lambda: (home / "audit.key").write_text("0" * 64))
attempt("own_state", lambda: (Path(os.environ["AGENTDOCK_STATE_DIR"]) / "probe").write_text("1"))
attempt("tmp", lambda: tempfile.NamedTemporaryFile().close())
attempt("shared_tmp", lambda: open("/tmp/agentdock-sandbox-probe-%d" % os.getpid(), "w").close())
out = Path(os.environ["AGENTDOCK_STATE_DIR"]) / "attempts.json"
out.write_text(json.dumps(tried))
"""


def test_the_agent_s_code_cannot_write_the_registry_views_or_other_bundles(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    from agentdock.registry import open_store
    from agentdock.registry.keyview import state_dir
    from agentdock_plugins.local.sandbox import probe
    from auth_support import add_key

    if probe()[1] is not None:
        pytest.skip(f"no Landlock here: {probe()[1]}")
    local, handles = target
    with open_store(home / "registry.db") as store:
        add_key(store, agent="echo")
        store.append_audit("key.create", actor="ann", agent="echo")
    registry = (home / "registry.db").read_bytes()
    project = _project_of(echo_bundle, tmp_path)
    graph = project / "echo" / "graph.py"
    (project / "echo" / "attack.py").write_text(ATTACK)
    graph.write_text(graph.read_text() + "\nfrom echo import attack  # noqa\n")
    bundle = _build(project, home)
    request = _request(home, 12, _free_port(), env={**RUNTIME_ENV, "OTHER_BUNDLE": echo_bundle.ref})
    handle = dict(local.start(bundle, request, no_progress))
    handles.append(handle)
    local.wait_ready(handle, 120, no_progress)
    assert _invoke(handle, "still serving", "gate_endpoint") == "STILL SERVING"
    state = state_dir(home, "echo", "d12")
    tried = json.loads((state / "attempts.json").read_text())
    assert tried.pop("own_state") == "done" and tried.pop("tmp") == "done"
    assert all(outcome != "done" for outcome in tried.values()), tried
    assert (home / "bundles").is_dir() and not (home / "keys" / "planted.json").exists()
    with open_store(home / "registry.db") as store:
        assert store.get_api_key("forgedforged") is None
        assert {k.role for k in store.list_api_keys("echo")} == {"developer"}
        assert store.verify_audit(store.audit_key()).ok
    assert (home / "registry.db").read_bytes() == registry
    status = local.status(handle)
    assert status["isolation"] == "landlock", status


def test_a_bundle_someone_else_may_write_is_never_run(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    local, handles = target
    bundle = _build(_project_of(echo_bundle, tmp_path), home)
    venv_bin = Path(bundle.ref) / "venv" / "bin"
    venv_bin.chmod(0o777)  # what a group-writable home let a container do
    try:
        handle = dict(local.start(bundle, _request(home, 13, _free_port()), no_progress))
        handles.append(handle)
        with pytest.raises(HealthGateFailed):
            local.wait_ready(handle, 60, no_progress)
        state = read_state(Path(handle["state_dir"])) or {}
        assert state["state"] == "failed" and state["runtime_pid"] is None
        assert "writable by its group or by everyone" in Path(handle["log"]).read_text()
    finally:
        venv_bin.chmod(0o755)


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _no_new_privs(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(line.split()[1] for line in status if line.startswith("NoNewPrivs:"))


def test_runtimes_are_forked_from_a_warm_process_that_never_holds_a_secret(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    from agentdock_plugins.local.sandbox import probe

    local, handles = target
    # A graph that answers how long ECHO_TOKEN is where it runs: the forked runtime has
    # its secret although no process's initial environment shows it.
    variant = tmp_path / "reports-token"
    variant.mkdir()
    (variant / "venv").symlink_to(Path(echo_bundle.ref) / "venv")
    shutil.copytree(
        Path(echo_bundle.ref) / "app", variant / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    graph = variant / "app" / "echo" / "graph.py"
    graph.write_text(
        graph.read_text("utf-8").replace(
            ".upper()}", '.upper() + str(len(__import__("os").environ.get("ECHO_TOKEN", "")))}'
        )
    )
    bundle = Artifact("local", str(variant), "2" * 64)
    handle = dict(local.start(bundle, _request(home, 20, _free_port()), no_progress))
    handles.append(handle)
    local.wait_ready(handle, 120, no_progress)
    assert _invoke(handle, "hi", "gate_endpoint") == f"HI{len(SECRET)}"
    # The first runtime starts cold; the warm process, once it is ready.
    state = _poll(lambda: (s := read_state(Path(handle["state_dir"]))) and s["zygote_pid"] and s)
    assert state["runtime_start"] == "cold"
    zygote, runtime = int(state["zygote_pid"]), int(state["runtime_pid"])
    assert _parent_of(zygote) == handle["pid"]

    # A crash: the next runtime is forked from the warm process, the supervisor's child.
    os.kill(runtime, signal.SIGKILL)
    state = _poll(
        lambda: (s := read_state(Path(handle["state_dir"]))) and s["ready"] and s["restarts"] and s
    )
    assert state["runtime_start"] == "forked" and state["zygote_pid"] == zygote
    assert state["last_exit_code"] == -signal.SIGKILL and state["runtime_pid"] != runtime
    forked = int(state["runtime_pid"])
    assert _parent_of(forked) == handle["pid"]
    assert _invoke(handle, "again", "gate_endpoint") == f"AGAIN{len(SECRET)}"
    allowed = HOST_NAMES | {
        "AGENTDOCK_LOAD_PLUGINS",
        "AGENTDOCK_ZYGOTE_FD",
        "AGENTDOCK_ZYGOTE_PRELOAD",
    }
    for pid in (zygote, forked):
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        assert SECRET.encode() not in raw and b"ECHO_TOKEN" not in raw
        assert set(_environ(pid)) <= allowed, _environ(pid)
        if probe()[1] is None:  # Landlock restricted the warm process, so its forks too
            assert _no_new_privs(pid) == "1"
    log = Path(handle["log"]).read_text("utf-8")
    assert f"warm process ready (pid {zygote})" in log
    assert f"runtime started (pid {forked}, forked from the warm process" in log

    # Another agent's deployment, with a secret of its own: neither sees the other's.
    other_secret = "other-agent-secret-5b8e21c4"
    request = _request(home, 21, _free_port(), env={**RUNTIME_ENV, "ECHO_TOKEN": other_secret})
    other = dict(local.start(bundle, request, no_progress))
    handles.append(other)
    local.wait_ready(other, 120, no_progress)
    assert _invoke(other, "hi", "gate_endpoint") == f"HI{len(other_secret)}"
    theirs = _poll(lambda: (s := read_state(Path(other["state_dir"]))) and s["zygote_pid"] and s)
    assert theirs["zygote_pid"] != zygote
    raw = Path(f"/proc/{theirs['zygote_pid']}/environ").read_bytes()
    assert SECRET.encode() not in raw and other_secret.encode() not in raw
    # Its first runtime started cold: its own secret in its environment, never the other's.
    assert SECRET.encode() not in Path(f"/proc/{theirs['runtime_pid']}/environ").read_bytes()
    assert other_secret.encode() not in Path(f"/proc/{zygote}/environ").read_bytes()

    local.stop(handle, 10)
    assert not pid_alive(zygote) and not pid_alive(forked)
    assert "runtime exited with code 0" in Path(handle["log"]).read_text("utf-8")
    _assert_no_secret(handle)


# -- a rollback forked from the superseded version's standby --------------------------------

#: A short standby, so that none outlives a failed test by long.
STANDBY_ENV = {"AGENTDOCK_WARM_ROLLBACK_IDLE": "120"}


def _token_variant(bundle: Artifact, root: Path) -> Artifact:
    """Another version of ``bundle`` whose echo appends how long ECHO_TOKEN is where it
    runs (the runtime's environment, which no process's ``/proc/<pid>/environ`` shows)."""
    variant = root / f"token{len(list(root.iterdir()))}"
    variant.mkdir()
    (variant / "venv").symlink_to(Path(bundle.ref) / "venv")
    shutil.copytree(
        Path(bundle.ref) / "app", variant / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    graph = variant / "app" / "echo" / "graph.py"
    graph.write_text(
        graph.read_text("utf-8").replace(
            ".upper()}", '.upper() + str(len(__import__("os").environ.get("ECHO_TOKEN", "")))}'
        )
    )
    return Artifact("local", str(variant), "3" * 64)


def _release(
    local: LocalTarget,
    handles: list[dict[str, Any]],
    bundle: Artifact,
    request: StartRequest,
    previous: dict[str, Any] | None,
    said: list[str] | None = None,
) -> dict[str, Any]:
    """What a deploy or rollback does on the target: start, gate, promote, then retire
    the version it supersedes."""
    progress = (lambda s, m, **_: said.append(m)) if said is not None else no_progress
    handle = dict(local.start(bundle, request, progress))
    handles.append(handle)
    local.wait_ready(handle, 120, no_progress)
    local.promote(handle, no_progress)
    if previous is not None:
        local.retire(previous, 30)
    return handle


def _warm(handle: dict[str, Any]) -> dict[str, Any]:
    """The state file once the deployment's warm process is ready."""
    return dict(
        _poll(lambda: (s := read_state(Path(handle["state_dir"]))) and s["zygote_pid"] and s)
    )


def _state(handle: dict[str, Any]) -> dict[str, Any]:
    return read_state(Path(handle["state_dir"])) or {}


def test_a_rollback_is_forked_from_the_superseded_version_s_warm_process(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    from agentdock_plugins.local.sandbox import probe

    local, handles = target
    port = _free_port()
    one_bundle, two_bundle = (
        _token_variant(echo_bundle, tmp_path),
        _variant(echo_bundle, tmp_path, "!"),
    )
    env = {**RUNTIME_ENV, **STANDBY_ENV}

    def request(deployment_id: int, **changes: Any) -> StartRequest:
        return _request(home, deployment_id, port, **{"instance": "rb", "env": env, **changes})

    one = _release(local, handles, one_bundle, request(40), None)
    zygote = int(_warm(one)["zygote_pid"])
    two = _release(local, handles, two_bundle, request(41), one)
    # Superseded: its runtime drained and exited, its supervisor and warm process wait.
    kept = _state(one)
    assert kept["state"] == "standby" and kept["runtime_pid"] is None
    assert kept["last_exit_code"] == 0 and kept["zygote_pid"] == zygote
    assert pid_alive(one["pid"]) and pid_alive(zygote)
    assert local.status(one)["state"] == "standby" and Path(one["standby"]).exists()
    # The serving version's status shows what stands by for its instance, and its memory.
    shown = local.status(two)["standby"]
    assert (shown["state"], shown["pid"], shown["warm_pid"]) == ("standby", one["pid"], zygote)
    assert shown["rss_mb"] > 0 and shown["deployment_dir"] == one["state_dir"]
    assert shown["until"] == pytest.approx(kept["standby_until"])
    assert _invoke(two, "hi") == "HI!"
    _warm(two)

    # The rollback, with the secret rotated meanwhile: the standby serves it, forked.
    rotated = "rotated-secret-0f3b9d2e77a1"
    said: list[str] = []
    back = _release(
        local,
        handles,
        one_bundle,
        request(42, env={**env, "ECHO_TOKEN": rotated}),
        two,
        said,
    )
    assert back["pid"] == one["pid"] and back["runtime_start"] == "forked"
    assert any("forked (supervisor pid" in m for m in said), said
    state = _state(back)
    assert state["runtime_start"] == "forked" and state["zygote_pid"] == zygote
    assert state["supervisor_pid"] == one["pid"] and state["restarts"] == 0
    runtime = int(state["runtime_pid"])
    assert _parent_of(runtime) == one["pid"] and _parent_of(zygote) == one["pid"]
    # ps tells the forked runtime from the warm process it shares a command line with
    assert Path(f"/proc/{runtime}/comm").read_text().strip() == "agentdock-fork"
    assert Path(f"/proc/{zygote}/comm").read_text().strip() == "agentdock-warm"
    assert _invoke(back, "hi") == f"HI{len(rotated)}"  # the rollback's environment, not V1's
    for pid in (zygote, runtime):
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        assert SECRET.encode() not in raw and rotated.encode() not in raw
        if probe()[1] is None:
            assert _no_new_privs(pid) == "1"
    log = Path(back["log"]).read_text("utf-8")
    assert "superseded: standing by for a rollback" in log
    assert f"runtime started (pid {runtime}, forked from the warm process" in log
    assert rotated not in log and SECRET not in log
    # The superseded deployment's record lets its supervisor go: it serves the rollback.
    old = _state(one)
    assert old["state"] == "stopped" and old["handed_to"] == back["state_dir"]
    assert local.status(one)["state"] == "stopped"
    local.stop(one, 5)  # stops nothing: the pid is the rollback's supervisor now
    assert pid_alive(back["pid"]) and _invoke(back, "still") == f"STILL{len(rotated)}"
    assert local.status(back)["state"] == "running"

    # V2 stands by now; a second supersede replaces it (one standby per instance).
    kept = _state(two)
    assert kept["state"] == "standby"
    two_zygote = int(kept["zygote_pid"])
    three = _release(local, handles, echo_bundle, request(43), back)
    assert _invoke(three, "hi") == "HI"
    _poll(lambda: not pid_alive(two["pid"]) and not pid_alive(two_zygote))
    assert _state(two)["state"] == "stopped" and _state(back)["state"] == "standby"
    assert "standby over (dismissed): stopped" in Path(two["log"]).read_text()

    # Stopping what serves the address ends the standby too.
    local.stop(three, 30)
    _poll(lambda: not pid_alive(back["pid"]) and not pid_alive(zygote))
    assert not Path(back["standby"]).exists()
    for handle in (one, two, back, three):
        _assert_no_secret(handle)
        assert rotated not in json.dumps(handle)
        for path in Path(handle["state_dir"]).iterdir():
            assert rotated not in path.read_text("utf-8", errors="replace"), path


def test_with_warm_rollbacks_off_or_a_dead_standby_a_rollback_starts_cold(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, handles = target
    port = _free_port()
    two_bundle = _variant(echo_bundle, tmp_path, "?")
    env = {**RUNTIME_ENV, **STANDBY_ENV}

    def request(deployment_id: int) -> StartRequest:
        return _request(home, deployment_id, port, instance="rbc", env=env)

    one = _release(local, handles, echo_bundle, request(50), None)
    _warm(one)
    two = _release(local, handles, two_bundle, request(51), one)
    assert _state(one)["state"] == "standby"

    # Off where the rollback runs: the standby is not used, and none is kept.
    monkeypatch.setenv("AGENTDOCK_WARM_ROLLBACK", "off")
    _warm(two)
    back = _release(local, handles, echo_bundle, request(52), two)
    assert back["pid"] != one["pid"] and _state(back)["runtime_start"] == "cold"
    assert _invoke(back, "hi") == "HI"
    assert not pid_alive(two["pid"]) and _state(two)["state"] == "stopped"
    _poll(lambda: not pid_alive(one["pid"]))  # dismissed: off keeps none from now on
    monkeypatch.delenv("AGENTDOCK_WARM_ROLLBACK")

    # Off in the environment the superseded version was deployed with: it keeps none either.
    _warm(back)
    again = _release(local, handles, two_bundle, request(53), back)
    _poll(lambda: not pid_alive(back["pid"]))
    assert _state(back)["state"] == "stopped"
    log = Path(back["log"]).read_text("utf-8")
    assert "superseded, not standing by for a rollback: AGENTDOCK_WARM_ROLLBACK=off" in log

    # A standby that died (killed with its warm process): the rollback starts cold.
    _warm(again)
    third = _release(local, handles, echo_bundle, request(54), again)
    kept = _state(again)
    assert kept["state"] == "standby"
    os.killpg(again["pid"], signal.SIGKILL)
    _poll(lambda: not pid_alive(again["pid"]) and not pid_alive(int(kept["zygote_pid"])))
    said: list[str] = []
    last = _release(local, handles, two_bundle, request(55), third, said)
    assert any("starting cold: the standby version was not used" in m for m in said), said
    assert last["pid"] != again["pid"] and _state(last)["runtime_start"] == "cold"
    assert _invoke(last, "hi") == "HI?"
    local.stop(last, 30)


def test_a_standby_ends_after_its_idle_time(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path
) -> None:
    local, handles = target
    port = _free_port()
    env = {**RUNTIME_ENV, "AGENTDOCK_WARM_ROLLBACK_IDLE": "1"}
    one = _release(
        local, handles, echo_bundle, _request(home, 60, port, instance="idle", env=env), None
    )
    zygote = int(_warm(one)["zygote_pid"])
    second = _variant(echo_bundle, tmp_path, ".")
    two = _release(local, handles, second, _request(home, 61, port, instance="idle", env=env), one)
    _poll(lambda: not pid_alive(one["pid"]) and not pid_alive(zygote), 30)
    assert _state(one)["state"] == "stopped"
    assert "standby over (no rollback within 1s): stopped" in Path(one["log"]).read_text()
    assert _invoke(two, "hi") == "HI."


def test_the_superseding_command_sets_the_standby_s_idle_time(
    home: Path, echo_bundle: Artifact, target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENTDOCK_WARM_ROLLBACK_IDLE where the deploy or rollback runs bounds the standby of
    the version it supersedes (started without it: 600s); ``retire`` says what it kept, and
    a rollback with nothing standing by says why it starts cold."""
    local, handles = target
    port = _free_port()

    def request(deployment_id: int, reason: str = "deploy") -> StartRequest:
        labels = {REASON_LABEL: reason}
        return _request(home, deployment_id, port, instance="idle2", labels=labels)

    said: list[str] = []
    one = _release(local, handles, echo_bundle, request(70, "rollback"), None, said)
    assert one["runtime_start"] == "cold"
    assert "starting cold: no version stands by" in said, said
    zygote = int(_warm(one)["zygote_pid"])
    two = dict(local.start(_variant(echo_bundle, tmp_path, ","), request(71), no_progress))
    handles.append(two)
    local.wait_ready(two, 120, no_progress)
    local.promote(two, no_progress)
    monkeypatch.setenv("AGENTDOCK_WARM_ROLLBACK_IDLE", "2")
    outcome = local.retire(one, 30)
    assert outcome.startswith("stands by for a rollback for up to ") and outcome.endswith(
        f"s (supervisor pid {one['pid']})"
    ), outcome
    assert float(outcome.split("up to ")[1].split("s ")[0]) <= 2
    assert local.status(two)["standby"]["pid"] == one["pid"]
    _poll(lambda: not pid_alive(one["pid"]) and not pid_alive(zygote), 30)
    assert "standby over (no rollback within 2s): stopped" in Path(one["log"]).read_text()
    assert local.status(two)["standby"] is None  # its note went with it
    # Off where the next deploy runs: the version it supersedes is stopped, and it says so.
    monkeypatch.setenv("AGENTDOCK_WARM_ROLLBACK", "off")
    _warm(two)
    three = _release(local, handles, echo_bundle, request(72, "rollback"), None, said)
    assert "starting cold: AGENTDOCK_WARM_ROLLBACK=off" in said, said
    assert local.retire(two, 30) == "stopped (AGENTDOCK_WARM_ROLLBACK=off)"
    assert _invoke(three, "hi") == "HI"
    local.stop(three, 30)
