"""YAML files to plain data, with positions, limits and ``!include``.

PyYAML's safe parser produces the event stream; the node tree is composed here without
recursion (so absurd nesting is refused by a depth limit rather than the interpreter's
stack) and the data is built by walking that tree. Walking it ourselves records where
every value starts, counts each node visit (an alias is expanded wherever it is used,
which defuses "billion laughs" documents) and keeps the output JSON-compatible: mapping
keys are the key's source text, timestamps stay strings, non-finite floats and tags
outside the YAML core schema are refused.

Every problem becomes a :class:`~agentdock.findings.Finding`; one that makes further work
pointless (a limit, a syntax error) is raised as :class:`SourceError` and carries one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from agentdock.findings import Code, Finding, Path

try:
    from yaml import CSafeLoader as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

__all__ = [
    "INCLUDE_TAG",
    "MappingNode",
    "Node",
    "ParsedSource",
    "ScalarNode",
    "SequenceNode",
    "SourceError",
    "SourceFile",
    "SourceLocation",
    "compose",
    "describe",
    "load_yaml_file",
    "read_text",
    "resolve_plain",
]

INCLUDE_TAG: Final = "!include"

_CORE = "tag:yaml.org,2002:"
_STR: Final = _CORE + "str"
_NULL: Final = _CORE + "null"
_BOOL: Final = _CORE + "bool"
_INT: Final = _CORE + "int"
_FLOAT: Final = _CORE + "float"
_TIMESTAMP: Final = _CORE + "timestamp"
_MERGE: Final = _CORE + "merge"
_VALUE: Final = _CORE + "value"
_SEQ: Final = _CORE + "seq"
_MAP: Final = _CORE + "map"

#: Scalar tags whose value is their text: timestamps stay strings, ``=`` and ``<<`` as values.
_TEXT_TAGS: Final = frozenset({_STR, _TIMESTAMP, _MERGE, _VALUE})

_CONSTRUCTOR = SafeConstructor()
_resolve = cast(Callable[[type, str, tuple[bool, bool]], str], Resolver().resolve)
_SCALAR_BUILDERS: Final[dict[str, Callable[[yaml.ScalarNode], Any]]] = {
    _NULL: _CONSTRUCTOR.construct_yaml_null,
    _BOOL: _CONSTRUCTOR.construct_yaml_bool,
    _INT: _CONSTRUCTOR.construct_yaml_int,
    _FLOAT: _CONSTRUCTOR.construct_yaml_float,
}

#: Characters YAML does not allow in a stream (PyYAML's reader uses the same class).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a node starts: the file as displayed, and a 1-based line and column."""

    file: str
    line: int
    column: int


class SourceError(Exception):
    """A problem that ends loading; carries the finding that describes it."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file nodes come from."""

    #: The name shown in findings and the source map.
    display: str
    #: The directory its ``!include`` paths are relative to.
    directory: str


class ScalarNode:
    __slots__ = ("location", "retypable", "source", "tag", "value")

    def __init__(
        self, tag: str, value: str, retypable: bool, source: SourceFile, location: SourceLocation
    ) -> None:
        self.tag = tag
        self.value = value
        #: A plain scalar whose tag came from implicit resolution (not quoted, not tagged).
        self.retypable = retypable
        self.source = source
        self.location = location


class SequenceNode:
    __slots__ = ("items", "location", "source", "tag")

    def __init__(self, tag: str, source: SourceFile, location: SourceLocation) -> None:
        self.tag = tag
        self.items: list[Node] = []
        self.source = source
        self.location = location


class MappingNode:
    __slots__ = ("location", "pairs", "source", "tag")

    def __init__(self, tag: str, source: SourceFile, location: SourceLocation) -> None:
        self.tag = tag
        self.pairs: list[tuple[Node, Node]] = []
        self.source = source
        self.location = location


Node = ScalarNode | SequenceNode | MappingNode


