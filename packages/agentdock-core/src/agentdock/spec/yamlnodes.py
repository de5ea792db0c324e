"""The YAML node tree the loader composes, with where each node starts, and the errors
that point at a node (:mod:`.yamlsource` builds data from it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from agentdock.findings import Code, Finding, Path

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
