"""Input decoding and output checking, compiled once from the Dockfile's ``io_schema``.

Inline schemas become msgspec types at start-up (:func:`compile_inline`); a request body is
decoded by ``msgspec.json`` and checked by ``msgspec.convert`` against them, both in C. msgspec
stops at the first error, so only when a body fails does a second, slower pass walk the value
against the schema and list *every* failing field with its path.

Supported keywords, at any depth (:data:`agentdock.spec.semantic.IO_SCHEMA_KEYWORDS`; the
validator refuses any other with 4004):

``type`` (one name or a list such as ``["string", "null"]`` for nullable), ``properties``,
``required``, ``enum``, ``const``, ``items`` (one schema for every element),
``additionalProperties`` (``false``, ``true`` or a schema), ``minLength``/``maxLength``,
``pattern`` (ECMA-262, searched anywhere in the string unless anchored),
``minimum``/``maximum``, ``minItems``/``maxItems``, nested objects and arrays, and the
annotations ``description``, ``title``, ``examples`` and ``default``. A ``default`` fills a
missing optional property of the *input* before the agent sees it.

Semantics follow JSON Schema 2020-12: ``integer`` accepts ``3.0``; ``true`` is never a number;
``1`` and ``1.0`` are equal for ``enum`` and ``const``; properties not declared are allowed
(and passed on) unless ``additionalProperties`` says otherwise. A few forms msgspec cannot
express on its own (numeric or structured ``enum``/``const``, ``additionalProperties`` given as
a schema next to ``properties``, constraints without a ``type``) are checked by the second
pass on every request for that schema only.

With ``input_class``/``output_class`` the named pydantic models are imported once and validate
through a cached :class:`pydantic.TypeAdapter`. Either way the body is decoded by msgspec first,
so malformed JSON reads the same in both modes.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import math
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import msgspec
from agentdock.findings import format_path

from agentdock_runtime.errors import (
    InputValidationError,
    MalformedJSONError,
    SchemaMismatchError,
)

__all__ = [
    "InlineSchema",
    "InputModel",
    "OutputModel",
    "PydanticSchema",
    "compile_inline",
    "decode_json",
    "import_object",
    "input_model",
    "output_model",
]

#: One failing field: where (dotted path, ``""`` for the whole body) and what is wrong.
FieldError = dict[str, str]
_PathT = tuple[str | int, ...]

_ANNOTATIONS = frozenset({"description", "title", "default", "examples"})
_JSON_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")


class _Invalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.errors = errors


# -- JSON ---------------------------------------------------------------------------------------

_json_decoder = msgspec.json.Decoder()

#: Integers an agent's state can hold: checkpointers (msgpack), SQLite, Postgres and the
#: telemetry encoders store at most 64 bits, so a wider one fails the run later, as a 500.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: Only a run of 19 digits or more can be outside that range: one C-level scan of the body
#: decides whether the decoded value needs walking at all.
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def _wide_integer(value: Any, path: str) -> str | None:
    """The path of the first integer outside the 64-bit range in ``value``, if any."""
    if type(value) is int:
        return path if not _INT_MIN <= value <= _INT_MAX else None
    if type(value) is dict:
        for key, item in value.items():
            found = _wide_integer(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif type(value) is list:
        for index, item in enumerate(value):
            found = _wide_integer(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def decode_json(raw: bytes | bytearray | memoryview | str) -> Any:
    """One JSON document, or :class:`MalformedJSONError` (empty, truncated, bad UTF-8 or
    escapes such as lone surrogates, nested too deeply, an integer wider than 64 bits)."""
    try:
        value = _json_decoder.decode(raw)
        long_digits = _LONG_DIGITS_TEXT if isinstance(raw, str) else _LONG_DIGITS_BYTES
        if long_digits.search(raw) is not None:  # type: ignore[arg-type]
            where = _wide_integer(value, "")
            if where is not None:
                raise MalformedJSONError(
                    "the request body holds an integer outside the 64-bit range "
                    f"({_INT_MIN} to {_INT_MAX})",
                    path=where or None,
                )
        return value
    except msgspec.DecodeError as exc:
        if not (raw.strip() if isinstance(raw, bytes | str) else bytes(raw).strip()):
            raise MalformedJSONError("the request body is empty") from None
        raise MalformedJSONError(f"the request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise MalformedJSONError("the request body is not valid UTF-8") from None
    except RecursionError:
        raise MalformedJSONError("the request body is nested too deeply") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _ecma(pattern: str) -> str:
    from agentdock.spec.models import ecma_to_python

    return ecma_to_python(pattern)


# -- the second pass: every failing field --------------------------------------------------------


class _Node:
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
        self.properties: dict[str, _Node] = (
            {str(k): _Node(v) for k, v in props.items() if isinstance(v, Mapping)}
            if isinstance(props, Mapping)
            else {}
        )
        self.required: tuple[str, ...] = tuple(schema.get("required") or ())
        extra = schema.get("additionalProperties", True)
        self.additional: bool | _Node = _Node(extra) if isinstance(extra, Mapping) else bool(extra)
        items = schema.get("items")
        self.items: _Node | None = _Node(items) if isinstance(items, Mapping) else None
        self.enum: tuple[Any, ...] | None = (
            tuple(schema["enum"]) if isinstance(schema.get("enum"), list) else None
        )
        self.const: tuple[Any] | None = (schema["const"],) if "const" in schema else None
        self.min_length: int | None = schema.get("minLength")
        self.max_length: int | None = schema.get("maxLength")
        self.pattern_text: str | None = schema.get("pattern")
        self.pattern = re.compile(_ecma(self.pattern_text)) if self.pattern_text else None
        self.minimum: float | None = schema.get("minimum")
        self.maximum: float | None = schema.get("maximum")
        self.min_items: int | None = schema.get("minItems")
        self.max_items: int | None = schema.get("maxItems")

    def collect(self, value: Any, path: _PathT, out: list[FieldError]) -> None:
        kind = _json_type(value)
        if self.types is not None and not self._type_ok(kind, value):
            wanted = " or ".join(t for t in _JSON_TYPES if t in self.types)
            out.append(_err(path, f"expected {wanted}, got {_article(kind)}"))
            return
        if self.enum is not None and not any(_json_equal(value, v) for v in self.enum):
            allowed = ", ".join(_short(v) for v in self.enum[:10])
            out.append(_err(path, f"must be one of: {allowed}"))
        if self.const is not None and not _json_equal(value, self.const[0]):
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

    def _string(self, value: str, path: _PathT, out: list[FieldError]) -> None:
        if self.min_length is not None and len(value) < self.min_length:
            out.append(_err(path, f"must be at least {self.min_length} characters"))
        if self.max_length is not None and len(value) > self.max_length:
            out.append(_err(path, f"must be at most {self.max_length} characters"))
        if self.pattern is not None and self.pattern.search(value) is None:
            out.append(_err(path, f"must match the pattern {self.pattern_text!r}"))

    def _array(self, value: Sequence[Any], path: _PathT, out: list[FieldError]) -> None:
        if self.min_items is not None and len(value) < self.min_items:
            out.append(_err(path, f"must have at least {self.min_items} items"))
        if self.max_items is not None and len(value) > self.max_items:
            out.append(_err(path, f"must have at most {self.max_items} items"))
        if self.items is not None:
            for index, item in enumerate(value):
                self.items.collect(item, (*path, index), out)

    def _object(self, value: Mapping[Any, Any], path: _PathT, out: list[FieldError]) -> None:
        for name in self.required:
            if name not in value:
                out.append(_err((*path, name), "required field is missing"))
        for key, item in value.items():
            node = self.properties.get(key)
            if node is not None:
                node.collect(item, (*path, key), out)
            elif self.additional is False:
                out.append(_err((*path, str(key)), "unexpected field"))
            elif isinstance(self.additional, _Node):
                self.additional.collect(item, (*path, str(key)), out)


def _err(path: _PathT, message: str) -> FieldError:
    return {"path": format_path(path), "message": message}


def _article(kind: str) -> str:
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


# -- the first pass: msgspec types ---------------------------------------------------------------


class _TypeBuilder:
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
            if any(key not in _ANNOTATIONS for key in schema):
                self.exact = False
            return Any
        members: list[Any] = []
        for name in dict.fromkeys(types):
            members.extend(self._member(name, schema, types))
        return members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007

    def _literal(self, values: list[Any], types: list[str]) -> Any:
        if not values or not all(v is None or isinstance(v, str | bool) for v in values):
            return None
        kept = [v for v in values if not types or _json_type(v) in types]
        if not kept:
            return None
        return Literal[tuple(dict.fromkeys(kept))]

    def _member(self, name: str, schema: Mapping[str, Any], types: list[str]) -> list[Any]:
        if name == "string":
            meta = _meta(
                min_length=schema.get("minLength"),
                max_length=schema.get("maxLength"),
                pattern=_ecma(schema["pattern"]) if "pattern" in schema else None,
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
class _Defaults:
    """Where an input's ``default`` values go; only branches that hold one are kept."""

    fills: tuple[tuple[str, Any], ...]
    props: tuple[tuple[str, _Defaults], ...]
    items: _Defaults | None

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


