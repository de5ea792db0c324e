"""Agents hosted side by side import their own code, afresh on each load."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentdock_runtime.freshimport import import_fresh


def _agent(root: Path, name: str, value: str) -> Path:
    """An agent directory ``name`` whose package ``agent`` (the same name in each) says
    ``value``."""
    directory = root / name
    package = directory / "agent"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "graph.py").write_text(f"VALUE = {value!r}\n\ndef build():\n    return VALUE\n")
    return directory


@pytest.fixture
def clean_modules() -> Iterator[None]:
    path = list(sys.path)
    yield
    for name in [n for n in sys.modules if n == "agent" or n.startswith("agent.")]:
        del sys.modules[name]
    sys.path[:] = path


@pytest.mark.usefixtures("clean_modules")
def test_two_agents_with_one_package_name_get_their_own_code(tmp_path: Path) -> None:
    first = _agent(tmp_path, "first", "one")
    second = _agent(tmp_path, "second", "two")
    build_first = import_fresh("agent.graph:build", first, tmp_path)
    build_second = import_fresh("agent.graph:build", second, tmp_path)
    assert build_first() == "one"
    assert build_second() == "two"


@pytest.mark.usefixtures("clean_modules")
def test_a_changed_module_is_imported_anew_and_installed_ones_are_kept(tmp_path: Path) -> None:
    directory = _agent(tmp_path, "only", "before")
    assert import_fresh("agent.graph:build", directory, tmp_path)() == "before"
    graph = directory / "agent" / "graph.py"
    graph.write_text(graph.read_text().replace("'before'", "'after, longer'"))
    json_module = sys.modules["json"]
    assert import_fresh("agent.graph:build", directory, tmp_path)() == "after, longer"
    assert sys.modules["json"] is json_module is json
