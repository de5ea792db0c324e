"""The ``docker`` builder against a real dockerd: image shape, layer reuse, cache hits, no
secret in any layer, ignored files never sent, and the errors a user meets.

One module-scoped build of a small agent (the echo example under another name) serves most
tests; the dependency trees are cached on the host between runs, so a warm run builds in
seconds. Images are removed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from _cli import run_cli
from agentdock.deployment.artifacts import Artifact, BuildRequest
from agentdock.deployment.errors import BuildFailed, InvalidDeployInput, TargetUnavailable
from agentdock_plugins import pydeps
from agentdock_plugins.docker import builder as builder_module
from agentdock_plugins.docker.builder import DockerBuilder
from agentdock_plugins.docker.dockerfile import DEPS_DIR
from agentdock_plugins.docker.imageindex import MANIFEST_LIST
from agentdock_plugins.docker.naming import image_reference
from agentdock_plugins.kubernetes.image import resolve
from agentdock_plugins.pydeps.dists import normalize_name
from build_requests import build_request
from dockerbase import docker_client, ensure_arm64_base_image, ensure_base_image
from registryserver import free_port, registry_server
from sbomcheck import listed, validate_cyclonedx

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo"
AGENT = "dockbuild_test"
REPOSITORY = "agentdock/dockbuild-test"
PORT = 8181
SECRET = "pl4nted-d0cker-s3cret-7c1e"
ENV_SECRET = "env-pl4nted-d0cker-s3cret-0b9d"
DESCRIPTION = 'Echo for $HOME "quoted" \\ image'

DOCKFILE = f"""\
version: "1.1"
agent:
  name: {AGENT}
  description: '{DESCRIPTION}'
  entrypoint: echo.graph:build_graph
  framework: langgraph
model:
  provider: custom
  name: echo
io_schema:
  input:
    type: object
    properties: {{text: {{type: string}}}}
    required: [text]
  output:
    type: object
    properties: {{text: {{type: string}}}}
    required: [text]
arguments:
  token: "${{DOCKBUILD_TOKEN}}"
  other: "${{DOCKBUILD_ENV_TOKEN}}"
auth:
  mode: api_key
  api_keys: {{enabled: true}}
expose:
  port: {PORT}
