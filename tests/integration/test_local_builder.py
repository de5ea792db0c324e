"""The ``local`` builder against real uv: what a bundle holds, the cache, digests,
unresolvable requirements and interrupted builds. Needs the package index (PyPI) the
workspace itself was installed from; uv's cache makes repeated builds fast."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from agentdock.deployment.artifacts import BuildRequest, no_progress
from agentdock.deployment.errors import BuildFailed
from agentdock_plugins import pydeps
from agentdock_plugins.local.builder import LocalBuilder
from agentdock_plugins.pydeps.dists import normalize_name
from build_requests import build_request
from sbomcheck import installed, listed, validate_cyclonedx

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo"
SECRET = "planted-secret-3b1f9c0e7d"


def echo_project(root: Path) -> Path:
    project = root / "echo"
    shutil.copytree(ECHO, project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".env").write_text(f"ECHO_TOKEN={SECRET}\n")
    return project


@pytest.fixture(scope="module")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """AgentDock's own wheels, built once for the module and then held fixed: an edit to
    the workspace while the module runs must not change every digest under the tests."""
    cache = tmp_path_factory.mktemp("wheels")
    frozen = pydeps.agentdock_dists(cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pydeps, "agentdock_dists", lambda *_a, **_k: frozen)
        yield cache


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path
) -> Iterator[tuple[BuildRequest, Any, list[tuple[str, str]]]]:
    root = tmp_path_factory.mktemp("local-builder")
    request = build_request(echo_project(root), root / "home")
    steps: list[tuple[str, str]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECHO_TOKEN", SECRET)
        artifact = LocalBuilder(wheel_cache).build(
            request, lambda step, message, **_: steps.append((step, message))
        )
    yield request, artifact, steps


def test_bundle_holds_app_spec_lock_venv_and_manifest(built: Any) -> None:
    request, artifact, steps = built
    bundle = Path(artifact.ref)
    assert artifact.builder == "local" and not artifact.cached
    assert bundle.parent == request.home / "bundles"
    assert bundle.name == f"echo-{artifact.digest[:16]}"
    assert (bundle / "app" / "spec.yaml").read_text("utf-8") == request.snapshot
    assert (bundle / "app" / "echo" / "graph.py").is_file()
    shipped = {p.relative_to(bundle / "app").as_posix() for p in (bundle / "app").rglob("*")}
    assert ".env" not in shipped
    lock = (bundle / "requirements.lock").read_text("utf-8")
    assert "--hash=sha256:" in lock and "litestar==" in lock
    manifest = json.loads((bundle / "bundle.json").read_text("utf-8"))
    assert manifest["digest"] == artifact.digest
    assert manifest["agent"] == "echo" and manifest["version"] == "0.1.0"
    assert manifest["files"] == len(request.sources)
    assert {"python", "created_at"} <= manifest.keys()
    assert artifact.details["size_bytes"] > 0
    assert artifact.details["files"] == len(request.sources)
    assert {"resolve", "install"} <= {step for step, _ in steps}
    probe = subprocess.run(
        [
            str(bundle / "venv" / "bin" / "python"),
            "-c",
            "import agentdock_runtime, agentdock_plugins.litestar, echo.graph",
        ],
        cwd=bundle / "app",
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr


def test_bundle_is_byte_compiled(built: Any) -> None:
    """A runtime that never writes bytecode still starts without compiling its imports."""
    _request, artifact, _steps = built
    site = next((Path(artifact.ref) / "venv" / "lib").glob("python3*/site-packages"))
    # Whole packages, most of which no start imports (so no start could have compiled them).
    for package in ("langchain_core", "agentdock_runtime"):
        sources = list((site / package).rglob("*.py"))
        missing = [
            source
            for source in sources
            if not list((source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"))
        ]
        assert sources and not missing, f"{len(missing)} module(s) of {package} not compiled"


def test_no_secret_anywhere_in_the_bundle(built: Any) -> None:
    _request, artifact, steps = built
    needle = SECRET.encode()
    for dirpath, _dirs, files in os.walk(artifact.ref):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            assert needle not in path.read_bytes(), path
    assert SECRET not in json.dumps(artifact.to_json())
    assert not any(SECRET in message for _, message in steps)


def test_second_build_is_a_cache_hit(built: Any, wheel_cache: Path) -> None:
    request, artifact, _ = built
    steps: list[str] = []
    again = LocalBuilder(wheel_cache).build(request, lambda step, message, **_: steps.append(step))
    assert again.cached
    assert (again.ref, again.digest) == (artifact.ref, artifact.digest)
    assert "resolve" not in steps and "install" not in steps
    assert LocalBuilder(wheel_cache).exists(again)


def test_one_line_change_gives_a_new_bundle(built: Any, wheel_cache: Path, tmp_path: Path) -> None:
    request, artifact, _ = built
    project = tmp_path / "echo"
    shutil.copytree(request.project_dir, project)
    graph = project / "echo" / "graph.py"
    graph.write_text(graph.read_text("utf-8") + "\n# one more line\n", "utf-8")
    changed = LocalBuilder(wheel_cache).build(build_request(project, request.home), no_progress)
    assert not changed.cached
    assert changed.digest != artifact.digest and changed.ref != artifact.ref
    assert (Path(changed.ref) / "app" / "echo" / "graph.py").read_text().endswith("line\n")
    assert Path(artifact.ref, "bundle.json").is_file()  # the old bundle stays


def test_unresolvable_requirement_is_named_and_leaves_nothing(
    built: Any, wheel_cache: Path, tmp_path: Path
) -> None:
    request, _, _ = built
    project = tmp_path / "echo"
    shutil.copytree(request.project_dir, project)
    (project / "requirements.txt").write_text("agentdock-no-such-package-zq9\n")
    home = tmp_path / "home"
    with pytest.raises(BuildFailed) as caught:
        LocalBuilder(wheel_cache).build(build_request(project, home), no_progress)
    assert "agentdock-no-such-package-zq9" in caught.value.cause
    assert caught.value.exit_code == 3
    assert list((home / "bundles").iterdir()) == []


def test_interrupted_build_leaves_no_bundle(built: Any, wheel_cache: Path, tmp_path: Path) -> None:
    request, _, _ = built
    home = tmp_path / "home"
    req = replace(request, home=home)

    def interrupt(step: str, message: str, **_: Any) -> None:
        if step == "install":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalBuilder(wheel_cache).build(req, interrupt)
    assert list((home / "bundles").iterdir()) == []
    # A build killed outright leaves its temporary; the next build removes it, and a
    # directory under the bundle's name without a manifest is never taken as complete.
    (home / "bundles" / ".echo-0000000000000000.tmp-999999999" / "venv").mkdir(parents=True)
    artifact = LocalBuilder(wheel_cache).build(req, no_progress)
    assert not artifact.cached
    assert [p.name for p in (home / "bundles").iterdir()] == [Path(artifact.ref).name]


def test_half_bundle_without_manifest_is_rebuilt(
    built: Any, wheel_cache: Path, tmp_path: Path
) -> None:
    request, artifact, _ = built
    home = tmp_path / "home"
    half = home / "bundles" / Path(artifact.ref).name
    (half / "app").mkdir(parents=True)
    rebuilt = LocalBuilder(wheel_cache).build(replace(request, home=home), no_progress)
    assert not rebuilt.cached and rebuilt.ref == str(half)
    assert (half / "bundle.json").is_file() and (half / "venv").is_dir()


def test_exists_and_remove(built: Any, wheel_cache: Path, tmp_path: Path) -> None:
    request, _, _ = built
    builder = LocalBuilder(wheel_cache)
    artifact = builder.build(replace(request, home=tmp_path / "home"), no_progress)
    assert builder.exists(artifact)
    builder.remove(artifact)
    assert not builder.exists(artifact)
    assert not Path(artifact.ref).exists()
    builder.remove(artifact)  # absent is fine
    stranger = tmp_path / "not-a-bundle"
    stranger.mkdir()
    builder.remove(replace(artifact, ref=str(stranger)))
    assert stranger.is_dir()


def _lock_versions(lock: Path) -> dict[str, set[str]]:
    """Every version ``uv.lock`` holds for each distribution name."""
    out: dict[str, set[str]] = {}
    for package in tomllib.loads(lock.read_text("utf-8"))["package"]:
        if "version" in package:
            out.setdefault(normalize_name(package["name"]), set()).add(package["version"])
    return out


def test_bundle_installs_the_versions_of_the_project_lock(built: Any) -> None:
    """The tested set ships: every third-party distribution in the bundle is the version
    the workspace's uv.lock pins, whatever newer versions the index offers today."""
    _request, artifact, _steps = built
    locked = _lock_versions(ROOT / "uv.lock")
    site = next((Path(artifact.ref) / "venv" / "lib").glob("python3*/site-packages"))
    installed = {
        normalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions(path=[str(site)])
    }
    own = {normalize_name(n) for n in pydeps.AGENTDOCK_DISTS}
    third = {name: version for name, version in installed.items() if name not in own}
    assert len(third) > 20
    unlocked = sorted(name for name in third if name not in locked)
    assert unlocked == []
    drifted = {n: (v, sorted(locked[n])) for n, v in third.items() if v not in locked[n]}
    assert drifted == {}
    manifest = json.loads((Path(artifact.ref) / "bundle.json").read_text("utf-8"))
    lock_hash = hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    assert manifest["constraints"]["agentdock"] == f"uv.lock:{lock_hash}"


def test_bundle_carries_a_cyclonedx_sbom_of_every_installed_distribution(built: Any) -> None:
    request, artifact, _steps = built
    bundle = Path(artifact.ref)
    document = json.loads((bundle / "sbom.cdx.json").read_text("utf-8"))
    validate_cyclonedx(document)
    site = next((bundle / "venv" / "lib").glob("python3*/site-packages"))
    expected = installed(site)
    assert len(expected) > 20 and "litestar" in expected and "agentdock-runtime" in expected
    assert listed(document) == expected
    meta = document["metadata"]["component"]
    assert (meta["name"], meta["version"]) == ("echo", "0.1.0")
    assert meta["hashes"] == [{"alg": "SHA-256", "content": artifact.digest}]
    # Stored beside the artifact in the registry store, named in the artifact's details.
    stored = request.home / "sbom" / f"{artifact.digest}.cdx.json"
    assert stored.read_bytes() == (bundle / "sbom.cdx.json").read_bytes()
    digest = hashlib.sha256(stored.read_bytes()).hexdigest()
    assert artifact.details["sbom_sha256"] == digest
    assert SECRET not in stored.read_text("utf-8")
