"""The dependency layer over uv: where requirements come from, AgentDock's own wheels,
the reading of uv's resolution failures, and finding uv itself."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from agentdock.deployment.errors import BuildFailed, InvalidDeployInput, TargetUnavailable
from agentdock_plugins import pydeps
from agentdock_plugins.pydeps import dists as dists_mod
from agentdock_plugins.pydeps.lock import unresolvable


def _spec(requirements: str | None) -> SimpleNamespace:
    return SimpleNamespace(build=SimpleNamespace(requirements=requirements))


def test_build_requirements_comes_first(tmp_path: Path) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "prod.txt").write_text("httpx>=0.27\n")
    (tmp_path / "requirements.txt").write_text("rich\n")
    found = pydeps.agent_requirements(tmp_path, _spec("deps/prod.txt"))
    assert found.origin == "build.requirements"
    assert found.file == (tmp_path / "deps" / "prod.txt").resolve()
    assert found.text == "httpx>=0.27\n"


def test_requirements_txt_then_pyproject_then_none(tmp_path: Path) -> None:
    assert pydeps.agent_requirements(tmp_path, _spec(None)).origin == "none"
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "a"\nversion = "1"\ndependencies = ["rich>=13", "six"]\n'
    )
    from_pyproject = pydeps.agent_requirements(tmp_path, None)
    assert from_pyproject.origin == "pyproject.toml"
    assert from_pyproject.lines == ("rich>=13", "six")
    assert from_pyproject.file is None
    (tmp_path / "requirements.txt").write_text("six\n")
    assert pydeps.agent_requirements(tmp_path, None).origin == "requirements.txt"


@pytest.mark.parametrize("declared", ["missing.txt", "../outside.txt"])
def test_bad_build_requirements_is_invalid_input(tmp_path: Path, declared: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.txt").write_text("six\n")
    with pytest.raises(InvalidDeployInput) as caught:
        pydeps.agent_requirements(project, _spec(declared))
    assert caught.value.path == "build.requirements"


def test_unparsable_pyproject_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(InvalidDeployInput, match=r"pyproject\.toml"):
        pydeps.agent_requirements(tmp_path, None)


@pytest.mark.parametrize(
    ("lines", "name"),
    [
        (
            [
                "error: No solution found when resolving dependencies",
                "  cause: Because nope-pkg was not found in the package registry and you "
                "require nope-pkg, we can conclude that your requirements are unsatisfiable.",
            ],
            "nope-pkg",
        ),
        (
            [
                "  × No solution found when resolving dependencies:",
                "  ╰─▶ Because only httpx<=1.0.dev6 is available and you require httpx>=999, "
                "we can conclude that your requirements are unsatisfiable.",
            ],
            "httpx",
        ),
        (
            ["  ╰─▶ Because there are no versions of zzz-lib and you require zzz-lib, ..."],
            "zzz-lib",
        ),
    ],
)
def test_unresolvable_names_the_dependency(lines: list[str], name: str) -> None:
    found, why = unresolvable(lines)
    assert found == name
    assert why.startswith("Because")


def test_unresolvable_without_a_name_keeps_the_message() -> None:
    found, why = unresolvable(["error: Failed to connect to the index"])
    assert found is None
    assert "Failed to connect" in why


def test_uv_platform() -> None:
    assert pydeps.uv_platform("linux/amd64") == "x86_64-manylinux_2_28"
    assert pydeps.uv_platform("linux/arm64") == "aarch64-manylinux_2_28"
    with pytest.raises(BuildFailed, match="linux/s390x"):
        pydeps.uv_platform("linux/s390x")


def test_third_party_requirements_leave_out_agentdock_extras_and_deploy_tools() -> None:
    kept = dists_mod._third_party(
        [
            "agentdock-core",
            "Agentdock_Runtime>=0.1",
            "docker>=7.1",
            "uv>=0.5",
            'pytest; extra == "test"',
            "uvicorn[standard]>=0.30",
            'tomli; python_version < "3.11"',
        ]
    )
    assert kept == ["uvicorn[standard]>=0.30", 'tomli; python_version < "3.11"']


def test_source_hash_follows_sources_not_caches(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='p'\n")
    (tmp_path / "src" / "pkg" / "a.py").write_text("X = 1\n")
    before = dists_mod.source_hash(tmp_path)
    (tmp_path / "src" / "pkg" / "__pycache__").mkdir()
    (tmp_path / "src" / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "p-1.whl").write_bytes(b"\0")
    assert dists_mod.source_hash(tmp_path) == before
    (tmp_path / "src" / "pkg" / "a.py").write_text("X = 2\n")
    assert dists_mod.source_hash(tmp_path) != before


def test_agentdock_wheels_are_built_once_and_carry_their_requirements(tmp_path: Path) -> None:
    cache = tmp_path / "wheels"
    first = pydeps.agentdock_dists(cache)
    if first.pins:
        pytest.skip("AgentDock is installed from an index here: nothing to build")
    names = sorted(w.name.split("-")[0] for w in first.wheels)
    assert names == ["agentdock_core", "agentdock_plugins", "agentdock_runtime"]
    for wheel in first.wheels:
        assert zipfile.is_zipfile(wheel)
    mtimes = [w.stat().st_mtime_ns for w in first.wheels]
    again = pydeps.agentdock_dists(cache)
    assert again.digest == first.digest
    assert [w.stat().st_mtime_ns for w in again.wheels] == mtimes
    lowered = [r.lower() for r in first.requirements]
    assert any(r.startswith("pydantic") for r in lowered)  # core's
    assert any(r.startswith("msgspec") for r in lowered)  # runtime's
    assert not any(r.startswith(("agentdock", "docker", "kubernetes", "uv>")) for r in lowered)
    assert first.install_args == tuple(str(w) for w in first.wheels)


def test_find_uv_prefers_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import uv

    assert pydeps.find_uv() == str(uv.find_uv_bin())


def test_find_uv_missing_is_target_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(TargetUnavailable) as caught:
        pydeps.find_uv()
    assert caught.value.hint and "uv" in caught.value.hint


def test_run_uv_streams_every_line() -> None:
    seen: list[tuple[str, str]] = []
    result = pydeps.run_uv(
        ["--version"], step="probe", progress=lambda s, m, **_: seen.append((s, m))
    )
    assert result.returncode == 0
    assert seen and seen[0][0] == "probe" and seen[0][1].startswith("uv ")
    assert result.lines == [m for _, m in seen]


def _constraint_versions(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        name, _, rest = line.partition("==")
        out.setdefault(name.strip().lower(), []).append(rest.split(";")[0].strip())
    return out


def test_constraints_hold_agentdock_to_the_workspace_lock(tmp_path: Path) -> None:
    agent = pydeps.agent_requirements(tmp_path)
    constraints = pydeps.constraints_for(tmp_path, agent)
    assert constraints.agentdock is not None and constraints.agentdock.kind == "uv.lock"
    assert constraints.agent is None
    pins = _constraint_versions(constraints.lines())
    assert pins["litestar"] and all(v for v in pins["litestar"])
    assert not {"agentdock-core", "agentdock-runtime", "agentdock-plugins"} & pins.keys()


def test_agent_pylock_pins_replace_agentdock_ones(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "hand"\n'
        '[[packages]]\nname = "anyio"\nversion = "4.4.0"\n'
        '[[packages]]\nname = "colorama"\nversion = "0.4.5"\nmarker = "sys_platform == \'win32\'"\n'
    )
    agent = pydeps.agent_requirements(tmp_path)
    before = pydeps.constraints_for(tmp_path, agent)
    assert before.agent is not None and before.agent.kind == "pylock.toml"
    lines = before.lines()
    assert _constraint_versions(lines)["anyio"] == ["4.4.0"]
    assert "colorama==0.4.5 ; sys_platform == 'win32'" in lines
    (tmp_path / "pylock.toml").write_text(
        '[[packages]]\nname = "anyio"\nversion = "4.5.0"\n', encoding="utf-8"
    )
    after = pydeps.constraints_for(tmp_path, agent)
    assert after.digest != before.digest


def test_hashed_requirements_are_the_agent_lock(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# a pip-compile lock\nhttpx==0.27.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "pywin32==306 ; sys_platform == 'win32' --hash=sha256:cc\n-r other.txt\n"
    )
    agent = pydeps.agent_requirements(tmp_path)
    constraints = pydeps.constraints_for(tmp_path, agent)
    assert constraints.agent is not None and constraints.agent.kind == "requirements"
    lines = constraints.lines()
    assert _constraint_versions(lines)["httpx"] == ["0.27.2"]
    assert "pywin32==306 ; sys_platform == 'win32'" in lines
    (tmp_path / "requirements.txt").write_text("httpx>=0.27\n")
    plain = pydeps.constraints_for(tmp_path, pydeps.agent_requirements(tmp_path))
    assert plain.agent is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[[packages]\n", "pylock.toml"),
        ('lock-version = "1.0"\n', "pylock.toml"),
        ('[[packages]]\nname = "anyio"\n', "pylock.toml packages[0]"),
    ],
)
def test_unreadable_pylock_is_invalid_input(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "pylock.toml").write_text(text)
    constraints = pydeps.constraints_for(tmp_path, pydeps.agent_requirements(tmp_path))
    with pytest.raises(InvalidDeployInput) as caught:
        constraints.lines()
    assert caught.value.path == where


def test_broken_agent_uv_lock_is_a_build_failure(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "0"\n')
    (tmp_path / "uv.lock").write_text("version = 1\n[[package]]\nname = \n")
    constraints = pydeps.constraints_for(tmp_path, pydeps.agent_requirements(tmp_path))
    with pytest.raises(BuildFailed) as caught:
        constraints.lines()
    assert "uv.lock" in caught.value.cause and caught.value.exit_code == 3


def test_unused_backends_follow_the_dockfile() -> None:
    from agentdock_plugins.pydeps.lean import NEVER_IMPORTED, leave_out, unused_backends

    api_key = SimpleNamespace(auth=SimpleNamespace(mode="api_key"), observability=None)
    assert unused_backends(api_key) == {"pyjwt", "cryptography", "langfuse"}
    assert leave_out(api_key) == NEVER_IMPORTED | {"pyjwt", "cryptography", "langfuse"}
    jwt = SimpleNamespace(
        auth=SimpleNamespace(mode="jwt"),
        observability=SimpleNamespace(langfuse=SimpleNamespace(public_key="${PK}")),
    )
    assert unused_backends(jwt) == frozenset()
    oauth2 = SimpleNamespace(auth=SimpleNamespace(mode="oauth2"), observability=None)
    assert unused_backends(oauth2) == {"langfuse"}


def test_drop_from_lock_removes_whole_entries(tmp_path: Path) -> None:
    from agentdock_plugins.pydeps.lean import drop_from_lock, without

    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "anyio==4.4.0 \\\n    --hash=sha256:aa\n"
        "Faker==37.0.0 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n"
        "polyfactory==2.0 ; python_version >= '3.8' \\\n    --hash=sha256:dd\n"
        "sniffio==1.3.1 \\\n    --hash=sha256:ee\n"
    )
    assert drop_from_lock(lock, frozenset({"faker", "polyfactory"})) == ["faker", "polyfactory"]
    assert lock.read_text() == (
        "anyio==4.4.0 \\\n    --hash=sha256:aa\nsniffio==1.3.1 \\\n    --hash=sha256:ee\n"
    )
    reqs = ["langfuse>=3", "pyjwt[crypto]>=2.9", "litestar>=2.12"]
    assert without(reqs, frozenset({"langfuse", "pyjwt"})) == ["litestar>=2.12"]


def test_agent_names_read_its_requirements(tmp_path: Path) -> None:
    from agentdock_plugins.pydeps.requirements import agent_names

    (tmp_path / "requirements.txt").write_text("Faker>=30  # test data\n-r more.txt\nhttpx\n")
    assert agent_names(pydeps.agent_requirements(tmp_path)) == {"Faker", "httpx"}
