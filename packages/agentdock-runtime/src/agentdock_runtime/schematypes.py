"""The first pass of :mod:`.iomodels`: msgspec types compiled from an inline schema once,
at start-up (checked in C per request), and the plan that fills an input's defaults."""

from __future__ import annotations

import copy
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from agentdock_runtime.jsonvalues import (
    ANNOTATIONS,
    ecma,
    json_type,
)

# -- the first pass: msgspec types ---------------------------------------------------------------


class TypeBuilder:
    """Turns schema nodes into msgspec types; ``exact`` turns false where they fall short."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.exact = True

    def build(self, schema: Mapping[str, Any]) -> Any:
        values: list[Any] | None = None
        if "enum" in schema:
            values = list(schema["enum"])
            if "const" in schema:
                self.exact = False
        elif "const" in schema:
            values = [schema["const"]]
        raw_type = schema.get("type")
        types = [raw_type] if isinstance(raw_type, str) else list(raw_type or [])
        if values is not None:
            literal = self._literal(values, types)
            if literal is not None:
                return literal
            self.exact = False
        if not types:
            if any(key not in ANNOTATIONS for key in schema):
                self.exact = False
            return Any
        members: list[Any] = []
        for name in dict.fromkeys(types):
            members.extend(self._member(name, schema, types))
        return members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007

    def _literal(self, values: list[Any], types: list[str]) -> Any:
        if not values or not all(v is None or isinstance(v, str | bool) for v in values):
            return None
        kept = [v for v in values if not types or json_type(v) in types]
        if not kept:
            return None
        return Literal[tuple(dict.fromkeys(kept))]

    def _member(self, name: str, schema: Mapping[str, Any], types: list[str]) -> list[Any]:
        if name == "string":
            meta = _meta(
                min_length=schema.get("minLength"),
                max_length=schema.get("maxLength"),
                pattern=ecma(schema["pattern"]) if "pattern" in schema else None,
            )
            return [_annotated(str, meta)]
        if name == "integer":
            if "number" in types:
                return []
            low, high = schema.get("minimum"), schema.get("maximum")
            int_meta = _meta(
                ge=math.ceil(low) if low is not None else None,
                le=math.floor(high) if high is not None else None,
            )
            float_meta = _meta(multiple_of=1.0, ge=_float(low), le=_float(high))
            return [_annotated(int, int_meta), _annotated(float, float_meta)]
        if name == "number":
            meta = _meta(ge=_float(schema.get("minimum")), le=_float(schema.get("maximum")))
            return [_annotated(float, meta)]
        if name == "boolean":
            return [bool]
        if name == "null":
            return [None]
        if name == "array":
            items = schema.get("items")
            item_type = self.build(items) if isinstance(items, Mapping) else Any
            meta = _meta(min_length=schema.get("minItems"), max_length=schema.get("maxItems"))
            return [_annotated(list[item_type], meta)]  # type: ignore[valid-type]
        if name == "object":
            return [self._object(schema)]
        raise ValueError(f"unsupported JSON Schema type {name!r}")

    def _object(self, schema: Mapping[str, Any]) -> Any:
        extra = schema.get("additionalProperties", True)
        props = schema.get("properties")
        required = set(schema.get("required") or ())
        if not isinstance(props, Mapping) or not props:
            if required:
                self.exact = False
            if isinstance(extra, Mapping):
                return dict[str, self.build(extra)]  # type: ignore[misc]
            if extra is False:
                return Annotated[dict[str, Any], msgspec.Meta(max_length=0)]
            return dict[str, Any]
        if isinstance(extra, Mapping):
            self.exact = False
        if not required.issubset(props):
            self.exact = False
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        for index, (key, sub) in enumerate(props.items()):
            attr = f"f{index}"
            rename[attr] = str(key)
            sub_type = self.build(sub) if isinstance(sub, Mapping) else Any
            if key in required:
                fields.append((attr, sub_type))
            else:
                fields.append((attr, sub_type, None))
        self.count += 1
        return msgspec.defstruct(
            f"{self.name}{self.count}",
            fields,
            kw_only=True,
            rename=rename,
            forbid_unknown_fields=extra is False,
        )


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _meta(**kwargs: Any) -> msgspec.Meta | None:
    given = {k: v for k, v in kwargs.items() if v is not None}
    return msgspec.Meta(**given) if given else None


def _annotated(tp: Any, meta: msgspec.Meta | None) -> Any:
    return Annotated[tp, meta] if meta is not None else tp


# -- defaults ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefaultsPlan:
    """Where an input's ``default`` values go; only branches that hold one are kept."""

    fills: tuple[tuple[str, Any], ...]
    props: tuple[tuple[str, DefaultsPlan], ...]
    items: DefaultsPlan | None

    def apply(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, default in self.fills:
                if key not in value:
                    value[key] = copy.deepcopy(default)
            for key, plan in self.props:
                if key in value:
                    plan.apply(value[key])
        elif isinstance(value, list) and self.items is not None:
            for item in value:
                self.items.apply(item)


def defaults_plan(schema: Mapping[str, Any]) -> DefaultsPlan | None:
    props = schema.get("properties")
    fills: list[tuple[str, Any]] = []
    nested: list[tuple[str, DefaultsPlan]] = []
    required = set(schema.get("required") or ())
    if isinstance(props, Mapping):
        for key, sub in props.items():
            if not isinstance(sub, Mapping):
                continue
            if "default" in sub and key not in required:
                fills.append((key, sub["default"]))
            plan = defaults_plan(sub)
            if plan is not None:
                nested.append((key, plan))
    items = schema.get("items")
    item_plan = defaults_plan(items) if isinstance(items, Mapping) else None
    if not fills and not nested and item_plan is None:
        return None
    return DefaultsPlan(tuple(fills), tuple(nested), item_plan)
