"""The Dockfile loader: a YAML file (or a mapping) to plain data, a source map and findings.

:func:`load_document` never raises on bad input; everything wrong with the document is a
:class:`~agentdock.findings.Finding`. Loading happens in three steps:

1. read the file within a size limit and parse it with PyYAML's safe parser;
2. build JSON-compatible data from the node tree, expanding ``!include`` and merge keys and
   recording where every value starts (``raw``: placeholders verbatim);
3. interpolate ``${VAR}`` placeholders in string values (``data``).

``data`` and ``raw`` are ``None`` when the document could not be read or parsed, broke a
structural rule (codes 4000 and 4009), or its top level is not a mapping. Interpolation
errors (4001) leave both in place, with each unresolved placeholder verbatim in ``data``.
"""

from __future__ import annotations

import math
import os
import pathlib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentdock.findings import Code, Finding, Path, Severity
from agentdock.spec.interpolate import TreeInterpolation, Variables, interpolate_tree
from agentdock.spec.yamlsource import SourceLocation, describe, load_yaml_file, resolve_plain

__all__ = ["LoadedDocument", "SourceLocation", "load_document"]

_STRUCTURAL = frozenset({Code.DockfileSyntaxError, Code.IncludeCycleError})
_EMPTY_MAP: Mapping[Path, SourceLocation] = types.MappingProxyType({})


@dataclass(frozen=True)
class LoadedDocument:
    """A loaded Dockfile: its data with includes expanded and variables interpolated."""

    #: The Dockfile as given (``None`` for a mapping).
    path: pathlib.Path | None
    #: The Dockfile's directory, absolute (the working directory for a mapping).
    project_dir: pathlib.Path
    #: Includes expanded and ``${VAR}`` interpolated; ``None`` when loading failed.
    data: dict[str, Any] | None
    #: Includes expanded, placeholders verbatim: safe to snapshot, holds no resolved value.
    raw: dict[str, Any] | None
    #: Document path -> where the node at that path starts (empty for a mapping).
    source_map: Mapping[Path, SourceLocation]
    #: Every variable name referenced by a placeholder.
    variables: frozenset[str]
    #: Paths of string values that had at least one placeholder replaced.
    interpolated: frozenset[Path]
    #: Variable names that had no value and no default.
    unresolved: frozenset[str]
    findings: tuple[Finding, ...]
    #: The value each referenced variable had (never shown: the import probe gives them to
    #: a builder, as the runtime will, and masks them in what it reports).
    values: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def location(self, path: Path) -> SourceLocation | None:
        """Where ``path`` starts, or its nearest ancestor that is in the source map."""
        return _nearest(self.source_map, path)

    @property
    def ok(self) -> bool:
        """No finding is an error."""
        return not any(f.severity is Severity.ERROR for f in self.findings)


def load_document(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_unresolved: bool = False,
    max_bytes: int = 1_048_576,
    max_depth: int = 64,
    max_nodes: int = 100_000,
    max_include_depth: int = 16,
) -> LoadedDocument:
    """Load a Dockfile from a path, or a Dockfile-shaped mapping.

    ``env`` (``--env KEY=VAL``) wins over ``environ`` (default: ``os.environ``), which wins
    over the ``.env`` file beside the Dockfile (a mapping has no ``.env``). With
    ``allow_unresolved`` an unset variable is a warning and its placeholder stays verbatim.
    """
    if environ is None:
        environ = os.environ
    path: pathlib.Path | None = None
    display = ""
    if isinstance(source, Mapping):
        project_dir = pathlib.Path.cwd()
    elif isinstance(source, (str, os.PathLike)):
        given = os.fspath(source)
        if not isinstance(given, str):
            raise TypeError("source must be a text path, not bytes")
        display = given
        path = pathlib.Path(display)
        project_dir = pathlib.Path(os.path.abspath(display)).parent
    else:
        raise TypeError(f"source must be a path or a mapping, not {type(source).__name__}")
    try:
        if isinstance(source, Mapping):
            return _load_mapping(
                source,
                project_dir,
                env=env,
                environ=environ,
                allow_unresolved=allow_unresolved,
                max_depth=max_depth,
                max_nodes=max_nodes,
            )
        return _load_file(
            pathlib.Path(display),
            display,
            project_dir,
            env=env,
            environ=environ,
            allow_unresolved=allow_unresolved,
            max_bytes=max_bytes,
            max_depth=max_depth,
            max_nodes=max_nodes,
            max_include_depth=max_include_depth,
        )
    except RecursionError:
        finding = Finding(
            code=Code.DockfileSyntaxError,
            path=(),
            message="document is nested too deeply to load",
            file=display or None,
        )
        return _failed(path, project_dir, [finding], _EMPTY_MAP)


def _failed(
    path: pathlib.Path | None,
    project_dir: pathlib.Path,
    findings: list[Finding],
    source_map: Mapping[Path, SourceLocation],
) -> LoadedDocument:
    return LoadedDocument(
        path=path,
        project_dir=project_dir,
        data=None,
        raw=None,
        source_map=source_map,
        variables=frozenset(),
        interpolated=frozenset(),
        unresolved=frozenset(),
        findings=tuple(findings),
    )


