"""Inline I/O schemas compiled to msgspec types, pydantic classes, and the 4004 keyword check."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from typing import Any

import agentdock
import jsonschema
import pytest
from agentdock.findings import Code
from agentdock.spec.semantic import IO_SCHEMA_KEYWORDS, check_inline_io
from agentdock_runtime import (
    InputValidationError,
    MalformedJSONError,
    SchemaMismatchError,
    compile_inline,
    decode_json,
    input_model,
    output_model,
)
from agentdock_runtime.iomodels import PydanticSchema
from agentdock_runtime.jsonvalues import MAX_DEPTH, check_integers, too_deep
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

INVOICE: dict[str, Any] = {
    "type": "object",
    "required": ["invoice_id", "lines"],
    "properties": {
        "invoice_id": {"type": "string", "minLength": 3, "maxLength": 8, "pattern": "^INV"},
        "note": {"type": ["string", "null"], "description": "free text"},
        "currency": {"type": "string", "enum": ["EUR", "USD"], "default": "EUR"},
        "kind": {"const": "invoice"},
        "total": {"type": "number", "minimum": 0, "maximum": 1000},
        "count": {"type": "integer", "minimum": 1},
        "paid": {"type": "boolean"},
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "required": ["sku"],
                "additionalProperties": False,
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer", "default": 1},
                },
            },
        },
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _io(side_in: dict[str, Any], side_out: dict[str, Any] | None = None) -> Any:
    return types.SimpleNamespace(
        input=side_in, output=side_out or side_in, input_class=None, output_class=None
    )


def _decode(raw: bytes, schema: dict[str, Any] = INVOICE) -> dict[str, Any]:
    return input_model(_io(schema)).decode(raw)


def _details(exc: pytest.ExceptionInfo[Any]) -> dict[str, str]:
    return {d["path"]: d["message"] for d in exc.value.details}


# -- decoding valid input ------------------------------------------------------------------------


def test_valid_input_is_passed_on_with_defaults_filled() -> None:
    raw = b'{"invoice_id": "INV-1", "lines": [{"sku": "a"}, {"sku": "b", "qty": 4}], "x": 1}'
    value = _decode(raw)
    assert value["currency"] == "EUR"
    assert value["lines"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 4}]
    assert value["x"] == 1, "undeclared properties are allowed and kept by default"


def test_nullable_type_array_and_integral_float() -> None:
    value = _decode(b'{"invoice_id": "INV", "note": null, "count": 3.0, "lines": [{"sku": "a"}]}')
    assert value["note"] is None
    assert value["count"] == 3.0


def test_nul_and_non_ascii_text_are_data() -> None:
    value = _decode('{"invoice_id": "INV\\u0000é😀", "lines": [{"sku": "\u2028"}]}'.encode())
    assert value["invoice_id"] == "INV\x00é😀"
    assert value["lines"][0]["sku"] == "\u2028"


# -- malformed bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n",
        b"{",
        b'{"invoice_id": "INV"',
        b'{"a": 1} trailing',
        b"{'a': 1}",
        b'{"a": NaN}',
        b"\xff\xfe{}",
        b'{"a": "\xc3"}',
        b'{"a": "\\ud800"}',
        b'{"a": "\\udc00x"}',
        b'{"a": "x\x00y"}',
        b"\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_malformed_json_is_400(raw: bytes) -> None:
    with pytest.raises(MalformedJSONError) as exc:
        _decode(raw)
    assert exc.value.status == 400
    assert exc.value.envelope("r")["error"] == "MalformedJSONError"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'{"text": "a", "n": 22801594220640617664654770735939584}', "n"),
        (b'{"text": "a", "k": [1, {"deep": -9223372036854775809}]}', "k[1].deep"),
        ('{"text": "a", "w": 18446744073709551616}', "w"),
    ],
)
def test_an_integer_wider_than_64_bits_is_400_with_its_path(raw: bytes | str, path: str) -> None:
    """Checkpointers and telemetry store 64 bits: a wider integer would fail the run as a
    500 inside the agent, so it is the request's error, named where it is."""
    with pytest.raises(MalformedJSONError) as exc:
        _decode(raw)
    assert exc.value.status == 400 and exc.value.path == path
    assert "64-bit" in exc.value.detail


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_every_buffer_is_scanned_for_a_wide_integer(kind: Any) -> None:
    """The scan that spares well-formed bodies the walk sees runs of 19 digits in each kind
    of buffer a server hands over; shorter runs, however many, need no walk."""
    wide = kind(b'{"a": [1.5, "\xc3\xa9", {"b": 123456789012345678901}]}')
    with pytest.raises(MalformedJSONError) as exc:
        decode_json(wide)
    assert exc.value.path == "a[2].b"
    with pytest.raises(MalformedJSONError):
        check_integers(wide)
    check_integers(kind(b'{"a": 1000000000000000000, "b": "1234567890.123456789"}'))
    with pytest.raises(MalformedJSONError) as exc:
        decode_json(memoryview(bytes(wide)))
    assert exc.value.path == "a[2].b"


