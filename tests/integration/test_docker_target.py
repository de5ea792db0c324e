"""The ``docker`` target against a real dockerd, with a tiny stand-in runtime image.

The image (built once per module from the test base image, no network) runs a stdlib HTTP
server that answers ``/health`` and ``/ready``, says whether a variable is set (never its
value), exits at start-up with a ``[FATAL]`` line when a variable it requires is missing,
and exits non-zero on ``POST /crash`` so Docker's restart policy can be watched. Like the
runtime of an AgentDock image, it reads its variables from ``AGENTDOCK_ENV_FILE`` first and
says so with the image label the target looks for.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.deployment.artifacts import Artifact, StartRequest
from agentdock.deployment.errors import (
    DeployFailed,
    HealthGateFailed,
    InvalidDeployInput,
    TargetUnavailable,
)
from agentdock_plugins.docker.envfile import ENV_FILE_LABEL
from agentdock_plugins.docker.target import LABEL_PREFIX, MAX_RESTARTS, DockerTarget
from dockerbase import docker_client, ensure_base_image

SERVER = r"""
import http.server, json, os, signal, sys, threading, urllib.parse

if os.environ.get("AGENTDOCK_ENV_FILE"):  # as agentdock_runtime.envfile reads it
    with open(os.environ["AGENTDOCK_ENV_FILE"]) as fh:
        for name, value in json.load(fh).items():
            os.environ.setdefault(name, value)
if os.environ.get("LEAK_VAR"):  # a careless agent that prints a secret
    print("token is " + os.environ.get(os.environ["LEAK_VAR"], ""), flush=True)
required = ["MISSING_ONE"] if os.environ.get("STRICT") else []
missing = [n for n in required if not os.environ.get(n)]
if missing:
    print("[FATAL] Missing required environment variables: " + ", ".join(missing),
          file=sys.stderr, flush=True)
    sys.exit(1)
# Unset, the server would listen on the container's loopback, out of reach of the publish.
host = os.environ.get("AGENTDOCK_HOST", "127.0.0.1")
port = int(os.environ.get("AGENTDOCK_PORT", "8080"))


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/health":
            return self._send(200, {"status": "ok"})
        if url.path == "/ready":
            never = bool(os.environ.get("NEVER_READY"))
            return self._send(503 if never else 200, {"ready": not never})
        if url.path == "/env":
            name = urllib.parse.parse_qs(url.query).get("name", [""])[0]
            return self._send(200, {"name": name, "set": bool(os.environ.get(name))})
        self._send(404, {"error": "NotFound"})

    def do_POST(self):
        if self.path == "/crash":
            self._send(200, {"crashing": True})
            print("crashing on request", flush=True)
            os._exit(3)
        self._send(404, {"error": "NotFound"})

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((host, port), Handler)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
print(f"listening on {port}", flush=True)
server.serve_forever()
print("stopped cleanly", flush=True)
"""

HEALTH = r"""
import json, os, sys, urllib.request
# A health command runs beside the runtime, with the container's environment: a variable
# of the deployment is in the env file.
if os.environ.get("AGENTDOCK_ENV_FILE"):
    with open(os.environ["AGENTDOCK_ENV_FILE"]) as fh:
        os.environ.update(json.load(fh))
if os.environ.get("HEALTH_FAIL"):
    sys.exit(1)
port = os.environ.get("AGENTDOCK_PORT", "8080")
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
except Exception:
    sys.exit(1)