"""


@dataclass
class Recorder:
    """A Progress that keeps every event."""

    events: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, step: str, message: str, **fields: Any) -> None:
        self.events.append((step, message))

    def steps(self, step: str) -> list[str]:
        return [m for s, m in self.events if s == step]


def _request(project: Path, version: str, **options: Any) -> BuildRequest:
    request = build_request(
        project,
        project / ".agentdock",
        version=version,
        options={"base_image": BASE, **options},
    )
    assert request.agent == AGENT
    return request


BASE = "agentdock-test-base:bookworm"


def _remove_repository(client: Any) -> None:
    for image in client.images.list(name=REPOSITORY):
        for tag in image.tags:
            client.images.remove(tag, force=True)


@dataclass
class Built:
    client: Any
    project: Path
    request: BuildRequest
    artifact: Artifact
    progress: Recorder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    client = docker_client()
    assert ensure_base_image(client) == BASE
    _remove_repository(client)
    project = tmp_path_factory.mktemp("dockbuild") / "agent"
    shutil.copytree(ECHO / "echo", project / "echo", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "Dockfile.yaml").write_text(DOCKFILE, encoding="utf-8")
    (project / ".env").write_text(f"DOCKBUILD_TOKEN={SECRET}\n", encoding="utf-8")
    (project / ".dockerignore").write_text("big.bin\n", encoding="utf-8")
    with (project / "big.bin").open("wb") as fh:  # 1 GB, sparse: costs no disk
        fh.truncate(1 << 30)
    saved = os.environ.get("DOCKBUILD_ENV_TOKEN")
    os.environ["DOCKBUILD_ENV_TOKEN"] = ENV_SECRET
    # AgentDock's own wheels are built from this checkout, whose files may change while the
    # module runs; one set of them keeps "same inputs" the same.
    dists = pydeps.agentdock_dists()
    patch = pytest.MonkeyPatch()
    patch.setattr(builder_module, "agentdock_dists", lambda **_: dists)
    try:
        request = _request(project, "1.0.0")
        assert "big.bin" not in request.sources and ".env" not in request.sources
        # The builder is handed the resolved spec: both secrets are within its reach.
        assert request.spec.arguments == {"token": SECRET, "other": ENV_SECRET}
        progress = Recorder()
        artifact = DockerBuilder().build(request, progress)
        yield Built(client, project, request, artifact, progress)
    finally:
        patch.undo()
        if saved is None:
            os.environ.pop("DOCKBUILD_ENV_TOKEN", None)
        else:
            os.environ["DOCKBUILD_ENV_TOKEN"] = saved
        _remove_repository(client)
        client.close()


def test_tag_is_content_addressed(built: Built) -> None:
    artifact = built.artifact
    assert artifact.builder == "docker" and not artifact.cached
    assert len(artifact.digest) == 64
    assert artifact.ref == f"{REPOSITORY}:1.0.0-{artifact.digest[:12]}"
    # The one name every target uses for a version's image (a Kubernetes dry run too).
    assert artifact.ref == image_reference("dockbuild_test", "1.0.0", artifact.digest)
    image = built.client.images.get(artifact.ref)
    assert image.id == artifact.details["image_id"]
    assert artifact.details["size_bytes"] == image.attrs["Size"]
    assert artifact.details["layers"] == len(image.attrs["RootFS"]["Layers"])
    assert artifact.to_json()["details"]["tag"] == artifact.ref


def test_build_output_streams_through_progress(built: Built) -> None:
    build_lines = built.progress.steps("build")
    assert any(line.startswith("Step ") for line in build_lines)
    assert any("Successfully tagged" in line for line in build_lines)
    assert built.progress.steps("context") and built.progress.steps("done")


def test_image_settings(built: Built) -> None:
    image = built.client.images.get(built.artifact.ref)
    config = image.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert set(config["ExposedPorts"]) == {f"{PORT}/tcp"}
    assert config["Entrypoint"] == ["/opt/agentdock/deps/bin/dumb-init", "--"]
    assert config["Cmd"] == ["python3", "-m", "agentdock_runtime"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["AGENTDOCK_SPEC"] == "/opt/agentdock/spec.yaml"
    assert env["AGENTDOCK_PROJECT_DIR"] == "/app"
    health = config["Healthcheck"]["Test"]
    assert health[0] == "CMD" and health[1] == "python3" and "/health" in health[-1]
    assert not any("curl" in part for part in health)
    labels = config["Labels"]
    assert labels["io.agentdock.agent"] == AGENT
    assert labels["io.agentdock.version"] == "1.0.0"
    assert labels["io.agentdock.spec-hash"] == built.request.content_hash
    assert labels["io.agentdock.digest"] == built.artifact.digest
    assert labels["org.opencontainers.image.title"] == AGENT
    assert labels["org.opencontainers.image.version"] == "1.0.0"
    assert labels["org.opencontainers.image.description"] == DESCRIPTION
    assert labels["org.opencontainers.image.base.digest"] == built.artifact.details["base_image_id"]
    assert labels["io.agentdock.source-digest"] == built.request.content_hash
    lock_hash = hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    assert labels["io.agentdock.lock.agentdock"] == f"uv.lock:{lock_hash}"


_LIST_DISTS = (
    "import hashlib, importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: [d.version, "
    "hashlib.sha256((d._path / 'RECORD').read_bytes()).hexdigest(), str(d._path)] "
    "for d in m.distributions()}))"
)


def _image_dists(built: Built) -> dict[str, list[str]]:
    """Name → [version, SHA-256 of RECORD, dist-info path] of what the image's Python sees."""
    out = built.client.containers.run(
        built.artifact.ref,
        ["python3", "-c", _LIST_DISTS],
        entrypoint=[],
        network_mode="none",
        remove=True,
    )
    found: dict[str, list[str]] = json.loads(out)
    return found