def test_integers_within_64_bits_and_long_digit_strings_pass() -> None:
    extremes = b'{"text": "9223372036854775808000", "lo": -9223372036854775808, '
    extremes += b'"hi": 18446744073709551615, "f": 1e300}'
    value = decode_json(extremes)
    assert value["hi"] == 2**64 - 1 and value["lo"] == -(2**63)


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"1", b"null", b"true", b"[{}]"])
def test_non_object_json_is_422(raw: bytes) -> None:
    with pytest.raises(InputValidationError) as exc:
        _decode(raw)
    assert exc.value.status == 422
    details = exc.value.details or []
    assert [d["path"] for d in details] == [""]
    assert details[0]["message"].startswith("expected an object")


def test_deep_nesting_inside_a_free_field_is_accepted_up_to_the_limit() -> None:
    deep = '{"x":' * (MAX_DEPTH - 1) + "1" + "}" * (MAX_DEPTH - 1)
    value = _decode(f'{{"invoice_id": "INV", "lines": [{{"sku": "a"}}], "free": {deep}}}'.encode())
    assert "free" in value
    with pytest.raises(MalformedJSONError, match="nested more than"):
        _decode(f'{{"invoice_id": "INV", "lines": [], "free": {{"x": {deep}}}}}'.encode())


# -- every failing field -------------------------------------------------------------------------


def test_every_failing_field_is_listed_with_its_path() -> None:
    body = {
        "invoice_id": "X",
        "note": 5,
        "currency": "GBP",
        "kind": "receipt",
        "total": 1001,
        "count": 1.5,
        "paid": "yes",
        "lines": [{"sku": 1, "extra": True}, "not an object", {"qty": 2}, {"sku": "d"}],
        "tags": {"a": "ok", "b": 2},
    }
    with pytest.raises(InputValidationError) as exc:
        _decode(json.dumps(body).encode())
    details = _details(exc)
    assert set(details) == {
        "invoice_id",
        "note",
        "currency",
        "kind",
        "total",
        "count",
        "paid",
        "lines",
        "lines[0].sku",
        "lines[0].extra",
        "lines[1]",
        "lines[2].sku",
        "tags.b",
    }
    assert "required" in details["lines[2].sku"]
    assert "unexpected" in details["lines[0].extra"]
    assert exc.value.detail == "14 fields failed validation"  # invoice_id fails twice
    envelope = exc.value.envelope("run-1")
    assert envelope["code"] == 422 and envelope["run_id"] == "run-1"
    assert envelope["error"] == "ValidationError"


def test_missing_required_fields_are_each_listed() -> None:
    with pytest.raises(InputValidationError) as exc:
        _decode(b"{}")
    assert set(_details(exc)) == {"invoice_id", "lines"}


