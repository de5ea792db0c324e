"""No AgentDock module draws from the ``random`` module's shared generator: an agent that
seeds it for reproducible runs must get the same sequence whatever AgentDock does around
it (span ids, retry jitter, checkpoint versions use ``agentdock_plugins.privaterandom``)."""

from __future__ import annotations

import ast
import random
from pathlib import Path

_PACKAGES = Path(__file__).resolve().parents[2] / "packages"
_SHARED = {name for name in dir(random) if callable(getattr(random, name))} - {
    "Random",
    "SystemRandom",
}


def _shared_draws(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "random":
            found += [alias.name for alias in node.names if alias.name in _SHARED]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr in _SHARED
        ):
            found.append(f"random.{node.attr} (line {node.lineno})")
    return found


def test_the_check_sees_a_shared_draw() -> None:
    assert _shared_draws("import random\nx = random.uniform(0, 1)\n")
    assert _shared_draws("from random import getrandbits\n")
    assert not _shared_draws("import random\nR = random.Random()\n")


def test_no_module_draws_from_the_shared_generator() -> None:
    sources = sorted(_PACKAGES.glob("*/src/**/*.py"))
    assert len(sources) > 100
    offenders = {
        str(path.relative_to(_PACKAGES)): draws
        for path in sources
        if (draws := _shared_draws(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