"""

DOCKERFILE = """\
FROM {base}
{label}COPY server.py health.py /srv/
EXPOSE 8080
HEALTHCHECK --interval={interval} --timeout=3s --retries=3 CMD ["python3", "/srv/health.py"]
CMD ["python3", "-u", "/srv/server.py"]
"""

PLANTED = "planted-" + secrets.token_hex(12)
RUN_LABEL = "io.agentdock.test-run"
RUN_ID = secrets.token_hex(6)


def _image(client: Any, base: str, interval: str, *, env_file: bool = True) -> str:
    """The test image with this health-check interval, reading the env file or (an image
    built before env files) not; the tag hashes its files, so a second run reuses it."""
    label = f'LABEL {ENV_FILE_LABEL}="1"\n' if env_file else ""
    dockerfile = DOCKERFILE.format(base=base, interval=interval, label=label)
    digest = hashlib.sha256((dockerfile + SERVER + HEALTH).encode()).hexdigest()[:12]
    tag = f"agentdock-test-target:{digest}"
    try:
        client.images.get(tag)
    except Exception:
        with tempfile.TemporaryDirectory(prefix="agentdock-target-image-") as ctx:
            Path(ctx, "Dockerfile").write_text(dockerfile)
            Path(ctx, "server.py").write_text(SERVER)
            Path(ctx, "health.py").write_text(HEALTH)
            client.images.build(path=ctx, tag=tag, network_mode="none", rm=True)
    return tag


@pytest.fixture(scope="module")
def docker_env() -> Iterator[tuple[Any, str]]:
    """The engine and the test image (Docker checks its health every 500 ms)."""
    client = docker_client()
    base = ensure_base_image(client)
    yield client, _image(client, base, "500ms")
    for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"}):
        container.remove(force=True, v=True)
    client.close()


@pytest.fixture(scope="module")
def legacy_image(docker_env: tuple[Any, str]) -> str:
    """The same image without the label: a runtime that does not read env files."""
    client, _ = docker_env
    return _image(client, ensure_base_image(client), "500ms", env_file=False)


@pytest.fixture(scope="module")
def slow_health_image(docker_env: tuple[Any, str]) -> str:
    """The same image whose first Docker health check would come only after an hour."""
    client, _ = docker_env
    return _image(client, ensure_base_image(client), "1h")


_ids = iter(range(int.from_bytes(secrets.token_bytes(2), "big") * 100, 10**9))


def _request(tmp_path: Path, port: int = 8080, **overrides: Any) -> StartRequest:
    fields: dict[str, Any] = {
        "agent": "echo_agent",
        "version": "1.0.0",
        "deployment_id": next(_ids),
        "port": port,
        "host": None,  # nobody asked: published on 127.0.0.1, like the local target
        "env": {},
        "state_dir": tmp_path / "state",
        "home": tmp_path,
        "labels": {RUN_LABEL: RUN_ID},
    }
    fields.update(overrides)
    return StartRequest(**fields)


class Events:
    """A Progress that keeps every call, to check that no secret is ever reported."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, step: str, message: str, **fields: Any) -> None:
        self.calls.append((step, message, fields))

    def text(self) -> str:
        return json.dumps(self.calls, default=str)


@pytest.fixture
def target(docker_env: tuple[Any, str]) -> Iterator[DockerTarget]:
    tgt = DockerTarget()
    handles: list[Mapping[str, Any]] = []
    original = tgt.start

    def tracking_start(*args: Any, **kwargs: Any) -> Mapping[str, Any]:
        handle = original(*args, **kwargs)
        handles.append(handle)
        return handle

    tgt.start = tracking_start  # type: ignore[method-assign]
    yield tgt
    for handle in handles:
        tgt.stop(handle, timeout=2)


def _artifact(tag: str) -> Artifact:
    return Artifact(builder="docker", ref=tag, digest="0" * 64)


