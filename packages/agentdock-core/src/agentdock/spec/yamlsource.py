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

This module builds the data; the node tree and its errors are :mod:`.yamlnodes`, reading
and composing are :mod:`.yamlcompose` (their public names are re-exported here).
"""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import yaml

from agentdock.findings import Code, Finding, Path
from agentdock.spec.yamlcompose import (
    compose,
    read_text,
)
from agentdock.spec.yamlnodes import (
    _INT,
    _MAP,
    _MERGE,
    _NULL,
    _SCALAR_BUILDERS,
    _SEQ,
    _STR,
    _TEXT_TAGS,
    INCLUDE_TAG,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    SourceError,
    SourceFile,
    SourceLocation,
    _at,
    _error,
    _resolve,
    _short_tag,
    describe,
)

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
