"""Properties of the redact_patterns checks over arbitrary input."""

from __future__ import annotations

import re
import warnings

from agentdock.findings import Code, Severity
from agentdock.spec.regexlint import catastrophic_reason, check_patterns
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    from re import _parser as sre_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older layouts
    import sre_parse as sre_parser

BASE = ("policies", "safety", "redact_patterns")

#: Pieces that make small, often valid, often nested regular expressions.
TOKENS = [
    "a",
    "b",
    "x",
    "0",
    " ",
    "-",
    ".",
    "\\d",
    "\\w",
    "\\s",
    "\\b",
    "\\B",
    "\\1",
    "[a-z]",
    "[^ab]",
    "[\\d\\w]",
    "(",
    ")",
    "(?:",
    "(?=",
    "(?!",
    "(?<=a)",
    "(?>",
    "(?i)",
    "(?P<g>",
    "(?P=g)",
    "|",
    "*",
    "+",
    "?",
    "*?",
    "++",
    "{2}",
    "{1,3}",
    "{10,}",
    "{20}",
    "^",
    "$",
    "[",
    "]",
    "\\",
]

regex_like = st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)
any_text = st.one_of(regex_like, st.text(max_size=20))
items = st.one_of(
    any_text,
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _compiles(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except Exception:
        return False
    return True


def _can_only_or_also_match_empty(pattern: str) -> bool:
    if re.fullmatch(pattern, "") is not None:
        return True
    return bool(sre_parser.parse(pattern).getwidth()[1] == 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(items, max_size=8))
def test_never_raises_and_paths_point_at_strings(patterns: list[object]) -> None:
    findings = check_patterns(patterns)
    for finding in findings:
        assert finding.path[:-1] == BASE
        index = finding.path[-1]
        assert isinstance(index, int)
        assert 0 <= index < len(patterns)
        assert isinstance(patterns[index], str)
        assert "\n" not in finding.message


@settings(max_examples=300, deadline=None)
@given(st.lists(any_text, max_size=6))
def test_errors_only_for_invalid_or_empty_matching_patterns(patterns: list[str]) -> None:
    for finding in check_patterns(patterns):
        index = finding.path[-1]
        assert isinstance(index, int)
        pattern = patterns[index]
        if finding.code is Code.PolicyValidationError:
            assert finding.severity is Severity.ERROR
            if _compiles(pattern):
                assert finding.message == "pattern matches the empty string"
                assert _can_only_or_also_match_empty(pattern)
            else:
                assert finding.message.startswith("invalid regex: ")
        else:
            assert finding.severity is Severity.WARNING
            assert finding.code in (Code.CatastrophicRegexWarning, Code.OverlappingRegexWarning)
            assert _compiles(pattern)


@settings(max_examples=300, deadline=None)
@given(regex_like)
def test_invalid_patterns_get_exactly_one_error(pattern: str) -> None:
    findings = check_patterns([pattern])
    if not _compiles(pattern):
        assert [f.code for f in findings] == [Code.PolicyValidationError]


@settings(max_examples=500, deadline=None)
@given(any_text)
def test_catastrophic_reason_never_raises(pattern: str) -> None:
    reason = catastrophic_reason(pattern)
    assert reason is None or (isinstance(reason, str) and reason)


@settings(max_examples=200, deadline=None)
@given(st.lists(regex_like.filter(_compiles), min_size=1, max_size=4), st.data())
def test_repeating_a_pattern_is_reported_once_per_copy(
    patterns: list[str], data: st.DataObject
) -> None:
    original = data.draw(st.integers(0, len(patterns) - 1))
    copied = [*patterns, patterns[original]]
    duplicates = [f for f in check_patterns(copied) if f.code is Code.OverlappingRegexWarning]
    assert any(f.path[-1] == len(patterns) for f in duplicates)


@settings(max_examples=100, deadline=None)
@given(st.lists(any_text, max_size=4), st.lists(st.text(max_size=5), min_size=1, max_size=3))
def test_custom_base(patterns: list[str], base: list[str]) -> None:
    prefix = tuple(base)
    for finding in check_patterns(patterns, base=prefix):
        assert finding.path[:-1] == prefix
