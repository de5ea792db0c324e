"""Checks on policies.safety.redact_patterns: errors, catastrophic backtracking, duplicates."""

from __future__ import annotations

import pytest
from agentdock.findings import Code, Finding, Severity
from agentdock.spec import regexparse
from agentdock.spec.regexlint import catastrophic_reason, check_patterns

BASE = ("policies", "safety", "redact_patterns")

CATASTROPHIC = [
    # nested quantifiers
    r"(a+)+",
    r"(a*)*b",
    r"(\w+\s?)+$",
    r"([a-z]+)*",
    r"(.*a){20}",
    r"(.*a){10,}",
    r"(?:a*a)+",
    r"(a?a)+",
    r"(\d{1,3},?)+",
    r"(?:x[a-z]+)+",
    r"(a|b+)+",
    r"((ab)+)+",
    r"(?:[a-z]+|\d+)+",
    r"(a+)+?",
    r"^(\w+\s?)*$",
    r"(?=(a+)+b)",
    r"(?>(a+)+b)",
    r"(?i)(?:[A-Z]+a)+",
    # repeated alternations with overlapping branches
    r"(a|a)*",
    r"(a|ab)*",
    r"(\d|\w)+",
    r"(?:\d|\w)+",
    r"(x|x?)+",
    r"(?i)(A|a)+",
    r"(?:cat|[a-c]at)+",
]

SAFE = [
    r"\d{16}",
    r"\b\d{3}-\d{2}-\d{4}\b",
    r"(?i)password",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"(?:\d{4}[- ]?){3}\d{4}",
    r"sk-[A-Za-z0-9]{20,}",
    r"\+?\d[\d -]{8,}\d",
    r"[\d\w]+",
    r"(?:[a-z0-9-]+\.)+[a-z]{2,}",
    r"(a+b)+",
    r"(a+)++",
    r"(?>a+)+",
    r"(?:a|b)+",
    r"(foo|far)+",
    r"(?:xa*a)+",
    r"a*a*",
    r"\d+\d+",
    r"(a+){3}",
    r"(?:\d{1,3}\.){3}\d{1,3}",
    r"AKIA[0-9A-Z]{16}",
    r"gh[pousr]_[A-Za-z0-9]{36}",
    r"(?i)bearer\s+[a-z0-9._~+/-]+=*",
    r"\b(?:4\d{3}|5[1-5]\d{2})(?:[ -]?\d{4}){3}\b",
    r"[|(]",
    r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)+\b",
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?",
    r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
    r"(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}",
    r"https?://[^\s/$.?#][^\s]*",
    r"(?:\d{3}[-.\s]?){2}\d{4}",
    r"\(a|b\)+",
]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_flagged(pattern: str) -> None:
    reason = catastrophic_reason(pattern)
    assert reason is not None
    assert "\n" not in reason


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_are_not_flagged(pattern: str) -> None:
    assert catastrophic_reason(pattern) is None


def test_reasons_name_the_rule() -> None:
    assert (catastrophic_reason(r"(a+)+") or "").startswith("nested quantifiers")
    assert "'a'" in (catastrophic_reason(r"(a+)+") or "")
    assert (catastrophic_reason(r"(\d|\w)+") or "").startswith("repeated alternation")
    assert (catastrophic_reason(r"(a|ab)*") or "").startswith("repeated alternation")


def test_catastrophic_reason_of_invalid_pattern_is_none() -> None:
    assert catastrophic_reason("(") is None
    assert catastrophic_reason("[a-") is None


def test_catastrophic_reason_survives_parser_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @staticmethod
        def parse(pattern: str) -> object:
            raise TypeError("internal API changed")

    monkeypatch.setattr(regexparse, "_parser", Broken)
    assert catastrophic_reason(r"(a+)+") is None
    # compile errors and empty matches do not depend on the parser
    codes = [f.code for f in check_patterns([r"(a+)+", "(", "a*"])]
    assert codes == [Code.PolicyValidationError, Code.PolicyValidationError]


def test_catastrophic_reason_survives_odd_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    class Odd:
        @staticmethod
        def parse(pattern: str) -> object:
            return object()

    monkeypatch.setattr(regexparse, "_parser", Odd)
    assert catastrophic_reason(r"(a+)+") is None


