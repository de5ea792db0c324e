"""Checks for ``policies.safety.redact_patterns``: compile errors, empty matches and lint.

Every pattern runs against each agent input and output, so a pattern that cannot compile or
that matches the empty string is an error (4006), and two kinds of risk are worth a warning:
patterns that can backtrack exponentially (4101) and patterns that repeat another (4102).

The lint reads the parse trees of the standard library's private ``re._parser`` (no public
API exposes them). tests/unit/test_private_apis.py checks the shape read here (opcode names,
argument layouts, ``state.flags``, ``getwidth``) on the running Python, so a Python whose
parser changes fails that test by name rather than quietly losing a warning.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from agentdock.findings import Code, Finding, Path, Severity

__all__ = ["DEFAULT_BASE", "catastrophic_reason", "check_patterns"]

#: Where the patterns live in a Dockfile.
DEFAULT_BASE: Path = ("policies", "safety", "redact_patterns")

#: A counted repeat with at least this many iterations is treated like an unbounded one.
REPEAT_THRESHOLD = 10

_IGNORECASE = re.IGNORECASE.value
_ASCII = re.ASCII.value
_UNICODE = re.UNICODE.value

#: Codepoints outside ASCII that stand for the Unicode parts of ``\d``, ``\w`` and ``\s``
#: (and for "anything else") when two character sets are compared.
_REPRESENTATIVES = (0xA0, 0xAA, 0xBD, 0xE9, 0x3A9, 0x663, 0x2028, 0x20AC, 0x4E00, 0x1D7D8, 0x1F600)


def _load_parser() -> Any:
    for name in ("re._parser", "sre_parse"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_parser: Any = _load_parser()


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


def _parse(pattern: str) -> Any:
    if _parser is None:
        raise RuntimeError("no regular expression parser available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parser.parse(pattern)


def _global_flags(tree: Any) -> int:
    return int(tree.state.flags) & ~_UNICODE


def _name(op: object) -> str:
    return str(getattr(op, "name", op))


def _shape(items: Iterable[tuple[Any, Any]], *, keep_groups: bool) -> tuple[object, ...]:
    """A hashable form of a parse tree that ignores set order and which parts are captured.

    With ``keep_groups`` (for patterns that refer back to a group) captures are kept.
    """
    out: list[object] = []
    for op, av in items:
        name = _name(op)
        if name == "SUBPATTERN":
            group, add, delete, body = av
            if keep_groups:
                out.append((name, group, add, delete, _shape(body, keep_groups=True)))
            elif not add and not delete:
                out.extend(_shape(body, keep_groups=keep_groups))
            else:
                out.append((name, add, delete, _shape(body, keep_groups=keep_groups)))
        elif name == "IN":
            out.append((name, tuple(sorted((_name(o), repr(v)) for o, v in av))))
        elif name == "BRANCH":
            out.append((name, tuple(_shape(b, keep_groups=keep_groups) for b in av[1])))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            out.append((name, int(av[0]), int(av[1]), _shape(av[2], keep_groups=keep_groups)))
        elif name in ("ASSERT", "ASSERT_NOT"):
            out.append((name, av[0], _shape(av[1], keep_groups=keep_groups)))
        elif name == "ATOMIC_GROUP":
            out.append((name, _shape(av, keep_groups=keep_groups)))
        elif name == "GROUPREF_EXISTS":
            no = _shape(av[2], keep_groups=keep_groups) if av[2] is not None else None
            out.append((name, av[0], _shape(av[1], keep_groups=keep_groups), no))
        else:
            out.append((name, repr(av)))
    return tuple(out)


# --------------------------------------------------------------------------- character sets


@dataclass(frozen=True, slots=True)
class _CharClass:
    """One set of characters from the parse tree: literals, ranges and categories."""

    items: tuple[tuple[str, int, int], ...]
    negate: bool = False
    icase: bool = False
    ascii: bool = False

    def points(self) -> Iterator[int]:
        for kind, lo, hi in self.items:
            if kind == "lit":
                yield lo
            elif kind == "range":
                yield from (lo - 1, lo, hi, hi + 1)

    def contains(self, cp: int) -> bool:
        candidates = _case_variants(cp) if self.icase else (cp,)
        hit = any(self._raw(c) for c in candidates)
        return hit != self.negate

    def _raw(self, cp: int) -> bool:
        for kind, lo, hi in self.items:
            if kind == "lit":
                if cp == lo:
                    return True
            elif kind == "range":
                if lo <= cp <= hi:
                    return True
            elif kind == "cat":
                if _in_category(lo, cp, self.ascii):
                    return True
            else:
                return True
        return False


_CATEGORIES = {
    "CATEGORY_DIGIT": 1,
    "CATEGORY_NOT_DIGIT": -1,
    "CATEGORY_SPACE": 2,
    "CATEGORY_NOT_SPACE": -2,
    "CATEGORY_WORD": 3,
    "CATEGORY_NOT_WORD": -3,
}


def _in_category(category: int, cp: int, ascii_only: bool) -> bool:
    if category == 0:
        return True
    ch = chr(cp)
    kind = abs(category)
    if ascii_only and cp >= 128:
        member = False
    elif kind == 1:
        member = ch.isdecimal()
    elif kind == 2:
        member = ch.isspace()
    else:
        member = ch.isalnum() or ch == "_"
    return member if category > 0 else not member


def _case_variants(cp: int) -> tuple[int, ...]:
    ch = chr(cp)
    out = {cp}
    for variant in (ch.lower(), ch.upper(), ch.lower().upper(), ch.upper().lower(), ch.casefold()):
        if len(variant) == 1:
            out.add(ord(variant))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _FirstSet:
    """Characters a match can start with: a union of classes, or possibly anything."""

    anything: bool = False
    classes: tuple[_CharClass, ...] = ()

    def __or__(self, other: _FirstSet) -> _FirstSet:
        if self.anything or other.anything:
            return _ANYTHING
        if not other.classes:
            return self
        if not self.classes:
            return other
        return _FirstSet(False, tuple(dict.fromkeys(self.classes + other.classes)))

    @property
    def empty(self) -> bool:
        return not self.anything and not self.classes

    def contains(self, cp: int) -> bool:
        return self.anything or any(c.contains(cp) for c in self.classes)

    def points(self) -> Iterator[int]:
        for c in self.classes:
            yield from c.points()


_ANYTHING = _FirstSet(anything=True)
_NOTHING = _FirstSet()


def _witnesses(sets: Iterable[_FirstSet]) -> list[int]:
    points: set[int] = set(range(128))
    points.update(_REPRESENTATIVES)
    for s in sets:
        points.update(p for p in s.points() if 0 <= p <= 0x10FFFF)
    return sorted(points)


def _common_char(sets: Sequence[_FirstSet]) -> int | None:
    """A character at least two of ``sets`` can start with, if one is found among witnesses."""
    live = [s for s in sets if not s.empty]
    if len(live) < 2:
        return None
    seen = 0
    witnesses = _witnesses(live)
    for s in live:
        mask = 0
        for bit, cp in enumerate(witnesses):
            if s.contains(cp):
                mask |= 1 << bit
        both = mask & seen
        if both:
            return witnesses[(both & -both).bit_length() - 1]
        seen |= mask
    return None


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True, slots=True)
class _Info:
    first: _FirstSet
    nullable: bool


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")


class _Analyzer:
    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], _Info] = {}
        self._keep: list[object] = []

    # -- first sets ---------------------------------------------------------------------

    def seq(self, items: Any, flags: int) -> _Info:
        key = (id(items), flags)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        first = _NOTHING
        nullable = True
        for op, av in items:
            info = self.item(op, av, flags)
            first = first | info.first
            if not info.nullable:
                nullable = False
                break
        result = _Info(first, nullable)
        self._memo[key] = result
        self._keep.append(items)
        return result

    def item(self, op: object, av: Any, flags: int) -> _Info:
        name = _name(op)
        icase = bool(flags & _IGNORECASE)
        ascii_only = bool(flags & _ASCII)
        if name == "LITERAL":
            return _Info(_FirstSet(False, (_CharClass((("lit", av, av),), False, icase),)), False)
        if name == "NOT_LITERAL":
            return _Info(_FirstSet(False, (_CharClass((("lit", av, av),), True, icase),)), False)
        if name == "ANY":
            return _Info(_ANYTHING, False)
        if name == "IN":
            return _Info(_FirstSet(False, (_char_class(av, icase, ascii_only),)), False)
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            return _Info(_NOTHING, True)
        if name == "SUBPATTERN":
            return self.seq(av[3], _scoped(flags, av[1], av[2]))
        if name == "ATOMIC_GROUP":
            return self.seq(av, flags)
        if name == "BRANCH":
            infos = [self.seq(b, flags) for b in av[1]]
            first = _NOTHING
            for i in infos:
                first = first | i.first
            return _Info(first, any(i.nullable for i in infos))
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, body = av
            info = self.seq(body, flags)
            return _Info(info.first if hi > 0 else _NOTHING, lo == 0 or info.nullable)
        if name == "GROUPREF_EXISTS":
            yes = self.seq(av[1], flags)
            no = self.seq(av[2], flags) if av[2] is not None else _Info(_NOTHING, True)
            return _Info(yes.first | no.first, yes.nullable or no.nullable)
        # GROUPREF and anything unknown: it may match anything, or nothing.
        return _Info(_ANYTHING, True)

    # -- walking ------------------------------------------------------------------------

    def loops(self, items: Any, flags: int) -> Iterator[tuple[Any, int, int]]:
        """Every repeat with a large maximum, anywhere in the tree: (body, max, flags)."""
        for op, av in items:
            name = _name(op)
            if name in _REPEATS:
                if av[1] >= REPEAT_THRESHOLD:
                    yield av[2], av[1], flags
                yield from self.loops(av[2], flags)
            elif name == "POSSESSIVE_REPEAT":
                yield from self.loops(av[2], flags)
            elif name == "SUBPATTERN":
                yield from self.loops(av[3], _scoped(flags, av[1], av[2]))
            elif name == "ATOMIC_GROUP":
                yield from self.loops(av, flags)
            elif name in ("ASSERT", "ASSERT_NOT"):
                yield from self.loops(av[1], flags)
            elif name == "BRANCH":
                for branch in av[1]:
                    yield from self.loops(branch, flags)
            elif name == "GROUPREF_EXISTS":
                yield from self.loops(av[1], flags)
                if av[2] is not None:
                    yield from self.loops(av[2], flags)

    def split(self, items: Any, follow: _FirstSet, start: _FirstSet, flags: int) -> int | None:
        """A character both a variable repeat inside ``items`` and what follows it can take.

        ``follow`` is what may come after ``items``; ``start`` is the first set of the
        enclosing loop's body (an inner repeat must be able to take the start of an
        iteration for the loop to be ambiguous).
        """
        current = follow
        for op, av in reversed(list(items)):
            found = self._split_item(op, av, current, start, flags)
            if found is not None:
                return found
            info = self.item(op, av, flags)
            current = info.first | current if info.nullable else info.first
        return None

    def _split_item(
        self, op: object, av: Any, follow: _FirstSet, start: _FirstSet, flags: int
    ) -> int | None:
        name = _name(op)
        if name == "SUBPATTERN":
            return self.split(av[3], follow, start, _scoped(flags, av[1], av[2]))
        if name == "BRANCH":
            for branch in av[1]:
                found = self.split(branch, follow, start, flags)
                if found is not None:
                    return found
            return None
        if name == "GROUPREF_EXISTS":
            for branch in (av[1], av[2]):
                if branch is not None:
                    found = self.split(branch, follow, start, flags)
                    if found is not None:
                        return found
            return None
        if name in _REPEATS:
            lo, hi, body = av
            info = self.seq(body, flags)
            inner_follow = follow | info.first if hi > 1 else follow
            found = self.split(body, inner_follow, start, flags)
            if found is not None:
                return found
            if lo < hi and _common_char([info.first, start]) is not None:
                return _common_char([info.first, follow])
        return None

    def overlapping_branches(self, items: Any, flags: int) -> tuple[str, int | None] | None:
        """An alternation inside ``items`` whose branches can start alike."""
        for op, av in items:
            name = _name(op)
            children: list[tuple[Any, int]] = []
            if name == "BRANCH":
                infos = [self.seq(b, flags) for b in av[1]]
                if len(infos) > 1 and any(i.nullable for i in infos):
                    return ("prefix", None)
                common = _common_char([i.first for i in infos])
                if common is not None:
                    return ("char", common)
                children = [(b, flags) for b in av[1]]
            elif name == "SUBPATTERN":
                children = [(av[3], _scoped(flags, av[1], av[2]))]
            elif name in _REPEATS:
                children = [(av[2], flags)]
            elif name == "GROUPREF_EXISTS":
                children = [(b, flags) for b in (av[1], av[2]) if b is not None]
            for child, child_flags in children:
                found = self.overlapping_branches(child, child_flags)
                if found is not None:
                    return found
        return None


def _scoped(flags: int, add: int, delete: int) -> int:
    return (flags | add) & ~delete


def _char_class(av: Any, icase: bool, ascii_only: bool) -> _CharClass:
    negate = False
    items: list[tuple[str, int, int]] = []
    for op, value in av:
        name = _name(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            items.append(("lit", value, value))
        elif name == "RANGE":
            items.append(("range", value[0], value[1]))
        elif name == "CATEGORY":
            items.append(("cat", _CATEGORIES.get(_name(value), 0), 0))
        else:
            items.append(("any", 0, 0))
    return _CharClass(tuple(items), negate, icase, ascii_only)


def _mark_branches(pattern: str) -> str:
    """Append an empty lookahead to every branch of every alternation in ``pattern``.

    ``re`` folds ``(a|b)`` into the set ``[ab]``; the marker keeps the alternation visible
    to the analysis without changing what the pattern matches.
    """
    marker = "(?=)"
    out: list[str] = []
    stack: list[bool] = [False]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if pattern.startswith("(?#", i):
            j = pattern.find(")", i)
            j = n - 1 if j < 0 else j
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if c == "(":
            stack.append(False)
        elif c == ")" and len(stack) > 1:
            if stack.pop():
                out.append(marker)
        elif c == "|":
            stack[-1] = True
            out.append(marker)
        out.append(c)
        i += 1
    if stack[0]:
        out.append(marker)
    return "".join(out)


def catastrophic_reason(pattern: str) -> str | None:
    """Say why ``pattern`` may backtrack exponentially on some input, or return ``None``.

    The check is a heuristic over the parse tree that ``re`` itself builds
    (``re._parser.parse``). Only repeats whose maximum is unbounded or at least
    ``REPEAT_THRESHOLD`` count as loops. A loop is flagged when:

    (a) *nested quantifiers*: its body holds a variable-length repeat (``a+``, ``\\w*``,
    ``x{1,3}``, ``b?``) that can take the first character of an iteration and also a
    character that may follow it: the rest of the body, or the next iteration when the rest
    can be skipped. Then the loop can split the same text between iterations in
    exponentially many ways: ``(a+)+``, ``(a*)*b``, ``(\\w+\\s?)+$``, ``([a-z]+)*`` and
    ``(.*a){20}`` are flagged, ``([a-z]+\\.)+`` and ``(a+b)+`` are not;

    (b) *overlapping alternation*: its body holds an alternation with two branches that can
    start with the same character, or a branch that can match the empty string (after
    ``re`` moves a common prefix out, ``(a|ab)`` becomes ``a(|b)``): ``(a|a)*``,
    ``(a|ab)*``, ``(\\d|\\w)+``, ``(x|x?)+``.

    First-character sets are computed conservatively: ``.`` (newline included), back
    references and unknown nodes count as "any character"; ``(?i)`` and ``(?a)`` are
    honoured. Two sets are compared on all of ASCII, on the characters and range ends the
    pattern names, and on a few non-ASCII stand-ins for ``\\d``, ``\\w`` and ``\\s``.
    Alternations are taken from the source as written (``re`` folds ``(\\d|\\w)`` into the
    set ``[\\d\\w]``; an empty lookahead appended to each branch keeps them apart).

    Limits: this is neither sound nor complete. Rule (b) also flags alternations that
    cannot blow up, such as ``(a|ab)*``, and ``(\\d|\\w)+``, which ``re`` runs as a set.
    Rule (a) ignores polynomial blow-ups (``\\d+\\d+$``), repeats whose maximum is below
    the threshold, and overlaps that only show beyond the first character; overlaps that
    exist only inside a non-ASCII range the pattern does not name can be missed.
    Possessive repeats are not loops here, and repeats inside atomic groups or possessive
    repeats never count as the inner repeat of rule (a). The parse tree is an internal
    API of ``re``; when it fails or changes shape the answer is ``None``.
    """
    try:
        return _reason(pattern)
    except Exception:
        return None


def _reason(pattern: str) -> str | None:
    tree = _parse(pattern)
    flags = int(tree.state.flags)
    analyzer = _Analyzer()
    for body, _hi, loop_flags in analyzer.loops(tree, flags):
        start = analyzer.seq(body, loop_flags).first
        found = analyzer.split(body, start, start, loop_flags)
        if found is not None:
            return (
                "nested quantifiers: an inner repeat and the repeat around it can both take "
                f"{chr(found)!r}, so the input can be split between them in exponentially "
                "many ways"
            )
    try:
        marked = _parse(_mark_branches(pattern))
    except Exception:
        marked = tree
    analyzer = _Analyzer()
    for body, _hi, loop_flags in analyzer.loops(marked, int(marked.state.flags)):
        overlap = analyzer.overlapping_branches(body, loop_flags)
        if overlap is None:
            continue
        kind, cp = overlap
        if kind == "char" and cp is not None:
            return f"repeated alternation: two branches can both start with {chr(cp)!r}"
        return "repeated alternation: one branch can match a prefix of another"
    return None