def _defaults(schema: Mapping[str, Any]) -> _Defaults | None:
    props = schema.get("properties")
    fills: list[tuple[str, Any]] = []
    nested: list[tuple[str, _Defaults]] = []
    required = set(schema.get("required") or ())
    if isinstance(props, Mapping):
        for key, sub in props.items():
            if not isinstance(sub, Mapping):
                continue
            if "default" in sub and key not in required:
                fills.append((key, sub["default"]))
            plan = _defaults(sub)
            if plan is not None:
                nested.append((key, plan))
    items = schema.get("items")
    item_plan = _defaults(items) if isinstance(items, Mapping) else None
    if not fills and not nested and item_plan is None:
        return None
    return _Defaults(tuple(fills), tuple(nested), item_plan)


# -- compiled schemas ----------------------------------------------------------------------------


class InlineSchema:
    """One inline schema, compiled: a msgspec type, an error walker and a defaults plan."""

    def __init__(self, schema: Mapping[str, Any], *, name: str = "Body") -> None:
        self.schema: dict[str, Any] = copy.deepcopy(dict(schema))
        builder = _TypeBuilder(name)
        self.type: Any = builder.build(self.schema)
        #: Whether the msgspec type alone decides validity (else the walk runs every time).
        self.exact: bool = builder.exact
        self._node = _Node(self.schema)
        self._defaults = _defaults(self.schema)
        with contextlib.suppress(msgspec.ValidationError):
            msgspec.convert(None, self.type)  # builds msgspec's type info now, not per request

    def errors(self, value: Any) -> list[FieldError]:
        """Every failing field of ``value`` (the slow pass)."""
        out: list[FieldError] = []
        self._node.collect(value, (), out)
        return out

    def check(self, value: Any) -> list[FieldError] | None:
        """``None`` when ``value`` is valid, else every failing field."""
        try:
            msgspec.convert(value, self.type)
        except msgspec.ValidationError as exc:
            return self.errors(value) or [_from_msgspec(exc)]
        if not self.exact:
            return self.errors(value) or None
        return None

    def fill_defaults(self, value: Any) -> None:
        if self._defaults is not None:
            self._defaults.apply(value)