def test_image_installs_the_versions_of_the_project_lock(built: Built) -> None:
    """The tested set ships: every third-party distribution in the image (bar the init it
    runs as PID 1) is the version the workspace's uv.lock pins."""
    installed = {normalize_name(k): v[0] for k, v in _image_dists(built).items()}
    locked: dict[str, set[str]] = {}
    for package in tomllib.loads((ROOT / "uv.lock").read_text("utf-8"))["package"]:
        if "version" in package:
            locked.setdefault(normalize_name(package["name"]), set()).add(package["version"])
    own = {normalize_name(n) for n in pydeps.AGENTDOCK_DISTS}
    third = {n: v for n, v in installed.items() if n not in own and n != "dumb-init"}
    assert len(third) > 20
    assert sorted(n for n in third if n not in locked) == []
    assert {n: v for n, v in third.items() if v not in locked[n]} == {}


def test_second_build_is_a_cache_hit(built: Built) -> None:
    progress = Recorder()
    again = DockerBuilder().build(built.request, progress)
    assert again.cached
    assert again.ref == built.artifact.ref and again.digest == built.artifact.digest
    assert again.details["image_id"] == built.artifact.details["image_id"]
    assert progress.steps("cached") and not progress.steps("build")


def _layers(client: Any, ref: str) -> list[str]:
    return list(client.images.get(ref).attrs["RootFS"]["Layers"])


def test_code_change_rebuilds_only_the_top_layers(built: Built) -> None:
    graph = built.project / "echo" / "graph.py"
    original = graph.read_text(encoding="utf-8")
    graph.write_text(original + "\n# one more line\n", encoding="utf-8")
    try:
        progress = Recorder()
        changed = DockerBuilder().build(_request(built.project, "1.0.1"), progress)
    finally:
        graph.write_text(original, encoding="utf-8")
    assert not changed.cached and changed.ref != built.artifact.ref
    base = _layers(built.client, BASE)
    before = _layers(built.client, built.artifact.ref)
    after = _layers(built.client, changed.ref)
    # base, user, dependencies, AgentDock, machine profile, code, spec snapshot
    assert len(before) == len(after) == len(base) + 6
    assert before[: len(base) + 4] == after[: len(base) + 4]
    assert before[len(base) + 4] != after[len(base) + 4]
    # The dependency and runtime levels were found by their keys; only the agent's files
    # went to the engine.
    assert len(progress.steps("layers")) == 2
    assert not any("COPY deps/" in line or "COPY dist/" in line for line in progress.steps("build"))
    assert changed.details["runtime_image"] == built.artifact.details["runtime_image"]
    # Removing it frees the layers only it has (its code and snapshot), not shared ones.
    shared = {h["Id"] for h in built.client.images.get(built.artifact.ref).history()}
    history = built.client.images.get(changed.ref).history()
    own = sum(h["Size"] for h in history if h["Id"] not in shared)
    assert 0 < own < sum(h["Size"] for h in history) // 100
    assert DockerBuilder().remove(changed) == own
    assert not DockerBuilder().exists(changed)


def _saved_members(client: Any, ref: str, dest: Path) -> Iterator[tuple[str, bytes]]:
    with dest.open("wb") as fh:
        for chunk in client.images.get(ref).save(named=True):
            fh.write(chunk)
    with tarfile.open(dest) as outer:
        for member in outer:
            if not member.isfile():
                continue
            data = outer.extractfile(member)
            assert data is not None
            yield member.name, data.read()


