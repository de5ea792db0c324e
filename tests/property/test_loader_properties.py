"""Properties of the Dockfile loader: round trips, interpolation and robustness."""

from __future__ import annotations

import pathlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from agentdock.findings import Severity
from agentdock.spec.interpolate import substitute
from agentdock.spec.loader import LoadedDocument, load_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def dockfile(content: str | bytes) -> Iterator[pathlib.Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "Dockfile.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        yield path


# -- (a) JSON-compatible data survives a YAML round trip ---------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
keys = _text.filter(lambda key: "${" not in key)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    _text.filter(lambda value: "$" not in value),
)
documents = st.dictionaries(
    keys,
    st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=20,
    ),
    max_size=6,
)


@SETTINGS
@given(documents)
def test_json_compatible_data_round_trips(document: dict[str, Any]) -> None:
    with dockfile(yaml.safe_dump(document)) as path:
        loaded = load_document(path, environ={})
    assert loaded.findings == ()
    assert loaded.data == document
    assert loaded.raw == document
    assert loaded.interpolated == frozenset()
    assert loaded.variables == frozenset()
    assert () in loaded.source_map


@SETTINGS
@given(documents)
def test_mapping_input_round_trips(document: dict[str, Any]) -> None:
    loaded = load_document(document, environ={})
    assert loaded.findings == ()
    assert loaded.data == document


# -- (b) interpolation equals a reference substitution -----------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_INNER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def reference(template: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group() == "$${":
            return "${"
        inner = _INNER.fullmatch(match.group(1))
        if inner is None or (inner.group(2) is not None and "${" in inner.group(2)):
            return match.group()
        name, default = inner.group(1), inner.group(2)
        value = env.get(name)
        if default is not None and not value:
            return default
        return match.group() if value is None else value

    return _REFERENCE.sub(replace, template)


names = st.sampled_from(["A", "B", "_c", "LONG_NAME_1", "unset"])
env_values = st.text(max_size=8)
pieces = st.one_of(
    st.text(alphabet="ab $:-{}_1\n", max_size=6),
    st.builds(lambda name: "${" + name + "}", names),
    st.builds(
        lambda name, default: "${" + name + ":-" + default + "}",
        names,
        st.text(alphabet="xy $:-{", max_size=5),
    ),
    st.just("$${"),
    st.just("$$"),
    st.just("${"),
)
templates = st.lists(pieces, max_size=8).map("".join)
environments = st.dictionaries(st.sampled_from(["A", "B", "_c", "LONG_NAME_1"]), env_values)


@settings(max_examples=400, deadline=None)
@given(templates, environments)
def test_substitution_matches_reference(template: str, env: dict[str, str]) -> None:
    assert substitute(template, env.get).value == reference(template, env)


#: Values that cannot occur in a finding by accident ("zq" is in no message or template).
secret_environments = st.dictionaries(
    st.sampled_from(["A", "B", "_c", "LONG_NAME_1"]), env_values.map(lambda v: "zq" + v)
)


@SETTINGS
@given(templates, secret_environments, st.booleans())
def test_load_document_interpolates_like_the_reference(
    template: str, env: dict[str, str], allow: bool
) -> None:
    loaded = load_document(
        {"value": template, "list": [template]}, env=env, environ={}, allow_unresolved=allow
    )
    expected = reference(template, env)
    assert loaded.data == {"value": expected, "list": [expected]}
    assert loaded.raw == {"value": template, "list": [template]}
    assert "zq" not in repr(loaded.findings)


@SETTINGS
@given(templates, environments)
def test_quoted_yaml_strings_interpolate_like_the_reference(
    template: str, env: dict[str, str]
) -> None:
    with dockfile(yaml.safe_dump({"v": template}, default_style='"')) as path:
        loaded = load_document(path, env=env, environ={}, allow_unresolved=True)
    assert loaded.data == {"v": reference(template, env)}


# -- (c) the loader never raises on arbitrary input --------------------------------------

yamlish = st.lists(
    st.sampled_from(
        [
            "a",
            "b:",
            " ",
            "  ",
            "\n",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ",",
            ": ",
            "? ",
            "&x ",
            "*x",
            "&y ",
            "*y",
            "<<: ",
            "!include ",
            "Dockfile.yaml",
            "x.yaml",
            "../x.yaml",
            "!!binary ",
            "!!set ",
            "!foo ",
            "'",
            '"',
            "|",
            ">",
            "#",
            "---\n",
            "...\n",
            "${A}",
            "${",
            "$${",
            ".nan",
            "1",
            "2001-01-01",
            "~",
            "\t",
            "%YAML 1.1\n",
            "\x00",
            "\ufeff",
            "é",
        ]
    ),
    max_size=40,
).map("".join)


def assert_sane(loaded: LoadedDocument) -> None:
    assert isinstance(loaded, LoadedDocument)
    if loaded.data is None:
        assert any(f.severity is Severity.ERROR for f in loaded.findings)
    else:
        assert isinstance(loaded.data, dict)
        assert isinstance(loaded.raw, dict)
    for finding in loaded.findings:
        assert finding.file is not None
        assert finding.message and "\n" not in finding.message


@SETTINGS
@given(st.binary(max_size=300))
def test_never_raises_on_bytes(content: bytes) -> None:
    with dockfile(content) as path:
        assert_sane(load_document(path, environ={}))


@SETTINGS
@given(st.text(max_size=300))
def test_never_raises_on_text(content: str) -> None:
    with dockfile(content.encode("utf-8", "surrogatepass")) as path:
        assert_sane(load_document(path, environ={}))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_never_raises_on_yaml_like_text(content: str) -> None:
    with dockfile(content) as path:
        (path.parent / "x.yaml").write_text("k: *x\n")
        assert_sane(load_document(path, environ={}, allow_unresolved=True))
