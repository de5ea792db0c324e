"""``${VAR}`` placeholders in Dockfile strings: parsing, lookup and substitution.

Grammar, scanned left to right:

* ``${NAME}`` is replaced by the value of ``NAME``;
* ``${NAME:-default}`` uses ``default`` when ``NAME`` is unset or empty (as POSIX shells do);
  the default is literal text up to the first ``}`` and may not contain ``${``;
* ``$${`` is an escape for a literal ``${``;
* any other ``$`` is literal text (``$HOME`` is not expanded).

``NAME`` matches ``[A-Za-z_][A-Za-z0-9_]*``. A ``${`` that does not fit the grammar is
malformed and stays verbatim. Values are looked up in the ``--env`` overrides, then the
process environment, then a ``.env`` file beside the Dockfile. Nothing here ever puts a
looked-up value into a :class:`~agentdock.findings.Finding`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from agentdock.findings import Code, Finding, Path
from agentdock.spec.yamlsource import SourceError, read_text

__all__ = [
    "Lookup",
    "Placeholder",
    "Substitution",
    "TreeInterpolation",
    "Variables",
    "interpolate_tree",
    "parse_template",
    "substitute",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_SHOWN = 40

#: Resolves a variable name to its value, or ``None`` when it is not set anywhere.
Lookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``${NAME}`` or ``${NAME:-default}`` occurrence."""

    name: str
    default: str | None
    #: The placeholder exactly as written, kept when it cannot be resolved.
    text: str


Segment = str | Placeholder


def _shown(fragment: str) -> str:
    return fragment if len(fragment) <= _MAX_SHOWN else fragment[: _MAX_SHOWN - 3] + "..."


def parse_template(text: str) -> tuple[tuple[Segment, ...], tuple[str, ...]]:
    """Split ``text`` into literal strings and placeholders; also return malformed fragments.

    Malformed fragments are kept as literal text in the segments.
    """
    if "$" not in text:
        return ((text,) if text else ()), ()
    segments: list[Segment] = []
    malformed: list[str] = []
    literal: list[str] = []
    unterminated = False
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        if text.startswith("$${", j):
            literal.append("${")
            i = j + 3
            continue
        if not text.startswith("${", j):
            literal.append("$")
            i = j + 1
            continue
        # Once one ``${`` is unterminated, so is every later one: no need to search again.
        end = -1 if unterminated else text.find("}", j + 2)
        if end < 0:
            # Unterminated: this ``${`` is literal; later escapes still apply.
            if not unterminated:
                malformed.append(_shown(text[j:]))
                unterminated = True
            literal.append("${")
            i = j + 2
            continue
        placeholder = _placeholder(text[j : end + 1])
        if placeholder is None:
            malformed.append(_shown(text[j : end + 1]))
            literal.append(text[j : end + 1])
        else:
            joined = "".join(literal)
            if joined:
                segments.append(joined)
            literal = []
            segments.append(placeholder)
        i = end + 1
    if literal:
        joined = "".join(literal)
        if joined:
            segments.append(joined)
    return tuple(segments), tuple(malformed)


def _placeholder(text: str) -> Placeholder | None:
    inner = text[2:-1]
    match = _NAME.match(inner)
    if match is None:
        return None
    name = match.group()
    rest = inner[match.end() :]
    if not rest:
        return Placeholder(name, None, text)
    if rest.startswith(":-") and "${" not in rest:
        return Placeholder(name, rest[2:], text)
    return None


@dataclass(frozen=True, slots=True)
class Substitution:
    """The outcome of interpolating one string."""

    value: str
    #: Every variable name referenced, in order of appearance (repeats removed).
    names: tuple[str, ...] = ()
    #: Names that had no value and no default; their placeholders stay verbatim in ``value``.
    unresolved: tuple[str, ...] = ()
    malformed: tuple[str, ...] = ()
    #: At least one placeholder was replaced (by a value or by its default).
    substituted: bool = False
    #: The text was exactly one placeholder, and it was replaced.
    whole: bool = False


