"""``agentdock sbom``: the SBOM a build stored beside its artifact, found through the
registry by agent and version, printed as a table or as the CycloneDX document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock import make_plugin_manager
from agentdock.deployment import Artifact, deploy
from agentdock_plugins.pydeps.sbom import sbom_path, write_sbom
from deploy_fakes import FakePlugin
from sbomcheck import validate_cyclonedx

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


def _site(root: Path) -> Path:
    site = root / "site"
    info = site / "tinylib-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinylib\nVersion: 1.2.3\n")
    (info / "RECORD").write_text("tinylib/__init__.py,sha256=abc,0\n")
    return site


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AGENTDOCK_HOME", raising=False)
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    monkeypatch.setenv("AGENTDOCK_CEILING_DIRECTORIES", str(tmp_path.parent))
    plugin = FakePlugin()
    site = _site(tmp_path)
    plain_build = plugin.builder.build

    def build_with_sbom(request: Any, progress: Any) -> Artifact:
        artifact = plain_build(request, progress)
        path = sbom_path(request.home, artifact.digest)
        sha = write_sbom(
            path,
            [site],
            name=request.agent,
            version=request.version,
            digest=artifact.digest,
            kind="bundle",
        )
        details = {**artifact.details, "sbom": str(path), "sbom_sha256": sha}
        return Artifact(artifact.builder, artifact.ref, artifact.digest, artifact.cached, details)

    monkeypatch.setattr(plugin.builder, "build", build_with_sbom)
    manager = make_plugin_manager(entry_points=True, plugins=[("fake", plugin)])
    monkeypatch.setattr("agentdock.plugins.get_plugin_manager", lambda: manager)
    dest = tmp_path / "echo"
    shutil.copytree(ECHO, dest, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    monkeypatch.chdir(dest)
    deploy(dest / "Dockfile.yaml", target="fake", plugins=manager, check_imports=False)
    return dest


def test_sbom_json_is_the_stored_cyclonedx_document(project: Path) -> None:
    code, out, err = run_cli(["sbom", "echo", "--json"], cwd=project)
    assert code == 0, out + err
    document = json.loads(out)
    validate_cyclonedx(document)
    assert [(c["name"], c["version"]) for c in document["components"]] == [("tinylib", "1.2.3")]
    code, again, _ = run_cli(["sbom", "echo", "0.1.0", "--json"], cwd=project)
    assert code == 0 and json.loads(again) == document


def test_sbom_table_names_each_component(project: Path) -> None:
    code, out, err = run_cli(["sbom", "echo"], cwd=project)
    assert code == 0, out + err
    assert "tinylib" in out and "1.2.3" in out and "sbom" in out


@pytest.mark.parametrize(
    "args", [["sbom", "echo", "9.9.9", "--json"], ["sbom", "nosuch", "--json"]]
)
def test_unknown_version_or_agent_is_exit_5(project: Path, args: list[str]) -> None:
    code, out, _err = run_cli(args, cwd=project)
    assert code == 5
    assert json.loads(out.splitlines()[-1])["ok"] is False


def test_version_without_an_sbom_is_exit_5(project: Path) -> None:
    for stored in (project / ".agentdock" / "sbom").glob("*.cdx.json"):
        stored.unlink()
    code, out, _err = run_cli(["sbom", "echo", "--json"], cwd=project)
    assert code == 5 and "no SBOM" in out
