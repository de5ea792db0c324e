"""Project scaffolding behind ``agentdock init``: render a template into a directory.

A template is a folder under ``agentdock_cli/templates/<name>/``, laid over the files all
templates share (``templates/_common/``). Every file is written to the same relative path in
the target directory; a file ending in ``.tmpl`` loses that suffix and is rendered with
:class:`string.Template`-style ``$agent_name`` (and ``$module_name``, the name with ``-`` as
``_``) substitution, which path parts get too (``src/$module_name/``). A template holding a
``.standalone`` file (``plugin``: a plugin distribution, not an agent) is not laid over
``_common``. Only lowercase ``$name`` placeholders are substituted: the Dockfile's own
``${VAR}`` references, ``$UPPERCASE`` text and any other ``$`` pass through untouched, and
``$$`` writes a literal ``$``.

Scaffolding is all or nothing: when any file it would write already exists, nothing is
written unless ``force`` is set.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

__all__ = [
    "AGENT_NAME_PATTERN",
    "DEFAULT_TEMPLATE",
    "TEMPLATE_SUFFIX",
    "InvalidAgentNameError",
    "PlannedFile",
    "ScaffoldConflictError",
    "ScaffoldError",
    "UnknownTemplateError",
    "available_templates",
    "default_agent_name",
    "plan",
    "scaffold",
]

#: ``agent.name`` in a Dockfile (the schema's pattern).
AGENT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{2,63}$")
DEFAULT_TEMPLATE = "langgraph"
TEMPLATE_SUFFIX = ".tmpl"

_NAME_PREFIX = "agent-"
#: Files every template shares; a template's own file of the same path wins.
_COMMON = "_common"
#: A file in a template that is a whole project of its own (``plugin``): no ``_common``.
_STANDALONE = ".standalone"
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ScaffoldError(Exception):
    """Scaffolding could not start or finish."""


class UnknownTemplateError(ScaffoldError, LookupError):
    """No template has the requested name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.available = available_templates()
        super().__init__(
            f"unknown template {name!r}; available: {', '.join(self.available) or 'none'}"
        )


class InvalidAgentNameError(ScaffoldError, ValueError):
    """The agent name does not fit the Dockfile's ``agent.name`` pattern."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"invalid agent name {name!r}: use a lowercase letter, then 2-63 of [a-z0-9_-]"
        )


class ScaffoldConflictError(ScaffoldError, FileExistsError):
    """Files the template would write already exist; nothing was written."""

    def __init__(self, conflicts: list[Path], *, forceable: bool = True) -> None:
        self.conflicts = conflicts
        self.forceable = forceable
        what = "existing file" if len(conflicts) == 1 else "existing files"
        advice = "pass --force to overwrite" if forceable else "not a file, cannot overwrite"
        listing = ", ".join(str(p) for p in conflicts)
        super().__init__(f"refusing to overwrite {len(conflicts)} {what} ({advice}): {listing}")


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file a template produces: where it goes and what it holds."""

    relative: PurePosixPath
    content: bytes


#: ``$name`` with a lowercase identifier is a placeholder and ``$$`` an escape; any other
#: ``$`` (``${VAR}``, ``$UPPER``, a regex anchor) is literal text and kept verbatim.
_PLACEHOLDER = r"""
    \$(?:
        (?P<escaped>\$)
      | (?P<named>[a-z][a-z0-9_]*)
      | (?P<braced>(?!))
      | (?P<invalid>(?!))
    )
"""


class _Template(string.Template):
    flags = re.NOFLAG
    pattern = _PLACEHOLDER  # type: ignore[assignment]  # compiled by __init_subclass__


def _templates_root() -> Traversable:
    return resources.files("agentdock_cli").joinpath("templates")


def available_templates() -> list[str]:
    """Names of the bundled templates, sorted."""
    root = _templates_root()
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and not entry.name.startswith((".", "_"))
    )