def test_no_secret_in_any_layer_or_the_config(built: Built, tmp_path: Path) -> None:
    names: list[str] = []
    layer_names: list[str] = []
    for name, data in _saved_members(built.client, built.artifact.ref, tmp_path / "image.tar"):
        names.append(name)
        for planted in (SECRET, ENV_SECRET):
            assert planted.encode() not in data, f"{planted!r} found in {name}"
        if name.endswith("layer.tar"):
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                layer_names += layer.getnames()
    assert any(n.endswith(".json") and "manifest" not in n for n in names)  # the config
    assert any(n.endswith("app/echo/graph.py") for n in layer_names)
    assert not any(n.endswith("app/.env") or n.endswith("big.bin") for n in layer_names)
    # The placeholder itself is kept: the runtime resolves it at start.
    assert any(n.endswith("opt/agentdock/spec.yaml") for n in layer_names)
    for _step, message in built.progress.events:
        assert SECRET not in message and ENV_SECRET not in message
    assert SECRET not in str(built.artifact.to_json()) and ENV_SECRET not in str(
        built.artifact.to_json()
    )


#: Prints every file of the root file system with a setuid or setgid bit (``find / -xdev
#: -perm /6000``).
SETID_FILES = """
import os, stat
root = os.lstat("/").st_dev
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.lstat(os.path.join(top, d)).st_dev == root]
    for name in files:
        mode = os.lstat(os.path.join(top, name)).st_mode
        if stat.S_ISREG(mode) and mode & 0o6000:
            print(os.path.join(top, name))
"""


def test_container_runs_as_non_root_behind_an_init_and_turns_healthy(built: Built) -> None:
    container = built.client.containers.run(
        built.artifact.ref,
        detach=True,
        network_mode="none",
        environment={"DOCKBUILD_TOKEN": "x", "DOCKBUILD_ENV_TOKEN": "y"},
    )
    try:
        deadline = time.monotonic() + 90
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            container.reload()
            state = container.attrs["State"]
            if state["Status"] != "running" or state.get("Health", {}).get("Status") == "healthy":
                break
            time.sleep(0.5)
        assert state["Status"] == "running", container.logs().decode()[-2000:]
        assert state["Health"]["Status"] == "healthy", state["Health"]
        top = container.top(ps_args="-o pid,user,args")
        users = {row[1] for row in top["Processes"]}
        assert users == {"10001"} or users == {"agentdock"}, top
        pid1 = container.exec_run(["cat", "/proc/1/cmdline"]).output
        assert pid1.split(b"\0")[0].endswith(b"dumb-init")
        # The base's setuid and setgid programs (su, mount, passwd ... in Debian) lost the bit.
        setid = container.exec_run(["python3", "-c", SETID_FILES])
        assert setid.exit_code == 0 and setid.output.decode().split() == [], setid.output
        # The hardware profile was baked in and applied to the runtime's environment.
        profile = json.loads(
            container.exec_run(["cat", "/etc/agentdock/machine-profile.json"]).output
        )
        assert profile["hardware"] == "auto" and "OMP_NUM_THREADS" in profile["env"]
        applied = container.exec_run(
            [
                "python3",
                "-c",
                "import os; from agentdock_runtime.machine import apply_machine_profile; "
                "r = apply_machine_profile(); print(r['profile'], os.environ['OMP_NUM_THREADS'])",
            ]
        )
        assert applied.exit_code == 0, applied.output
        profile_name, threads = applied.output.decode().split()
        assert profile_name == "cpu" and int(threads) >= 1
    finally:
        container.remove(force=True)


def test_a_gpu_on_the_cpu_profile_is_refused_before_building(built: Built) -> None:
    dockfile = built.project / "Dockfile.yaml"
    original = dockfile.read_text(encoding="utf-8")
    dockfile.write_text(
        original + "\nbuild:\n  hardware: cpu\ndeploy:\n  resources:\n    gpu: 1\n",
        encoding="utf-8",
    )
    try:
        request = _request(built.project, "9.9.9")
        with pytest.raises(InvalidDeployInput) as info:
            DockerBuilder().build(request, Recorder())
    finally:
        dockfile.write_text(original, encoding="utf-8")
    assert info.value.exit_code == 1 and info.value.path == "deploy.resources.gpu"
    assert "gpu" in info.value.cause.lower()