def _error(
    message: str,
    *,
    path: Path = (),
    file: str | None = None,
    line: int | None = None,
    code: Code = Code.DockfileSyntaxError,
    hint: str | None = None,
) -> Finding:
    return Finding(code=code, path=path, message=message, hint=hint, file=file, line=line)


def _at(node: Node, message: str, path: Path, code: Code = Code.DockfileSyntaxError) -> Finding:
    where = node.location
    return _error(message, path=path, file=where.file, line=where.line, code=code)


def describe(value: Any) -> str:
    """The YAML-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


# -- reading ---------------------------------------------------------------------------


def read_text(
    path: str | os.PathLike[str],
    display: str,
    max_bytes: int,
    *,
    check_characters: bool = True,
    regular_only: bool = False,
) -> str:
    """Read a UTF-8 text file of at most ``max_bytes`` bytes.

    The size of a regular file is checked before it is opened, and at most
    ``max_bytes + 1`` bytes are ever read, so neither a huge nor a growing file (or a
    pipe) is taken in whole. ``regular_only`` refuses pipes and devices outright.
    ``check_characters`` refuses characters YAML does not allow (NUL, most controls).
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise SourceError(_error("file not found", file=display)) from None
    except OSError as exc:
        raise SourceError(_error(f"cannot read file: {exc.strerror}", file=display)) from None
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(_error("is a directory, not a file", file=display))
    if regular_only and not stat.S_ISREG(info.st_mode):
        raise SourceError(_error("not a regular file", file=display))
    limit = f"the limit is {max_bytes}"
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
        raise SourceError(_error(f"file is {info.st_size} bytes; {limit}", file=display))
    try:
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(_error(f"cannot read file: {exc.strerror}", file=display)) from None
    if len(data) > max_bytes:
        raise SourceError(_error(f"file is more than {max_bytes} bytes; {limit}", file=display))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (invalid byte at line {line})"
        raise SourceError(_error(message, file=display, line=line)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if check_characters:
        bad = _NON_PRINTABLE.search(text)
        if bad is not None:
            line = text.count("\n", 0, bad.start()) + 1
            column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
            what = "a NUL byte" if bad.group() == "\x00" else f"U+{ord(bad.group()):04X}"
            message = f"not UTF-8 text: contains {what} at line {line}, column {column}"
            raise SourceError(_error(message, file=display, line=line))
    return text


# -- composing -------------------------------------------------------------------------


def _yaml_error(exc: yaml.YAMLError, source: SourceFile) -> Finding:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            problem = f"{problem} ({exc.context})"
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
            message = f"invalid YAML: {problem} (line {line}, column {column})"
            return _error(message, file=source.display, line=line)
        return _error(f"invalid YAML: {problem}", file=source.display)
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return _error(f"invalid YAML: {first}", file=source.display)


def _position(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


class _Frame:
    __slots__ = ("node", "pending")

    def __init__(self, node: SequenceNode | MappingNode) -> None:
        self.node = node
        self.pending: Node | None = None


def compose(text: str, source: SourceFile, *, max_depth: int) -> Node | None:
    """Compose the single YAML document in ``text``; ``None`` when there is none."""
    try:
        parser = _Parser(text)
    except yaml.YAMLError as exc:
        raise SourceError(_yaml_error(exc, source)) from None
    try:
        return _compose(parser, source, max_depth)
    except yaml.YAMLError as exc:
        raise SourceError(_yaml_error(exc, source)) from None
    finally:
        parser.dispose()


def _compose(parser: Any, source: SourceFile, max_depth: int) -> Node | None:
    get = parser.get_event
    get()  # StreamStartEvent
    if isinstance(get(), yaml.StreamEndEvent):
        return None
    anchors: dict[str, Node] = {}
    stack: list[_Frame] = []
    root: Node | None = None
    while True:
        event = get()
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            stack.pop()
            if not stack:
                break
            continue
        line, column = _position(event)
        node: Node
        opened: SequenceNode | MappingNode | None = None
        if isinstance(event, yaml.AliasEvent):
            found = anchors.get(event.anchor or "")
            if found is None:
                message = f"unknown alias '*{event.anchor}'"
                raise SourceError(_error(message, file=source.display, line=line))
            node = found
        else:
            location = SourceLocation(source.display, line, column)
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                retypable = tag is None and not event.style
                if tag is None:
                    tag = _resolve(yaml.ScalarNode, event.value, event.implicit)
                elif tag == "!":  # the non-specific tag: a string, whatever it looks like
                    tag = _STR
                node = ScalarNode(tag, event.value, retypable, source, location)
            else:
                if len(stack) >= max_depth:
                    message = f"nesting deeper than {max_depth} levels"
                    raise SourceError(_error(message, file=source.display, line=line))
                if isinstance(event, yaml.SequenceStartEvent):
                    tag = _SEQ if event.tag in (None, "!") else event.tag
                    opened = SequenceNode(tag, source, location)
                else:
                    tag = _MAP if event.tag in (None, "!") else event.tag
                    opened = MappingNode(tag, source, location)
                node = opened
            if event.anchor is not None:
                anchors[event.anchor] = node
        if stack:
            frame = stack[-1]
            parent = frame.node
            if isinstance(parent, SequenceNode):
                parent.items.append(node)
            elif frame.pending is None:
                frame.pending = node
            else:
                parent.pairs.append((frame.pending, node))
                frame.pending = None
        else:
            root = node
        if opened is not None:
            stack.append(_Frame(opened))
        elif not stack:
            break
    get()  # DocumentEndEvent
    event = get()
    if isinstance(event, yaml.DocumentStartEvent):
        line = _position(event)[0]
        message = f"several YAML documents in one file (another starts at line {line})"
        raise SourceError(_error(message, file=source.display, line=line))
    return root


# -- building --------------------------------------------------------------------------


def resolve_plain(text: str) -> Any:
    """Type ``text`` as YAML types a plain scalar: null, bool, int, finite float, else str."""
    tag = _resolve(yaml.ScalarNode, text, (True, False))
    builder = _SCALAR_BUILDERS.get(tag)
    if builder is None:
        return text
    try:
        value = builder(yaml.ScalarNode(tag, text))
    except (ValueError, yaml.YAMLError):
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    return value


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


_Entry = tuple[Node, tuple[str, ...]]


@dataclass
class ParsedSource:
    """What :func:`load_yaml_file` made of a file."""

    #: The built value; meaningful only when ``complete`` is true.
    value: Any = None
    #: The file was read and parsed and its top level built (findings may still be present).
    complete: bool = False
    source_map: dict[Path, SourceLocation] = field(default_factory=dict)
    #: Paths of string values from plain scalars that contain ``${``.
    retypable: set[Path] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


class _Builder:
    def __init__(
        self,
        root_real: str,
        *,
        max_bytes: int,
        max_depth: int,
        max_nodes: int,
        max_include_depth: int,
    ) -> None:
        self.root_real = root_real
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.max_include_depth = max_include_depth
        self.result = ParsedSource()
        self.count = 0
        self.files: dict[str, Node | Finding] = {}
        self.names: dict[str, str] = {}
        self.active: set[int] = set()
        self.flattening: set[int] = set()

    # bookkeeping

    def tick(self, node: Node, path: Path) -> None:
        self.count += 1
        if self.count > self.max_nodes:
            message = f"document expands to more than {self.max_nodes} nodes (alias bomb?)"
            raise SourceError(_at(node, message, path))

    def report(self, finding: Finding) -> None:
        self.result.findings.append(finding)

    # values

    def build(self, node: Node, path: Path, depth: int, chain: tuple[str, ...]) -> Any:
        self.tick(node, path)
        if isinstance(node, ScalarNode):
            if node.tag == INCLUDE_TAG:
                target = self.include(node, path, chain)
                if target is None:
                    self.result.source_map[path] = node.location
                    return None
                return self.build(target[0], path, depth, target[1])
            self.result.source_map[path] = node.location
            return self.scalar(node, path)
        if depth >= self.max_depth:
            raise SourceError(_at(node, f"nesting deeper than {self.max_depth} levels", path))
        if node.tag == INCLUDE_TAG:
            self.report(_at(node, "!include takes a file path (a scalar)", path))
            return None
        if node.tag != (_SEQ if isinstance(node, SequenceNode) else _MAP):
            self.report(_at(node, f"unsupported tag {_short_tag(node.tag)}", path))
            return None
        key = id(node)
        if key in self.active:
            raise SourceError(_at(node, "recursive alias: a node contains itself", path))
        self.active.add(key)
        try:
            self.result.source_map[path] = node.location
            if isinstance(node, SequenceNode):
                return [
                    self.build(item, (*path, index), depth + 1, chain)
                    for index, item in enumerate(node.items)
                ]
            return {
                name: self.build(value, (*path, name), depth + 1, value_chain)
                for name, (value, value_chain) in self.pairs(node, path, depth, chain).items()
            }
        finally:
            self.active.discard(key)

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag in _TEXT_TAGS:
            if tag == _STR and node.retypable and "${" in node.value:
                self.result.retypable.add(path)
            return node.value
        builder = _SCALAR_BUILDERS.get(tag)
        if builder is None:
            self.report(_at(node, f"unsupported tag {_short_tag(tag)}", path))
            return None
        try:
            value = builder(yaml.ScalarNode(tag, node.value))
        except (ValueError, yaml.YAMLError):
            kind = "integer" if tag == _INT else _short_tag(tag)
            self.report(_at(node, f"invalid {kind} value", path))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            message = f"{node.value!r} is not representable in JSON (NaN and infinities are not)"
            self.report(_at(node, message, path))
            return None
        return value

    def key(self, node: Node, path: Path) -> str | None:
        if not isinstance(node, ScalarNode):
            self.report(_at(node, "mapping keys must be scalars", path))
            return None
        if node.tag == INCLUDE_TAG or not (node.tag in _TEXT_TAGS or node.tag in _SCALAR_BUILDERS):
            self.report(_at(node, f"unsupported tag {_short_tag(node.tag)} on a key", path))
            return None
        return node.value

    def pairs(
        self, node: MappingNode, path: Path, depth: int, chain: tuple[str, ...]
    ) -> dict[str, _Entry]:
        """The mapping's entries after merging ``<<`` sources; explicit keys win."""
        ident = id(node)
        if ident in self.flattening:
            raise SourceError(_at(node, "recursive alias: a mapping merges itself", path))
        self.flattening.add(ident)
        try:
            merged: dict[str, _Entry] = {}
            explicit: dict[str, _Entry] = {}
            for key_node, value_node in node.pairs:
                self.tick(key_node, path)
                if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                    for merged_name, entry in self.merge_sources(value_node, path, depth, chain):
                        merged.setdefault(merged_name, entry)
                    continue
                name = self.key(key_node, path)
                if name is None:
                    continue
                if name in explicit:
                    self.report(_at(key_node, f"duplicate key '{name}'", (*path, name)))
                    continue
                explicit[name] = (value_node, chain)
            if not merged:
                return explicit
            merged.update(explicit)
            return merged
        finally:
            self.flattening.discard(ident)

    def merge_sources(
        self, node: Node, path: Path, depth: int, chain: tuple[str, ...]
    ) -> list[tuple[str, _Entry]]:
        if depth >= self.max_depth:
            raise SourceError(_at(node, f"nesting deeper than {self.max_depth} levels", path))
        if isinstance(node, ScalarNode) and node.tag == INCLUDE_TAG:
            target = self.include(node, path, chain)
            if target is None:
                return []
            node, chain = target
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return list(self.pairs(node, path, depth + 1, chain).items())
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            out: dict[str, _Entry] = {}
            for item in node.items:
                self.tick(item, path)
                if isinstance(item, SequenceNode):
                    self.report(_at(item, "a merge (<<) list may hold only mappings", path))
                    continue
                for name, entry in self.merge_sources(item, path, depth + 1, chain):
                    out.setdefault(name, entry)
            return list(out.items())
        message = f"a merge (<<) takes a mapping or a list of mappings, not {_kind(node)}"
        self.report(_at(node, message, path))
        return []

    # includes

    def display(self, real: str) -> str:
        name = self.names.get(real)
        if name is None:
            name = os.path.relpath(real, self.root_real)
            self.names[real] = name
        return name

    def include(
        self, node: ScalarNode, path: Path, chain: tuple[str, ...]
    ) -> tuple[Node, tuple[str, ...]] | None:
        written = node.value.strip()
        if not written:
            self.report(_at(node, "!include needs a file path", path))
            return None
        real = os.path.realpath(os.path.join(node.source.directory, written))
        if not _inside(real, self.root_real):
            message = f"include escapes the project directory: {_one_line(written)}"
            self.report(_at(node, message, path))
            return None
        if real in chain:
            names = [self.display(item) for item in (*chain, real)]
            message = "include cycle: " + " -> ".join(names)
            self.report(_at(node, message, path, Code.IncludeCycleError))
            return None
        if len(chain) > self.max_include_depth:
            message = f"include depth exceeds {self.max_include_depth}"
            self.report(_at(node, message, path, Code.IncludeCycleError))
            return None
        if not os.path.exists(real):
            self.report(_at(node, f"included file not found: {_one_line(written)}", path))
            return None
        loaded = self.files.get(real)
        if loaded is None:
            loaded = self.compose_file(real, self.display(real), os.path.dirname(real))
            self.files[real] = loaded
        if isinstance(loaded, Finding):
            self.report(dataclasses.replace(loaded, path=path))
            return None
        return loaded, (*chain, real)

    def compose_file(self, real: str, display: str, directory: str) -> Node | Finding:
        source = SourceFile(display=display, directory=directory)
        try:
            text = read_text(real, display, self.max_bytes, regular_only=True)
            root = compose(text, source, max_depth=self.max_depth)
        except SourceError as exc:
            return exc.finding
        if root is None or _is_empty(root):
            return _error("file is empty", file=display, line=1)
        return root


def _kind(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return "a scalar"
    return "a sequence" if isinstance(node, SequenceNode) else "a mapping"


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL and node.value == ""


def load_yaml_file(
    path: pathlib.Path,
    display: str,
    project_dir: pathlib.Path,
    *,
    max_bytes: int,
    max_depth: int,
    max_nodes: int,
    max_include_depth: int,
) -> ParsedSource:
    """Read, compose and build the Dockfile at ``path``, expanding ``!include``."""
    root_real = os.path.realpath(project_dir)
    builder = _Builder(
        root_real,
        max_bytes=max_bytes,
        max_depth=max_depth,
        max_nodes=max_nodes,
        max_include_depth=max_include_depth,
    )
    result = builder.result
    real = os.path.realpath(path)
    builder.names[real] = path.name
    source = SourceFile(display=display, directory=str(project_dir))
    try:
        text = read_text(path, display, max_bytes)
        root = compose(text, source, max_depth=max_depth)
        if root is None or _is_empty(root):
            result.findings.append(_error("file is empty", file=display, line=1))
            return result
        result.value = builder.build(root, (), 0, (real,))
        result.complete = True
    except SourceError as exc:
        result.findings.append(exc.finding)
    except RecursionError:
        message = "document is nested too deeply to load"
        result.findings.append(_error(message, file=display))
    return result


def _one_line(text: str) -> str:
    """A path as written, quoted when it holds a line break or other control character
    (a message is one line)."""
    return repr(text) if any(ord(c) < 32 for c in text) else text
