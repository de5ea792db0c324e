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

The rooms beside this one: the JSON decoder and JSON Schema's notions of type and equality
(:mod:`.jsonvalues`), the msgspec types and the defaults plan of the first pass
(:mod:`.schematypes`) and the error walk of the second (:mod:`.schemawalk`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol

import msgspec
from agentdock.findings import format_path

from agentdock_runtime.errors import (
    InputValidationError,
    SchemaMismatchError,
)
from agentdock_runtime.jsonvalues import (
    FieldError,
    Invalid,
    decode_json,
    json_type,
)
from agentdock_runtime.schematypes import (
    TypeBuilder,
    defaults_plan,
)
from agentdock_runtime.schemawalk import (
    SchemaNode,
    article,
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


# -- compiled schemas ----------------------------------------------------------------------------


class InlineSchema:
    """One inline schema, compiled: a msgspec type, an error walker and a defaults plan."""

    def __init__(self, schema: Mapping[str, Any], *, name: str = "Body") -> None:
        self.schema: dict[str, Any] = copy.deepcopy(dict(schema))
        builder = TypeBuilder(name)
        self.type: Any = builder.build(self.schema)
        #: Whether the msgspec type alone decides validity (else the walk runs every time).
        self.exact: bool = builder.exact
        self._node = SchemaNode(self.schema)
        self._defaults = defaults_plan(self.schema)
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
        """The validated model instance, or :class:`Invalid` with every failing field."""
        from pydantic import ValidationError

        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            raise Invalid(
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
    return [{"path": "", "message": f"expected an object, got {article(json_type(value))}"}]


def _not_an_object_input(value: Any) -> InputValidationError:
    return InputValidationError("the input must be a JSON object", details=_not_an_object(value))


class _Input(ABC):
    """What both kinds of input have in common: the body is decoded by msgspec first, so
    malformed JSON reads the same in both."""

    @abstractmethod
    def validate(self, value: Any) -> dict[str, Any]:
        """The validated input object."""

    def decode(self, raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
        return self.validate(decode_json(raw))


class _InlineInput(_Input):
    def __init__(self, schema: InlineSchema) -> None:
        self.schema = schema

    def validate(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _not_an_object_input(value)
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


class _PydanticInput(_Input):
    def __init__(self, schema: PydanticSchema) -> None:
        self.schema = schema

    def validate(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _not_an_object_input(value)
        try:
            instance = self.schema.validate(value)
        except Invalid as exc:
            raise InputValidationError(_summary(exc.errors), details=exc.errors) from None
        dumped: dict[str, Any] = self.schema.adapter.dump_python(instance)
        return dumped


class _PydanticOutput:
    def __init__(self, schema: PydanticSchema) -> None:
        self.schema = schema

    def validate(self, value: Any) -> Any:
        try:
            instance = self.schema.validate(value)
        except Invalid as exc:
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
