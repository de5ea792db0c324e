"""What the Dockfile models of :mod:`.models` share: the strict, frozen base models (no
null where the schema has none, no coercion) and the pattern-checked string types, whose
ECMA-262 patterns are rewritten for Python's ``re`` so both sides match text the same way."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    model_validator,
)

from agentdock.spec.patterns import DOTTED_PATH_PATTERN, ENTRYPOINT_PATTERN


class _NoNull(BaseModel):
    """Rejects an explicit ``null`` for a declared field, as the JSON Schema does.

    Optional fields default to ``None`` when absent, but ``key: null`` (or an empty YAML
    value) is a type error in the schema, so it must be one here too.

    Every model's validator is built when it first validates (``defer_build``), not when
    its class is defined: a runtime validates one ``DockSpec``, whose validator holds the
    parts it uses, and building one validator per class for both Dockfile versions at import
    cost 0.1 s of CPU at every start (0.03 s deferred).
    """

    model_config = ConfigDict(defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in cls.model_fields:
                if name in data and data[name] is None:
                    raise ValueError(f"{name} must not be null")
        return data


class _Frozen(_NoNull):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        regex_engine="python-re",
    )


#: What ECMA-262 means by ``\s``, ``\d`` and ``\w``, as Python ``re`` class contents.
_ECMA_CLASSES = {
    "s": r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff",
    "d": "0-9",
    "w": "A-Za-z0-9_",
}


def ecma_to_python(pattern: str) -> str:
    """A JSON Schema (ECMA-262) pattern rewritten for Python's ``re`` with the same meaning.

    Python's ``$`` also matches before a final newline and its ``\\s``, ``\\d`` and ``\\w``
    are Unicode-wide (``\\s`` takes ``\\x1c``-``\\x1f`` and ``\\x85`` but not ``\\ufeff``); in
    ECMA-262 ``$`` is the end of the text and the three classes are the ones above.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped in _ECMA_CLASSES:
                inner = _ECMA_CLASSES[escaped]
                out.append(inner if in_class else f"[{inner}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
        i += 1
    return "".join(out)


def _pattern(p: str) -> Any:
    return StringConstraints(pattern=ecma_to_python(p))


def _integral(value: Any) -> Any:
    """JSON Schema counts ``8080.0`` as an integer; so do we, normalised to ``8080``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: JSON Schema "integer": an int, or a float with no fractional part; never a bool.
Int = Annotated[int, BeforeValidator(_integral)]


AgentName = Annotated[str, _pattern(r"^[a-z][a-z0-9_-]{2,63}$")]
Entrypoint = Annotated[str, _pattern(ENTRYPOINT_PATTERN)]
PluginName = Annotated[str, _pattern(r"^[a-z][a-z0-9_-]{0,63}$")]
DottedPath = Annotated[str, _pattern(DOTTED_PATH_PATTERN)]
ToolName = Annotated[str, _pattern(r"^[A-Za-z0-9_.-]{1,64}$")]
RoleName = Annotated[str, _pattern(r"^[a-z][a-z0-9_-]{2,32}$")]
Permission = Annotated[str, _pattern(r"^[a-z_]{2,32}$")]
RateLimit = Annotated[str, _pattern(r"^[1-9][0-9]*\s*/\s*(s|m|h|d)$")]
EnvName = Annotated[str, _pattern(r"^[A-Za-z_][A-Za-z0-9_]*$")]
#: JSON Schema "number": an int or a float, never a bool.
Number = int | float
