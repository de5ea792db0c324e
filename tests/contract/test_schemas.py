"""The Dockfile JSON Schemas: well-formed, versioned, published and mirrored by the models."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from typing import Any

import agentdock
import jsonschema_rs
import pytest
from agentdock.spec.models import MODELS
from agentdock.spec.schema import LATEST_VERSION, SUPPORTED_VERSIONS, load_schema
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ROOT / "packages" / "agentdock-core" / "src" / "agentdock" / "spec" / "schemas"
CONTRACTS = ROOT / "contracts"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

#: What Dockfile 1.1 adds to 1.0, as paths of ``properties`` entries.
V11_ADDITIONS: tuple[tuple[str, ...], ...] = (("build",), ("deploy",), ("auth", "oauth2"))
#: Single keys 1.1 adds inside blocks that 1.0 already has.
V11_KEYS: tuple[tuple[str, ...], ...] = (
    ("auth", "jwt", "algorithms"),
    ("auth", "jwt", "public_key"),
    ("auth", "jwt", "issuer"),
    ("auth", "jwt", "audience"),
    ("auth", "api_keys", "grace_hours"),
    ("policies", "safety", "pii"),
    ("policies", "safety", "injection_threshold"),
    ("policies", "safety", "injection"),
    ("policies", "safety", "compliance_keywords"),
    ("observability", "otlp_endpoint"),
    ("observability", "langfuse", "host"),
    ("observability", "metrics", "public"),
    ("expose", "docs"),
    ("expose", "protocols"),
    ("expose", "threads"),
    ("plugins",),
)


def _packaged(version: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (PACKAGED / f"dockfile-{version}.json").read_text(encoding="utf-8")
    )
    return schema


def test_supported_versions() -> None:
    assert SUPPORTED_VERSIONS == ("1.0", "1.1")
    assert LATEST_VERSION == "1.1"
    assert set(MODELS) == set(SUPPORTED_VERSIONS)


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_schema_is_valid_draft_2020_12(version: str) -> None:
    schema = load_schema(version)
    Draft202012Validator.check_schema(schema)
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == DRAFT_2020_12


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_identity(version: str) -> None:
    schema = load_schema(version)
    assert schema["$id"] == f"https://agentdock.dev/schema/dockfile-{version}.json"
    assert schema["title"] == f"AgentDock Dockfile v{version}"
    assert isinstance(schema["description"], str) and schema["description"].strip()
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["version"] == {
        "type": "string",
        "const": version,
        "description": "Dockfile schema version.",
    }
    assert schema["required"] == ["version", "agent", "model", "io_schema", "auth", "expose"]


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_every_top_level_block_is_described(version: str) -> None:
    for name, block in load_schema(version)["properties"].items():
        assert isinstance(block.get("description"), str) and block["description"].strip(), name


def test_ids_and_titles_are_distinct() -> None:
    schemas = [load_schema(v) for v in SUPPORTED_VERSIONS]
    assert len({s["$id"] for s in schemas}) == len(schemas)
    assert len({s["title"] for s in schemas}) == len(schemas)


def _pop(schema: dict[str, Any], path: tuple[str, ...]) -> Any:
    node = schema
    for key in path[:-1]:
        node = node["properties"][key]
    return node["properties"].pop(path[-1])


def _without_identity(schema: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(schema)
    for key in ("$id", "title", "description"):
        out.pop(key)
    out["properties"]["version"].pop("const")
    return out


def test_v11_is_v10_plus_its_blocks_and_keys() -> None:
    v10 = load_schema("1.0")
    v11 = copy.deepcopy(load_schema("1.1"))
    for path in V11_ADDITIONS:
        with pytest.raises(KeyError):
            _pop(copy.deepcopy(v10), path)
        added = _pop(v11, path)
        assert added["type"] == "object"
        assert added["additionalProperties"] is False
        assert added["description"].strip()
    for path in V11_KEYS:
        with pytest.raises(KeyError):
            _pop(copy.deepcopy(v10), path)
        assert _pop(v11, path)["description"].strip()
    assert _without_identity(v11) == _without_identity(v10)


@pytest.mark.parametrize("path", V11_KEYS, ids=".".join)
def test_a_v11_key_in_a_v10_file_says_to_declare_v11(path: tuple[str, ...]) -> None:
    document: dict[str, Any] = {"version": "1.0"}
    node = document
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = "x"
    report = agentdock.validate(document, skip_imports=True)
    hints = [f.hint or "" for f in report.errors]
    assert any('declare version: "1.1"' in hint for hint in hints), hints


def test_v11_additions_are_optional() -> None:
    v11 = load_schema("1.1")
    assert not {"build", "deploy"} & set(v11["required"])
    assert "oauth2" not in v11["properties"]["auth"].get("required", [])


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_contract_copies_are_identical(version: str) -> None:
    published = CONTRACTS / f"dockfile-{version}.json"
    packaged = PACKAGED / f"dockfile-{version}.json"
    assert published.read_bytes() == packaged.read_bytes()
    assert json.loads(published.read_text(encoding="utf-8")) == load_schema(version)


def test_no_other_contract_schemas() -> None:
    published = sorted(p.name for p in CONTRACTS.glob("dockfile-*.json"))
    packaged = sorted(p.name for p in PACKAGED.glob("dockfile-*.json"))
    assert published == packaged == [f"dockfile-{v}.json" for v in SUPPORTED_VERSIONS]


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_cli_prints_the_schema(version: str) -> None:
    from agentdock_cli.main import cli

    result = CliRunner().invoke(cli, ["schema", "--version", version])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == _packaged(version)


def test_cli_prints_the_latest_schema_by_default() -> None:
    from agentdock_cli.main import cli

    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == _packaged(LATEST_VERSION)


def test_cli_rejects_an_unknown_version() -> None:
    from agentdock_cli.main import cli

    result = CliRunner().invoke(cli, ["schema", "--version", "2.0"])
    assert result.exit_code == 2


# ----------------------------------------------------------------------------- defaults


def _subschemas(
    node: Any, path: tuple[str, ...] = ()
) -> typing.Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _subschemas(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _subschemas(value, (*path, str(index)))


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_defaults_satisfy_their_own_schema(version: str) -> None:
    schema = load_schema(version)
    seen = 0
    for path, node in _subschemas(schema):
        if "default" in node and isinstance(node.get("type"), str):
            own = {k: v for k, v in node.items() if k != "default"}
            assert Draft202012Validator(own).is_valid(node["default"]), path
            seen += 1
    assert seen >= 10


# ----------------------------------------------------------------------------- model mirror


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/")
    resolved: dict[str, Any] = schema["$defs"][ref.removeprefix("#/$defs/")]
    return resolved


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model inside ``annotation`` (through Optional, Annotated, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return None
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        args = args[:1]
    elif origin is dict:
        args = args[1:]
    for arg in args:
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _object_schema(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a model mirrors: ``node`` itself, its items, or its map values."""
    node = _resolve(schema, node)
    if "properties" in node:
        return node
    for key in ("items", "additionalProperties"):
        inner = node.get(key)
        if isinstance(inner, dict):
            found = _object_schema(schema, inner)
            if found is not None:
                return found
    return None


