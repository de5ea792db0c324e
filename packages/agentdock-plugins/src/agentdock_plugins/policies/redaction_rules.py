"""The redaction engine's rules: what a user pattern or a recogniser part is compiled into,
once, at start-up, and what a scan searches with.

:func:`compile_rules` turns ``policies.safety.redact_patterns`` and the recognisers named in
``policies.safety.pii`` into :class:`Rule` objects and says how wide their matches can be
(what a stream must hold back); :func:`searchers` groups them into what a scan runs: one
searcher per rule, except that the rules sharing a scout share one, their regexes joined.
The engine that scans with them is :mod:`~agentdock_plugins.policies.redaction_engine`.
Nothing here runs per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentdock_plugins.policies.recogniser_types import Confirm, Scout
from agentdock_plugins.policies.recognisers import RECOGNISERS
from agentdock_plugins.policies.runs import Member, Sweep

__all__ = ["MARKER", "Rule", "Searcher", "compile_rules", "fast_form", "searchers"]

#: What replaces a match of a user pattern; recognisers use ``[REDACTED:<NAME>]``.
MARKER = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Rule:
    """One thing to redact: a name for telemetry, its regex, a confirmation and its marker."""

    kind: str
    regex: re.Pattern[str]
    #: ``confirm(text, start, end)``: the end of the confirmed match, or -1 (recognisers).
    confirm: Confirm | None
    marker: str
    #: Lower-case ASCII literals of which every match contains one (the prefilter), or ``None``.
    literals: tuple[str, ...] | None = None
    #: Whether the rule matches the folded text (look-alikes as ASCII: the recognisers).
    folded: bool = False
    #: ``search(text, pos)``: ``regex.search``, or a faster equivalent (a recogniser's seek).
    search: Callable[[str, int], re.Match[str] | None] | None = None
    #: Rules with the same scout are searched together, in one pass (recognisers).
    scout: Scout | None = None
    #: Its confirmed matches in a long region of its scout, found together (``Part.sweep``).
    sweep: Sweep | None = None
    #: Most characters past a candidate's start that its regex and confirmation read.
    reach: int = 0


@dataclass(frozen=True, slots=True)
class Searcher:
    """What a scan searches with: one rule's search, or a scout's for several rules."""

    search: Callable[[str, int], re.Match[str] | None]
    #: Whether it searches the folded text.
    folded: bool
    #: Indexes of its rules in the engine's ``rules`` (those given to :func:`searchers`), in
    #: declared order.
    rules: tuple[int, ...]
    literals: tuple[str, ...] | None
    #: A scout's: what a run of its candidates is (see ``Scout.region``), and its rules as
    #: a sweep takes them.
    region: re.Pattern[str] | None = None
    members: tuple[Member, ...] = ()


#: ``(?flags)\b`` + one word-character atom + an optional quantifier with a minimum >= 1.
_LEADING_BOUNDARY = re.compile(
    r"(?P<flags>(?:\(\?[aiLmsu]+\))*)\\b"
    r"(?P<atom>\\[dw]|\[(?:[A-Za-z0-9_](?:-[A-Za-z0-9_])?)+\]|[A-Za-z0-9_])"
    r"(?:\{(?P<low>[1-9][0-9]*)(?P<high>,[0-9]*)?\}|(?P<plus>\+))?"
    r"(?![?+*{])"
)


def fast_form(source: str) -> str:
    r"""``source`` with a leading ``\b`` moved behind the first character, same matches.

    ``re`` skips ahead to candidate positions only when a pattern starts with a literal or a
    character class; a leading ``\b`` defeats that, and a 4 KB scan costs several times more.
    Before a word character, ``\b`` means "no word character just before", so
    ``\b\d{3}-`` is rewritten ``\d(?<!\w[\s\S])\d{2}-``: consume the first character, then
    look behind it. Only that safe shape is rewritten; anything else is returned unchanged.
    """
    m = _LEADING_BOUNDARY.match(source)
    if m is None:
        return source
    low, high, plus = m.group("low"), m.group("high"), m.group("plus")
    atom = m.group("atom")
    if plus:
        rest = f"{atom}*"
    elif low is None:
        rest = ""
    elif high is None:
        rest = f"{atom}{{{int(low) - 1}}}"
    elif high == ",":
        rest = f"{atom}{{{int(low) - 1},}}"
    else:
        upper = int(high[1:])
        if upper < int(low):
            return source
        rest = f"{atom}{{{int(low) - 1},{upper - 1}}}"
    return f"{m.group('flags')}{atom}(?<!\\w[\\s\\S]){rest}{source[m.end() :]}"


def _required_literals(source: str) -> tuple[str] | None:
    """The longest lower-case ASCII literal every match of ``source`` contains, if any."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    runs: list[str] = []
    zero_width = {c.AT, c.ASSERT, c.ASSERT_NOT}
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}

    def sequence(items: Any) -> None:
        run: list[str] = []
        for op, av in items:
            if op is c.LITERAL and av < 128:
                run.append(chr(av).lower())
                continue
            if op in zero_width:
                continue
            runs.append("".join(run))
            run = []
            if op is c.SUBPATTERN:
                sequence(av[3].data)
            elif op in repeats and av[0] >= 1:
                sequence(av[2].data)
        runs.append("".join(run))

    sequence(_parser.parse(source).data)
    best = max(runs, key=len, default="")
    return (best,) if best else None


