r"""Golden vectors (``contracts/vectors/*.yaml``): schema, models and ``validate`` agree.

Each vector holds a Dockfile as a mapping, optional ``${VAR}`` values, and the expected
verdicts: ``schema_valid`` (the JSON Schema and the pydantic models, which must agree) and
the findings of :func:`agentdock.validation.validate` as sets of ``(code, path)``. An error
entry may carry ``hint``: text that the finding's hint must contain.

The schema verdict is that of ``jsonschema-rs``, the validator ``validate`` runs, which
matches patterns as ECMA-262 says. The pure-Python ``jsonschema`` must agree too, except on
text where Python's regex dialect differs (a final newline before ``$``, a few whitespace
characters under ``\s``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
import yaml
from agentdock.spec.interpolate import interpolate_tree
from agentdock.spec.models import MODELS
from agentdock.spec.schema import LATEST_VERSION, load_schema, schema_version_of
from agentdock.validation import validate
from pydantic import ValidationError
from regex_dialects import dialect_sensitive

VECTORS_DIR = Path(__file__).resolve().parents[2] / "contracts" / "vectors"
SOURCES = frozenset({"PRD 8.10", "PRD 8.11", "PRD 5.2.11", "PRD 5.2.2", "own"})
#: The negative cases PRD 8.11 lists, by the (code, path) each must report.
PRD_8_11_CASES = frozenset(
    {
        (4002, "agent.entrypoint"),
        (4005, "auth.jwt.secret_key"),
        (4010, "expose"),
        (4006, "policies.safety.redact_patterns[1]"),
        (4004, "io_schema.output_class"),
    }
)
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _load_vectors() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(VECTORS_DIR.glob("*.yaml")):
        out[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


VECTORS = _load_vectors()
NAMES = sorted(VECTORS)


def _pairs(entries: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(int(entry["code"]), str(entry["path"])) for entry in entries}


def _placeholders(node: Any) -> set[str]:
    if isinstance(node, str):
        return set(_PLACEHOLDER.findall(node))
    if isinstance(node, dict):
        return set().union(*(_placeholders(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_placeholders(v) for v in node))
    return set()


def _resolved(vector: dict[str, Any]) -> Any:
    """The document with the vector's env substituted (placeholders without a value stay)."""
    env: dict[str, str] = vector.get("env") or {}
    return interpolate_tree(vector["document"], env.get).data


def _version(document: Any) -> str:
    if isinstance(document, Mapping):
        return schema_version_of(document)[0]
    return LATEST_VERSION


def test_there_are_enough_vectors() -> None:
    assert len(VECTORS) >= 35
    by_source = Counter(v["source"] for v in VECTORS.values())
    assert set(by_source) == SOURCES
    assert by_source["own"] >= 30
    assert by_source["PRD 8.11"] >= 5


@pytest.mark.parametrize("name", NAMES)
def test_vector_shape(name: str) -> None:
    vector = VECTORS[name]
    assert set(vector) <= {"description", "source", "env", "document", "expect"}
    assert isinstance(vector["description"], str) and "\n" not in vector["description"].strip()
    assert vector["source"] in SOURCES
    assert isinstance(vector["document"], dict)
    env = vector.get("env", {})
    assert isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
    expect = vector["expect"]
    assert set(expect) <= {"schema_valid", "ok", "errors", "warnings"}
    assert isinstance(expect["schema_valid"], bool) and isinstance(expect["ok"], bool)
    assert expect["ok"] == (not expect["errors"])
    for entry in [*expect["errors"], *expect.get("warnings", [])]:
        assert set(entry) <= {"code", "path", "hint"}
        assert isinstance(entry["code"], int) and isinstance(entry["path"], str)
    assert all(4000 <= e["code"] < 4100 for e in expect["errors"])
    assert all(4100 <= w["code"] < 4200 for w in expect.get("warnings", []))


def test_prd_8_11_negative_cases_are_covered() -> None:
    covered: set[tuple[int, str]] = set()
    for vector in VECTORS.values():
        if vector["source"] == "PRD 8.11":
            assert not vector["expect"]["ok"]
            covered |= _pairs(vector["expect"]["errors"])
    assert covered >= PRD_8_11_CASES


@pytest.mark.parametrize("name", NAMES)
def test_schema_and_models_agree(name: str) -> None:
    vector = VECTORS[name]
    document = _resolved(vector)
    version = _version(document)
    schema = load_schema(version)
    verdicts = {"jsonschema-rs": jsonschema_rs.Draft202012Validator(schema).is_valid(document)}
    if not dialect_sensitive(document):
        verdicts["jsonschema"] = jsonschema.Draft202012Validator(schema).is_valid(document)
    try:
        MODELS[version].model_validate(document)
    except ValidationError:
        verdicts["models"] = False
    else:
        verdicts["models"] = True
    expected = vector["expect"]["schema_valid"]
    assert set(verdicts.values()) == {expected}, verdicts


@pytest.mark.parametrize("name", NAMES)
def test_validate(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    vector = VECTORS[name]
    env: dict[str, str] = vector.get("env") or {}
    for variable in _placeholders(vector["document"]) - set(env):
        monkeypatch.delenv(variable, raising=False)
    expect = vector["expect"]

    report = validate(vector["document"], env=env, skip_imports=True)

    found = {(int(f.code), f.dotted_path) for f in report.errors}
    shown = "\n".join(f.one_line() for f in (*report.errors, *report.warnings))
    assert found == _pairs(expect["errors"]), shown
    assert report.ok == expect["ok"], shown
    if "warnings" in expect:
        warned = {(int(f.code), f.dotted_path) for f in report.warnings}
        assert warned == _pairs(expect["warnings"]), shown
    for entry in expect["errors"]:
        if "hint" not in entry:
            continue
        hints = [
            f.hint or ""
            for f in report.errors
            if (int(f.code), f.dotted_path) == (entry["code"], entry["path"])
        ]
        assert any(entry["hint"] in hint for hint in hints), (entry, hints)
    assert all(finding.message for finding in (*report.errors, *report.warnings))
    if report.ok:
        assert isinstance(report.spec, MODELS[_version(_resolved(vector))])
    else:
        assert report.spec is None


@pytest.mark.parametrize("name", NAMES)
def test_messages_are_single_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PRD 8.8: every error has a single-line cause, whatever text the document holds."""
    vector = VECTORS[name]
    env: dict[str, str] = vector.get("env") or {}
    for variable in _placeholders(vector["document"]) - set(env):
        monkeypatch.delenv(variable, raising=False)
    report = validate(vector["document"], env=env, skip_imports=True)
    for finding in (*report.errors, *report.warnings):
        assert "\n" not in finding.one_line(), finding
