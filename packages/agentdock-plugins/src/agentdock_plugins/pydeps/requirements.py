"""Where an agent declares its own third-party requirements."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentdock.deployment.errors import InvalidDeployInput

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["AgentRequirements", "agent_names", "agent_requirements"]

Origin = Literal["build.requirements", "requirements.txt", "pyproject.toml", "none"]


@dataclass(frozen=True, slots=True)
class AgentRequirements:
    """The agent's requirements and where they came from.

    ``file`` is set for a requirements file (passed to uv as ``-r FILE`` so its ``-r``/``-c``
    lines and options keep working); ``lines`` holds the specifiers of ``pyproject.toml``.
    ``text`` is the input as read, for content-addressed digests that must not resolve.
    """

    origin: Origin
    file: Path | None = None
    lines: tuple[str, ...] = ()
    text: str = ""


def _build_requirements(spec: DockSpec | None) -> str | None:
    build = getattr(spec, "build", None)
    value = getattr(build, "requirements", None) if build is not None else None
    return str(value) if value else None


def agent_requirements(project_dir: Path, spec: DockSpec | None = None) -> AgentRequirements:
    """Find the agent's requirements: ``build.requirements`` (a path relative to the
    project, Dockfile 1.1), else ``requirements.txt``, else ``[project].dependencies`` of
    ``pyproject.toml``, else none.

    :raises InvalidDeployInput: ``build.requirements`` names a file that is not there or
        lies outside the project, or ``pyproject.toml`` cannot be parsed.
    """
    root = Path(project_dir).resolve()
    declared = _build_requirements(spec)
    if declared is not None:
        path = (root / declared).resolve()
        if not path.is_relative_to(root):
            raise InvalidDeployInput(
                f"build.requirements points outside the project: {declared}",
                path="build.requirements",
            )
        if not path.is_file():
            raise InvalidDeployInput(
                f"build.requirements: {declared} does not exist",
                hint="give a requirements file path relative to the Dockfile's directory",
                path="build.requirements",
            )
        return AgentRequirements("build.requirements", path, (), path.read_text("utf-8"))
    txt = root / "requirements.txt"
    if txt.is_file():
        return AgentRequirements("requirements.txt", txt, (), txt.read_text("utf-8"))
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text("utf-8")
        try:
            deps = tomllib.loads(text).get("project", {}).get("dependencies", [])
        except tomllib.TOMLDecodeError as exc:
            raise InvalidDeployInput(f"pyproject.toml cannot be parsed: {exc}") from None
        lines = tuple(str(d) for d in deps)
        if lines:
            return AgentRequirements("pyproject.toml", None, lines, "\n".join(lines))
    return AgentRequirements("none")


_NAME_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def agent_names(agent: AgentRequirements) -> set[str]:
    """The distribution names the agent asks for by name (its lines, or its requirements
    file's lines; options and nested files are not followed)."""
    lines = agent.lines or tuple(agent.text.splitlines())
    names = set()
    for line in lines:
        text = line.split("#", 1)[0].strip()
        match = _NAME_LINE.match(text)
        if match and not text.startswith("-"):
            names.add(match.group(1))
    return names