def _walk_models(
    schema: dict[str, Any], model: type[BaseModel], node: dict[str, Any], where: str
) -> typing.Iterator[tuple[str, type[BaseModel], dict[str, Any]]]:
    yield where, model, node
    for name, field in model.model_fields.items():
        sub = _submodel(field.annotation)
        if sub is None:
            continue
        prop = node["properties"][name]
        inner = _object_schema(schema, prop)
        assert inner is not None, f"{where}.{name}: the model nests {sub.__name__}"
        yield from _walk_models(schema, sub, inner, f"{where}.{name}")


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_models_have_the_schema_fields(version: str) -> None:
    schema = load_schema(version)
    pairs = list(_walk_models(schema, MODELS[version], schema, "<root>"))
    assert len(pairs) >= 15
    for where, model, node in pairs:
        assert set(model.model_fields) == set(node["properties"]), where
        required = {name for name, f in model.model_fields.items() if f.is_required()}
        assert required == set(node.get("required", [])), where
        forbids = model.model_config.get("extra") == "forbid"
        assert forbids == (node.get("additionalProperties") is False), where


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_model_defaults_match_schema_defaults(version: str) -> None:
    schema = load_schema(version)
    for where, model, node in _walk_models(schema, MODELS[version], schema, "<root>"):
        for name, prop in node["properties"].items():
            if "default" not in prop:
                continue
            field = model.model_fields[name]
            assert field.default is not PydanticUndefined, f"{where}.{name}"
            assert field.default == prop["default"], f"{where}.{name}"
            assert type(field.default) is type(prop["default"]), f"{where}.{name}"
