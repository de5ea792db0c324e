"""``agentdock deploy`` on the local target, end to end: the CLI as a subprocess, real bundles,
real supervisors and real HTTP with the key the first deploy prints.

Two registries (homes) are used. The *lifecycle* one carries the echo agent through v1 (on
a taken port), v2, a rollback, a reused version string, a v3 that cannot start, a killed
runtime, a dead deployment, a crash loop, a planted secret and a cleanup; its tests run in
file order and each reads the state it starts from out of the registry. The *interrupts*
one is where the CLI is killed at each step of a deploy, interrupted with Ctrl-C during a
build and during the health gate, and raced against itself.

Every supervisor any deploy started (the registry's handles, the state files under
``run/``, the pids the progress events named) is ended when a home's fixture finishes.
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.deployment.workspace import pid_alive
from agentdock.registry import SQLStore, open_store
from hammer import Hammer
from processes import terminal_sigint

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "e2e-planted-secret-4b7f0c93d21a"
SHELL_ONLY = "UNRELATED_TOKEN"
SHELL_ONLY_VALUE = "e2e-shell-only-8d20c4"
MISSING_VAR = "AGENTDOCK_E2E_NEVER_SET"
POLL = 0.05
#: Seconds a CLI call may take at most before the test gives up on it (a build is ~10 s).
CLI_LIMIT = 240

GRAPH = '''"""The echo agent of the end-to-end tests ({variant})."""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class EchoState(TypedDict):
    text: str


def shout(state: EchoState) -> EchoState:
    return {{"text": state["text"].upper() + {suffix!r}}}


def build_graph():
    graph = StateGraph(EchoState)
    graph.add_node("shout", shout)
    graph.add_edge(START, "shout")
    graph.add_edge("shout", END)
    return graph.compile()
'''


# -- processes and the CLI ----------------------------------------------------------------


def _poll(predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} never held"
        time.sleep(POLL)


def _parse(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


@dataclass
class Run:
    """One finished CLI call."""

    code: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]

    @property
    def last(self) -> dict[str, Any]:
        assert self.events, f"no JSON output (exit {self.code}): {self.stderr[-2000:]}"
        return self.events[-1]

    def steps(self) -> list[str]:
        return [e["step"] for e in self.events if e.get("event") == "progress"]

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


@dataclass
class Home:
    """An AgentDock home (registry, bundles, run state, logs), the project deployed from it,
    and everything the tests saw: every JSON event and every supervisor pid named."""

    root: Path
    project: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    key: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("AGENTDOCK_DATABASE_URL", MISSING_VAR, "ECHO_TOKEN")
        }
        env["AGENTDOCK_HOME"] = str(self.root)
        env["NO_COLOR"] = "1"
        env[SHELL_ONLY] = SHELL_ONLY_VALUE  # exported in the deploying shell, used by nothing
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "agentdock_cli", *args]

    def note(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)
        for event in events:
            if event.get("step") == "start" and isinstance(event.get("pid"), int):
                self.pids.add(int(event["pid"]))

    def cli(self, *args: str) -> Run:
        proc = subprocess.run(
            self.command(*args),
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_LIMIT,
            check=False,
        )
        run = Run(proc.returncode, proc.stdout, proc.stderr, _parse(proc.stdout))
        self.note(run.events)
        return run

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """The CLI in a session of its own (so a signal to its group reaches only it and
        its children, as Ctrl-C at a terminal would), with SIGINT handled as at a terminal:
        a test run started in the background of a script inherits SIGINT ignored."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=terminal_sigint,
        )

    def deploy(self, *args: str) -> Run:
        return self.cli("deploy", "--json", "--timeout", "90", *args)

    def store(self) -> SQLStore:
        return open_store(self.root / "registry.db")

    def deployments(self, agent: str = "echo") -> list[Any]:
        store = self.store()
        try:
            return store.list_deployments(agent)
        finally:
            store.close()

    def versions(self, agent: str = "echo") -> list[Any]:
        store = self.store()
        try:
            return store.list_versions(agent)
        finally:
            store.close()

    def artifacts(self, agent: str = "echo") -> list[Any]:
        store = self.store()
        try:
            return store.list_artifacts(agent)
        finally:
            store.close()

    def active(self, agent: str = "echo") -> list[Any]:
        return [d for d in self.deployments(agent) if d.status == "active"]

    def state_files(self) -> dict[int, dict[str, Any]]:
        """Every supervisor state file under ``run/``, by deployment id."""
        out = {}
        for path in sorted((self.root / "run").glob("*/supervisor.json")):
            with contextlib.suppress(OSError, ValueError):
                out[int(path.parent.name)] = json.loads(path.read_text("utf-8"))
        return out

    def live_supervisors(self) -> set[int]:
        pids = set(self.pids)
        for state in self.state_files().values():
            if state.get("supervisor_pid"):
                pids.add(int(state["supervisor_pid"]))
        for record in self.deployments():
            if record.handle.get("pid"):
                pids.add(int(record.handle["pid"]))
        return {pid for pid in pids if pid_alive(pid)}

    def standing_by(self) -> set[int]:
        """Supervisors of superseded versions waiting for a rollback (bounded, on purpose)."""
        states = self.state_files().values()
        return {int(s["supervisor_pid"]) for s in states if s.get("state") == "standby"}

    def orphans(self) -> set[int]:
        """Live supervisors that no active deployment names and that do not stand by."""
        named = {int(d.handle["pid"]) for d in self.active() if d.handle.get("pid")}
        return self.live_supervisors() - named - self.standing_by()

    def invoke(self, endpoint: str, text: str = "hi") -> str:
        assert self.key, "no API key was printed"
        resp = httpx.post(
            f"{endpoint}/invoke",
            json={"text": text},
            headers={"x-api-key": self.key},
            timeout=10,
            trust_env=False,
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["text"])

    def reap(self, pids: set[int]) -> None:
        """End supervisors the product left behind: SIGTERM (the supervisor forwards it to
        its runtime), then SIGKILL to the process group, and their runtimes."""
        runtimes = {
            int(s["runtime_pid"])
            for s in self.state_files().values()
            if s.get("runtime_pid") and int(s.get("supervisor_pid") or 0) in pids
        }
        groups = set()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                groups.add(os.getpgid(pid))
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids | runtimes):
            time.sleep(POLL)
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for pid in pids | runtimes:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def shutdown(self) -> None:
        """Stop what is active the way a user would, then end every supervisor still alive
        and what killed CLIs left behind."""
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(Exception):
            if self.active():
                subprocess.run(
                    self.command("stop", "echo", "--timeout", "5"),
                    cwd=self.project,
                    env=self.env,
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
        self.reap(self.live_supervisors())


# -- the project ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


#: A builder that fails only in a deployed runtime (which has ``AGENTDOCK_VERSION``): what
#: validation and the deploy's probe cannot see, such as a service only production reaches.
FAILS_DEPLOYED = """

_build = build_graph


def build_graph():
    import os

    if os.environ.get("AGENTDOCK_VERSION"):
        raise RuntimeError("cannot reach the orders database")
    return _build()
"""


def write_variant(
    project: Path,
    suffix: str,
    *,
    port: int,
    extra: dict[str, str] | None = None,
    fails_deployed: bool = False,
) -> None:
    """The agent's code and Dockfile: echo upper-cases and appends ``suffix``; the Dockfile
    references ``${ECHO_TOKEN}`` (the planted secret, from ``.env``) and ``extra``."""
    (project / "echo" / "graph.py").write_text(
        GRAPH.format(variant=suffix or "plain", suffix=suffix)
        + (FAILS_DEPLOYED if fails_deployed else ""),
        "utf-8",
    )
    dockfile = (EXAMPLES / "echo" / "Dockfile.yaml").read_text("utf-8")
    dockfile = dockfile.replace("port: 8080", f"port: {port}")
    model = "model:\n  provider: custom\n"
    offline = "  extra: { offline: true }  # the graph calls no model: nothing to price\n"
    assert offline in dockfile
    dockfile = dockfile.replace(offline, "", 1)
    lines = ["  extra:", "    offline: true", '    token: "${ECHO_TOKEN}"']
    for name, value in (extra or {}).items():
        lines.append(f'    {name}: "{value}"')
    assert model in dockfile
    dockfile = dockfile.replace(model, model + "\n".join(lines) + "\n", 1)
    assert "${ECHO_TOKEN}" in dockfile
    (project / "Dockfile.yaml").write_text(dockfile, "utf-8")


def _make_home(root: Path) -> Home:
    project = root / "project"
    shutil.copytree(
        EXAMPLES / "echo", project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock")
    )
    (project / ".env").write_text(f"ECHO_TOKEN={SECRET}\n", "utf-8")
    return Home(root / "home", project)


def _result(run: Run) -> dict[str, Any]:
    last = run.last
    assert run.code == 0 and last.get("event") == "result" and last.get("ok") is True, str(run)
    return last


# -- the lifecycle home ------------------------------------------------------------------------


@dataclass
class Lifecycle:
    home: Home
    port: int
    first: Run
    taken_port: int


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    """echo 1.0.0 deployed while another socket holds the Dockfile's port."""
    home = _make_home(tmp_path_factory.mktemp("e2e-lifecycle"))
    port = _free_port()
    write_variant(home.project, "", port=port)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
            blocker.bind(("0.0.0.0", port))
            blocker.listen(1)
            first = home.deploy("--version", "1.0.0")
        result = _result(first)
        home.key = result.get("api_key")
        yield Lifecycle(home, port, first, port)
    finally:
        home.shutdown()
    assert not home.live_supervisors(), "a supervisor outlived the tests"


def _active_one(home: Home) -> Any:
    active = home.active()
    assert len(active) == 1, [(d.id, d.version, d.status) for d in home.deployments()]
    return active[0]


def test_first_deploy_prints_a_key_and_moves_off_a_taken_port(lifecycle: Lifecycle) -> None:
    home, first = lifecycle.home, lifecycle.first
    result = _result(first)
    assert result["version"] == "1.0.0" and result["new_version"] is True
    assert result["api_key"] and result["key_id"]
    moved = [e for e in first.events if e.get("step") == "start" and "is taken" in e["message"]]
    assert moved, first.steps()
    new_port = moved[0]["port"]
    assert str(lifecycle.taken_port) in moved[0]["message"]
    assert str(new_port) in moved[0]["message"]
    assert new_port != lifecycle.taken_port
    assert result["endpoint"] == f"http://127.0.0.1:{new_port}"
    assert home.invoke(result["endpoint"]) == "HI"
    assert _active_one(home).version == "1.0.0"
    # Nobody asked for more: this machine only, and the output says so.
    assert result["host"] == "127.0.0.1"
    said = [e for e in first.events if str(e.get("message", "")).startswith("listening on")]
    assert said and said[0]["host"] == "127.0.0.1" and "this machine only" in said[0]["message"]
    # Nothing of the deploying shell's environment but what the docs list.
    active = _active_one(home)
    state = json.loads((Path(active.handle["state_dir"]) / "supervisor.json").read_text("utf-8"))
    for pid in (int(active.handle["pid"]), int(state["runtime_pid"])):
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert SHELL_ONLY.encode() not in environ and SHELL_ONLY_VALUE.encode() not in environ
        assert f"ECHO_TOKEN={SECRET}".encode() in environ
    progress = [e for e in first.events if e.get("event") == "progress"]
    assert result["api_key"] not in json.dumps(progress), "the key leaked into a progress event"


def test_deploy_v2_rollback_and_noop(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    first = _active_one(home)
    deadline = time.monotonic() + 120  # 1.0.0's warm process, so that it can stand by
    while not home.state_files().get(first.id, {}).get("zygote_pid"):
        assert time.monotonic() < deadline, "the warm process never got ready"
        time.sleep(0.1)
    write_variant(home.project, "!", port=lifecycle.port)
    v2 = home.deploy()
    result = _result(v2)
    assert result["version"] == "1.0.1" and result["previous_version"] == "1.0.0"
    assert "api_key" not in result  # only the first deploy creates a key
    assert "build" in v2.steps()
    assert home.invoke(result["endpoint"]) == "HI!"
    assert _active_one(home).version == "1.0.1"
    retire = [e["message"] for e in v2.events if e.get("step") == "retire"]
    assert retire and retire[0].startswith(
        "the previous deployment (1.0.0) stands by for a rollback for up to "
    ), retire
    kept = home.state_files()[first.id]  # superseded: its runtime gone, standing by
    assert kept["state"] == "standby" and kept["runtime_pid"] is None
    assert home.standing_by() == {int(first.handle["pid"])}
    shown = home.cli("status", "echo", "--json")
    assert shown.code == 0 and json.loads(shown.stdout)["version"] == "1.0.1", str(shown)
    standby = json.loads(shown.stdout)["standby"]  # the superseded version, kept
    assert standby["pid"] == int(first.handle["pid"]) and standby["rss_mb"] > 0, standby
    assert standby["warm_pid"] == kept["zygote_pid"]
    text = home.cli("status", "echo")
    assert f"supervisor pid {first.handle['pid']}, warm process pid" in text.stdout, str(text)
    while not home.state_files().get(result["deployment_id"], {}).get("zygote_pid"):
        assert time.monotonic() < deadline, "the warm process never got ready"
        time.sleep(0.1)

    back = home.cli("rollback", "echo", "--json", "--timeout", "90")
    rolled = _result(back)
    assert rolled["version"] == "1.0.0" and rolled["reason"] == "rollback"
    assert rolled["runtime_start"] == "forked" and result["runtime_start"] == "cold"
    assert "promote" in back.steps(), back.steps()
    assert "build" not in back.steps() and "install" not in back.steps(), back.steps()
    assert home.invoke(rolled["endpoint"]) == "HI"
    assert rolled["endpoint"] == result["endpoint"]  # one address for every version
    v2 = next(d for d in home.deployments() if d.id == result["deployment_id"])
    retired = home.state_files()[v2.id]  # the v2 runtime was retired; it stands by now
    assert retired["state"] == "standby" and retired["runtime_pid"] is None
    assert home.standing_by() == {int(v2.handle["pid"])}
    assert _active_one(home).version == "1.0.0"
    # The rollback was served by 1.0.0's standby, its runtime forked from the warm process.
    rolled_state = home.state_files()[rolled["deployment_id"]]
    assert rolled_state["runtime_start"] == "forked"
    assert rolled_state["supervisor_pid"] == int(first.handle["pid"])
    assert home.state_files()[first.id]["handed_to"].endswith(f"/{rolled['deployment_id']}")
    assert any("the version stands by" in str(e.get("message")) for e in back.events)
    shown = home.cli("status", "echo", "--json")
    status = json.loads(shown.stdout)
    assert status["version"] == "1.0.0" and status["health"] == "running", status
    assert status["deployment_id"] == rolled["deployment_id"]

    listed = home.cli("versions", "echo", "--json")
    assert listed.code == 0, str(listed)
    rows = {r["version"]: r for r in json.loads(listed.stdout)["versions"]}
    assert set(rows) == {"1.0.0", "1.0.1"}
    assert rows["1.0.0"]["active"] is True and rows["1.0.1"]["active"] is False
    table = home.cli("versions", "echo")
    assert table.code == 0
    marked = [line for line in table.stdout.splitlines() if "*" in line]
    assert len(marked) == 1 and "1.0.0" in marked[0], table.stdout

    # The content of 1.0.0 (now active) deployed again: nothing to do.
    write_variant(home.project, "", port=lifecycle.port)
    again = home.deploy()
    same = _result(again)
    assert same["noop"] is True and same["version"] == "1.0.0"
    assert "build" not in again.steps() and "start" not in again.steps()
    assert same["deployment_id"] == rolled["deployment_id"]
    shown = home.cli("deploy", "--timeout", "90")  # for people: where it listens, too
    assert shown.code == 0 and "nothing changed" in shown.stdout, str(shown)
    assert "listening on 127.0.0.1: this machine only" in shown.stdout, shown.stdout


def test_version_string_reused_with_other_content_is_refused(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    before = home.versions()
    write_variant(home.project, "?", port=lifecycle.port)
    try:
        run = home.deploy("--version", "1.0.0")
    finally:
        write_variant(home.project, "", port=lifecycle.port)
    assert run.code == 1, str(run)
    error = run.last
    assert error["event"] == "error" and error["error"] == "VersionConflict" and error["code"] == 1
    assert "1.0.0" in error["detail"] and error.get("hint"), error
    assert "build" not in run.steps()
    assert home.versions() == before


def test_a_version_that_cannot_start_leaves_the_previous_one_serving(
    lifecycle: Lifecycle,
) -> None:
    home = lifecycle.home
    serving = _active_one(home)
    expected = home.invoke(str(serving.endpoint))
    write_variant(home.project, "#v3", port=lifecycle.port, fails_deployed=True)
    try:
        run = home.deploy()
    finally:
        write_variant(home.project, "", port=lifecycle.port)
    assert run.code == 4, str(run)
    error = run.last
    assert error["event"] == "error" and error["ok"] is False and error["code"] == 4
    assert error["error"] == "HealthGateFailed", error
    fatal = [line for line in error.get("log_tail", []) if "FATAL" in line]
    assert fatal and "orders database" in fatal[0], error.get("log_tail")

    # The previous deployment is untouched and still answers on its endpoint.
    still = _active_one(home)
    assert still.id == serving.id and still.endpoint == serving.endpoint
    assert home.invoke(str(serving.endpoint)) == expected
    v3 = home.versions()[-1]
    assert v3.version == "1.0.2"
    failed = [d for d in home.deployments() if d.version_id == v3.id]
    assert [d.status for d in failed] == ["failed"], failed
    assert not [d for d in home.deployments() if d.status == "pending"]
    assert home.orphans() == set(), "the failed v3 left a supervisor running"


def test_a_killed_runtime_comes_back(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    active = _active_one(home)
    expected = home.invoke(str(active.endpoint))
    state_dir = Path(active.handle["state_dir"])
    state = json.loads((state_dir / "supervisor.json").read_text("utf-8"))
    runtime = int(state["runtime_pid"])
    before = json.loads(home.cli("status", "echo", "--json").stdout)
    assert before["restarts"] == 0 and before["healthy"] is True, before

    os.kill(runtime, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        info = json.loads(home.cli("status", "echo", "--json").stdout)
        return info if info["restarts"] == 1 and info["healthy"] is True else None

    info = _poll(restarted, what="a restart")
    assert info["health"] == "running" and info["version"] == active.version
    assert home.invoke(str(active.endpoint)) == expected
    fresh = json.loads((state_dir / "supervisor.json").read_text("utf-8"))
    assert fresh["runtime_pid"] != runtime and fresh["supervisor_pid"] == state["supervisor_pid"]

    logs = home.cli("logs", "echo", "--tail", "50")
    assert logs.code == 0
    assert "restarting the runtime (restart 1)" in logs.stdout


def test_a_dead_active_deployment_is_redeployed_not_a_noop(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    dead = _active_one(home)
    state = json.loads((Path(dead.handle["state_dir"]) / "supervisor.json").read_text("utf-8"))
    for pid in (int(dead.handle["pid"]), int(state["runtime_pid"])):  # as a reboot would
        os.kill(pid, signal.SIGKILL)
    _poll(lambda: not pid_alive(int(dead.handle["pid"])), what="the supervisor's end")
    info = json.loads(home.cli("status", "echo", "--json").stdout)
    assert info["health"] != "running" and info["healthy"] is not True, info

    run = home.deploy()  # the content of the dead deployment's version
    result = _result(run)
    assert result["noop"] is False and result["version"] == dead.version
    assert "start" in run.steps()
    fresh = _active_one(home)
    assert fresh.id == result["deployment_id"] != dead.id
    assert fresh.endpoint == dead.endpoint  # the address it had, bound again
    assert home.invoke(str(fresh.endpoint)) == "HI"


def test_a_crash_loop_is_down_and_a_deploy_replaces_it(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    looping = _active_one(home)
    state_file = Path(looping.handle["state_dir"]) / "supervisor.json"
    killed: set[int] = set()

    def next_runtime() -> int | None:
        state = json.loads(state_file.read_text("utf-8"))
        pid = state.get("runtime_pid")
        return int(pid) if pid and int(pid) not in killed and pid_alive(int(pid)) else None

    for _ in range(4):  # one more crash than the supervisor restarts in its window
        pid = _poll(next_runtime, what="a runtime to kill")
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)

    def down() -> dict[str, Any] | None:
        info = json.loads(home.cli("status", "echo", "--json").stdout)
        return info if info["health"] == "down" else None

    info = _poll(down, what="the down state")
    assert info["restarts"] == 3 and info["status"] == "active", info
    assert info["healthy"] is False
    # The supervisor records "down" first, then lets its warm process go and exits.
    supervisor = int(looping.handle["pid"])
    _poll(lambda: not pid_alive(supervisor), timeout=30.0, what="the supervisor's exit")
    shown = home.cli("status", "echo")
    assert shown.code == 0 and re.search(r"health\s+down", shown.stdout), shown.stdout

    run = home.deploy()
    result = _result(run)
    assert result["noop"] is False and result["version"] == looping.version
    fresh = _active_one(home)
    assert fresh.id != looping.id and fresh.endpoint == looping.endpoint
    assert home.invoke(str(fresh.endpoint)) == "HI"


def test_unknown_agents_and_versions_exit_5(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    run = home.cli("rollback", "echo", "9.9.9", "--json")
    assert run.code == 5 and run.last["error"] == "NotFound" and run.last["code"] == 5, str(run)
    assert home.cli("rollback", "nosuch", "--json").code == 5
    for command in ("status", "logs", "stop"):
        run = home.cli(command, "nosuch", "--json")
        assert run.code == 5, f"{command}: {run}"
        assert run.last.get("error") == "NotFound", f"{command}: {run}"
    assert len(home.active()) == 1


def _files_holding(root: Path, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            with contextlib.suppress(OSError):
                if needle in path.read_bytes():
                    hits.append(str(path))
    return hits


def test_the_planted_secret_is_nowhere(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    active = _active_one(home)
    home.invoke(str(active.endpoint))  # the runtime resolved ${ECHO_TOKEN}, so it had it
    needle = SECRET.encode()
    registry = sorted(home.root.glob("registry.db*"))
    assert registry and not [p for p in registry if needle in p.read_bytes()]
    assert _files_holding(home.root / "bundles", needle) == []
    assert _files_holding(home.root / "logs", needle) == []
    assert _files_holding(home.root / "run", needle) == []
    assert home.events and SECRET not in json.dumps(home.events)
    for record in home.deployments():
        assert SECRET not in json.dumps(record.handle)
    # The API key printed once is stored only as a hash.
    assert home.key
    key = home.key.encode()
    assert not [p for p in registry if key in p.read_bytes()]
    assert _files_holding(home.root / "logs", key) == []


def test_cleanup_keep_0_keeps_the_active_and_previous_bundles(lifecycle: Lifecycle) -> None:
    home = lifecycle.home
    versions = {v.id: v.version for v in home.versions()}
    refs = {versions[a.version_id]: Path(a.ref) for a in home.artifacts()}
    assert {"1.0.0", "1.0.1", "1.0.2"} <= set(refs), refs
    assert all(path.is_dir() for path in refs.values())
    assert _active_one(home).version == "1.0.0"  # 1.0.1 was active before it

    run = home.cli("cleanup", "echo", "--keep", "0", "--json")
    assert run.code == 0, str(run)
    removed = json.loads(run.stdout.splitlines()[-1])["removed"]
    assert [r["ref"] for r in removed] == [str(refs["1.0.2"])]
    assert not refs["1.0.2"].exists()
    assert refs["1.0.0"].is_dir() and refs["1.0.1"].is_dir()
    # The previous version can still be rolled back to: its bundle is whole.
    back = home.cli("rollback", "echo", "1.0.1", "--json", "--timeout", "90")
    assert _result(back)["version"] == "1.0.1"
    assert home.invoke(_result(back)["endpoint"]) == "HI!"
    assert home.cli("rollback", "echo", "1.0.2", "--json").code == 5


# -- invalid input, no build ----------------------------------------------------------------


def test_an_invalid_dockfile_builds_and_records_nothing(tmp_path: Path) -> None:
    home = _make_home(tmp_path)
    write_variant(home.project, "", port=_free_port())
    dockfile = home.project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text("utf-8").replace("framework: langgraph", "framework: 7"))
    run = home.deploy()
    assert run.code == 1, str(run)
    assert run.last["event"] == "error" and run.last["code"] == 1
    assert "build" not in run.steps()
    bundles = home.root / "bundles"
    assert not bundles.exists() or list(bundles.iterdir()) == []
    if (home.root / "registry.db").exists():
        store = home.store()
        try:
            assert store.list_agents() == []
        finally:
            store.close()


def test_a_missing_variable_builds_and_records_nothing(tmp_path: Path) -> None:
    """Found before the build, not by the runtime after it: exit 1 naming every variable
    with where the Dockfile uses it, no bundle, no version row."""
    home = _make_home(tmp_path)
    extra = {"needs": f"${{{MISSING_VAR}}}", "also": "${AGENTDOCK_E2E_ALSO_UNSET}"}
    write_variant(home.project, "", port=_free_port(), extra=extra)
    run = home.deploy()
    assert run.code == 1, str(run)
    error = run.last
    assert error["error"] == "MissingVariables" and error["code"] == 1, error
    assert f"AGENTDOCK_E2E_ALSO_UNSET, {MISSING_VAR}" in error["detail"]
    assert [f["code"] for f in error["findings"]] == [4001, 4001]
    assert {f["path"] for f in error["findings"]} == {"model.extra.needs", "model.extra.also"}
    assert "build" not in run.steps()
    assert not (home.root / "bundles").exists()
    if (home.root / "registry.db").exists():
        store = home.store()
        try:
            assert store.list_versions("echo") == []
        finally:
            store.close()


# -- one address for every release ----------------------------------------------------------


def test_the_endpoint_stays_through_deploy_rollback_restart_and_stop(tmp_path: Path) -> None:
    """Clients holding the first deploy's URL (one keeping its connection alive, one
    connecting anew for each request) lose no request through a deploy and a rollback,
    and the URL still answers after a crash, and after stop and deploy again."""
    home = _make_home(tmp_path)
    port = _free_port()
    write_variant(home.project, "", port=port)
    try:
        first = _result(home.deploy("--version", "1.0.0"))
        home.key = first["api_key"]
        endpoint = first["endpoint"]
        assert home.invoke(endpoint) == "HI"
        headers = {"x-api-key": str(home.key)}
        url = f"{endpoint}/invoke"
        with (
            Hammer(url, headers=headers, keep_alive=True) as kept,
            Hammer(url, headers=headers, keep_alive=False) as fresh,
        ):
            kept.wait_for("HI")
            write_variant(home.project, "!", port=port)
            second = _result(home.deploy())
            kept.wait_for("HI!")
            fresh.wait_for("HI!")
            back = _result(home.cli("rollback", "echo", "--json", "--timeout", "90"))
            kept.wait_for("HI")
            fresh.wait_for("HI")
        for client in (kept, fresh):
            assert client.failures == [], client.failures[:5]
            assert client.seen()["HI"] > 0 and client.seen()["HI!"] > 0, client.seen()
        assert (second["version"], back["version"]) == ("1.0.1", "1.0.0")
        assert second["endpoint"] == back["endpoint"] == endpoint
        shown = json.loads(home.cli("status", "echo", "--json").stdout)
        assert shown["endpoint"] == endpoint and shown["version"] == "1.0.0"
        assert shown["runtime_endpoint"].startswith("http://127.0.0.1:")
        assert shown["runtime_endpoint"] != endpoint and shown["healthy"] is True
        table = home.cli("status", "echo")
        assert re.search(rf"endpoint\s+{re.escape(endpoint)}\n", table.stdout), table.stdout
        write_variant(home.project, "", port=port)  # 1.0.0's content: nothing to deploy
        printed = home.cli("deploy", "--print-env", "--timeout", "90")
        assert printed.code == 0 and "nothing to do" in printed.stderr, str(printed)
        assert f"export AGENTDOCK_ENDPOINT={endpoint}\n" in printed.stdout

        active = _active_one(home)
        state_file = Path(active.handle["state_dir"]) / "supervisor.json"
        os.kill(int(json.loads(state_file.read_text("utf-8"))["runtime_pid"]), signal.SIGKILL)
        _poll(
            lambda: (
                json.loads(state_file.read_text("utf-8")).get("ready")
                and json.loads(state_file.read_text("utf-8")).get("restarts") == 1
            ),
            what="a restart",
        )
        assert home.invoke(endpoint) == "HI"

        assert home.cli("stop", "echo", "--json").code == 0
        with pytest.raises(httpx.TransportError):
            httpx.post(url, json={"text": "x"}, headers=headers, timeout=2, trust_env=False)
        again = _result(home.deploy())
        assert again["endpoint"] == endpoint and again["noop"] is False
        assert home.invoke(endpoint) == "HI"
    finally:
        home.shutdown()
    assert not home.live_supervisors(), "a supervisor outlived the test"


# -- the interrupts home ---------------------------------------------------------------------


@dataclass
class Interrupts:
    home: Home
    port: int
    active_variant: str


@pytest.fixture(scope="module")
def interrupts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interrupts]:
    """echo deployed once (variant "A"), for deploys that are killed and interrupted."""
    home = _make_home(tmp_path_factory.mktemp("e2e-interrupts"))
    port = _free_port()
    write_variant(home.project, "A", port=port)
    try:
        home.key = _result(home.deploy()).get("api_key")
        yield Interrupts(home, port, "A")
    finally:
        home.shutdown()
    assert not home.live_supervisors(), "a supervisor outlived the tests"


def _children(pid: int) -> list[tuple[int, str]]:
    """``(pid, command line)`` of the live children of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text().split():
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                    found.append((int(child), cmdline.replace(b"\0", b" ").decode()))
    return found


def _deploy_until(
    home: Home,
    step: str,
    sig: int,
    group: bool = False,
    freeze_when: Any = None,
    signal_when: Any = None,
) -> Run:
    """Start ``deploy --json`` and send ``sig`` right after its first progress event of
    ``step``; returns what it printed (its exit code is the signal's, or its own).

    With ``freeze_when``, after that event the CLI is frozen (SIGSTOP) as soon as
    ``freeze_when(cli_pid)`` is true, and signalled once ``signal_when()`` is: what it had
    started meanwhile went on without it."""
    proc = home.spawn("deploy", "--json", "--timeout", "90")
    home.groups.add(proc.pid)
    lines: list[str] = []
    assert proc.stdout is not None
    seen = False
    try:
        for line in proc.stdout:
            lines.append(line)
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "progress" and event.get("step") == step:
                if freeze_when is not None:
                    _poll(lambda: freeze_when(proc.pid), timeout=30, what="the freeze point")
                    os.kill(proc.pid, signal.SIGSTOP)
                    _poll(signal_when, timeout=30, what=f"the signal point after {step}")
                if group:
                    os.killpg(proc.pid, sig)
                else:
                    os.kill(proc.pid, sig)
                seen = True
                break
        rest, err = proc.communicate(timeout=CLI_LIMIT)  # reaps it: its lock is then stale
    finally:
        if proc.poll() is None:  # the test failed before it signalled: end the CLI
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lines.append(rest)
    assert seen, f"no {step} event: {''.join(lines)[-3000:]}\n{err[-3000:]}"
    run = Run(proc.returncode, "".join(lines), err, _parse("".join(lines)))
    home.note(run.events)
    return run


#: "start+launched": the CLI is frozen while it launches the supervisor, and killed once
#: the supervisor has written its state file (before the CLI could record the handle).
KILL_STEPS = ["build", "start", "start+launched", "health", "activate"]


@pytest.mark.parametrize("step", KILL_STEPS)
def test_cli_killed_at_a_step_leaves_the_registry_consistent(
    interrupts: Interrupts, step: str
) -> None:
    home = interrupts.home
    # New content for "build"; else the other built variant (a cache hit, so the
    # kill lands in start, health or activate).
    variant = f"K-{step}" if step == "build" else ("B" if interrupts.active_variant != "B" else "A")
    write_variant(home.project, variant, port=interrupts.port)
    versions_before = home.versions()
    deployments_before = {d.id: d for d in home.deployments()}
    orphans_before = home.orphans()

    def launching(cli: int) -> bool:
        return any("agentdock_plugins.local.supervisor" in c for _p, c in _children(cli))

    def launched() -> bool:
        return any(
            i not in deployments_before
            and s.get("supervisor_pid")
            and pid_alive(int(s["supervisor_pid"]))
            for i, s in home.state_files().items()
        )

    if step == "start+launched":
        killed = _deploy_until(
            home, "start", signal.SIGKILL, freeze_when=launching, signal_when=launched
        )
    else:
        killed = _deploy_until(home, step, signal.SIGKILL)
    assert killed.code == -signal.SIGKILL

    assert len(home.active()) <= 1
    after = home.versions()
    assert after[: len(versions_before)] == versions_before, "a recorded version changed"
    assert len(after) - len(versions_before) <= 1
    if step == "build":
        assert after == versions_before, "a version was recorded before its build finished"
    for record in home.deployments():  # rows other than the killed deploy's are unchanged
        old = deployments_before.get(record.id)
        if old is not None and step != "activate":
            assert (old.status, old.version_id) == (record.status, record.version_id)

    follow = home.deploy()
    result = _result(follow)
    active = _active_one(home)
    assert active.id == result["deployment_id"]
    assert home.invoke(str(active.endpoint)) == f"HI{variant}"
    assert not [d for d in home.deployments() if d.status == "pending"]
    interrupted = [
        d for d in home.deployments() if d.id not in deployments_before and d.id != active.id
    ]
    for record in interrupted:
        assert record.status == "failed" and "interrupted" in (record.detail or ""), record
    if step in {"start", "start+launched", "health"}:
        assert interrupted, "the killed deploy left no row"
    if step == "activate":
        assert result["noop"] is True  # the killed deploy had activated it already
    interrupts.active_variant = variant
    leftover = home.orphans() - orphans_before
    home.reap(leftover)  # so that later tests start clean whatever this one finds
    assert leftover == set(), (
        f"killing the CLI after its {step!r} event left supervisor(s) {sorted(leftover)} "
        "running that no active deployment names"
    )


def test_ctrl_c_during_a_build_records_nothing(interrupts: Interrupts) -> None:
    home = interrupts.home
    write_variant(home.project, "ctrl-c", port=interrupts.port)
    versions_before = home.versions()
    deployments_before = home.deployments()
    refs = {a.ref for a in home.artifacts()}

    run = _deploy_until(home, "build", signal.SIGINT, group=True)
    assert run.code == 130, str(run)
    assert run.last == {"event": "error", "ok": False, "error": "Interrupted", "code": 130}
    assert home.versions() == versions_before
    assert home.deployments() == deployments_before
    assert not [d for d in home.deployments() if d.status == "pending"]
    complete = {str(p) for p in (home.root / "bundles").iterdir() if (p / "bundle.json").is_file()}
    assert complete <= refs, complete - refs
    leftovers = [p.name for p in (home.root / "bundles").iterdir() if str(p) not in refs]
    assert leftovers == [], "an interrupted build left a directory behind"


def test_ctrl_c_during_the_health_gate_keeps_the_previous_version(
    interrupts: Interrupts,
) -> None:
    home = interrupts.home
    serving = _active_one(home)
    expected = home.invoke(str(serving.endpoint))
    variant = "B" if interrupts.active_variant != "B" else "A"
    write_variant(home.project, variant, port=interrupts.port)
    before = {d.id for d in home.deployments()}
    orphans_before = home.orphans()

    run = _deploy_until(home, "health", signal.SIGINT, group=True)
    assert run.code == 130, str(run)
    assert run.last["error"] == "Interrupted"
    new = [d for d in home.deployments() if d.id not in before]
    assert [d.status for d in new] == ["failed"], new
    assert _active_one(home).id == serving.id
    assert home.invoke(str(serving.endpoint)) == expected
    leftover = home.orphans() - orphans_before
    home.reap(leftover)
    assert leftover == set(), "the interrupted start was left running"


def test_concurrent_deploys_never_make_two_active(interrupts: Interrupts) -> None:
    home = interrupts.home
    write_variant(home.project, "twice", port=interrupts.port)
    procs = [home.spawn("deploy", "--json", "--timeout", "90") for _ in range(2)]
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=CLI_LIMIT)
        run = Run(proc.returncode, out, err, _parse(out))
        home.note(run.events)
        runs.append(run)
    codes = sorted(r.code for r in runs)
    print("concurrent deploys exited with", codes)
    assert codes in ([0, 0], [0, 4]), [str(r) for r in runs]
    for run in runs:
        if run.code == 4:
            assert run.last["error"] == "DeployInProgress", str(run)
            assert "in progress" in run.last["detail"]
    active = _active_one(home)
    assert home.invoke(str(active.endpoint)) == "HItwice"
    assert len([v for v in home.versions() if v.version == active.version]) == 1
    interrupts.active_variant = "twice"
    assert home.orphans() == set()
