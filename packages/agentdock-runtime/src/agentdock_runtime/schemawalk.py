"""The second, slower pass of :mod:`.iomodels`: walks a value that failed msgspec against
its schema and lists every failing field with its path (msgspec stops at the first)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from agentdock.findings import format_path

from agentdock_runtime.jsonvalues import (
    JSON_TYPES,
    FieldError,
    PathT,
    ecma,
    json_equal,
    json_type,
)

# -- the second pass: every failing field --------------------------------------------------------


class SchemaNode:
    """One schema node compiled for the error walk (patterns compiled here, once)."""

    __slots__ = (
        "additional",
        "const",
        "enum",
        "items",
        "max_items",
        "max_length",
        "maximum",
        "min_items",
        "min_length",
        "minimum",
        "pattern",
        "pattern_text",
        "properties",
        "required",
        "types",
    )

    def __init__(self, schema: Mapping[str, Any]) -> None:
        raw_type = schema.get("type")
        if isinstance(raw_type, str):
            self.types: frozenset[str] | None = frozenset({raw_type})
        elif isinstance(raw_type, list):
            self.types = frozenset(raw_type)
        else:
            self.types = None
        props = schema.get("properties")
        self.properties: dict[str, SchemaNode] = (
            {str(k): SchemaNode(v) for k, v in props.items() if isinstance(v, Mapping)}
            if isinstance(props, Mapping)
            else {}
        )
        self.required: tuple[str, ...] = tuple(schema.get("required") or ())
        extra = schema.get("additionalProperties", True)
        self.additional: bool | SchemaNode = (
            SchemaNode(extra) if isinstance(extra, Mapping) else bool(extra)
        )
        items = schema.get("items")
        self.items: SchemaNode | None = SchemaNode(items) if isinstance(items, Mapping) else None
        self.enum: tuple[Any, ...] | None = (
            tuple(schema["enum"]) if isinstance(schema.get("enum"), list) else None
        )
        self.const: tuple[Any] | None = (schema["const"],) if "const" in schema else None
        self.min_length: int | None = schema.get("minLength")
        self.max_length: int | None = schema.get("maxLength")
        self.pattern_text: str | None = schema.get("pattern")
        self.pattern = re.compile(ecma(self.pattern_text)) if self.pattern_text else None
        self.minimum: float | None = schema.get("minimum")
        self.maximum: float | None = schema.get("maximum")
        self.min_items: int | None = schema.get("minItems")
        self.max_items: int | None = schema.get("maxItems")

    def collect(self, value: Any, path: PathT, out: list[FieldError]) -> None:
        kind = json_type(value)
        if self.types is not None and not self._type_ok(kind, value):
            wanted = " or ".join(t for t in JSON_TYPES if t in self.types)
            out.append(_err(path, f"expected {wanted}, got {article(kind)}"))
            return
        if self.enum is not None and not any(json_equal(value, v) for v in self.enum):
            allowed = ", ".join(_short(v) for v in self.enum[:10])
            out.append(_err(path, f"must be one of: {allowed}"))
        if self.const is not None and not json_equal(value, self.const[0]):
            out.append(_err(path, f"must be {_short(self.const[0])}"))
        if kind == "string":
            self._string(value, path, out)
        elif kind in ("integer", "number"):
            if self.minimum is not None and value < self.minimum:
                out.append(_err(path, f"must be >= {self.minimum}"))
            if self.maximum is not None and value > self.maximum:
                out.append(_err(path, f"must be <= {self.maximum}"))
        elif kind == "array":
            self._array(value, path, out)
        elif kind == "object":
            self._object(value, path, out)

    def _type_ok(self, kind: str, value: Any) -> bool:
        types = self.types
        assert types is not None
        if kind in types:
            return True
        if kind == "integer":
            return "number" in types
        if kind == "number":
            return "integer" in types and math.isfinite(value) and float(value).is_integer()
        return False

    def _string(self, value: str, path: PathT, out: list[FieldError]) -> None:
        if self.min_length is not None and len(value) < self.min_length:
            out.append(_err(path, f"must be at least {self.min_length} characters"))
        if self.max_length is not None and len(value) > self.max_length:
            out.append(_err(path, f"must be at most {self.max_length} characters"))
        if self.pattern is not None and self.pattern.search(value) is None:
            out.append(_err(path, f"must match the pattern {self.pattern_text!r}"))

    def _array(self, value: Sequence[Any], path: PathT, out: list[FieldError]) -> None:
        if self.min_items is not None and len(value) < self.min_items:
            out.append(_err(path, f"must have at least {self.min_items} items"))
        if self.max_items is not None and len(value) > self.max_items:
            out.append(_err(path, f"must have at most {self.max_items} items"))
        if self.items is not None:
            for index, item in enumerate(value):
                self.items.collect(item, (*path, index), out)

    def _object(self, value: Mapping[Any, Any], path: PathT, out: list[FieldError]) -> None:
        for name in self.required:
            if name not in value:
                out.append(_err((*path, name), "required field is missing"))
        for key, item in value.items():
            node = self.properties.get(key)
            if node is not None:
                node.collect(item, (*path, key), out)
            elif self.additional is False:
                out.append(_err((*path, str(key)), "unexpected field"))
            elif isinstance(self.additional, SchemaNode):
                self.additional.collect(item, (*path, str(key)), out)


def _err(path: PathT, message: str) -> FieldError:
    return {"path": format_path(path), "message": message}


def article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _short(value: Any) -> str:
    text = msgspec.json.encode(value).decode() if _is_json(value) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _is_json(value: Any) -> bool:
    try:
        msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return False
    return True