def _from_msgspec(exc: msgspec.ValidationError) -> FieldError:
    text = str(exc)
    message, sep, where = text.rpartition(" - at `$")
    if not sep:
        return {"path": "", "message": text}
    return {"path": where.rstrip("`").lstrip("."), "message": message}


def compile_inline(schema: Mapping[str, Any], *, name: str = "Body") -> InlineSchema:
    """Compile an inline JSON Schema object (start-up only: this is the slow part)."""
    return InlineSchema(schema, name=name)


@functools.cache
def _type_adapter(cls: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


class PydanticSchema:
    """A pydantic model class behind a cached :class:`pydantic.TypeAdapter`."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.adapter = _type_adapter(cls)

    def validate(self, value: Any) -> Any:
        """The validated model instance, or :class:`_Invalid` with every failing field."""
        from pydantic import ValidationError

        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            raise _Invalid(
                [
                    {"path": format_path(tuple(e["loc"])), "message": str(e["msg"])}
                    for e in exc.errors(include_url=False, include_input=False)
                ]
            ) from None


def import_object(ref: str) -> Any:
    """Import ``pkg.mod:Name`` or ``pkg.mod.Name`` (start-up only)."""
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
    else:
        module_name, _, attr = ref.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# -- the two sides -------------------------------------------------------------------------------


class InputModel(Protocol):
    """Decodes and validates a request body into the mapping the adapter receives."""

    def decode(self, raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
        """Decode JSON bytes; raises MalformedJSONError (400) or InputValidationError (422)."""
        ...

    def validate(self, value: Any) -> dict[str, Any]:
        """Validate an already decoded value (for example ``GET /stream?input=``)."""
        ...


class OutputModel(Protocol):
    """Checks the agent's output and returns it ready to encode as JSON."""

    def validate(self, value: Any) -> Any:
        """The output to send, or SchemaMismatchError (500) with the failing paths."""
        ...


def _not_an_object(value: Any) -> list[FieldError]:
    return [{"path": "", "message": f"expected an object, got {_article(_json_type(value))}"}]


class _InlineInput:
    def __init__(self, schema: InlineSchema) -> None:
        self.schema = schema

    def decode(self, raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
        return self.validate(decode_json(raw))

    def validate(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise InputValidationError(
                "the input must be a JSON object", details=_not_an_object(value)
            )
        errors = self.schema.check(value)
        if errors is not None:
            raise InputValidationError(_summary(errors), details=errors)
        self.schema.fill_defaults(value)
        return value


class _InlineOutput:
    def __init__(self, schema: InlineSchema) -> None:
        self.schema = schema

    def validate(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _mismatch(_not_an_object(value))
        errors = self.schema.check(value)
        if errors is not None:
            raise _mismatch(errors)
        return value


class _PydanticInput:
    def __init__(self, schema: PydanticSchema) -> None:
        self.schema = schema

    def decode(self, raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
        return self.validate(decode_json(raw))

    def validate(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise InputValidationError(
                "the input must be a JSON object", details=_not_an_object(value)
            )
        try:
            instance = self.schema.validate(value)
        except _Invalid as exc:
            raise InputValidationError(_summary(exc.errors), details=exc.errors) from None
        dumped: dict[str, Any] = self.schema.adapter.dump_python(instance)
        return dumped


class _PydanticOutput:
    def __init__(self, schema: PydanticSchema) -> None:
        self.schema = schema

    def validate(self, value: Any) -> Any:
        try:
            instance = self.schema.validate(value)
        except _Invalid as exc:
            raise _mismatch(exc.errors) from None
        return self.schema.adapter.dump_python(instance, mode="json")


def _summary(errors: list[FieldError]) -> str:
    count = len(errors)
    return f"{count} field{'s' if count != 1 else ''} failed validation"


def _mismatch(errors: list[FieldError]) -> SchemaMismatchError:
    count = len(errors)
    return SchemaMismatchError(
        f"the agent's output does not match the output schema ({count} "
        f"field{'s' if count != 1 else ''})",
        details=errors,
    )


def input_model(io_schema: Any) -> InputModel:
    """The input side of a spec's ``io_schema`` (inline or ``input_class``)."""
    if getattr(io_schema, "input_class", None):
        return _PydanticInput(PydanticSchema(import_object(io_schema.input_class)))
    return _InlineInput(compile_inline(_plain(io_schema.input), name="Input"))


def output_model(io_schema: Any) -> OutputModel:
    """The output side of a spec's ``io_schema`` (inline or ``output_class``)."""
    if getattr(io_schema, "output_class", None):
        return _PydanticOutput(PydanticSchema(import_object(io_schema.output_class)))
    return _InlineOutput(compile_inline(_plain(io_schema.output), name="Output"))


def _plain(schema: Any) -> Mapping[str, Any]:
    if isinstance(schema, Mapping):
        return schema
    # Only what the Dockfile says: an explicit ``null`` (``const: null``) must survive.
    dumped: Mapping[str, Any] = schema.model_dump(mode="json", exclude_unset=True)
    return dumped
