"""Checks for ``policies.safety.redact_patterns``: compile errors, empty matches and lint.

Every pattern runs against each agent input and output, so a pattern that cannot compile or
that matches the empty string is an error (4006), and two kinds of risk are worth a warning:
patterns that can backtrack exponentially (4101) and patterns that repeat another (4102).

The lint reads the parse trees of the standard library's private ``re._parser`` (no public
API exposes them), loaded in :mod:`.regexparse`. tests/unit/test_private_apis.py checks the
shape read there (opcode names, argument layouts, ``state.flags``, ``getwidth``) on the
running Python, so a Python whose parser changes fails that test by name rather than quietly
losing a warning. The backtracking analysis is :mod:`.regexanalysis`, over the character
sets of :mod:`.regexsets`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

from agentdock.findings import Code, Finding, Path, Severity
from agentdock.spec.regexanalysis import (
    catastrophic_reason,
)
from agentdock.spec.regexparse import (
    _global_flags,
    _parse,
    _shape,
)

__all__ = ["DEFAULT_BASE", "catastrophic_reason", "check_patterns"]

#: Where the patterns live in a Dockfile.
DEFAULT_BASE: Path = ("policies", "safety", "redact_patterns")


# --------------------------------------------------------------------------- findings


def check_patterns(patterns: Sequence[object], base: Path = DEFAULT_BASE) -> list[Finding]:
    """Check a list of redaction patterns; items that are not strings are left to the schema.

    Errors (4006): a pattern that ``re`` cannot compile, or one that matches the empty string
    (or consumes no characters at all, such as ``\\b``). Warnings: 4101 when
    :func:`catastrophic_reason` finds a risk of exponential backtracking, 4102 when a pattern
    is the same as an earlier one (verbatim, or after normalising groups and set order).
    """
    findings: list[Finding] = []
    seen_source: dict[str, int] = {}
    seen_shape: dict[object, int] = {}
    for index, item in enumerate(patterns):
        if not isinstance(item, str):
            continue
        pattern = str(item)
        path: Path = (*base, index)
        compiled, error = _compile(pattern)
        if compiled is None:
            findings.append(Finding(Code.PolicyValidationError, path, error))
            continue
        if _matches_empty(compiled):
            findings.append(
                Finding(
                    Code.PolicyValidationError,
                    path,
                    "pattern matches the empty string",
                    hint="make it consume at least one character (e.g. `x+` instead of `x*`)",
                )
            )
        reason = catastrophic_reason(pattern)
        if reason is not None:
            findings.append(
                Finding(
                    Code.CatastrophicRegexWarning,
                    path,
                    f"pattern may backtrack catastrophically: {reason}",
                    severity=Severity.WARNING,
                    hint="remove the nested or overlapping repetition, or make it possessive "
                    "(`++`, `*+`) or atomic (`(?>...)`)",
                )
            )
        duplicate = _duplicate_of(pattern, seen_source, seen_shape, index)
        if duplicate is not None:
            other, verbatim = duplicate
            what = "the same as" if verbatim else "equivalent to"
            findings.append(
                Finding(
                    Code.OverlappingRegexWarning,
                    path,
                    f"pattern is {what} pattern [{other}]",
                    severity=Severity.WARNING,
                    hint=f"remove one of patterns [{other}] and [{index}]",
                )
            )
    return findings


def _compile(pattern: str) -> tuple[re.Pattern[str] | None, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern), ""
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        return None, f"invalid regex: {exc.msg}{where}"
    except Exception as exc:  # OverflowError, RecursionError, ...: still not a usable regex
        return None, f"invalid regex: {type(exc).__name__}: {exc}"[:240]


def _matches_empty(compiled: re.Pattern[str]) -> bool:
    if compiled.fullmatch("") is not None:
        return True
    try:
        return bool(_parse(compiled.pattern).getwidth()[1] == 0)
    except Exception:
        return False


def _duplicate_of(
    pattern: str, seen_source: dict[str, int], seen_shape: dict[object, int], index: int
) -> tuple[int, bool] | None:
    if pattern in seen_source:
        return seen_source[pattern], True
    seen_source[pattern] = index
    try:
        tree = _parse(pattern)
        body = _shape(tree, keep_groups=False)
        if "GROUPREF" in repr(body):
            body = _shape(tree, keep_groups=True)
        shape: object = (_global_flags(tree), body)
        hash(shape)
    except Exception:
        return None
    if shape in seen_shape:
        return seen_shape[shape], False
    seen_shape[shape] = index
    return None
