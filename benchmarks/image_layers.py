"""Size of AgentDock's layers above the base, per layer, with and without native slimming.

    uv run --frozen python benchmarks/image_layers.py [echo] [chat]

Builds each example (default: echo and chat) with the Docker builder on the tests' Debian
bookworm base (``tests/dockerbase.py``; made by debootstrap the first time), twice in the
same run: first as before native slimming (the earlier cache layout, extensions kept as the
wheels ship them: the baseline), then as the builder does now (debug info stripped from
native extensions, zstandard's CFFI backend removed: :mod:`agentdock_plugins.pydeps.native`).
Prints ``docker history`` of each image above the base, the total and the ratio. The goal:
AgentDock's layers <= 150 MB above the base. Printed, not asserted.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from agentdock_plugins.docker import deps as deps_module  # noqa: E402
from agentdock_plugins.docker.builder import DockerBuilder  # noqa: E402
from agentdock_plugins.pydeps.native import SlimReport  # noqa: E402
from build_requests import build_request  # noqa: E402
from dockerbase import docker_client, ensure_base_image  # noqa: E402

_SLIM_LAYOUT = deps_module._LAYOUT
_SLIM = deps_module.slim_tree


def _quiet(step: str, message: str, **fields: Any) -> None:
    return None


def _as_before(on: bool) -> None:
    """Build as before slimming (its own cache layout, nothing stripped) or as now."""
    deps_module._LAYOUT = "2" if on else _SLIM_LAYOUT
    deps_module.slim_tree = (lambda *a, **k: SlimReport()) if on else _SLIM  # type: ignore[assignment]


def layers(client: Any, ref: str, base: str) -> list[tuple[str, int]]:
    """(step, bytes) of each layer of ``ref`` above ``base``, bottom to top."""
    history = client.api.history(ref)
    above = history[: len(history) - len(client.api.history(base))]
    return [(" ".join(h["CreatedBy"].split())[-70:], int(h["Size"])) for h in reversed(above)]


def build(client: Any, example: str, base: str, home: Path, before: bool) -> list[tuple[str, int]]:
    _as_before(before)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / example
        shutil.copytree(
            ROOT / "examples" / example,
            project,
            ignore=shutil.ignore_patterns("__pycache__", "tests"),
        )
        request = build_request(project, home, options={"base_image": base})
        artifact = DockerBuilder().build(request, _quiet)
    return layers(client, artifact.ref, base)


def main() -> None:
    examples = sys.argv[1:] or ["echo", "chat"]
    client = docker_client()
    base = ensure_base_image(client)
    with tempfile.TemporaryDirectory() as home:
        for example in examples:
            totals = {}
            for label, before in (("before (as wheels ship)", True), ("after (slimmed)", False)):
                rows = build(client, example, base, Path(home), before)
                totals[label] = sum(size for _, size in rows)
                print(f"\n{example}, {label}: layers above {base}")
                for step, size in rows:
                    print(f"  {size / 1e6:8.1f} MB  {step}")
                print(f"  {totals[label] / 1e6:8.1f} MB  total")
            before_mb, after_mb = (v / 1e6 for v in totals.values())
            print(
                f"{example}: {before_mb:.1f} MB -> {after_mb:.1f} MB above the base "
                f"({after_mb / before_mb:.2f}x, goal <= 150 MB)"
            )
    _as_before(False)


if __name__ == "__main__":
    main()