def test_unresolvable_dependency_is_named(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "agent"
    shutil.copytree(built.project / "echo", project / "echo")
    (project / "Dockfile.yaml").write_text(DOCKFILE, encoding="utf-8")
    (project / "requirements.txt").write_text("agentdock-no-such-dependency-q7z==9.9.9\n")
    monkeypatch.setenv("DOCKBUILD_TOKEN", "x")
    request = _request(project, "1.0.0")
    with pytest.raises(BuildFailed) as info:
        DockerBuilder().build(request, Recorder())
    assert info.value.exit_code == 3
    assert "agentdock-no-such-dependency-q7z" in info.value.cause


def test_missing_base_image_is_a_build_failure(built: Built) -> None:
    request = replace(built.request, options={"base_image": "agentdock-no-such-base:never"})
    with pytest.raises(BuildFailed) as info:
        DockerBuilder().build(request, Recorder())
    assert "agentdock-no-such-base:never" in info.value.cause
    assert info.value.hint and "build.base_image" in info.value.hint


def test_exists_and_remove(built: Built) -> None:
    builder = DockerBuilder()
    assert builder.exists(built.artifact)
    ghost = replace(built.artifact, ref=f"{REPOSITORY}:0.0.0-000000000000")
    assert not builder.exists(ghost)
    assert builder.remove(ghost) == 0  # absent is not an error


def test_dockerd_not_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    request = BuildRequest(
        agent=AGENT,
        version="1.0.0",
        project_dir=tmp_path,
        snapshot="",
        content_hash="0" * 64,
        sources=(),
        spec=None,
        home=tmp_path,
    )
    with pytest.raises(TargetUnavailable) as info:
        DockerBuilder().build(request, Recorder())
    assert info.value.exit_code == 3
    assert "dockerd is not running" in info.value.cause
    assert info.value.hint and "DOCKER_HOST" in info.value.hint


def test_image_sbom_lists_every_installed_distribution(built: Built) -> None:
    """The SBOM in the registry store lists every distribution the image installs, with
    its version and hash; the image's label names the SBOM's digest."""
    details = built.artifact.details
    sbom = Path(details["sbom"])
    assert sbom == built.request.home / "sbom" / f"{built.artifact.digest}.cdx.json"
    data = sbom.read_bytes()
    document = json.loads(data)
    validate_cyclonedx(document)
    labels = built.client.images.get(built.artifact.ref).attrs["Config"]["Labels"]
    assert labels["io.agentdock.sbom"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
    assert details["sbom_sha256"] == hashlib.sha256(data).hexdigest()
    shipped = {
        name: (version, record)
        for name, (version, record, where) in _image_dists(built).items()
        if where.startswith("/opt/agentdock/")
    }
    assert len(shipped) > 20 and "dumb-init" in shipped and "agentdock-runtime" in shipped
    assert listed(document) == shipped
    assert SECRET not in data.decode() and ENV_SECRET not in data.decode()
    again = DockerBuilder().build(built.request, Recorder())
    assert again.cached and again.details["sbom"] == details["sbom"]


REGISTRY_PASSWORD = "pl4nted-registry-passw0rd-5e2a"


def _untag_pushed(client: Any, artifact: Artifact) -> None:
    with contextlib.suppress(Exception):
        client.images.remove(artifact.ref, noprune=True)


def _push(built: Built, registry: str, progress: Recorder | None = None) -> Artifact:
    options = {**built.request.options, "push": registry}
    return DockerBuilder().build(replace(built.request, options=options), progress or Recorder())


def test_push_names_the_image_by_the_registry_digest(built: Built, tmp_path: Path) -> None:
    with registry_server(tmp_path) as registry:
        artifact = _push(built, registry.address)
        try:
            tag = built.artifact.ref.rpartition(":")[2]
            assert artifact.ref == f"{registry.address}/{REPOSITORY}:{tag}"
            manifest = registry.manifest(REPOSITORY, tag)
            pinned = f"{registry.address}/{REPOSITORY}@{manifest['_digest']}"
            assert artifact.details["pushed"] == pinned
            assert artifact.digest == built.artifact.digest
            # What the Kubernetes manifests run: the image by that digest.
            assert resolve(artifact).reference == pinned
            assert DockerBuilder().exists(artifact)
        finally:
            _untag_pushed(built.client, artifact)


def test_push_to_a_registry_that_asks_for_credentials(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with registry_server(tmp_path, users={"alice": REGISTRY_PASSWORD}) as registry:
        monkeypatch.setenv("AGENTDOCK_REGISTRY_USERNAME", "alice")
        monkeypatch.setenv("AGENTDOCK_REGISTRY_PASSWORD", REGISTRY_PASSWORD)
        progress = Recorder()
        artifact = _push(built, registry.address, progress)
        _untag_pushed(built.client, artifact)
        assert "@sha256:" in artifact.details["pushed"]
        assert not any(REGISTRY_PASSWORD in message for _, message in progress.events)

        monkeypatch.setenv("AGENTDOCK_REGISTRY_PASSWORD", REGISTRY_PASSWORD + "-wrong")
        progress = Recorder()
        with pytest.raises(BuildFailed) as caught:
            _push(built, registry.address, progress)
        error = caught.value
        assert error.exit_code == 3 and "refused the push" in error.cause
        assert "AGENTDOCK_REGISTRY_USERNAME" in (error.hint or "")
        shown = json.dumps(error.to_json()) + json.dumps(progress.events)
        assert REGISTRY_PASSWORD not in shown
        tagged = [t for image in built.client.images.list() for t in image.tags]
        assert not any(t.startswith(registry.address) for t in tagged)


def test_push_to_a_registry_that_is_down(built: Built) -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(TargetUnavailable) as caught:
        _push(built, address)
    assert caught.value.exit_code == 3 and "does not answer" in caught.value.cause
    with pytest.raises(InvalidDeployInput) as bad:
        _push(built, "not a registry!")
    assert bad.value.exit_code == 1 and bad.value.path == "--push"


def test_deploy_with_a_failed_push_records_no_deployment(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKBUILD_TOKEN", SECRET)
    monkeypatch.setenv("AGENTDOCK_CEILING_DIRECTORIES", str(built.project.parent))
    address = f"127.0.0.1:{free_port()}"
    args = ["deploy", "Dockfile.yaml", "--target", "docker", "--push", address]
    code, out, err = run_cli([*args, "--base-image", BASE, "--json"], cwd=built.project)
    assert code == 3, out + err
    assert json.loads(out.splitlines()[-1])["error"] == "TargetUnavailable"
    # The registry the CLI reads from there knows no deployment of the agent.
    code, out, err = run_cli(["status", AGENT, "--json"], cwd=built.project)
    assert code == 5, out + err


_SERVE_AND_CALL = f"""
import json, time, urllib.request
base = "http://127.0.0.1:{PORT}"
for _ in range(600):
    try:
        urllib.request.urlopen(base + "/ready", timeout=1).read()
        break
    except OSError:
        time.sleep(0.1)
def post(path):
    body = json.dumps({{"text": "hello"}}).encode()
    request = urllib.request.Request(
        base + path, data=body, headers={{"content-type": "application/json"}}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read().decode()
print(json.dumps([post("/invoke"), post("/stream")]))
"""


def test_image_leaves_out_what_the_runtime_never_imports(built: Built) -> None:
    """The image has none of the distributions left out (never imported, or backends this
    Dockfile does not use), and a runtime in it, its imports traced, starts and
    answers /invoke and /stream without missing a module."""
    installed = {normalize_name(n) for n in _image_dists(built)}
    assert not {"faker", "polyfactory", "rich-click", "pyjwt", "langfuse"} & installed
    assert {"litestar", "langgraph", "uvicorn"} <= installed
    container = built.client.containers.run(
        built.artifact.ref,
        detach=True,
        network_mode="none",
        environment={
            # The variable, not -X importtime: it holds across the runtime's re-exec.
            "PYTHONPROFILEIMPORTTIME": "1",
            "DOCKBUILD_TOKEN": "x",
            "DOCKBUILD_ENV_TOKEN": "y",
            "AGENTDOCK_INSECURE_NO_AUTH": "1",
        },
    )
    try:
        result = container.exec_run(["python3", "-c", _SERVE_AND_CALL], user="10001", stderr=False)
        assert result.exit_code == 0, result.output.decode()[-2000:]
        (invoke_status, invoke_body), (stream_status, stream_body) = json.loads(result.output)
        assert invoke_status == 200 and json.loads(invoke_body) == {"text": "HELLO"}, invoke_body
        assert stream_status == 200 and "event: end" in stream_body
    finally:
        container.stop(timeout=10)
        logs = container.logs(stdout=False, stderr=True).decode()
        container.remove(force=True)
    imported = {line.split("|")[-1].strip() for line in logs.splitlines() if "import time:" in line}
    assert {"litestar", "langgraph", "agentdock_runtime"} <= imported
    assert "ModuleNotFoundError" not in logs and "ImportError" not in logs
    assert not {m.split(".")[0] for m in imported} & {"faker", "polyfactory", "jwt", "langfuse"}


_IMPORT_EXTENSIONS = """
import importlib, importlib.machinery, json, pathlib, sqlite3, sys, zstandard
import psycopg  # psycopg_binary's modules refuse to load before it
root = pathlib.Path(sys.argv[1])
suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
names = sorted(
    ".".join(p.relative_to(root).parts[:-1] + (p.name.split(".")[0],))
    for p in root.rglob("*.so") if p.name.endswith(suffixes)
)
failed = {}
for name in names:
    try:
        if name == "sqlite_vec.vec0":  # an SQLite extension, loaded by SQLite
            import sqlite_vec
            db = sqlite3.connect(":memory:")
            db.enable_load_extension(True)
            sqlite_vec.load(db)
            db.execute("select vec_version()").fetchone()
        else:
            importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
data = b"agentdock " * 10000
packed = zstandard.ZstdCompressor(level=3).compress(data)
same = zstandard.ZstdDecompressor().decompress(packed) == data
zstd = [zstandard.backend, same, len(packed)]
print(json.dumps({"names": names, "failed": failed, "zstd": zstd}))
"""


def test_every_extension_of_the_dependency_layer_imports_without_debug_info(
    built: Built, tmp_path: Path
) -> None:
    """Each native extension module of the dependency tree imports in the image (debug info
    stripped, nothing else), no file in it still has a ``.debug_info`` section (read by
    ``readelf``), zstandard's unused CFFI backend is gone and its C backend compresses and
    decompresses."""
    readelf = shutil.which("readelf")
    assert readelf is not None, "binutils (readelf) is needed"
    out = built.client.containers.run(
        built.artifact.ref,
        ["python3", "-c", _IMPORT_EXTENSIONS, DEPS_DIR],
        entrypoint=[],
        network_mode="none",
        user="10001",
        remove=True,
    )
    found = json.loads(out)
    assert {"uvloop.loop", "zstandard.backend_c", "yaml._yaml"} <= set(found["names"])
    assert found["failed"] == {}
    assert found["zstd"][:2] == ["cext", True] and found["zstd"][2] < 1000

    container = built.client.containers.create(built.artifact.ref, entrypoint=[], command=["true"])
    try:
        chunks, _ = container.get_archive(DEPS_DIR)
        archive = tmp_path / "deps.tar"
        with archive.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    finally:
        container.remove(force=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and ".so" in m.name]
        tar.extractall(tmp_path / "x", members=members, filter="data")
    shared = [p for p in (tmp_path / "x").rglob("*") if p.is_file()]
    assert len(shared) >= len(found["names"])
    assert not [p for p in shared if "_cffi" in p.name and p.parent.name == "zstandard"]
    assert not list((tmp_path / "x").rglob("zstandard/backend_cffi.py"))
    with_debug = []
    for path in shared:
        sections = subprocess.run(
            [readelf, "-S", "-W", str(path)], capture_output=True, text=True, check=False
        )
        if ".debug_info" in sections.stdout:
            with_debug.append(path.name)
    assert with_debug == []


_READY = f"""
import time, urllib.request
for _ in range(1200):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:{PORT}/ready", timeout=2).read().decode())
        break
    except OSError:
        time.sleep(0.5)
"""


def test_two_platforms_make_one_manifest_list_and_arm64_runs(built: Built, tmp_path: Path) -> None:
    """amd64 and arm64 built hermetically (arm64 wheels installed by uv for that platform,
    an arm64 base), pushed, and listed under one tag; the arm64 image starts under
    emulation and answers /ready."""
    arm64_base = ensure_arm64_base_image(built.client)
    with registry_server(tmp_path) as registry:
        options = {
            **built.request.options,
            "platforms": "linux/amd64,linux/arm64",
            "push": registry.address,
            "base_images": {"linux/amd64": BASE, "linux/arm64": arm64_base},
        }
        marks: list[tuple[float, str]] = []

        def progress(step: str, message: str, **_: Any) -> None:
            if step == "platform" or message.startswith("pushed"):
                marks.append((time.perf_counter(), message))

        started = time.perf_counter()
        artifact = DockerBuilder().build(replace(built.request, options=options), progress)
        for (then, what), (now, _next) in zip([(started, "start"), *marks], marks, strict=False):
            print(f"\n{now - then:7.1f}s  up to: {_next}  (after {what})")
        tag = artifact.ref.rpartition(":")[2]
        answer = httpx.get(
            f"http://{registry.address}/v2/{REPOSITORY}/manifests/{tag}",
            headers={"Accept": MANIFEST_LIST},
        )
        listed = answer.json()
        assert answer.headers["content-type"].startswith(MANIFEST_LIST)
        platforms = {
            (m["platform"]["os"], m["platform"]["architecture"]) for m in listed["manifests"]
        }
        assert platforms == {("linux", "amd64"), ("linux", "arm64")}
        pinned = f"{registry.address}/{REPOSITORY}@{answer.headers['docker-content-digest']}"
        assert artifact.details["pushed"] == pinned
        assert resolve(artifact).reference == pinned  # what the Kubernetes pods run
        arm64 = artifact.details["platforms"]["linux/arm64"]
        image = built.client.images.get(arm64)
        assert image.attrs["Architecture"] == "arm64"
        container = built.client.containers.run(
            arm64,
            detach=True,
            network_mode="none",
            environment={"DOCKBUILD_TOKEN": "x", "DOCKBUILD_ENV_TOKEN": "y"},
        )
        try:
            machine = container.exec_run(["uname", "-m"]).output.decode().strip()
            assert machine == "aarch64"
            ready = container.exec_run(["python3", "-c", _READY], user="10001", stderr=False)
            assert '"status":"ready"' in ready.output.decode(), container.logs()[-2000:]
        finally:
            container.remove(force=True)
            for ref in (artifact.ref, *artifact.details["platforms"].values()):
                with contextlib.suppress(Exception):
                    built.client.images.remove(ref, noprune=True)


def test_two_platforms_without_a_registry_are_refused(built: Built) -> None:
    options = {**built.request.options, "platforms": ["linux/amd64", "linux/arm64"]}
    with pytest.raises(InvalidDeployInput) as caught:
        DockerBuilder().build(replace(built.request, options=options), Recorder())
    assert caught.value.exit_code == 1 and caught.value.path == "build.platforms"