def _load_file(
    path: pathlib.Path,
    display: str,
    project_dir: pathlib.Path,
    *,
    env: Mapping[str, str] | None,
    environ: Mapping[str, str],
    allow_unresolved: bool,
    max_bytes: int,
    max_depth: int,
    max_nodes: int,
    max_include_depth: int,
) -> LoadedDocument:
    parsed = load_yaml_file(
        path,
        display,
        project_dir,
        max_bytes=max_bytes,
        max_depth=max_depth,
        max_nodes=max_nodes,
        max_include_depth=max_include_depth,
    )
    findings = list(parsed.findings)
    source_map: Mapping[Path, SourceLocation] = types.MappingProxyType(parsed.source_map)
    raw: dict[str, Any] | None = None
    if parsed.complete:
        if isinstance(parsed.value, dict):
            raw = parsed.value
        else:
            root = parsed.source_map.get(())
            findings.append(
                Finding(
                    code=Code.DockfileSyntaxError,
                    path=(),
                    message=f"top level must be a mapping, got {describe(parsed.value)}",
                    file=root.file if root else display,
                    line=root.line if root else None,
                )
            )
    if raw is None or any(f.code in _STRUCTURAL for f in findings):
        return _failed(path, project_dir, findings, source_map)
    variables = Variables(
        env,
        environ,
        project_dir / ".env",
        dotenv_display=os.path.join(os.path.dirname(display), ".env"),
        max_bytes=max_bytes,
    )
    result = interpolate_tree(raw, variables, retypable=parsed.retypable, retype=resolve_plain)
    findings.extend(variables.findings)
    return _interpolated(
        path, project_dir, raw, source_map, result, findings, allow_unresolved, variables
    )


def _interpolated(
    path: pathlib.Path | None,
    project_dir: pathlib.Path,
    raw: dict[str, Any],
    source_map: Mapping[Path, SourceLocation],
    result: TreeInterpolation,
    findings: list[Finding],
    allow_unresolved: bool,
    lookup: Variables,
) -> LoadedDocument:
    """The loaded document once ``${VAR}`` interpolation has run over ``raw``."""
    findings.extend(_interpolation_findings(result, source_map, allow_unresolved))
    values = {name: value for name in result.variables if (value := lookup(name)) is not None}
    return LoadedDocument(
        path=path,
        project_dir=project_dir,
        data=result.data,
        raw=raw,
        source_map=source_map,
        variables=result.variables,
        interpolated=result.interpolated,
        unresolved=frozenset(name for _, name in result.unresolved),
        findings=tuple(findings),
        values=types.MappingProxyType(values),
    )


def _nearest(source_map: Mapping[Path, SourceLocation], path: Path) -> SourceLocation | None:
    for end in range(len(path), -1, -1):
        found = source_map.get(path[:end])
        if found is not None:
            return found
    return None


def _interpolation_findings(
    result: TreeInterpolation, source_map: Mapping[Path, SourceLocation], allow_unresolved: bool
) -> list[Finding]:
    out: list[Finding] = []
    for path, fragment in result.malformed:
        loc = _nearest(source_map, path)
        out.append(
            Finding(
                code=Code.EnvInterpolationError,
                path=path,
                message=f"malformed placeholder {fragment!r}",
                hint="write ${NAME} or ${NAME:-default}; $${ stands for a literal ${",
                file=loc.file if loc else None,
                line=loc.line if loc else None,
            )
        )
    for path, name in result.unresolved:
        loc = _nearest(source_map, path)
        out.append(
            Finding(
                code=(
                    Code.UnresolvedVariableWarning
                    if allow_unresolved
                    else Code.EnvInterpolationError
                ),
                path=path,
                message=f"unresolved variable {name}",
                severity=Severity.WARNING if allow_unresolved else Severity.ERROR,
                hint=f"pass --env {name}=..., export it, or add it to .env",
                file=loc.file if loc else None,
                line=loc.line if loc else None,
            )
        )
    out.sort(key=lambda f: (f.file or "", f.line or 0))
    return out


class _Invalid(Exception):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _load_mapping(
    source: Mapping[str, Any],
    project_dir: pathlib.Path,
    *,
    env: Mapping[str, str] | None,
    environ: Mapping[str, str],
    allow_unresolved: bool,
    max_depth: int,
    max_nodes: int,
) -> LoadedDocument:
    try:
        raw = _plain_copy(source, (), 0, [0], max_depth, max_nodes)
    except _Invalid as exc:
        finding = Finding(code=Code.DockfileSyntaxError, path=exc.path, message=exc.message)
        return _failed(None, project_dir, [finding], _EMPTY_MAP)
    lookup = Variables(env, environ, None)
    result = interpolate_tree(raw, lookup)
    return _interpolated(None, project_dir, raw, _EMPTY_MAP, result, [], allow_unresolved, lookup)


def _unicode_text(text: str, path: Path) -> str:
    """``text`` when it is valid Unicode (no lone surrogates, as JSON text requires)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(path, "text is not valid Unicode (a lone surrogate)") from None
    return str(text)


def _plain_copy(
    value: Any, path: Path, depth: int, counter: list[int], max_depth: int, max_nodes: int
) -> Any:
    counter[0] += 1
    if counter[0] > max_nodes:
        raise _Invalid(path, f"document has more than {max_nodes} nodes")
    if value is None:
        return None
    if isinstance(value, str):
        return _unicode_text(value, path)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid(path, f"{value!r} is not representable in JSON")
        return float(value)
    if isinstance(value, (Mapping, list, tuple)):
        if depth >= max_depth:
            raise _Invalid(path, f"nesting deeper than {max_depth} levels")
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    kind = type(key).__name__
                    raise _Invalid(path, f"mapping keys must be strings, got {kind}")
                _unicode_text(key, path)
                out[key] = _plain_copy(item, (*path, key), depth + 1, counter, max_depth, max_nodes)
            return out
        return [
            _plain_copy(item, (*path, index), depth + 1, counter, max_depth, max_nodes)
            for index, item in enumerate(value)
        ]
    raise _Invalid(path, f"a value of type {type(value).__name__} is not JSON-compatible")
