"""Whether a pattern can backtrack exponentially (4101): a walk of its parse tree that
finds nested or adjacent repeats, and branches of a repeat, able to match the same text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentdock.spec.regexparse import (
    _ASCII,
    _IGNORECASE,
    REPEAT_THRESHOLD,
    _name,
    _parse,
)
from agentdock.spec.regexsets import (
    _ANYTHING,
    _CATEGORIES,
    _NOTHING,
    _CharClass,
    _common_char,
    _FirstSet,
)

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
