"""Finding and reading what an audit looks at, without importing or running any of it.

The walk never follows a directory symlink (so a symlink loop cannot trap it), skips
virtual environments and caches, and turns every file it cannot use (unreadable, binary,
too large, a symlink, Python that does not parse) into a :class:`FileProblem` instead of
an exception: one bad file never stops the audit of the others.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agentdock.readiness.gitignore import GitIgnores
from agentdock.readiness.model import FileProblem

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DOCKFILE_NAMES",
    "AgentSources",
    "SourceFile",
    "collect",
    "file_kind",
    "left_unread",
]

#: Files larger than this are skipped (and said to be): generated code, data, vendored blobs.
DEFAULT_MAX_BYTES = 1_000_000

_PRUNED = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".agentdock",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "site-packages",
    }
)
#: The file names that make a directory an agent.
DOCKFILE_NAMES = ("Dockfile.yaml", "Dockfile.yml")
_COMPOSE = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$")
_REQUIREMENTS = re.compile(r"^requirements[\w.-]*\.txt$")
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults"})

#: Test code connects to localhost and plants secrets on purpose; it is not deployed, so it
#: is left out unless asked for (``include_tests``).
_TEST_DIRS = frozenset({"tests", "test", "testing"})
#: Symlinks are not followed by design (a loop, a path outside the tree): no code is
#: missed that the tree itself holds, so they are problems but not unread code.
_SYMLINK = "symlink not followed"
_SYMLINKED_DIRECTORY = "symlinked directory not followed"
N = TypeVar("N", bound=ast.AST)
T = TypeVar("T")


def file_kind(name: str) -> str | None:
    """What a file is by its name: ``python``, ``dockerfile``, ``compose``, ``env``,
    ``env-template``, ``requirements``, ``pyproject``, ``dockfile``; ``None`` when the audit
    does not read it."""
    if name.endswith(".py"):
        return "python"
    if name in ("Dockerfile", "Containerfile") or name.startswith("Dockerfile."):
        return "dockerfile"
    if name.endswith(".Dockerfile") or name.endswith(".dockerfile"):
        return "dockerfile"
    if name in DOCKFILE_NAMES:
        return "dockfile"
    if _COMPOSE.match(name):
        return "compose"
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        suffix = name.rsplit(".", 1)[-1]
        return "env-template" if suffix in _ENV_TEMPLATES else "env"
    if _REQUIREMENTS.match(name):
        return "requirements"
    if name == "pyproject.toml":
        return "pyproject"
    return None


@dataclass(eq=False)
class SourceFile:
    """One file of an agent: its text and, for Python, its syntax tree parsed once and
    indexed by node type once, so that every rule reads the same tree. Node lists are in
    no particular order; rules that report "the first" sort by line themselves."""

    path: Path
    rel: str
    kind: str
    text: str
    agent: str = ""
    #: Whether git ignores the file (read for ``.env`` files only; see
    #: :mod:`agentdock.readiness.gitignore`).
    git_ignored: bool = False
    _lines: list[str] | None = field(default=None, repr=False)
    _tree: ast.Module | None = field(default=None, repr=False)
    _index: dict[type[ast.AST], list[ast.AST]] | None = field(default=None, repr=False)
    _parents: dict[int, ast.AST] | None = field(default=None, repr=False)
    _memo: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def line_text(self, line: int) -> str:
        lines = self.lines
        return lines[line - 1] if 0 < line <= len(lines) else ""

    @property
    def tree(self) -> ast.Module | None:
        """The parsed module (``None`` for other kinds, or where it did not parse)."""
        return self._tree

    def parse(self) -> FileProblem | None:
        """Parse Python once; a syntax error is returned as a problem, never raised."""
        if self.kind != "python":
            return None
        try:
            self._tree = ast.parse(self.text, filename=self.rel)
        except SyntaxError as exc:
            cause = (exc.msg or "invalid syntax").splitlines()[0]
            return FileProblem(self.rel, f"Python does not parse: {cause}", exc.lineno)
        except (ValueError, RecursionError, MemoryError) as exc:
            return FileProblem(self.rel, f"Python does not parse: {type(exc).__name__}")
        return None

    def nodes(self, kind: type[N]) -> list[N]:
        """Every node of ``kind`` (exactly that type) in the tree, gathered in one walk for
        all types the first time any is asked for."""
        if self._index is None:
            self._index = _index(self._tree)
        return self._index.get(kind, [])  # type: ignore[return-value]

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The node holding ``node`` (the map is built on first use: few rules need it)."""
        if self._parents is None:
            parents: dict[int, ast.AST] = {}
            for above in ast.walk(self._tree) if self._tree is not None else ():
                for child in ast.iter_child_nodes(above):
                    parents[id(child)] = above
            self._parents = parents
        return self._parents.get(id(node))

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per file under ``key``: what several rules derive from the same
        tree (call names, environment reads) is derived once."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[return-value]


def _index(tree: ast.Module | None) -> dict[type[ast.AST], list[ast.AST]]:
    index: dict[type[ast.AST], list[ast.AST]] = {}
    if tree is None:
        return index
    todo: list[ast.AST] = [tree]
    pop, push = todo.pop, todo.extend
    while todo:
        node = pop()
        kind = type(node)
        found = index.get(kind)
        if found is None:
            index[kind] = [node]
        else:
            found.append(node)
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                push(v for v in value if isinstance(v, ast.AST))
    return index