def _poll(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_start_ready_and_serving_with_env_and_labels(
    docker_env: tuple[Any, str],
    target: DockerTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, tag = docker_env
    monkeypatch.setenv("UNRELATED_TOKEN", "shell-only-" + PLANTED)  # the deploying shell's
    request = _request(tmp_path, env={"AGENT_SECRET": PLANTED}, instance="acme")
    events = Events()
    started = time.perf_counter()
    handle = target.start(_artifact(tag), request, events)
    target.wait_ready(handle, timeout=60, progress=events)
    print(f"\ndocker target: start -> ready in {time.perf_counter() - started:.2f}s")

    assert set(handle) == {"container_id", "name", "port", "host", "endpoint", "image"}
    assert handle["host"] == "127.0.0.1"
    assert handle["name"] == f"agentdock-echo-agent-acme-{request.deployment_id}"
    assert handle["endpoint"] == f"http://127.0.0.1:{handle['port']}"
    assert handle["image"] == tag
    base = handle["endpoint"]
    assert httpx.get(f"{base}/ready").status_code == 200
    assert httpx.get(f"{base}/env", params={"name": "AGENT_SECRET"}).json()["set"] is True
    assert httpx.get(f"{base}/env", params={"name": "NOT_GIVEN"}).json()["set"] is False

    attrs = client.api.inspect_container(handle["container_id"])
    # The container's environment: the image's own and the target's settings. The request's
    # variables are in the env file the server read (it says AGENT_SECRET is set), and no
    # value of theirs is anywhere in what docker inspect shows.
    image_env = set(client.api.inspect_image(tag)["Config"].get("Env") or ())
    given = {item.partition("=")[0] for item in set(attrs["Config"]["Env"]) - image_env}
    assert given == {
        "AGENTDOCK_ENV_FILE",
        "AGENTDOCK_STATE_DIR",
        "AGENTDOCK_LANGFUSE_BUFFER",
        "AGENTDOCK_KEY_VIEW",
        "AGENTDOCK_HOST",
        "AGENTDOCK_PORT",
    }
    assert PLANTED not in json.dumps(attrs)
    assert "shell-only-" not in json.dumps(attrs["Config"]["Env"])
    # As locked down as the pods: no capabilities, no privilege escalation, a read-only root
    # writable only in tmpfs mounts, memory and process limits, published on the loopback.
    host_config = attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"] and not host_config["CapAdd"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["Privileged"] is False
    assert host_config["ReadonlyRootfs"] is True
    assert set(host_config["Tmpfs"]) == {"/tmp", "/home/agentdock"}
    assert host_config["PidsLimit"] == 1024
    assert host_config["Memory"] == host_config["MemorySwap"] == 2 * 2**30
    volumes = {m["Destination"]: m["Type"] for m in attrs["Mounts"]}
    assert volumes == {
        "/run/agentdock": "volume",
        "/var/lib/agentdock": "volume",
        # Of the home: its key view (read-only) and its state directory.
        "/etc/agentdock/keys": "bind",
        "/var/lib/agentdock/state/echo_agent.acme": "bind",
    }
    inside = client.containers.get(handle["container_id"])
    probe = inside.exec_run(
        [
            "python3",
            "-c",
            "import os, stat\n"
            "try:\n    open('/planted', 'w')\nexcept OSError as e:\n    print('root', e.errno)\n"
            "open('/tmp/scratch', 'w').write('ok')\n"
            "open('/var/lib/agentdock/state.db', 'w').write('ok')\n"
            "status = dict(l.split(':', 1) for l in open('/proc/1/status'))\n"
            "print('caps', int(status['CapEff'], 16), 'nnp', status['NoNewPrivs'].strip())\n"
            "print('mode', oct(stat.S_IMODE(os.stat('/run/agentdock/env').st_mode)))\n",
        ]
    )
    assert probe.exit_code == 0, probe.output
    assert probe.output.decode().split("\n")[:3] == ["root 30", "caps 0 nnp 1", "mode 0o400"]
    labels = attrs["Config"]["Labels"]
    assert labels[LABEL_PREFIX + "agent"] == "echo_agent"
    assert labels[LABEL_PREFIX + "version"] == "1.0.0"
    assert labels[LABEL_PREFIX + "deployment"] == str(request.deployment_id)
    assert labels[LABEL_PREFIX + "instance"] == "acme"
    assert labels[RUN_LABEL] == RUN_ID
    assert attrs["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure",
        "MaximumRetryCount": MAX_RESTARTS,
    }
    bindings = attrs["HostConfig"]["PortBindings"]["8080/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(handle["port"])}]

    status = _poll(lambda: (s := target.status(handle))["healthy"] and s, "Docker's healthy")
    assert status["state"] == "running"
    assert status["restarts"] == 0
    assert abs(status["started_at"] - time.time()) < 3600

    for place in (json.dumps(handle), json.dumps(labels), events.text(), json.dumps(status)):
        assert PLANTED not in place
    assert "listening on 8080" in list(target.logs(handle, tail=None, follow=False))
    following = target.logs(handle, tail=1, follow=True)
    assert next(following) == "listening on 8080"
    following.close()  # type: ignore[attr-defined]


def test_gate_runs_the_health_check_instead_of_waiting_for_docker(
    docker_env: tuple[Any, str], slow_health_image: str, target: DockerTarget, tmp_path: Path
) -> None:
    client, _ = docker_env
    handle = target.start(_artifact(slow_health_image), _request(tmp_path), Events())
    target.wait_ready(handle, timeout=60, progress=Events())
    health = client.api.inspect_container(handle["container_id"])["State"]["Health"]
    assert health["Status"] == "starting"  # Docker has not checked yet: the gate did
    assert target.status(handle)["healthy"] is None


def test_failing_health_check_keeps_the_gate_shut(
    docker_env: tuple[Any, str], slow_health_image: str, target: DockerTarget, tmp_path: Path
) -> None:
    request = _request(tmp_path, env={"HEALTH_FAIL": "1"})
    handle = target.start(_artifact(slow_health_image), request, Events())
    with pytest.raises(HealthGateFailed, match="the health check exited with 1"):
        target.wait_ready(handle, timeout=2, progress=Events())


def test_taken_port_publishes_on_another(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    _, tag = docker_env
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        events = Events()
        handle = target.start(_artifact(tag), _request(tmp_path, port=port), events)
        target.wait_ready(handle, timeout=60, progress=events)
        assert handle["port"] != port
        assert httpx.get(f"{handle['endpoint']}/ready").status_code == 200
        assert any(step == "port" for step, _, _ in events.calls)


def test_port_lost_to_another_container_between_check_and_start(
    docker_env: tuple[Any, str],
    target: DockerTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Docker refuses a port another container publishes; the target picks another."""
    _, tag = docker_env
    first = target.start(_artifact(tag), _request(tmp_path), Events())
    monkeypatch.setattr("agentdock_plugins.docker.target.port_free", lambda bind, port: True)
    second = target.start(_artifact(tag), _request(tmp_path, port=8080), Events())
    target.wait_ready(second, timeout=60, progress=Events())
    assert second["port"] != first["port"]
    assert httpx.get(f"{second['endpoint']}/ready").status_code == 200


def test_never_ready_times_out_with_the_log_tail(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    _, tag = docker_env
    request = _request(tmp_path, env={"NEVER_READY": "1"})
    handle = target.start(_artifact(tag), request, Events())
    with pytest.raises(HealthGateFailed, match="not ready within 2s") as failed:
        target.wait_ready(handle, timeout=2, progress=Events())
    assert "/ready answered 503" in failed.value.cause
    assert "listening on 8080" in failed.value.log_tail


def test_exit_at_startup_fails_the_gate_with_the_fatal_line(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    _, tag = docker_env
    request = _request(
        tmp_path,
        env={
            "STRICT": "1",
            "AGENT_SECRET": PLANTED,
            "LEAK_VAR": "AGENT_SECRET",
        },
    )
    handle = target.start(_artifact(tag), request, Events())
    with pytest.raises(HealthGateFailed) as failed:
        target.wait_ready(handle, timeout=120, progress=Events())
    tail = failed.value.log_tail
    assert "[FATAL] Missing required environment variables: MISSING_ONE" in tail
    assert len(tail) <= 20
    assert "token is ***" in tail  # the runtime printed the secret; the error masks it
    assert failed.value.exit_code == 4
    assert PLANTED not in json.dumps(failed.value.to_json())


def test_crashed_runtime_is_restarted_by_docker(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    _, tag = docker_env
    handle = target.start(_artifact(tag), _request(tmp_path), Events())
    target.wait_ready(handle, timeout=60, progress=Events())
    first_start = target.status(handle)["started_at"]

    httpx.post(f"{handle['endpoint']}/crash")

    status = _poll(
        lambda: (s := target.status(handle))["restarts"] >= 1 and s["state"] == "running" and s,
        "Docker to restart the runtime",
    )
    assert status["started_at"] > first_start

    def reachable() -> bool:
        try:
            return httpx.get(f"{handle['endpoint']}/ready").status_code == 200
        except httpx.HTTPError:
            return False

    _poll(reachable, "the restarted runtime to answer /ready")
    assert "crashing on request" in list(target.logs(handle, tail=None, follow=False))


def test_runtime_killed_from_the_host_is_restarted(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    """SIGKILL to the container's process (not ``docker kill``, which Docker counts as a
    manual stop and never restarts) is a crash like any other."""
    client, tag = docker_env
    handle = target.start(_artifact(tag), _request(tmp_path), Events())
    target.wait_ready(handle, timeout=60, progress=Events())
    pid = client.api.inspect_container(handle["container_id"])["State"]["Pid"]
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError:
        pytest.skip("the container's process belongs to another user (rootless dockerd)")
    _poll(
        lambda: (s := target.status(handle))["restarts"] >= 1 and s["state"] == "running",
        "Docker to restart the killed runtime",
    )

    # The handle stays valid: same container, same published port.
    def reachable() -> bool:
        try:
            return httpx.get(f"{handle['endpoint']}/ready").status_code == 200
        except httpx.HTTPError:
            return False

    _poll(reachable, "the restarted runtime to answer /ready")
    assert client.api.inspect_container(handle["container_id"])["State"]["Pid"] != pid


def test_stop_removes_the_container_and_is_idempotent(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    client, tag = docker_env
    handle = target.start(_artifact(tag), _request(tmp_path, env={"X_TOKEN": PLANTED}), Events())
    target.wait_ready(handle, timeout=60, progress=Events())
    mounts = client.api.inspect_container(handle["container_id"])["Mounts"]
    volumes = [m["Name"] for m in mounts if m["Type"] == "volume"]
    assert len(volumes) == 2  # the env file's and the state directory's

    target.stop(handle, timeout=10)

    assert not client.containers.list(all=True, filters={"id": handle["container_id"]})
    for volume in volumes:  # they went with it
        assert not client.volumes.list(filters={"name": volume})
    assert target.status(handle)["state"] == "missing"
    target.stop(handle, timeout=10)  # already gone: no error


def test_resources_become_container_limits_and_a_wildcard_host_is_published_so(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    client, tag = docker_env
    request = _request(tmp_path, resources={"cpu": "500m", "memory": "96Mi"}, host="0.0.0.0")
    handle = target.start(_artifact(tag), request, Events())
    host_config = client.api.inspect_container(handle["container_id"])["HostConfig"]
    assert host_config["NanoCpus"] == 500_000_000
    assert host_config["Memory"] == host_config["MemorySwap"] == 96 * 2**20
    assert host_config["PidsLimit"] == 1024
    # Asked for every interface: published there, reached from here on the loopback.
    assert host_config["PortBindings"]["8080/tcp"][0]["HostIp"] == "0.0.0.0"
    assert handle["host"] == "0.0.0.0"
    assert handle["endpoint"] == f"http://127.0.0.1:{handle['port']}"


def test_an_image_without_env_files_gets_its_variables_in_the_environment(
    docker_env: tuple[Any, str], legacy_image: str, target: DockerTarget, tmp_path: Path
) -> None:
    """A version built before env files (a rollback to it) still starts with its variables,
    and the deploy says where they are; the rest of the posture is the same."""
    client, _ = docker_env
    events = Events()
    handle = target.start(
        _artifact(legacy_image), _request(tmp_path, env={"X_TOKEN": PLANTED}), events
    )
    target.wait_ready(handle, timeout=60, progress=events)
    assert httpx.get(f"{handle['endpoint']}/env", params={"name": "X_TOKEN"}).json()["set"]
    attrs = client.api.inspect_container(handle["container_id"])
    assert f"X_TOKEN={PLANTED}" in attrs["Config"]["Env"]
    assert not [m for m in attrs["Mounts"] if m["Destination"] == "/run/agentdock"]
    assert attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert [step for step, _, _ in events.calls if step == "env"] == ["env"]
    assert PLANTED not in events.text()


def test_missing_image_is_a_deploy_error(docker_env: tuple[Any, str], tmp_path: Path) -> None:
    with pytest.raises(DeployFailed, match="not on the Docker engine"):
        DockerTarget().start(_artifact("agentdock-test-absent:nope"), _request(tmp_path), Events())


def test_unreachable_engine_is_target_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-dockerd.sock")
    request = _request(tmp_path, env={"AGENT_SECRET": PLANTED})
    with pytest.raises(TargetUnavailable) as failed:
        DockerTarget().start(_artifact("agentdock-test-target:any"), request, Events())
    assert failed.value.exit_code == 3
    assert "no-dockerd.sock" in failed.value.cause
    assert failed.value.hint
    assert PLANTED not in json.dumps(failed.value.to_json())
    handle = {"container_id": "0" * 12, "name": "x", "port": 1, "endpoint": "http://x:1"}
    with pytest.raises(TargetUnavailable):
        DockerTarget().status(handle)


def test_handle_survives_a_new_process_view(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    """The registry stores the handle as JSON; another process's target must use it."""
    _, tag = docker_env
    handle = target.start(_artifact(tag), _request(tmp_path), Events())
    stored = json.loads(json.dumps(handle))
    other = DockerTarget()
    other.wait_ready(stored, timeout=60, progress=Events())
    assert other.status(stored)["state"] == "running"
    assert os.path.basename(stored["endpoint"]).startswith("127.0.0.1:")


def test_a_label_carrying_a_secret_is_refused(tmp_path: Path) -> None:
    request = _request(tmp_path, env={"AGENT_SECRET": PLANTED}, labels={"team": f"x-{PLANTED}"})
    with pytest.raises(InvalidDeployInput, match="label team") as failed:
        DockerTarget().start(_artifact("agentdock-test-target:any"), request, Events())
    assert PLANTED not in json.dumps(failed.value.to_json())


def test_a_leftover_container_of_the_same_deployment_is_replaced(
    docker_env: tuple[Any, str], target: DockerTarget, tmp_path: Path
) -> None:
    client, tag = docker_env
    request = _request(tmp_path)
    first = target.start(_artifact(tag), request, Events())
    second = target.start(_artifact(tag), request, Events())  # an interrupted deploy, again
    target.wait_ready(second, timeout=60, progress=Events())
    assert second["name"] == first["name"]
    assert not client.containers.list(all=True, filters={"id": first["container_id"]})


def test_a_foreign_container_with_the_name_is_left_alone(
    docker_env: tuple[Any, str], tmp_path: Path
) -> None:
    client, tag = docker_env
    request = _request(tmp_path)
    name = f"agentdock-echo-agent-{request.deployment_id}"
    foreign = client.containers.create(tag, name=name, labels={RUN_LABEL: RUN_ID})
    with pytest.raises(DeployFailed, match="not this deployment's"):
        DockerTarget().start(_artifact(tag), request, Events())
    foreign.reload()
    assert foreign.status == "created"


ATTEMPTS = r"""
import json, os, sys
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except OSError as exc:
        out[name] = type(exc).__name__
view = "/etc/agentdock/keys/keys.json"
attempt("append_view", lambda: open(view, "a").write("x"))
attempt("new_file_beside_view", lambda: open("/etc/agentdock/keys/forged.json", "w").write("{}"))
attempt("replace_view", lambda: os.replace("/etc/agentdock/keys/keys.json", "/tmp/v"))
attempt("write_state", lambda: open(os.environ["AGENTDOCK_STATE_DIR"] + "/probe", "w").write("1"))
found = []
for root, dirs, files in os.walk("/", onerror=lambda e: None):
    if root.startswith(("/proc", "/sys")):
        dirs[:] = []
        continue
    found += [os.path.join(root, f) for f in files if f.startswith(("registry.db", "audit.key"))]
out["registry_files"] = found
out["view"] = json.load(open(view))
out["groups"] = os.getgroups()
print(json.dumps(out))
"""


def test_a_container_gets_its_key_view_read_only_and_nothing_else_of_the_home(
    target: DockerTarget, docker_env: tuple[Any, str], tmp_path: Path
) -> None:
    from agentdock.registry import open_store
    from auth_support import add_key

    client, tag = docker_env
    with open_store(tmp_path / "registry.db") as store:
        mine = add_key(store)
        other = add_key(store, agent="other_agent", role="admin")
        handle = target.start(_artifact(tag), _request(tmp_path), Events())
        target.wait_ready(handle, 60, Events())
        container = client.containers.get(handle["container_id"])
        host = container.attrs["HostConfig"]
        assert not host.get("GroupAdd")
        # Of the host, two directories of the home (the engine's own volumes aside: the
        # image's state directory and the env file's, see test_start_ready_and_serving...).
        mounts = {Path(m["Source"]): m for m in container.attrs["Mounts"] if m["Type"] == "bind"}
        state = tmp_path / "state" / "echo_agent"
        assert set(mounts) == {tmp_path / "keys" / "echo_agent", state}
        assert all(not m["RW"] for source, m in mounts.items() if source != state)
        # Python in the container, as the image's user, tries to touch what it must not.
        code, output = container.exec_run(["python3", "-c", ATTEMPTS], user="10001:10001")
        assert code == 0, output
        seen = json.loads(output.decode().strip().splitlines()[-1])
        assert seen["append_view"] != "ok" and seen["new_file_beside_view"] != "ok"
        assert seen["replace_view"] != "ok"
        assert seen["write_state"] == "ok"
        assert seen["registry_files"] == [] and set(seen["groups"]) <= {10001}
        assert [k["key_id"] for k in seen["view"]["keys"]] == [mine.key_id]
        assert other.key_id not in output.decode()
        # A revocation made on the host reaches the mounted view (replaced by a rename).
        store.revoke_api_key(agent="echo_agent", key_id=mine.key_id)
        code, output = container.exec_run(
            ["python3", "-c", "print(open('/etc/agentdock/keys/keys.json').read())"],
            user="10001:10001",
        )
        assert json.loads(output)["keys"][0]["revoked_at"] is not None