def test_string_constraints_are_reported_separately() -> None:
    with pytest.raises(InputValidationError) as exc:
        _decode(b'{"invoice_id": "ABCDEFGHIJ", "lines": [{"sku": "a"}]}')
    assert exc.value.details == [
        {"path": "invoice_id", "message": "must be at most 8 characters"},
        {"path": "invoice_id", "message": "must match the pattern '^INV'"},
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(True, False), (1, True), (1.0, True), ("1", False), (None, False), ([1], False)],
)
def test_booleans_are_never_integers(value: Any, ok: bool) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    errors = compile_inline(schema).check({"n": value})
    assert (errors is None) is ok


def test_additional_properties_false_at_top_level_and_nested() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "a": {"type": "object", "properties": {}, "additionalProperties": False},
            "b": {"type": "string"},
        },
    }
    compiled = compile_inline(schema)
    assert compiled.exact
    assert compiled.check({"b": "x", "a": {}}) is None
    errors = compiled.check({"b": "x", "a": {"z": 1}, "c": 2})
    assert errors is not None
    assert {e["path"] for e in errors} == {"a.z", "c"}


def test_unexpressible_forms_still_checked_by_second_pass() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"enum": [1, 2.5, {"a": 1}]},
            "m": {
                "type": "object",
                "properties": {"x": {}},
                "additionalProperties": {"type": "integer"},
            },
        },
    }
    compiled = compile_inline(schema)
    assert not compiled.exact
    assert compiled.check({"n": 1.0, "m": {"x": "s", "y": 3}}) is None
    assert compiled.check({"n": {"a": 1}}) is None
    errors = compiled.check({"n": True, "m": {"y": "s"}})
    assert errors is not None
    assert {e["path"] for e in errors} == {"n", "m.y"}


def test_property_names_that_are_not_identifiers() -> None:
    schema = {
        "type": "object",
        "required": ["class", "a b", "ü"],
        "properties": {"class": {"type": "integer"}, "a b": {"type": "string"}, "ü": {}},
    }
    compiled = compile_inline(schema)
    assert compiled.check({"class": 1, "a b": "x", "ü": None}) is None
    errors = compiled.check({"class": "1"})
    assert errors is not None
    assert {e["path"] for e in errors} == {"class", "a b", "ü"}


# -- output --------------------------------------------------------------------------------------


def test_output_mismatch_lists_paths_and_never_the_values() -> None:
    out_schema = {
        "type": "object",
        "required": ["summary", "total"],
        "properties": {"summary": {"type": "string"}, "total": {"type": "number"}},
    }
    checker = output_model(_io(INVOICE, out_schema))
    assert checker.validate({"summary": "s", "total": 1}) == {"summary": "s", "total": 1}
    with pytest.raises(SchemaMismatchError) as exc:
        checker.validate({"summary": ["SECRET-4111111111111111"]})
    envelope = exc.value.envelope("r9")
    assert envelope["code"] == 500 and envelope["error"] == "SchemaMismatchError"
    assert {d["path"] for d in envelope["details"]} == {"summary", "total"}
    assert "SECRET" not in json.dumps(envelope)
    with pytest.raises(SchemaMismatchError):
        checker.validate("a string")


# -- pydantic classes ----------------------------------------------------------------------------


class InvoiceIn(BaseModel):
    invoice_id: str = Field(min_length=3)
    amount: int
    note: str | None = None


class InvoiceOut(BaseModel):
    summary: str


@pytest.fixture
def models_module() -> Iterator[str]:
    module = types.ModuleType("adt_test_io_models")
    module.InvoiceIn = InvoiceIn  # type: ignore[attr-defined]
    module.InvoiceOut = InvoiceOut  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        yield module.__name__
    finally:
        del sys.modules[module.__name__]


