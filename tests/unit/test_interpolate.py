"""``${VAR}`` placeholders: parsing, substitution, the lookup chain and whole trees."""

from __future__ import annotations

import pathlib

import pytest
from agentdock.findings import Code
from agentdock.spec.interpolate import (
    Placeholder,
    Variables,
    interpolate_tree,
    parse_template,
    substitute,
)


def lookup_in(values: dict[str, str]) -> Variables:
    return Variables(None, values)


# -- parse_template ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", ()),
        ("plain", ("plain",)),
        ("${A}", (Placeholder("A", None, "${A}"),)),
        ("x${A_1}y", ("x", Placeholder("A_1", None, "${A_1}"), "y")),
        ("${_a:-def ault}", (Placeholder("_a", "def ault", "${_a:-def ault}"),)),
        ("${A:-}", (Placeholder("A", "", "${A:-}"),)),
        ("${A:-a:-b$c}", (Placeholder("A", "a:-b$c", "${A:-a:-b$c}"),)),
        ("$${A}", ("${A}",)),
        ("a$${A}b${B}", ("a${A}b", Placeholder("B", None, "${B}"))),
        ("$$${A}", ("$${A}",)),
        ("$HOME and $", ("$HOME and $",)),
        ("${A}${B}", (Placeholder("A", None, "${A}"), Placeholder("B", None, "${B}"))),
    ],
)
def test_parse_template(text: str, segments: tuple[object, ...]) -> None:
    parsed, malformed = parse_template(text)
    assert parsed == segments
    assert malformed == ()


@pytest.mark.parametrize(
    ("text", "fragment", "literal"),
    [
        ("${1X}", "${1X}", "${1X}"),
        ("a ${} b", "${}", "a ${} b"),
        ("${A-b}", "${A-b}", "${A-b}"),
        ("${A:?err}", "${A:?err}", "${A:?err}"),
        ("${A B}", "${A B}", "${A B}"),
        ("x ${OPEN", "${OPEN", "x ${OPEN"),
        ("${A:-${B}}", "${A:-${B}", "${A:-${B}}"),
    ],
)
def test_malformed_placeholders_stay_literal(text: str, fragment: str, literal: str) -> None:
    parsed, malformed = parse_template(text)
    assert malformed == (fragment,)
    assert "".join(s for s in parsed if isinstance(s, str)) == literal
    assert not any(isinstance(s, Placeholder) for s in parsed)


def test_long_malformed_fragment_is_shortened() -> None:
    _, malformed = parse_template("${" + "x" * 200)
    assert len(malformed[0]) == 40
    assert malformed[0].endswith("...")


# -- substitute --------------------------------------------------------------------------


def test_substitute_values_and_flags() -> None:
    result = substitute("a=${A}, b=${B:-dflt}, a=${A}", lookup_in({"A": "1"}).__call__)
    assert result.value == "a=1, b=dflt, a=1"
    assert result.names == ("A", "B")
    assert result.unresolved == ()
    assert result.substituted
    assert not result.whole


def test_substitute_whole() -> None:
    assert substitute("${A}", {"A": "v"}.get).whole
    nothing: dict[str, str] = {}
    assert substitute("${A:-d}", nothing.get).whole
    assert not substitute("${A}", nothing.get).whole
    assert not substitute(" ${A}", {"A": "v"}.get).whole
    assert not substitute("${A}${B}", {"A": "v", "B": "w"}.get).whole


def test_substitute_unresolved_stays_verbatim() -> None:
    result = substitute("x ${MISSING} ${SET} ${MISSING}", {"SET": "s"}.get)
    assert result.value == "x ${MISSING} s ${MISSING}"
    assert result.unresolved == ("MISSING",)
    assert result.substituted


def test_substitute_empty_values() -> None:
    assert substitute("[${E}]", {"E": ""}.get).value == "[]"
    assert substitute("[${E:-d}]", {"E": ""}.get).value == "[d]"
    assert substitute("[${E}]", {"E": ""}.get).unresolved == ()


def test_substituted_values_are_not_rescanned() -> None:
    result = substitute("${A}", {"A": "${B}", "B": "no"}.get)
    assert result.value == "${B}"
    assert result.names == ("A",)


def test_escapes_are_not_substitutions() -> None:
    result = substitute("$${A}", {"A": "x"}.get)
    assert result.value == "${A}"
    assert result.names == ()
    assert not result.substituted


# -- Variables ---------------------------------------------------------------------------


def test_variables_order(tmp_path: pathlib.Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("A=dotenv\nB=dotenv\nC=dotenv\nD\n")
    variables = Variables({"A": "env"}, {"A": "environ", "B": "environ"}, dotenv)
    assert variables("A") == "env"
    assert variables("B") == "environ"
    assert variables("C") == "dotenv"
    assert variables("D") is None
    assert variables("E") is None
    assert variables.findings == []


def test_empty_env_value_does_not_fall_through() -> None:
    variables = Variables({"A": ""}, {"A": "environ"})
    assert variables("A") == ""


def test_missing_dotenv_is_fine(tmp_path: pathlib.Path) -> None:
    variables = Variables(None, {}, tmp_path / ".env")
    assert variables("A") is None
    assert variables.findings == []


def test_dotenv_is_read_once(tmp_path: pathlib.Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("A=1\n")
    variables = Variables(None, {}, dotenv)
    assert variables("A") == "1"
    dotenv.write_text("A=2\n")
    assert variables("A") == "1"


def test_dotenv_over_the_size_limit(tmp_path: pathlib.Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TOKEN=" + "s" * 100 + "\n")
    variables = Variables(None, {}, dotenv, dotenv_display=".env", max_bytes=50)
    assert variables("TOKEN") is None
    [finding] = variables.findings
    assert finding.code is Code.EnvInterpolationError
    assert finding.message == "file is 107 bytes; the limit is 50"
    assert finding.file == ".env"
    assert "sss" not in repr(finding)


def test_dotenv_that_is_a_directory(tmp_path: pathlib.Path) -> None:
    (tmp_path / ".env").mkdir()
    variables = Variables(None, {}, tmp_path / ".env")
    assert variables("A") is None
    assert [f.code for f in variables.findings] == [Code.EnvInterpolationError]


# -- interpolate_tree --------------------------------------------------------------------


def test_interpolate_tree() -> None:
    raw = {
        "${K}": "${V}",
        "list": ["${N}", "x${N}", 3, None, True, {"deep": "${MISSING}"}],
        "bad": "${1}",
    }
    result = interpolate_tree(
        raw,
        {"K": "k", "V": "v", "N": "7"}.get,
        retypable={("list", 0), ("list", 1)},
        retype=int,
    )
    assert result.data == {
        "${K}": "v",
        "list": [7, "x7", 3, None, True, {"deep": "${MISSING}"}],
        "bad": "${1}",
    }
    assert raw["list"][0] == "${N}"
    assert result.interpolated == frozenset({("${K}",), ("list", 0), ("list", 1)})
    assert result.variables == frozenset({"V", "N", "MISSING"})
    assert result.unresolved == ((("list", 5, "deep"), "MISSING"),)
    assert result.malformed == ((("bad",), "${1}"),)


def test_interpolate_tree_without_retype_keeps_strings() -> None:
    result = interpolate_tree({"a": "${N}"}, {"N": "7"}.get, retypable={("a",)})
    assert result.data == {"a": "7"}