def test_valid_patterns_have_no_findings() -> None:
    assert check_patterns(SAFE[:7]) == []


def test_invalid_regex() -> None:
    (finding,) = check_patterns([r"\d{16}", "(abc"])
    assert finding.code is Code.PolicyValidationError
    assert finding.severity is Severity.ERROR
    assert finding.path == (*BASE, 1)
    assert finding.message == "invalid regex: missing ), unterminated subpattern at position 0"


def test_invalid_regex_position() -> None:
    (finding,) = check_patterns(["ab[c"])
    assert finding.message == "invalid regex: unterminated character set at position 2"


def test_too_large_repeat_is_an_invalid_regex() -> None:
    (finding,) = check_patterns(["a{99999999999}"])
    assert finding.code is Code.PolicyValidationError
    assert finding.message.startswith("invalid regex: ")


@pytest.mark.parametrize("pattern", ["a*", "x?", "(?:)", "", "^", "$", r"(a|b)*", r"\d{0,4}"])
def test_patterns_matching_the_empty_string(pattern: str) -> None:
    findings = [f for f in check_patterns([pattern]) if f.code is Code.PolicyValidationError]
    (finding,) = findings
    assert finding.message == "pattern matches the empty string"
    assert finding.path == (*BASE, 0)


@pytest.mark.parametrize("pattern", [r"\b", r"(?=\d)", r"(?<=x)", r"\B"])
def test_zero_width_patterns(pattern: str) -> None:
    (finding,) = check_patterns([pattern])
    assert finding.code is Code.PolicyValidationError
    assert finding.message == "pattern matches the empty string"


def test_non_strings_are_skipped() -> None:
    assert check_patterns([1, None, ["a*"], {"x": 1}, b"a*", 2.5]) == []


def test_catastrophic_warning() -> None:
    findings = check_patterns([r"\d{16}", r"(\w+\s?)+$"])
    (finding,) = findings
    assert finding.code is Code.CatastrophicRegexWarning
    assert finding.severity is Severity.WARNING
    assert finding.path == (*BASE, 1)
    assert finding.message.startswith("pattern may backtrack catastrophically: ")
    assert finding.hint


def test_exact_duplicate() -> None:
    (finding,) = check_patterns([r"\d{16}", r"sk-\w+", r"\d{16}"])
    assert finding.code is Code.OverlappingRegexWarning
    assert finding.severity is Severity.WARNING
    assert finding.path == (*BASE, 2)
    assert finding.message == "pattern is the same as pattern [0]"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (r"\d{16}", r"(?:\d{16})"),
        (r"\d{16}", r"(\d{16})"),
        (r"[ab]x", r"[ba]x"),
        (r"[ab]x", r"(?:a|b)x"),
        (r"(?i)secret", r"(?i)(?:secret)"),
    ],
)
def test_equivalent_duplicates(first: str, second: str) -> None:
    (finding,) = check_patterns([first, second])
    assert finding.code is Code.OverlappingRegexWarning
    assert finding.path == (*BASE, 1)
    assert finding.message == "pattern is equivalent to pattern [0]"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (r"secret", r"(?i)secret"),
        (r"a|ab", r"ab|a"),
        (r"\d{16}", r"\d{15}"),
        (r"(?:a)(b)\1", r"(a)(b)\1"),
    ],
)
def test_different_patterns_are_not_duplicates(first: str, second: str) -> None:
    assert check_patterns([first, second]) == []


def test_duplicate_names_the_first_occurrence() -> None:
    findings = check_patterns(["abc", "abc", "abc"])
    assert [f.message for f in findings] == [
        "pattern is the same as pattern [0]",
        "pattern is the same as pattern [0]",
    ]
    assert [f.path[-1] for f in findings] == [1, 2]


def test_custom_base() -> None:
    findings = check_patterns(["("], base=("x", "y"))
    assert [f.path for f in findings] == [("x", "y", 0)]


def test_several_findings_for_one_pattern() -> None:
    findings = check_patterns([r"(a*)*"])
    assert sorted(int(f.code) for f in findings) == [4006, 4101]


def test_findings_are_one_line() -> None:
    findings: list[Finding] = check_patterns(["(", "a*", r"(a+)+", r"(a+)+"])
    assert findings
    for finding in findings:
        assert "\n" not in finding.message
