"""The docker builder's pure parts: the Dockerfile, its health probe, tags and labels."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentdock.deployment.errors import TargetUnavailable
from agentdock_plugins.docker.builder import image_repository, image_tag
from agentdock_plugins.docker.client import engine_address, open_client
from agentdock_plugins.docker.context import write_agent_context, write_deps_context
from agentdock_plugins.docker.dockerfile import (
    DockerfileFacts,
    healthcheck_command,
    render_agent,
    render_deps,
    render_dist,
    valid_image_ref,
)
from agentdock_plugins.docker.labels import snapshot_fields

BASE_ID = "sha256:" + "ab" * 32
DEPS_ID = "sha256:" + "cd" * 32
RUNTIME_ID = "sha256:" + "ef" * 32
FACTS = DockerfileFacts(base_image=BASE_ID, python_version="3.11")


def _stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages and line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def _index(lines: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


def test_levels_stack_in_order_of_change() -> None:
    deps = _stages(render_deps(FACTS))
    assert [s[0] for s in deps] == [f"FROM {BASE_ID} AS compile", f"FROM {BASE_ID}"]
    # The user comes before the dependencies, which arrive compiled as one layer.
    final = deps[-1]
    assert _index(final, "RUN ") < _index(final, "COPY --from=compile /opt/agentdock/")
    assert any(line.startswith("RUN ") and "compileall" in line for line in deps[0])
    dist = _stages(render_dist(DEPS_ID))
    assert [s[0] for s in dist] == [f"FROM {DEPS_ID} AS compile", f"FROM {DEPS_ID}"]
    assert dist[-1][1] == "COPY --from=compile /opt/agentdock/dist/ /opt/agentdock/dist/"
    agent = render_agent(RUNTIME_ID, 8181, {"io.agentdock.version": "1.0.0"}).splitlines()
    order = [
        _index(agent, f"FROM {RUNTIME_ID}"),
        _index(agent, "COPY machine-profile.json /etc/agentdock/machine-profile.json"),
        _index(agent, "COPY app/ /app/"),
        _index(agent, "COPY spec.yaml /opt/agentdock/spec.yaml"),
        _index(agent, "LABEL "),
    ]
    assert order == sorted(order)
    assert sum(line.startswith("COPY ") for line in agent) == 3
    # Labels come last: a new version changes nothing before them.
    plain = render_agent(RUNTIME_ID, 8181).splitlines()
    labelled = render_agent(RUNTIME_ID, 8181, {"io.agentdock.version": "2"}).splitlines()
    assert labelled[: len(plain) - 1] == plain[:-1]


def test_image_settings() -> None:
    runtime = render_dist(DEPS_ID)
    agent = render_agent(RUNTIME_ID, 8181)
    assert "USER 10001:10001" in runtime
    assert "EXPOSE 8181/tcp" in agent
    assert 'ENTRYPOINT ["/opt/agentdock/deps/bin/dumb-init", "--"]' in runtime
    assert 'CMD ["python3", "-m", "agentdock_runtime"]' in runtime
    for env in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "AGENTDOCK_SPEC=/opt/agentdock/spec.yaml",
        "AGENTDOCK_PROJECT_DIR=/app",
    ):
        assert env in runtime
    lines = agent.splitlines()
    probe = lines[_index(lines, "HEALTHCHECK") + 1]
    assert "/health" in probe and "8181" in probe
    everything = render_deps(FACTS) + runtime + agent
    assert "curl" not in everything and "wget" not in everything
    # Every RUN is exec form with python3 (no shell needed in the base image).
    runs = [line for line in everything.splitlines() if line.startswith("RUN ")]
    assert len(runs) == 3
    for line in runs:
        assert json.loads(line[4:])[0] == "python3"
    # The step that adds the user also clears every setuid/setgid bit of the base, in the
    # same layer; the runtime level says its runtime reads the docker target's env file.
    (prepare,) = [json.loads(r[4:])[2] for r in runs if "/etc/passwd" in r]
    compile(prepare, "<prepare>", "exec")
    assert "os.chmod(path, mode & ~0o6000)" in prepare
    assert 'LABEL io.agentdock.env-file="1"' in runtime


def test_other_platform_has_no_run_steps() -> None:
    foreign = DockerfileFacts(base_image=BASE_ID, python_version="3.11", native=False)
    assert "RUN " not in render_deps(foreign) + render_dist(DEPS_ID, native=False)


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11-slim-bookworm",
        "registry.example:5000/team/py:3.11",
        "agentdock-test-base:bookworm",
        BASE_ID,
        "python@sha256:" + "0" * 64,
    ],
)
def test_valid_image_refs(ref: str) -> None:
    assert valid_image_ref(ref)
    render_deps(DockerfileFacts(base_image=ref, python_version="3.11"))
    render_agent(ref, 1)


@pytest.mark.parametrize(
    "ref", ["", "python:3.11\nRUN rm -rf /", "Python:3.11", "py thon", "a:b:c", "-x"]
)
def test_refuses_what_is_not_an_image_ref(ref: str) -> None:
    assert not valid_image_ref(ref)
    with pytest.raises(ValueError):
        render_deps(DockerfileFacts(base_image=ref, python_version="3.11"))
    with pytest.raises(ValueError):
        render_dist(ref)


def test_label_values_are_quoted_and_never_expanded() -> None:
    value = 'costs $HOME "net" \\ ok\nsecond line'
    text = render_agent(RUNTIME_ID, 80, {"org.opencontainers.image.description": value})
    label = text[text.index("LABEL ") :]
    assert "\n" not in label.strip()
    assert 'org.opencontainers.image.description="costs \\$HOME \\"net\\" \\\\ ok second line"' in (
        label
    )
    with pytest.raises(ValueError):
        render_agent(RUNTIME_ID, 80, {"bad key=x": "v"})


def test_prepare_step_checks_python_version() -> None:
    text = render_deps(DockerfileFacts(base_image=BASE_ID, python_version="3.99"))
    run = next(line for line in _stages(text)[-1] if line.startswith("RUN "))
    script = json.loads(run[4:])[2]
    result = subprocess.run(
        [sys.executable, "-c", script.split(";open(")[0]], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "runs Python 3.11" in result.stderr and "build.python_version" in result.stderr


@pytest.mark.parametrize(
    ("dns", "repo"),
    [("chat", "agentdock/chat"), ("my-agent-", "agentdock/my-agent"), ("a--b", "agentdock/a--b")],
)
def test_repository(dns: str, repo: str) -> None:
    assert image_repository(dns) == repo


def test_tag() -> None:
    digest = "0123456789abcdef" * 4
    assert image_tag("1.2.3", digest) == "1.2.3-0123456789ab"
    assert image_tag("1.0.0+build.7", digest) == "1.0.0_build.7-0123456789ab"
    assert image_tag("-x", digest) == "x-0123456789ab"


def test_image_reference_is_repository_and_tag() -> None:
    from agentdock_plugins.docker.naming import image_reference

    digest = "0123456789abcdef" * 4
    assert (
        image_reference("my_agent", "1.0.0+b", digest) == "agentdock/my-agent:1.0.0_b-0123456789ab"
    )
    assert image_reference("my_agent", "0.1.1") == "agentdock/my-agent:0.1.1"  # not built yet


def test_labels_from_snapshot_keep_placeholders_out() -> None:
    snap = (
        "agent:\n  name: a\n  description: '${SECRET_DESC}'\n"
        "metadata:\n  maintainer: team@example.com\n"
    )
    assert snapshot_fields(snap) == {"authors": "team@example.com"}
    assert snapshot_fields("agent:\n  description: plain  words\n") == {
        "description": "plain words"
    }
    assert snapshot_fields(": not yaml : [") == {}


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_health_probe_runs_with_the_standard_library(
    health_server: http.server.ThreadingHTTPServer,
) -> None:
    port = health_server.server_address[1]
    cmd = [sys.executable, *healthcheck_command(port)[1:]]
    proxied = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    assert subprocess.run(cmd, env=proxied, capture_output=True).returncode == 0
    # AGENTDOCK_PORT wins over the Dockfile's port, as it does for the runtime.
    other = [sys.executable, *healthcheck_command(1)[1:]]
    assert subprocess.run(other, env={"AGENTDOCK_PORT": str(port)}).returncode == 0
    assert subprocess.run(other, capture_output=True).returncode != 0
    _Health.status = 503
    try:
        assert subprocess.run(cmd, capture_output=True).returncode != 0
    finally:
        _Health.status = 200


def test_contexts_hold_exactly_their_files(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("X = 1\n")
    (project / "pkg" / "mod.py").chmod(0o600)
    (project / ".env").write_text("TOKEN=s3cret\n")
    agent = tmp_path / "agent"
    agent.mkdir()
    count = write_agent_context(
        agent,
        dockerfile="FROM scratch\n",
        project_dir=project,
        sources=("pkg/mod.py",),
        snapshot="version: '1.1'\n",
    )
    assert count == 1
    assert _files(agent) == ["Dockerfile", "app/pkg/mod.py", "machine-profile.json", "spec.yaml"]
    # Readable by the image's non-root user, whatever the source file's mode was.
    assert (agent / "app" / "pkg" / "mod.py").stat().st_mode & 0o777 == 0o644
    deps = tmp_path / "deps"
    (deps / "bin").mkdir(parents=True)
    (deps / "bin" / "dumb-init").write_bytes(b"\x7fELF")
    lock = tmp_path / "requirements.lock"
    lock.write_text("x==1 --hash=sha256:00\n")
    level1 = tmp_path / "level1"
    level1.mkdir()
    write_deps_context(level1, dockerfile="FROM scratch\n", deps=deps, lock=lock)
    assert _files(level1) == ["Dockerfile", "deps/bin/dumb-init", "requirements.lock"]
    # Hard links where possible: the cache is not copied for each build.
    assert (level1 / "deps" / "bin" / "dumb-init").stat().st_ino == (
        deps / "bin" / "dumb-init"
    ).stat().st_ino


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_context_refuses_a_source_outside_the_project(tmp_path: Path) -> None:
    from agentdock.deployment.errors import BuildFailed

    (tmp_path / "project").mkdir()
    (tmp_path / "outside.txt").write_text("x")
    (tmp_path / "context").mkdir()
    with pytest.raises(BuildFailed):
        write_agent_context(
            tmp_path / "context",
            dockerfile="",
            project_dir=tmp_path / "project",
            sources=("../outside.txt",),
            snapshot="",
        )


def test_engine_address_hides_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://user:pa55word@engine.example:2376")
    assert engine_address() == "tcp://engine.example:2376"
    monkeypatch.delenv("DOCKER_HOST")
    assert engine_address() == "unix:///var/run/docker.sock"


def test_dead_engine_is_target_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(TargetUnavailable) as info:
        open_client(timeout=5)
    err = info.value
    assert err.exit_code == 3
    assert "dockerd is not running" in err.cause and "unix:///nonexistent" in err.cause
    assert err.hint is not None and "dockerd" in err.hint and "DOCKER_HOST" in err.hint