def substitute(text: str, lookup: Lookup) -> Substitution:
    """Interpolate ``text``; unresolved and malformed placeholders stay verbatim."""
    segments, malformed = parse_template(text)
    out: list[str] = []
    names: dict[str, None] = {}
    unresolved: dict[str, None] = {}
    replaced = 0
    for segment in segments:
        if isinstance(segment, str):
            out.append(segment)
            continue
        names[segment.name] = None
        value = lookup(segment.name)
        if segment.default is not None and not value:
            out.append(segment.default)
            replaced += 1
        elif value is None:
            unresolved[segment.name] = None
            out.append(segment.text)
        else:
            out.append(value)
            replaced += 1
    whole = replaced == 1 and len(segments) == 1 and not malformed
    return Substitution(
        value="".join(out),
        names=tuple(names),
        unresolved=tuple(unresolved),
        malformed=malformed,
        substituted=replaced > 0,
        whole=whole,
    )


class Variables:
    """The lookup chain: ``env`` (``--env``), then ``environ``, then a ``.env`` file.

    The ``.env`` file is read only when a name is missing from the first two, with
    python-dotenv and without its own ``${...}`` expansion (so that the chain stays
    the only source of values). Problems reading it become findings in ``findings``;
    their text never includes anything read from the file.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None,
        environ: Mapping[str, str],
        dotenv: pathlib.Path | None = None,
        *,
        dotenv_display: str | None = None,
        max_bytes: int = 1_048_576,
    ) -> None:
        self._env: Mapping[str, str] = env if env is not None else {}
        self._environ = environ
        self._dotenv = dotenv
        self._dotenv_display = dotenv_display or (str(dotenv) if dotenv else None)
        self._max_bytes = max_bytes
        self._dotenv_values: dict[str, str] | None = None
        self.findings: list[Finding] = []

    def __call__(self, name: str) -> str | None:
        if name in self._env:
            return self._env[name]
        if name in self._environ:
            return self._environ[name]
        return self._from_dotenv().get(name)

    def _from_dotenv(self) -> dict[str, str]:
        if self._dotenv_values is None:
            self._dotenv_values = self._read_dotenv()
        return self._dotenv_values

    def _read_dotenv(self) -> dict[str, str]:
        if self._dotenv is None or not os.path.exists(self._dotenv):
            return {}
        display = self._dotenv_display or str(self._dotenv)
        try:
            text = read_text(
                self._dotenv, display, self._max_bytes, check_characters=False, regular_only=True
            )
        except SourceError as exc:
            self.findings.append(dataclasses.replace(exc.finding, code=Code.EnvInterpolationError))
            return {}
        from dotenv import dotenv_values

        parsed = dotenv_values(stream=io.StringIO(text), interpolate=False)
        return {key: value for key, value in parsed.items() if value is not None}


@dataclass(frozen=True, slots=True)
class TreeInterpolation:
    """The outcome of interpolating every string value of a document."""

    data: Any
    interpolated: frozenset[Path]
    variables: frozenset[str]
    #: ``(path, name)`` for every unresolved placeholder, in document order.
    unresolved: tuple[tuple[Path, str], ...]
    #: ``(path, fragment)`` for every malformed placeholder, in document order.
    malformed: tuple[tuple[Path, str], ...]


def interpolate_tree(
    raw: Any,
    lookup: Lookup,
    *,
    retypable: AbstractSet[Path] = frozenset(),
    retype: Callable[[str], Any] | None = None,
) -> TreeInterpolation:
    """Return a copy of ``raw`` with every string value (not key) interpolated.

    A value at a path in ``retypable`` that was exactly one placeholder is passed through
    ``retype`` after substitution (plain YAML scalars: ``${PORT:-8080}`` becomes ``8080``).
    """
    interpolated: set[Path] = set()
    variables: set[str] = set()
    unresolved: list[tuple[Path, str]] = []
    malformed: list[tuple[Path, str]] = []

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, str):
            if "$" not in value:
                return value
            result = substitute(value, lookup)
            variables.update(result.names)
            unresolved.extend((path, name) for name in result.unresolved)
            malformed.extend((path, fragment) for fragment in result.malformed)
            if not result.substituted:
                return result.value
            interpolated.add(path)
            if result.whole and retype is not None and path in retypable:
                return retype(result.value)
            return result.value
        if isinstance(value, dict):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    data = walk(raw, ())
    return TreeInterpolation(
        data=data,
        interpolated=frozenset(interpolated),
        variables=frozenset(variables),
        unresolved=tuple(unresolved),
        malformed=tuple(malformed),
    )
