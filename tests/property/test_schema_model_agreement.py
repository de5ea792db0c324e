r"""The JSON Schemas and the pydantic models accept exactly the same Dockfiles.

Documents are built from valid blocks (both versions) and then mutated: keys dropped or
added, values replaced by other JSON types, numbers pushed past their bounds, strings bent
out of their patterns (trailing newline, unicode, empty), integral floats, nested nulls,
duplicated list items, a different version. Whatever comes out, the schema and the models
must give the same verdict, and ``validate`` must report findings instead of raising.

"The schema" is run by ``jsonschema-rs``, the validator of ``validate``, which matches patterns
as ECMA-262 says. The pure-Python ``jsonschema`` must agree as well, except on strings where
Python's regex dialect differs (a final newline before ``$``, a few characters under ``\s``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import jsonschema
import jsonschema_rs
from agentdock.findings import Code
from agentdock.spec.models import MODELS
from agentdock.spec.schema import load_schema, schema_version_of
from agentdock.validation import validate
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from regex_dialects import dialect_sensitive

RS_VALIDATORS = {v: jsonschema_rs.Draft202012Validator(load_schema(v)) for v in MODELS}
PY_VALIDATORS = {v: jsonschema.Draft202012Validator(load_schema(v)) for v in MODELS}
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Path = tuple[str | int, ...]
Doc = dict[str, Any]

# ----------------------------------------------------------------------------- building blocks


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    return st.fixed_dictionaries(required, optional=optional or {})


def _matching(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


short_text = st.text(max_size=12)
nonempty_text = st.text(min_size=1, max_size=12)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    short_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(short_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _integer(low: int, high: int | None = None) -> st.SearchStrategy[int | float]:
    """A JSON Schema integer: an int, or now and then the same value as a float."""
    ints = st.integers(min_value=low, max_value=high if high is not None else low + 10**6)
    return st.one_of(ints, ints.map(float))


agent_names = _matching(r"[a-z][a-z0-9_-]{2,63}")
plugin_names = st.one_of(
    st.sampled_from(["langgraph", "langchain"]), _matching(r"[a-z][a-z0-9_-]{0,8}")
)
identifiers = _matching(r"[A-Za-z_][A-Za-z0-9_]{0,6}")
entrypoints = st.one_of(
    st.sampled_from(["app.agent:build_graph", "agent:graph", "src.pkg.mod:make"]),
    st.builds(
        lambda m, a: f"{'.'.join(m)}:{a}",
        st.lists(identifiers, min_size=1, max_size=3),
        identifiers,
    ),
)
dotted_paths = st.one_of(
    st.sampled_from(["app.schemas.In", "app.schemas:Out", "m:C"]),
    st.builds(
        lambda m, sep, a: f"{'.'.join(m)}{sep}{a}",
        st.lists(identifiers, min_size=1, max_size=3),
        st.sampled_from([".", ":"]),
        identifiers,
    ),
)
json_types = st.sampled_from(["string", "number", "integer", "boolean", "array", "object", "null"])
io_property = _obj(
    {"type": json_types},
    {
        "description": short_text,
        "items": st.fixed_dictionaries({"type": json_types}),
        "enum": st.lists(json_scalars, max_size=3),
        "format": short_text,
    },
)


@st.composite
def inline_schemas(draw: st.DrawFn) -> Doc:
    properties = draw(st.dictionaries(identifiers, io_property, max_size=3))
    out: Doc = {"type": "object", "properties": properties}
    if draw(st.booleans()):
        names = sorted(properties) + draw(st.lists(identifiers, max_size=1))
        out["required"] = draw(st.lists(st.sampled_from(names), max_size=3)) if names else []
    if draw(st.booleans()):
        out["description"] = draw(short_text)
    return out


io_schemas = st.one_of(
    st.fixed_dictionaries({"input": inline_schemas(), "output": inline_schemas()}),
    st.fixed_dictionaries({"input_class": dotted_paths, "output_class": dotted_paths}),
)
role_names = _matching(r"[a-z][a-z0-9_-]{2,12}")
roles = _obj({"name": role_names, "permissions": st.lists(_matching(r"[a-z_]{2,12}"), max_size=3)})
rate_limits = _matching(r"[1-9][0-9]{0,3}[ \t\u00a0\u3000]?/[ \u2028\ufeff]?(s|m|h|d)")
oauth2 = _obj(
    {},
    {
        "issuer": nonempty_text,
        "jwks_url": st.builds(
            lambda s, rest: f"http{s}://{rest}", st.sampled_from(["", "s"]), short_text
        ),
        "audience": nonempty_text,
        "algorithms": st.lists(
            st.sampled_from(
                [
                    "RS256",
                    "RS384",
                    "RS512",
                    "ES256",
                    "ES384",
                    "ES512",
                    "PS256",
                    "PS384",
                    "PS512",
                    "EdDSA",
                ]
            ),
            min_size=1,
            max_size=3,
        ),
    },
)


def auth(version: str) -> Any:
    optional: dict[str, Any] = {
        "jwt": _obj(
            {}, {"secret_key": st.text(min_size=16, max_size=40), "expiry_minutes": _integer(5)}
        ),
        "api_keys": _obj({}, {"enabled": st.booleans(), "rotation_days": _integer(1)}),
        "roles": st.lists(roles, max_size=2),
        "rate_limits": st.dictionaries(role_names, rate_limits, max_size=2),
    }
    if version == "1.1":
        optional["oauth2"] = oauth2
    return _obj({"mode": st.sampled_from(["jwt", "api_key", "oauth2"])}, optional)


agents = _obj(
    {"name": agent_names, "entrypoint": entrypoints, "framework": plugin_names},
    {"description": short_text},
)
models = _obj(
    {
        "provider": st.sampled_from(["openai", "azure", "anthropic", "google", "ollama", "custom"]),
        "name": nonempty_text,
    },
    {
        "temperature": st.one_of(
            st.floats(min_value=0, max_value=2, allow_nan=False),
            st.integers(min_value=0, max_value=2),
        ),
        "max_tokens": _integer(1),
        "endpoint": short_text,
        "extra": st.dictionaries(short_text, json_values, max_size=2),
    },
)
redact_patterns = st.sampled_from(
    [r"\d{16}", r"(?i)password", r"[A-Z]{2}\d+", "sk-[a-z0-9]+", "(a+)+b"]
)
policies = _obj(
    {},
    {
        "tools": _obj(
            {},
            {
                "allowed": st.lists(_matching(r"[A-Za-z0-9_.-]{1,64}"), max_size=3),
                "deny_by_default": st.booleans(),
            },
        ),
        "safety": _obj(
            {},
            {
                "redact_patterns": st.lists(redact_patterns, max_size=3),
                "max_output_chars": _integer(1),
                "block_prompt_injection": st.booleans(),
                "halt_on_violation": st.booleans(),
            },
        ),
    },
)
observability = _obj(
    {},
    {
        "langfuse": _obj(
            {}, {"project": short_text, "public_key": short_text, "secret_key": short_text}
        ),
        "tracing": st.booleans(),
        "log_level": st.sampled_from(["debug", "info", "warn", "error"]),
        "metrics": _obj(
            {}, {"latency": st.booleans(), "tokens": st.booleans(), "cost": st.booleans()}
        ),
    },
)
expose = _obj(
    {},
    {
        "rest": st.booleans(),
        "streaming": st.sampled_from(["sse", "websocket", "none"]),
        "port": _integer(1, 65535),
        "host": st.one_of(st.sampled_from(["0.0.0.0", "127.0.0.1", "localhost"]), nonempty_text),
        "cors": _obj(
            {},
            {
                "origins": st.lists(short_text, max_size=2),
                "methods": st.lists(short_text, max_size=2),
            },
        ),
    },
)
metadata = st.builds(
    lambda typed, free: {**free, **typed},
    _obj(
        {},
        {"maintainer": short_text, "version": short_text, "tags": st.lists(short_text, max_size=2)},
    ),
    st.dictionaries(_matching(r"x_[a-z]{1,5}"), json_values, max_size=2),
)
build = _obj(
    {},
    {
        "base_image": nonempty_text,
        "hardware": st.sampled_from(["auto", "cpu", "cuda"]),
        "cuda_version": _matching(r"[0-9]{1,2}\.[0-9]{1,2}"),
        "python_version": _matching(r"3\.[0-9]{2}"),
        "platforms": st.lists(
            _matching(r"[a-z0-9]{1,6}/[a-z0-9_]{1,6}(/[a-z0-9]{1,3})?"), min_size=1, max_size=2
        ),
        "requirements": nonempty_text,
    },
)
env_names = _matching(r"[A-Za-z_][A-Za-z0-9_]{0,8}")
deploy = _obj(
    {},
    {
        "target": plugin_names,
        "replicas": _integer(1, 1000),
        "resources": _obj(
            {},
            {
                "cpu": _matching(r"[0-9]{1,3}(\.[0-9]{1,2})?|[0-9]{1,4}m"),
                "memory": _matching(r"[0-9]{1,5}(Ki|Mi|Gi|Ti|K|M|G|T)?"),
                "gpu": _integer(0, 8),
            },
        ),
        "env": st.dictionaries(env_names, short_text, max_size=2),
        "secrets": st.lists(env_names, max_size=3, unique=True),
    },
)


@st.composite
def valid_documents(draw: st.DrawFn) -> Doc:
    version = draw(st.sampled_from(["1.0", "1.1"]))
    optional: dict[str, Any] = {
        "arguments": st.dictionaries(short_text, json_values, max_size=3),
        "policies": policies,
        "observability": observability,
        "metadata": metadata,
    }
    if version == "1.1":
        optional |= {"build": build, "deploy": deploy}
    required = {
        "version": st.just(version),
        "agent": agents,
        "model": models,
        "io_schema": io_schemas,
        "auth": auth(version),
        "expose": expose,
    }
    document: Doc = draw(_obj(required, optional))
    return document


# ----------------------------------------------------------------------------- mutations


def _paths(node: Any, path: Path = ()) -> list[Path]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Doc, path: Path, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _drop(doc: Doc, path: Path) -> None:
    del _get(doc, path[:-1])[path[-1]]


#: Keys that exist somewhere in a Dockfile, so that an added key is often known elsewhere.
KNOWN_KEYS = sorted(
    {
        key
        for version in MODELS
        for path in _paths(load_schema(version))
        if path and path[-2:-1] == ("properties",)
        for key in [path[-1]]
        if isinstance(key, str)
    }
)
BOUNDARY_NUMBERS = [
    0, -1, 1, 2, 3, 4, 5, 15, 16, 1000, 1001, 65535, 65536, 70000, 10**20,
    0.0, -0.0, 0.5, 1.0, 2.0, 2.0000001, 2.5, 5.0, 8080.0, 65535.0, 65536.0, 1e300, -1e-300,
]  # fmt: skip
STRING_BENDS: list[Callable[[str], str]] = [
    lambda s: s + "\n",
    lambda s: "\n" + s,
    lambda s: s + " ",
    lambda s: s.upper(),
    lambda s: s[:2],
    lambda s: s * 30,
    lambda s: "",
    lambda s: s + "é",
    lambda s: "Ω" + s,
    lambda s: s.replace("_", "-").replace(".", "/"),
    lambda s: s.replace(":", "."),
    lambda s: s + ":x",
    lambda s: s + "\x00",
    lambda s: s + "\u0663",
    lambda s: s.replace("/", "\x85/\ufeff"),
    lambda s: s.replace("/", " /\u2028"),
    lambda s: s + "${UNSET_AGENTDOCK_VAR}",
]
MUTATIONS = (
    "drop",
    "add_key",
    "rename_key",
    "retype",
    "null",
    "number",
    "string",
    "list",
    "io_mix",
    "version",
)
#: Mutations that mostly hit values of one kind: numbers get numbers, strings get bent.
_TARGETS: dict[str, type | tuple[type, ...]] = {
    "number": (int, float),
    "string": str,
    "list": list,
    "add_key": dict,
    "rename_key": dict,
}


def _str_keys(node: dict[Any, Any]) -> list[str]:
    return sorted(key for key in node if isinstance(key, str))


def _another_type(value: Any) -> st.SearchStrategy[Any]:
    def different(candidate: Any) -> bool:
        return type(candidate) is not type(value) or candidate != value

    return json_values.filter(different)


@st.composite
def mutated_documents(draw: st.DrawFn, *, exotic: bool = False) -> Doc:
    """A valid document with one to four mutations; ``exotic`` adds non-JSON values."""
    doc = copy.deepcopy(draw(valid_documents()))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(MUTATIONS + (("exotic",) if exotic else ())))
        paths = _paths(doc)
        targets = [p for p in paths if isinstance(_get(doc, p), _TARGETS.get(kind, object))]
        path = draw(st.sampled_from(targets or paths))
        node = _get(doc, path)
        if kind == "drop" and path:
            _drop(doc, path)
        elif kind == "add_key":
            target = node if isinstance(node, dict) else doc
            key = draw(st.one_of(st.sampled_from(KNOWN_KEYS), short_text))
            target[key] = draw(json_values)
        elif kind == "rename_key" and isinstance(node, dict) and _str_keys(node):
            key = draw(st.sampled_from(_str_keys(node)))
            bent = draw(st.sampled_from(STRING_BENDS))(key)
            node[bent] = node.pop(key)
        elif kind == "io_mix" and isinstance(doc.get("io_schema"), dict):
            other = draw(io_schemas)
            keep = draw(st.lists(st.sampled_from(sorted(other)), min_size=1, unique=True))
            doc["io_schema"].update({key: other[key] for key in keep})
        elif kind == "retype" and path:
            _set(doc, path, draw(_another_type(node)))
        elif kind == "null" and path:
            _set(doc, path, None)
        elif kind == "number" and path:
            number = draw(
                st.one_of(
                    st.sampled_from(BOUNDARY_NUMBERS),
                    st.integers(),
                    st.floats(allow_nan=False, allow_infinity=False),
                )
            )
            _set(doc, path, number)
        elif kind == "string" and path:
            text = node if isinstance(node, str) else draw(short_text)
            _set(doc, path, draw(st.sampled_from(STRING_BENDS))(text))
        elif kind == "list" and path and isinstance(node, list):
            choice = draw(st.sampled_from(["append", "duplicate", "clear"]))
            if choice == "append":
                node.append(draw(json_values))
            elif choice == "duplicate" and node:
                node.append(copy.deepcopy(draw(st.sampled_from(node))))
            else:
                node.clear()
        elif kind == "version":
            doc["version"] = draw(st.sampled_from(["1.0", "1.1", 1.0, 1.1, "2.0", ""]))
        elif kind == "exotic" and path:
            value = draw(
                st.sampled_from([math.nan, math.inf, -math.inf, {1: "x"}, {None: 1}, (1, 2)])
            )
            _set(doc, path, value)
    return doc


# ----------------------------------------------------------------------------- properties


def _verdicts(doc: Doc) -> tuple[dict[str, bool], str]:
    version = schema_version_of(doc)[0]
    errors = [f"{e.instance_path}: {e.message}" for e in RS_VALIDATORS[version].iter_errors(doc)]
    verdicts = {"jsonschema-rs": not errors}
    if not dialect_sensitive(doc):
        verdicts["jsonschema"] = PY_VALIDATORS[version].is_valid(doc)
    detail = f"version {version}\nschema: {errors}"
    try:
        MODELS[version].model_validate(doc)
    except ValidationError as exc:
        verdicts["models"] = False
        detail += f"\nmodels: {exc}"
    else:
        verdicts["models"] = True
    return verdicts, f"{verdicts}\n{detail}"


@settings(SETTINGS, max_examples=100)
@given(valid_documents())
def test_building_blocks_are_valid(doc: Doc) -> None:
    verdicts, detail = _verdicts(doc)
    assert all(verdicts.values()), detail


BASE: Doc = {
    "version": "1.1",
    "agent": {"name": "echo_agent", "entrypoint": "app.agent:build", "framework": "langgraph"},
    "model": {"provider": "openai", "name": "gpt-4o-mini"},
    "io_schema": {"input_class": "app.io:In", "output_class": "app.io:Out"},
    "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
    "expose": {"rest": True},
}


def _with(**changes: Any) -> Doc:
    """BASE with ``a__b=value`` set at ``a.b``."""
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        keys = dotted.split("__")
        node = doc
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return doc


@SETTINGS
@given(mutated_documents())
@example(_with(deploy={"secrets": ["A", "B", "A"]}))
@example(_with(deploy={"env": {"1A": "x"}}))
@example(_with(deploy={"env": {"A\n": "x"}}))
@example(_with(deploy={"replicas": 1000.0, "resources": {"gpu": -0.0}}))
@example(_with(agent__name="echo_agent\n"))
@example(_with(agent__name="ech\u0663"))
@example(_with(model__temperature=-0.0, model__max_tokens=1e300))
@example(_with(model__temperature=10**400))
@example(_with(expose__port=65535.0, auth__jwt={"expiry_minutes": 5.0}))
@example(_with(expose__port=True))
@example(_with(io_schema={"input_class": "app.io:In", "output_class": "app.io:Out", "input": None}))
@example(_with(io_schema={"output_class": "app.io:Out"}))
@example(_with(io_schema={}))
@example(_with(auth__rate_limits={"viewer": "5\u2003/\u00a0m"}))
@example(_with(auth__rate_limits={"viewer": "5\ufeff/\x85m", "admin": "1\x1c/m"}))
@example(_with(auth__rate_limits={"viewer": "5/m\n"}))
@example(_with(auth__oauth2={"algorithms": []}, version="1.0"))
@example(_with(metadata={"model_config": None, "__class__": 1, "tags": []}))
@example(_with(build={"platforms": []}))
def test_schema_and_models_agree(doc: Doc) -> None:
    verdicts, detail = _verdicts(doc)
    assert len(set(verdicts.values())) == 1, detail


@settings(SETTINGS, max_examples=150)
@given(mutated_documents(exotic=True))
def test_validate_never_raises(doc: Doc) -> None:
    report = validate(doc, skip_imports=True)
    assert report.ok == (not report.errors)
    for finding in (*report.errors, *report.warnings):
        assert isinstance(finding.code, Code)
        assert isinstance(int(finding.code), int)
        assert 4000 <= int(finding.code) < 4200
        assert isinstance(finding.dotted_path, str)
        assert isinstance(finding.message, str) and finding.message
    if report.ok:
        assert isinstance(report.spec, tuple(MODELS.values()))


def test_validate_survives_a_lone_surrogate() -> None:
    # json.loads('"\\ud800"') yields such a string; YAML files cannot hold one.
    report = validate(_with(agent__name="ab\ud800c"), skip_imports=True)
    assert not report.ok