def test_pydantic_classes_validate_through_a_cached_type_adapter(models_module: str) -> None:
    io = types.SimpleNamespace(
        input=None,
        output=None,
        input_class=f"{models_module}:InvoiceIn",
        output_class=f"{models_module}.InvoiceOut",
    )
    inputs = input_model(io)
    assert inputs.decode(b'{"invoice_id": "INV", "amount": 3}') == {
        "invoice_id": "INV",
        "amount": 3,
        "note": None,
    }
    with pytest.raises(InputValidationError) as exc:
        inputs.decode(b'{"invoice_id": "I", "amount": "many"}')
    assert set(_details(exc)) == {"invoice_id", "amount"}
    with pytest.raises(MalformedJSONError):
        inputs.decode(b'{"invoice_id": ')
    with pytest.raises(InputValidationError):
        inputs.decode(b"[1]")
    outputs = output_model(io)
    assert outputs.validate(InvoiceOut(summary="ok")) == {"summary": "ok"}
    assert outputs.validate({"summary": "ok"}) == {"summary": "ok"}
    with pytest.raises(SchemaMismatchError) as mismatch:
        outputs.validate({"summary": 4})
    assert [d["path"] for d in mismatch.value.details or []] == ["summary"]
    assert PydanticSchema(InvoiceIn).adapter is PydanticSchema(InvoiceIn).adapter


# -- 4004 for unsupported keywords ---------------------------------------------------------------


def _doc(input_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "1.1",
        "agent": {"name": "echo_agent", "entrypoint": "app:graph", "framework": "langgraph"},
        "model": {"provider": "openai", "name": "gpt-4o-mini"},
        "io_schema": {
            "input": input_schema,
            "output": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
        "policies": {"safety": {"max_output_chars": 100}},
        "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
        "expose": {"rest": True, "streaming": "sse", "port": 8080},
    }


def test_unsupported_keywords_are_4004_with_their_paths() -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email"},
            "items": {
                "type": "array",
                "items": {"type": "object", "minProperties": 1, "properties": {}},
                "uniqueItems": True,
            },
            "any": {"type": "string", "oneOf": [{"type": "string"}]},
        },
    }
    findings = [f for f in check_inline_io(_doc(schema)) if f.code == Code.InvalidIOSchemaError]
    paths = {f.dotted_path for f in findings}
    assert paths == {
        "io_schema.input.properties.email.format",
        "io_schema.input.properties.items.items.minProperties",
        "io_schema.input.properties.items.uniqueItems",
        "io_schema.input.properties.any.oneOf",
    }
    for finding in findings:
        assert str(finding.path[-1]) in finding.message
        assert finding.hint is not None and "minLength" in finding.hint


def test_supported_keywords_pass_validation() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^x"},
            "b": {"type": "integer", "minimum": 0, "maximum": 9, "default": 1, "title": "B"},
            "c": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "items": {"type": ["object", "null"], "additionalProperties": False},
            },
            "d": {"type": "string", "enum": ["x", "y"], "examples": ["x"]},
            "e": {"type": "integer", "const": 1, "description": "one"},
            "f": {"type": "object", "additionalProperties": {"type": "boolean"}},
        },
    }
    report = agentdock.validate(
        _doc(schema), skip_imports=True, plugins=agentdock.make_plugin_manager()
    )
    io_findings = [f for f in report.errors if f.code == Code.InvalidIOSchemaError]
    assert io_findings == []
    assert set(IO_SCHEMA_KEYWORDS) >= {"type", "items", "additionalProperties", "default"}


def test_validate_reports_4004_for_unsupported_keyword() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 2}}}
    report = agentdock.validate(
        _doc(schema), skip_imports=True, plugins=agentdock.make_plugin_manager()
    )
    assert not report.ok
    assert [(f.code, f.dotted_path) for f in report.errors if f.code == 4004] == [
        (Code.InvalidIOSchemaError, "io_schema.input.properties.n.multipleOf")
    ]


# -- msgspec and the JSON Schema reference agree ------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "c"])
_TEXT = st.text(alphabet="abxy\x00é", max_size=4)


