"""Native extensions of a dependency tree lose their debug info and nothing else.

The tree is assembled from the distributions installed in this environment (PyYAML and
zstandard, whose wheels ship extensions with DWARF debug info), hard-linked as uv installs
them, then slimmed; each check runs the real ``strip`` and imports the result in a fresh
interpreter.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from agentdock_plugins.docker.deps import requirements_key
from agentdock_plugins.pydeps import AgentDockDists, AgentRequirements
from agentdock_plugins.pydeps.native import can_strip, slim_tree

SITE = Path(sysconfig.get_paths()["purelib"])

pytestmark = pytest.mark.skipif(
    shutil.which("strip") is None or shutil.which("readelf") is None,
    reason="GNU binutils (strip, readelf) are not installed",
)


def _link_dist(site: Path, dist_info: str, packages: tuple[str, ...]) -> None:
    """Hard-link a distribution's files into ``site``, as uv's install does from its cache."""
    for top in (dist_info, *packages):
        for src in (SITE / top).rglob("*"):
            if "__pycache__" in src.parts or not src.is_file():
                continue
            dst = site / src.relative_to(SITE)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def _dist_info(name: str) -> str:
    return next(p.name for p in SITE.glob(f"{name}-*.dist-info"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    _link_dist(site, _dist_info("pyyaml"), ("yaml", "_yaml"))
    _link_dist(site, _dist_info("zstandard"), ("zstandard",))
    return site


def _has_debug_info(path: Path) -> bool:
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return ".debug_info" in out.stdout


def _record(site: Path, dist: str) -> dict[str, list[str]]:
    text = next(site.glob(f"{dist}-*.dist-info/RECORD")).read_text("utf-8")
    return {row[0]: row for row in csv.reader(io.StringIO(text)) if row}


def _run_in(site: Path, code: str) -> str:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_extensions_lose_debug_info_and_still_import(tree: Path) -> None:
    yaml_ext = next(tree.glob("yaml/_yaml*.so"))
    zstd_ext = next(tree.glob("zstandard/backend_c*.so"))
    assert _has_debug_info(yaml_ext) and _has_debug_info(zstd_ext)  # as the wheels ship them
    before = yaml_ext.stat().st_size

    report = slim_tree(tree)

    assert not _has_debug_info(yaml_ext)
    assert not _has_debug_info(zstd_ext)
    assert yaml_ext.stat().st_size < before
    assert report.saved > 0 and "yaml/" + yaml_ext.name in report.stripped
    # the files uv's cache links to are unchanged
    assert _has_debug_info(next(SITE.glob("yaml/_yaml*.so")))
    assert list((SITE / "zstandard").glob("_cffi*.so"))
    got = _run_in(
        tree,
        "import yaml, zstandard; assert yaml.__with_libyaml__; "
        "data = b'agentdock ' * 1000; "
        "assert zstandard.decompress(zstandard.compress(data)) == data; "
        "print(zstandard.backend, yaml.load('a: [1, 2]', Loader=yaml.CLoader))",
    )
    assert got == "cext {'a': [1, 2]}"


def test_zstandard_cffi_backend_removed_and_record_matches(tree: Path) -> None:
    report = slim_tree(tree)

    assert not list(tree.glob("zstandard/_cffi*.so"))
    assert not (tree / "zstandard/backend_cffi.py").exists()
    assert "zstandard/backend_cffi.py" in report.removed
    rows = _record(tree, "zstandard")
    assert not [name for name in rows if "cffi" in name]
    for rel in report.stripped:  # every changed file's RECORD row names its new bytes
        dist = "zstandard" if rel.startswith("zstandard/") else "pyyaml"
        row = _record(tree, dist)[rel]
        data = (tree / rel).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert row[1:] == [f"sha256={digest}", str(len(data))]


def test_the_agents_own_distributions_stay_as_shipped(tree: Path) -> None:
    yaml_ext = next(tree.glob("yaml/_yaml*.so"))
    shipped = yaml_ext.read_bytes()

    report = slim_tree(tree, agent_names=["PyYAML"])

    assert yaml_ext.read_bytes() == shipped
    assert not [rel for rel in report.stripped if rel.startswith("yaml/")]
    assert not _has_debug_info(next(tree.glob("zstandard/backend_c*.so")))


def test_a_tree_without_strip_for_its_architecture_is_left_and_said(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    lines: list[str] = []

    report = slim_tree(tree, progress=lambda _step, message, **_: lines.append(message))

    assert report.stripped == [] and report.foreign
    assert _has_debug_info(next(tree.glob("yaml/_yaml*.so")))
    assert any("debug info kept" in line and "no GNU strip" in line for line in lines)


def test_the_cache_key_knows_whether_the_platform_could_be_stripped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A tree left unstripped (no strip for its architecture) is made again, not reused,
    once a strip is installed."""
    agent = AgentRequirements(origin="requirements.txt", text="langgraph\n")
    dists = AgentDockDists(wheels=(), pins=(), requirements=("litestar",), digest="d")
    with_strip = requirements_key(agent, dists, "3.11", "linux/arm64")
    assert can_strip("linux/amd64") is True
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert can_strip("linux/arm64") is False
    assert requirements_key(agent, dists, "3.11", "linux/arm64") != with_strip