def _max_width(source: str) -> int:
    from re import _parser  # type: ignore[attr-defined]

    return int(_parser.parse(source).getwidth()[1])


#: ``getwidth()`` of a pattern with an unbounded repeat.
_UNBOUNDED = 1 << 31


def _completes_late(source: str) -> bool:
    """Whether a match of ``source`` can be seen only once a late part of it arrives.

    ``sk-\\w{20,}`` or ``password=\\S+`` match as soon as their start is written and grow
    from there, so the stream sees them early; ``BEGIN[\\s\\S]*?END`` matches only once
    ``END`` arrives. A pattern counts as growing when it ends with an unbounded repeat.
    """
    from re import _constants, _parser  # type: ignore[attr-defined]

    def ends_open(items: Any) -> bool:
        seq = [item for item in items if item[0] is not _constants.AT]
        if not seq:
            return False
        op, av = seq[-1]
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
            return bool(av[1] == _constants.MAXREPEAT)
        if op is _constants.SUBPATTERN:
            return ends_open(av[-1])
        if op is _constants.BRANCH:
            return all(ends_open(branch) for branch in av[1])
        return False

    return not ends_open(_parser.parse(source).data)


def compile_rules(
    patterns: Sequence[str], pii: Sequence[str]
) -> tuple[tuple[Rule, ...], int, bool]:
    """The rules of ``patterns`` then of each recogniser named in ``pii`` (in order, each
    once), the widest match any of them can make (with what its confirmation reads past its
    end), and whether an unbounded one completes late (:func:`_completes_late`).

    :raises ValueError: an unknown recogniser name or a pattern that does not compile.
    """
    rules: list[Rule] = []
    sources: list[str] = []
    #: Longest match of each rule, plus the characters past it its confirmation may read.
    widths: list[int] = []
    try:
        for index, pattern in enumerate(patterns):
            regex = re.compile(fast_form(pattern))
            literals = _required_literals(pattern)
            rules.append(Rule(f"redact_patterns[{index}]", regex, None, MARKER, literals))
            sources.append(pattern)
            widths.append(_max_width(pattern))
    except re.error as exc:
        raise ValueError(f"a redaction pattern does not compile: {exc}") from None
    for name in dict.fromkeys(pii):
        recogniser = RECOGNISERS.get(name)
        if recogniser is None:
            known = ", ".join(RECOGNISERS)
            raise ValueError(f"unknown PII recogniser {name!r} (known: {known})")
        for part in recogniser.parts:
            regex = re.compile(part.pattern)
            search = part.seek(regex) if part.seek is not None else None
            width = _max_width(part.pattern)
            rules.append(
                Rule(
                    name,
                    regex,
                    part.confirm,
                    recogniser.marker,
                    part.literals,
                    True,
                    search,
                    part.scout,
                    part.sweep,
                    width + part.ahead + 8,
                )
            )
            sources.append(part.pattern)
            widths.append(width + part.ahead)
    late = any(
        w >= _UNBOUNDED and _completes_late(source)
        for w, source in zip(widths, sources, strict=True)
    )
    return tuple(rules), max(widths, default=0), late


def searchers(rules: Sequence[Rule]) -> tuple[tuple[Searcher, ...], tuple[Searcher, ...]]:
    """What a scan searches with, the user patterns' and the recognisers': one searcher per
    rule, except that the rules sharing a scout share one searcher, their regexes joined (a
    scout's rules have no literals)."""
    scouts: dict[Scout, list[int]] = {}
    solo: list[Searcher] = []
    for index, rule in enumerate(rules):
        if rule.scout is not None:
            scouts.setdefault(rule.scout, []).append(index)
        else:
            search = rule.search or rule.regex.search
            solo.append(Searcher(search, rule.folded, (index,), rule.literals))
    for scout, indexes in scouts.items():
        joined = "|".join(f"(?:{rules[index].regex.pattern})" for index in indexes)
        members = tuple(
            Member(index, rule.regex, rule.confirm, rule.reach, rule.sweep)
            for index in indexes
            if (rule := rules[index]).confirm is not None
        )
        solo.append(
            Searcher(
                re.compile(joined).search,
                True,
                tuple(indexes),
                None,
                re.compile(scout.region),
                members,
            )
        )
    return tuple(s for s in solo if not s.folded), tuple(s for s in solo if s.folded)