@dataclass(eq=False)
class AgentSources:
    """An agent: a directory holding a Dockfile (or a Python package), and its files."""

    name: str
    path: str
    files: list[SourceFile] = field(default_factory=list)
    #: Whether it runs under the AgentDock runtime (a Dockfile), which binds, serves
    #: ``/health`` and drains on SIGTERM by itself.
    dockfile: bool = False

    def of_kind(self, kind: str) -> Iterator[SourceFile]:
        return (f for f in self.files if f.kind == kind)


def _walk(
    root: Path, problems: list[FileProblem], include_tests: bool
) -> Iterator[tuple[str, list[str], list[str]]]:
    def onerror(exc: OSError) -> None:
        where = _rel(Path(exc.filename), root) if exc.filename else "."
        problems.append(FileProblem(where, f"cannot read directory: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            if d in _PRUNED or d.endswith(".egg-info"):
                continue
            if not include_tests and d in _TEST_DIRS:
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                problems.append(FileProblem(_rel(Path(dirpath, d), root), _SYMLINKED_DIRECTORY))
                continue
            keep.append(d)
        dirnames[:] = keep
        yield dirpath, dirnames, sorted(filenames)


def _is_test(name: str) -> bool:
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _printable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe(text: str) -> str:
    """``text`` with undecodable bytes (surrogate escapes) written as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _rel(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    return _safe(rel) or "."


def _read(path: Path, rel: str, max_bytes: int) -> str | FileProblem:
    try:
        if path.is_symlink():
            return FileProblem(rel, _SYMLINK)
        size = path.stat().st_size
        if size > max_bytes:
            return FileProblem(rel, f"skipped: {size} bytes, over the {max_bytes}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        return FileProblem(rel, f"cannot read: {exc.strerror or type(exc).__name__}")
    if b"\x00" in data[:8192]:
        return FileProblem(rel, "skipped: binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return FileProblem(rel, "skipped: not UTF-8 text")


def collect(
    root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, include_tests: bool = False
) -> tuple[list[AgentSources], list[FileProblem], int]:
    """Find the agents under ``root`` and read their files.

    Test code (``tests/`` directories, ``test_*.py``, ``*_test.py``, ``conftest.py``) is left
    out unless ``include_tests``. Agents are the directories holding a Dockfile; where there
    is none, the top-level Python packages (a directory with ``__init__.py`` whose parent
    has none). Files outside every agent belong to one named after ``root`` itself.

    :returns: ``(agents, problems, files_read)``.
    """
    problems: list[FileProblem] = []
    found: list[tuple[str, str, Path, str]] = []  # (dir rel, file rel, path, kind)
    dockfile_dirs: set[str] = set()
    package_dirs: set[str] = set()
    for dirpath, _dirs, filenames in _walk(root, problems, include_tests):
        here = _rel(Path(dirpath), root)
        for name in filenames:
            kind = file_kind(name)
            if kind is None or (not include_tests and _is_test(name)):
                continue
            if not _printable(name):
                where = _safe(name if here == "." else f"{here}/{name}")
                problems.append(FileProblem(where, "skipped: file name is not UTF-8"))
                continue
            if kind == "dockfile":
                dockfile_dirs.add(here)
            if name == "__init__.py":
                package_dirs.add(here)
            rel = name if here == "." else f"{here}/{name}"
            found.append((here, rel, Path(dirpath, name), kind))
    if dockfile_dirs:
        agent_dirs = dockfile_dirs
    else:
        agent_dirs = {d for d in package_dirs if d != "." and _parent(d) not in package_dirs}
    agents: dict[str, AgentSources] = {
        d: AgentSources(_agent_name(d, root), d, dockfile=d in dockfile_dirs)
        for d in sorted(agent_dirs)
    }
    read = 0
    ignores = GitIgnores(root)
    for here, rel, path, kind in found:
        owner = _owner(here, agent_dirs)
        if owner not in agents:
            agents[owner] = AgentSources(_agent_name(owner, root), owner)
        text = _read(path, rel, max_bytes)
        if isinstance(text, FileProblem):
            problems.append(text)
            continue
        read += 1
        source = SourceFile(path, rel, kind, text, agent=agents[owner].name)
        if kind == "env":
            source.git_ignored = ignores.ignored(rel)
        problem = source.parse()
        if problem is not None:
            problems.append(problem)
        agents[owner].files.append(source)
    ordered = sorted(agents.values(), key=lambda a: a.path)
    return ordered, problems, read


def _parent(rel: str) -> str:
    head, sep, _ = rel.rpartition("/")
    return head if sep else "."


def _owner(here: str, agent_dirs: set[str]) -> str:
    """The deepest agent directory holding ``here`` (``.`` when none does)."""
    current = here
    while True:
        if current in agent_dirs:
            return current
        if current == ".":
            return "."
        current = _parent(current)


def _agent_name(rel: str, root: Path) -> str:
    if rel == ".":
        return root.resolve().name or "root"
    return rel


def left_unread(problem: FileProblem) -> bool:
    """Whether a problem of :func:`collect` is code the audit could not judge (unreadable,
    too large, binary, not UTF-8, not parsing), rather than a symlink left out by design."""
    return problem.reason not in (_SYMLINK, _SYMLINKED_DIRECTORY)