def _leaf_schemas() -> st.SearchStrategy[dict[str, Any]]:
    string = st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(0, 3),
            "pattern": st.sampled_from(["^a", "b", "^[ax]+$", "é"]),
        },
    )
    integer = st.fixed_dictionaries(
        {"type": st.just("integer")},
        optional={"minimum": st.integers(-2, 2), "maximum": st.integers(-2, 2)},
    )
    number = st.fixed_dictionaries(
        {"type": st.just("number")},
        optional={"minimum": st.floats(-2, 2), "maximum": st.integers(-2, 2)},
    )
    simple = st.sampled_from(
        [
            {"type": "boolean"},
            {"type": "null"},
            {"type": ["string", "null"]},
            {"type": ["integer", "null"], "minimum": 0},
            {"type": ["integer", "number"]},
            {"enum": ["a", "b", None]},
            {"type": "string", "enum": ["a", "b", 1]},
            {"enum": [1, 2.5, True]},
            {"const": "a"},
            {"const": 1},
            {"const": False},
            {},
            {"description": "anything"},
            {"minLength": 2},
        ]
    )
    return st.one_of(string, integer, number, simple)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    array = st.fixed_dictionaries(
        {"type": st.just("array")},
        optional={
            "items": children,
            "minItems": st.integers(0, 2),
            "maxItems": st.integers(0, 3),
        },
    )

    @st.composite
    def obj(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(_KEYS, children, max_size=3))
        schema: dict[str, Any] = {"type": draw(st.sampled_from(["object", ["object", "null"]]))}
        keep_empty: bool = draw(st.booleans())
        if props or keep_empty:
            schema["properties"] = props
        if props:
            schema["required"] = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
        extra = draw(st.sampled_from([None, True, False, {"type": "integer"}]))
        if extra is not None:
            schema["additionalProperties"] = extra
        return schema

    return st.one_of(array, obj())


_SCHEMAS = st.recursive(_leaf_schemas(), _extend, max_leaves=8)
_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.sampled_from([0.0, 1.0, -2.0, 1.5, 2.5]),
        _TEXT,
    ),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(_KEYS, kids, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_SCHEMAS, instance=_JSON)
def test_msgspec_types_agree_with_the_json_schema_reference(
    schema: dict[str, Any], instance: Any
) -> None:
    reference = jsonschema.Draft202012Validator(schema)
    expected = reference.is_valid(instance)
    compiled = compile_inline(schema)
    errors = compiled.check(instance)
    assert (errors is None) == expected, (schema, instance, errors)
    assert bool(compiled.errors(instance)) == (not expected)
    decoded = decode_json(json.dumps(instance).encode())
    assert (compiled.check(decoded) is None) == expected


@settings(max_examples=200)
@given(schema=_SCHEMAS, instance=_JSON)
def test_every_reference_error_location_is_reported(schema: dict[str, Any], instance: Any) -> None:
    reference = jsonschema.Draft202012Validator(schema)
    compiled = compile_inline(schema)
    ours = {e["path"] for e in compiled.errors(instance)}
    for error in reference.iter_errors(instance):
        if error.validator == "required":
            continue  # reported at the missing field's own path
        if error.validator == "additionalProperties" and error.validator_value is False:
            continue  # reported at each unexpected field's own path
        path = agentdock.findings.format_path(tuple(error.absolute_path))
        assert any(p == path or p.startswith(path) for p in ours), (path, ours)


def test_a_body_nested_past_the_limit_is_malformed_and_one_at_it_is_not() -> None:
    """Arrays and objects count alike; brackets inside strings are no nesting; a value a
    typed decoder made (no dict or list) is judged by the document itself."""
    at_limit = '{"a": ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    past = '{"a": ' + "[{}," * MAX_DEPTH + "1" + "]" * MAX_DEPTH + "}"
    assert isinstance(decode_json(at_limit)["a"], list)
    assert too_deep(at_limit, json.loads(at_limit)) is None
    with pytest.raises(MalformedJSONError, match="nested more than"):
        decode_json(past)
    assert too_deep(past.encode(), object()) is not None  # a typed decoder's value
    in_text = json.dumps({"text": "[" * 5000})
    assert too_deep(in_text, json.loads(in_text)) is None
    assert decode_json(in_text) == {"text": "[" * 5000}
