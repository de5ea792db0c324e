"""JSON Schema validation of a loaded Dockfile, turned into findings.

Validation runs on ``jsonschema-rs`` (Rust): it reports every error of a document and imports
in a fraction of the time of the pure-Python validator, which keeps ``agentdock validate`` a
fast command. Messages are written here rather than taken from the validator: its messages
quote the offending value, and a value may be a secret resolved from the environment. We
quote a value only for enum/const mismatches on paths that were not interpolated.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import jsonschema_rs

from agentdock.findings import Code, Finding, Path, quote

__all__ = [
    "LATEST_VERSION",
    "SUPPORTED_VERSIONS",
    "check_schema",
    "load_schema",
    "schema_version_of",
]

SUPPORTED_VERSIONS: tuple[str, ...] = ("1.0", "1.1")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]

#: Top-level blocks whose structural errors carry their own code (PRD 8.8).
_BLOCK_CODES: dict[str, Code] = {
    "io_schema": Code.InvalidIOSchemaError,
    "policies": Code.PolicyValidationError,
}
#: Keys that only Dockfile 1.1 knows, by the path of the mapping that holds them.
_V11_ONLY: dict[Path, frozenset[str]] = {
    (): frozenset({"build", "deploy", "plugins"}),
    ("auth",): frozenset({"oauth2"}),
    ("auth", "jwt"): frozenset({"algorithms", "public_key", "issuer", "audience"}),
    ("auth", "api_keys"): frozenset({"grace_hours"}),
    ("policies", "safety"): frozenset(
        {"pii", "injection_threshold", "injection", "compliance_keywords"}
    ),
    ("observability",): frozenset({"otlp_endpoint"}),
    ("observability", "langfuse"): frozenset({"host"}),
    ("observability", "metrics"): frozenset({"public"}),
    ("expose",): frozenset({"docs", "protocols", "threads"}),
}
_SECRETISH = ("secret", "key", "token", "password")
_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


@functools.cache
def load_schema(version: str) -> dict[str, Any]:
    """The JSON Schema of a Dockfile version, as shipped in ``agentdock/spec/schemas``."""
    if version not in SUPPORTED_VERSIONS:
        raise KeyError(f"unsupported Dockfile version {version!r}")
    text = resources.files("agentdock.spec").joinpath(f"schemas/dockfile-{version}.json")
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(version: str) -> Any:
    return jsonschema_rs.Draft202012Validator(load_schema(version))


def _subschema(root: Mapping[str, Any], schema_path: Any) -> Mapping[str, Any]:
    """The schema object holding the failed keyword (``$ref`` steps followed)."""
    node: Any = root
    for step in list(schema_path)[:-1]:
        if step == "$ref" and isinstance(node, Mapping):
            target = node.get("$ref", "")
            node = root
            for part in str(target).removeprefix("#/").split("/"):
                node = node.get(part, {}) if isinstance(node, Mapping) else {}
            continue
        if isinstance(node, Mapping):
            node = node.get(step, {})
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return {}
    return node if isinstance(node, Mapping) else {}


def schema_version_of(data: Mapping[str, Any]) -> tuple[str, list[Finding]]:
    """The schema version to validate ``data`` with, and findings about its ``version``.

    A missing or unknown version is an error, but validation goes on against the latest
    schema so that every other problem in the file is reported in the same run.
    """
    version = data.get("version")
    supported = ", ".join(SUPPORTED_VERSIONS)
    if version is None:
        if "version" in data:
            message = "version must be a string"
        else:
            message = "missing required key 'version'"
        return LATEST_VERSION, [
            Finding(
                Code.InvalidSchemaError,
                ("version",),
                message,
                hint=f'add version: "{LATEST_VERSION}" (supported: {supported})',
            )
        ]
    if isinstance(version, str) and version in SUPPORTED_VERSIONS:
        return version, []
    if isinstance(version, int | float) and not isinstance(version, bool):
        as_text = str(version)
        if as_text in SUPPORTED_VERSIONS:
            return as_text, [
                Finding(
                    Code.InvalidSchemaError,
                    ("version",),
                    "version must be a string",
                    hint=f'quote it: version: "{as_text}"',
                )
            ]
    shown = version if isinstance(version, str) else type(version).__name__
    return LATEST_VERSION, [
        Finding(
            Code.InvalidSchemaError,
            ("version",),
            f"unsupported Dockfile version {shown!r}",
            hint=f"supported versions: {supported}",
        )
    ]


def check_schema(
    data: Mapping[str, Any],
    *,
    interpolated: frozenset[Path] = frozenset(),
    unresolved_ok: bool = False,
) -> tuple[str, list[Finding]]:
    """Validate ``data`` against the schema of its version.

    :param interpolated: paths whose values came from ``${VAR}`` (never quoted).
    :param unresolved_ok: skip errors on values that still hold a ``${...}`` placeholder:
        their real value is unknown, and the loader already reported them (4001 or 4107).
    :returns: the version used and the findings, in document order.
    """
    version, findings = schema_version_of(data)
    validator = _validator(version)
    for error in validator.iter_errors(dict(data)):
        path = tuple(error.instance_path)
        if path == ("version",):
            continue  # reported by schema_version_of
        if unresolved_ok and isinstance(error.instance, str) and "${" in error.instance:
            continue
        schema = _subschema(load_schema(version), error.schema_path)
        findings.extend(_to_findings(error, schema, path, version, interpolated))
    return version, findings


def _code_for(path: Path) -> Code:
    if path and isinstance(path[0], str):
        return _BLOCK_CODES.get(path[0], Code.InvalidSchemaError)
    return Code.InvalidSchemaError


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _quotable(path: Path, interpolated: frozenset[Path]) -> bool:
    if path in interpolated:
        return False
    last = path[-1] if path else ""
    return not (isinstance(last, str) and any(word in last.lower() for word in _SECRETISH))


def _allowed_keys(schema: Mapping[str, Any]) -> list[str]:
    return sorted(schema.get("properties", {}))


def _to_findings(
    error: Any,
    schema: Mapping[str, Any],
    path: Path,
    version: str,
    interpolated: frozenset[Path],
) -> Iterator[Finding]:
    kind: str = error.kind.name
    rule: Any = schema.get(kind)
    value = error.instance
    code = _code_for(path)

    if kind == "required":
        key = error.kind.property
        yield Finding(code, (*path, key), f"missing required key '{key}'")
        return
    if kind == "additionalProperties":
        allowed = _allowed_keys(schema)
        for key in error.kind.unexpected:
            hint = _hint_for_unknown(path, key, allowed, version)
            yield Finding(code, (*path, key), f"unknown key {quote(key)}", hint=hint)
        return
    if kind == "type":
        expected = rule
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        message = f"expected {expected_text}, got {_type_name(value)}"
        yield Finding(code, path, message)
        return
    if kind in ("enum", "const"):
        options = rule if kind == "enum" else [rule]
        shown = json.dumps(value) if _quotable(path, interpolated) else "the value"
        choices = ", ".join(json.dumps(o) for o in options)
        hint = None
        if isinstance(value, str):
            close = difflib.get_close_matches(value, [str(o) for o in options], n=1)
            if close and _quotable(path, interpolated):
                hint = f"did you mean {json.dumps(close[0])}?"
        yield Finding(code, path, f"{shown} is not one of {choices}", hint=hint)
        return
    if kind == "pattern":
        described = schema.get("description")
        hint = described if isinstance(described, str) else None
        yield Finding(code, path, f"does not match the pattern {rule}", hint=hint)
        return
    if kind in ("minLength", "maxLength"):
        bound = rule
        word = "at least" if kind == "minLength" else "at most"
        yield Finding(code, path, f"must be {word} {bound} characters long")
        return
    if kind in ("minItems", "maxItems"):
        word = "at least" if kind == "minItems" else "at most"
        yield Finding(code, path, f"must have {word} {rule} items")
        return
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "greater than",
            "exclusiveMaximum": "less than",
        }
        yield Finding(code, path, f"must be {words[kind]} {rule}")
        return
    if kind == "uniqueItems":
        yield Finding(code, path, "items must be unique")
        return
    if kind == "propertyNames":
        inner = getattr(error.kind, "error", None)
        key = getattr(inner, "instance", None)
        shown = f" {quote(key)}" if isinstance(key, str) else ""
        yield Finding(code, path, f"has a key{shown} that is not a valid name")
        return
    if kind == "falseSchema":  # the io_schema forms are exclusive
        yield Finding(
            code,
            path,
            "cannot be combined with input_class/output_class",
            hint="use either inline input/output schemas or input_class/output_class",
        )
        return
    yield Finding(code, path, f"fails the schema rule '{kind}'")


def _hint_for_unknown(path: Path, key: str, allowed: list[str], version: str) -> str | None:
    if version == "1.0" and key in _V11_ONLY.get(path, frozenset()):
        return f'{key} needs Dockfile version 1.1: declare version: "1.1"'
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if allowed:
        return "valid keys: " + ", ".join(allowed)
    return None
