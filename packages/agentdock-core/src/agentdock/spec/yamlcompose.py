"""Reading a YAML file (size, encoding, special files) and composing its node tree from
PyYAML's safe event stream without recursion, so absurd nesting is refused by a depth limit
rather than the interpreter's stack."""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml

from agentdock.findings import Finding

try:
    from yaml import CSafeLoader as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]
from agentdock.spec.yamlnodes import (
    _MAP,
    _NON_PRINTABLE,
    _SEQ,
    _STR,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    SourceError,
    SourceFile,
    SourceLocation,
    _error,
    _resolve,
)

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