def default_agent_name(directory: str | os.PathLike[str]) -> str:
    """An agent name derived from a directory name: ``My Bot`` → ``my-bot``, ``x`` → ``agent-x``."""
    base = Path(directory).resolve().name
    name = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-_")
    if not name or not name[0].isalpha() or len(name) < 3:
        name = _NAME_PREFIX + name if name else _NAME_PREFIX.rstrip("-")
    name = name[:64].rstrip("-_")
    return name if AGENT_NAME_PATTERN.match(name) else "agent"


def plan(template: str = DEFAULT_TEMPLATE, name: str = "agent") -> list[PlannedFile]:
    """The files ``template`` renders for agent ``name``, sorted by path."""
    if template not in available_templates():
        raise UnknownTemplateError(template)
    if not AGENT_NAME_PATTERN.match(name):
        raise InvalidAgentNameError(name)
    variables = {"agent_name": name, "module_name": name.replace("-", "_"), "template": template}
    root = _templates_root()
    standalone = root.joinpath(template, _STANDALONE).is_file()
    sources: dict[PurePosixPath, Traversable] = {}
    for folder in (template,) if standalone else (_COMMON, template):
        node = root.joinpath(folder)
        if node.is_dir():
            for relative, source in _walk(node, PurePosixPath()).items():
                if relative == PurePosixPath(_STANDALONE):
                    continue
                # A path part may hold placeholders too: src/$module_name/.
                target = PurePosixPath(
                    *(_Template(p).substitute(variables) for p in relative.parts)
                )
                if target.name.endswith(TEMPLATE_SUFFIX):
                    target = target.with_name(target.name[: -len(TEMPLATE_SUFFIX)])
                sources[target] = source
    files: list[PlannedFile] = []
    for target, source in sources.items():
        content = source.read_bytes()
        if source.name.endswith(TEMPLATE_SUFFIX):
            text = _Template(content.decode("utf-8")).substitute(variables)
            content = text.encode("utf-8")
        files.append(PlannedFile(target, content))
    return sorted(files, key=lambda f: f.relative.parts)


def scaffold(
    directory: str | os.PathLike[str],
    template: str = DEFAULT_TEMPLATE,
    name: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Write ``template`` into ``directory`` (created when missing) and return the files.

    :param name: the agent name (default: derived from the directory's name).
    :param force: overwrite files that already exist.
    :raises UnknownTemplateError: no template is called ``template``.
    :raises InvalidAgentNameError: ``name`` does not fit ``agent.name``'s pattern.
    :raises ScaffoldConflictError: files exist and ``force`` is off; nothing was written.
    """
    target = Path(directory)
    agent = name if name is not None else default_agent_name(target)
    files = plan(template, agent)
    if target.exists() and not target.is_dir():
        raise ScaffoldConflictError([target], forceable=False)
    destinations = [target.joinpath(*f.relative.parts) for f in files]
    blocked = [p for p in destinations if _blocked(p, target)]
    if blocked:
        raise ScaffoldConflictError(blocked, forceable=False)
    existing = [p for p in destinations if p.exists()]
    if existing and not force:
        raise ScaffoldConflictError(existing)
    for planned, path in zip(files, destinations, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(planned.content)
    return destinations


def _blocked(path: Path, root: Path) -> bool:
    """Whether something that is not a plain file stands where ``path`` must go."""
    if path.exists() and not path.is_file():
        return True
    parent = path.parent
    while parent != root and parent != parent.parent:
        if parent.exists():
            return not parent.is_dir()
        parent = parent.parent
    return False


def _walk(node: Traversable, relative: PurePosixPath) -> dict[PurePosixPath, Traversable]:
    found: dict[PurePosixPath, Traversable] = {}
    for entry in node.iterdir():
        if entry.is_dir():
            if entry.name not in _SKIPPED_DIRS:
                found.update(_walk(entry, relative / entry.name))
        elif not entry.name.endswith(_SKIPPED_SUFFIXES):
            found[relative / entry.name] = entry
    return found
