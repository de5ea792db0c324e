"""The redaction engine: user patterns and PII recognisers, compiled once, scanned once each.

Every rule (each ``policies.safety.redact_patterns`` entry and each part of each recogniser
named in ``policies.safety.pii``) is compiled at start-up. The redacted text is the union of
every rule's matches: at each position where rules match, the longest confirmed match
opens a span (a recogniser's confirmation must accept its candidate, and may trim it), and
any match that starts inside a span and runs past its end is merged into it. With
``password`` and ``word123`` on ``password123`` nothing of ``word123`` survives (a plain
leftmost-first alternation would leave ``123``), and a card number that a phone pattern
reads in part is one marker.

User patterns match the text as it is; recognisers match its folded copy
(:func:`~agentdock_plugins.policies.lookalikes.fold`: look-alike digits, at signs, full
stops, spaces and dashes as ASCII), which has the same offsets, so their spans are cut out
of the original text. Pure-ASCII text is not copied.

Why not one big alternation of the user patterns: Python's ``re`` tries every branch at every
position and has no multi-pattern prefilter, so ten patterns joined scan a 4 KB text no
faster than ten separate scans (measured: 563 µs joined, 508 µs separately, same machine),
and separate rules allow a prefilter: a rule whose every match contains a fixed ASCII literal
(``password``, ``sk-``, ``AKIA``) is skipped when the lower-cased text lacks it (one
``str.__contains__``, no regex). User patterns are scanned together for the leftmost
position where one matches, each searcher's next match searched once and cached, so a
string costs one pass per pattern however many matches it holds. The prefilter applies to
a user pattern on ASCII text only, where lower-casing is exactly how ``re`` ignores case. A
pattern that starts with ``\b`` is compiled in an equivalent form that ``re`` can scan
quickly (:func:`~agentdock_plugins.policies.redaction_rules.fast_form`). How the rules are
compiled and grouped into searchers is in :mod:`~agentdock_plugins.policies.redaction_rules`;
this module scans with them.

Each recogniser part is searched on its own, every candidate confirmed in turn, except
where hostile text would make that cost a confirmation per character or so:

* a part whose candidates come at a steady distance in text that repeats (``GB82 GB82 …``)
  has the confirmations of one period copied over the stretch (``repeats.py``);
* the recognisers whose shapes start with a digit (card, SSN, IPv4 and phone shapes) share
  one search (*scout*): their regexes are joined, ``re`` factors the shared first class
  out of the alternation and skips ahead to it. Where it stops, the run of digit groups
  there (the scout's *region*) is taken whole: a short one has its candidates confirmed
  one by one, and its matches are kept by the text they read (a region written again and
  again is confirmed once); a long one is swept (``runs.py``), its repeated stretches
  read once per period or per shape, so that ``41 41 41 …`` costs about what prose does.

Streams: :meth:`Redactor.feed` holds back the last ``width + 1`` characters of the text seen
so far, where ``width`` is the longest match any rule can make, and any match that reaches
into that tail. Everything before it is final and is released redacted;
:meth:`Redactor.finish` releases the tail when the stream ends.
Released text is kept as context for the next scan (32 characters, or 64 with recognisers,
whose confirmations read up to :data:`~agentdock_plugins.policies.recognisers.LOOKBACK`
characters before a candidate: "SSN" before nine bare digits). For rules of bounded width
(up to ``window``, default 256) the streamed result equals redacting the whole text at
once, however the text is split into tokens; a bounded rule wider than that is exact for
matches up to ``window`` characters. An unbounded rule that grows from its start
(``sk-\\w{20,}``, ``password=\\S+``) is seen as soon as it starts; one whose match
completes only late (``BEGIN[\\s\\S]*?END``) makes the stream hold back ``max_hold - 1``
characters (default 4,095) so the match is caught whole. A match longer than ``max_hold``
fails closed: its start is released as one marker and the rest of it is swallowed until
the rule stops matching.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentdock_plugins.policies.invisible import compact, visible_start
from agentdock_plugins.policies.lookalikes import fold_checked
from agentdock_plugins.policies.recogniser_types import LOOKBACK
from agentdock_plugins.policies.redaction_rules import (
    MARKER,
    Rule,
    Searcher,
    compile_rules,
    fast_form,
    searchers,
)
from agentdock_plugins.policies.repeats import MAX_REACH, Repeats
from agentdock_plugins.policies.runs import LONG, sweep
from agentdock_plugins.policies.value_strings import map_strings

__all__ = ["MARKER", "Redactor", "Rule", "StreamHold", "fast_form"]

#: Longest match the stream hold-back is sized for, unless a rule's width is smaller.
DEFAULT_WINDOW = 256
#: Most characters a stream may hold back while a match keeps growing.
DEFAULT_MAX_HOLD = 4096
#: Characters of released text kept as look-behind context for the next scan.
_CONTEXT = 32
#: ... with recognisers: what their confirmations read before a candidate, and a few more.
_RECOGNISER_CONTEXT = max(_CONTEXT, LOOKBACK + 8)
#: Characters after a scout's region that its parts' regexes and confirmations may read
#: (a separator and a digit: whether a run of groups goes on).
_REGION_AHEAD = 16


@dataclass(slots=True)
class StreamHold:
    """Per-run stream state: text not yet released, and released text kept as context."""

    held: str = ""
    context: str = ""
    #: A match longer than the hold, cut after its marker: its rule, and the text it began
    #: with (to tell where it ends).
    open_rule: Any = None
    open_text: str = ""


def _may_match(searcher: Searcher, lowered: str) -> bool:
    """Whether ``lowered`` holds one of the searcher's literals (or it has none)."""
    return searcher.literals is None or any(literal in lowered for literal in searcher.literals)


def _union(
    first: list[tuple[int, int, Rule]], second: list[tuple[int, int, Rule]]
) -> list[tuple[int, int, Rule]]:
    """Two span lists merged: overlapping spans become one, opened by the earlier (longer)."""
    out: list[tuple[int, int, Rule]] = []
    for start, end, rule in sorted(first + second, key=lambda span: (span[0], -span[1])):
        if out and start < out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end, out[-1][2])
        else:
            out.append((start, end, rule))
    return out


class Redactor:
    """Finds and replaces every match of a fixed set of rules; built once, used per request.

    :param patterns: user regular expressions (Python ``re`` syntax, already checked by
        ``agentdock validate``); their matches become ``[REDACTED]``.
    :param pii: names of built-in recognisers (:data:`RECOGNISERS`).
    :param window: longest match a stream hold-back is sized for.
    :param max_hold: most characters a stream holds back at once.
    :raises ValueError: an unknown recogniser name or a pattern that does not compile.
    """

    def __init__(
        self,
        patterns: Sequence[str] = (),
        pii: Sequence[str] = (),
        *,
        window: int = DEFAULT_WINDOW,
        max_hold: int = DEFAULT_MAX_HOLD,
    ) -> None:
        self.rules, width, late = compile_rules(patterns, pii)
        #: Longest match the engine assumes: the rules' widest up to ``window``, or
        #: ``max_hold - 1`` when an unbounded rule's matches complete late (``BEGIN…END``).
        self.bounded = width <= window
        if self.bounded:
            self.width = width
        else:
            self.width = max(window, max_hold - 1) if late else window
        self.max_hold = max(max_hold, self.width + 1)
        self._filtered = any(rule.literals is not None for rule in self.rules)
        self._folds = any(rule.folded for rule in self.rules)
        self._context = _RECOGNISER_CONTEXT if self._folds else _CONTEXT
        self._patterns, self._recognisers = searchers(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    # -- finding ---------------------------------------------------------------------------------

    def _active(self, text: str, folded: str) -> tuple[tuple[Searcher, ...], tuple[Searcher, ...]]:
        """The searchers whose rules can match ``text`` (the literal prefilter): the user
        patterns', and the recognisers'.

        A user pattern's literals are checked on ASCII text only, where lower-casing is
        exactly how ``re`` ignores case; a recogniser's (case-sensitive regexes on the
        folded text) are checked on the lower-cased folded text, whatever it holds.
        """
        if not self._filtered:
            return self._patterns, self._recognisers
        if text.isascii():
            lowered = text.lower()
            return (
                tuple(s for s in self._patterns if _may_match(s, lowered)),
                tuple(s for s in self._recognisers if _may_match(s, lowered)),
            )
        lowered = folded.lower()
        return self._patterns, tuple(s for s in self._recognisers if _may_match(s, lowered))

    def spans(self, text: str, pos: int = 0) -> list[tuple[int, int, Rule]]:
        """Disjoint ``(start, end, rule)`` spans to redact in ``text[pos:]``, in order.

        ``rule`` is the one whose match opened the span; overlapping matches are merged.
        Recognisers match :func:`fold`'s copy of ``text``, which has the same offsets, and,
        when the text holds invisible characters, also that copy with them taken out
        (:func:`~agentdock_plugins.policies.invisible.compact`), whose spans are mapped back
        to the original characters they cover and merged with the others.
        """
        folded, hidden = fold_checked(text) if self._folds else (text, False)
        patterns, recognisers = self._active(text, folded)
        found: list[tuple[int, int, int]] = []
        if patterns:
            self._scan(text, pos, patterns, found)
        if recognisers:
            self._recognise(folded, pos, recognisers, found)
        out = self._merge(found)
        if hidden:
            visible, where = compact(folded)
            searchers = self._active(visible, visible)[1]
            more: list[tuple[int, int, int]] = []
            start = bisect_left(where, pos) if pos else 0
            self._recognise(visible, start, searchers, more)
            if more:
                mapped = [(where[s], where[e - 1] + 1, rule) for s, e, rule in self._merge(more)]
                out = _union(out, mapped)
        return out

    def _merge(self, found: list[tuple[int, int, int]]) -> list[tuple[int, int, Rule]]:
        """Matches ``(start, -end, rule index)`` as disjoint spans: overlapping ones merged,
        each opened by the longest match at its start (the first declared of equally long
        ones)."""
        if not found:
            return []
        found.sort()
        rules = self.rules
        out: list[tuple[int, int, Rule]] = []
        cur_s, negative, cur_at = found[0]
        cur_e = -negative
        for start, negative, at in found:
            end = -negative
            if start < cur_e:
                if end > cur_e:
                    cur_e = end
            else:
                out.append((cur_s, cur_e, rules[cur_at]))
                cur_s, cur_e, cur_at = start, end, at
        out.append((cur_s, cur_e, rules[cur_at]))
        return out

    def _scan(
        self,
        text: str,
        pos: int,
        searchers: tuple[Searcher, ...],
        found: list[tuple[int, int, int]],
    ) -> None:
        """The user patterns' matches in ``text[pos:]``: at each position where one matches,
        the longest (the first declared of equally long ones), as ``(start, -end, index)``.
        Positions inside a match that no match from there can outgrow are skipped."""
        if not searchers:
            return
        count = len(searchers)
        # Each searcher's next match at or after the scan position, and where it starts
        # (-2: not searched yet, -1: none left).
        matches: list[re.Match[str] | None] = [None] * count
        upcoming = [-2] * count
        back = self.width - 1
        size = len(text)
        cur_e = -1
        while pos < size:
            start = -1
            for index in range(count):
                cached = upcoming[index]
                if cached == -2 or 0 <= cached < pos:
                    m = matches[index] = searchers[index].search(text, pos)
                    cached = upcoming[index] = -1 if m is None else m.start()
                if cached >= 0 and (start < 0 or cached < start):
                    start = cached
            if start < 0:
                break
            # The rules that match here: the longest wins, the first declared of equally
            # long ones.
            best_e, best_at = -1, -1
            for index in range(count):
                if upcoming[index] != start:
                    continue
                m = matches[index]
                at = searchers[index].rules[0]
                end = m.end() if m is not None else -1
                if end > best_e or (end == best_e and at < best_at):
                    best_e, best_at = end, at
            if best_at >= 0 and best_e > start:
                found.append((start, -best_e, best_at))
                cur_e = max(cur_e, best_e)
                pos = max(start + 1, cur_e - back)
            else:
                pos = start + 1

    def _recognise(
        self,
        text: str,
        pos: int,
        searchers: tuple[Searcher, ...],
        found: list[tuple[int, int, int]],
    ) -> None:
        """Every confirmed match of the recognisers in ``text[pos:]`` (the folded text), as
        ``(start, -end, index)``: each searcher's candidates, confirmed one by one, or, for
        a scout, region by region (:meth:`_regions`)."""
        rules = self.rules
        for searcher in searchers:
            if searcher.region is not None:
                self._regions(text, pos, searcher, found)
                continue
            at = searcher.rules[0]
            rule = rules[at]
            confirm, search = rule.confirm, searcher.search
            if confirm is None:  # pragma: no cover - every recogniser part confirms
                continue
            # Repeats are watched for once a part has had a few candidates.
            repeats: Repeats | None = None
            watch = 8 if rule.reach <= MAX_REACH else -1
            start = pos
            while (match := search(text, start)) is not None:
                start = match.start()
                end = confirm(text, start, match.end())
                if end > start:
                    found.append((start, -end, at))
                if watch:
                    watch -= 1
                elif repeats is None:
                    repeats = Repeats(self._context, rule.reach)
                elif resume := repeats.add(text, start, end, at, found):
                    start = resume
                    continue
                start += 1

    def _regions(
        self, text: str, pos: int, searcher: Searcher, found: list[tuple[int, int, int]]
    ) -> None:
        """A scout's confirmed matches: from each candidate, the region it starts (a run of
        digit groups) is taken whole. A long one is swept (``runs.py``); a short one's
        candidates are tried one by one, and its matches are kept by what they read, so
        that a region written again and again is confirmed once."""
        search, region, members = searcher.search, searcher.region, searcher.members
        assert region is not None
        lookback = self._context
        seen: dict[tuple[int, int, str], list[tuple[int, int, int]]] = {}
        match = search(text, pos)
        while match is not None:
            start = match.start()
            run = region.match(text, start)
            end = run.end() if run is not None else start + 1
            if end - start >= LONG:
                sweep(text, start, end, members, lookback, found)
                match = search(text, end)
                continue
            low = max(0, start - lookback)
            key = (start - low, end - start, text[low : end + _REGION_AHEAD])
            known = seen.get(key)
            if known is not None:
                found.extend((start + s, -(start + e), at) for s, e, at in known)
                match = search(text, end)
                continue
            here: list[tuple[int, int, int]] = []
            while match is not None and (at := match.start()) < end:
                for member in members:
                    candidate = member.regex.match(text, at)
                    if candidate is not None:
                        stop = member.confirm(text, at, candidate.end())
                        if stop > at:
                            here.append((at - start, stop - start, member.index))
                match = search(text, at + 1)
            seen[key] = here
            found.extend((start + s, -(start + e), at) for s, e, at in here)

    @staticmethod
    def _render(text: str, spans: Sequence[tuple[int, int, Rule]], start: int, end: int) -> str:
        pieces: list[str] = []
        pos = start
        for s, e, rule in spans:
            pieces.append(text[pos:s])
            pieces.append(rule.marker)
            pos = e
        pieces.append(text[pos:end])
        return "".join(pieces)

    # -- whole values ----------------------------------------------------------------------------

    def redact(self, text: str) -> tuple[str, int, set[str]]:
        """``(redacted text, number of spans, kinds)``; the same string when nothing matched."""
        spans = self.spans(text)
        if not spans:
            return text, 0, set()
        return (
            self._render(text, spans, 0, len(text)),
            len(spans),
            {rule.kind for _, _, rule in spans},
        )

    def redact_value(self, value: Any) -> tuple[Any, int, set[str]]:
        """Redact every string of a nested value (keys untouched): ``(value, matches, kinds)``."""
        count = 0
        kinds: set[str] = set()

        def one(text: str, _path: str) -> str:
            nonlocal count
            new, n, found = self.redact(text)
            if n:
                count += n
                kinds.update(found)
            return new

        return map_strings(value, one), count, kinds

    # -- streams ---------------------------------------------------------------------------------

    def feed(self, hold: StreamHold, text: str) -> tuple[str, int, set[str]]:
        """Take one token's text; return what may be released now, redacted.

        Text that a match still being written could reach stays in ``hold``.
        """
        if hold.open_rule is not None:
            text = self._swallow(hold, text)
            if not text:
                return "", 0, set()
        base = len(hold.context)
        buf = hold.context + hold.held + text
        size = len(buf)
        limit = size - (self.width + 1)
        if self._folds:
            # Invisible characters inside a value make it longer than the rules' width:
            # hold back ``width + 1`` visible characters (at most ``max_hold`` in all).
            limit = visible_start(buf, size, self.width + 1, size - self.max_hold)
        if limit <= base:
            hold.held += text
            return "", 0, set()
        spans = self.spans(buf, base)
        cut = limit
        released: list[tuple[int, int, Rule]] = []
        for span in spans:
            s, e, rule = span
            if s >= cut:
                break
            if e > cut:
                if size - s <= self.max_hold:
                    cut = s
                else:
                    # Too long to hold: one marker for all of it, and the rest of the match
                    # is swallowed as it arrives (never released in clear).
                    released.append((s, cut, rule))
                    out = self._render(buf, released, base, cut)
                    hold.open_rule, hold.open_text = rule, buf[s:]
                    hold.held, hold.context = "", ""
                    tail = self._swallow(hold, "")
                    if tail:
                        hold.held = tail
                    return out, len(released), {r.kind for _, _, r in released}
                break
            released.append(span)
        if cut <= base:
            hold.held = buf[base:]
            return "", 0, set()
        out = self._render(buf, released, base, cut)
        hold.held = buf[cut:]
        reach = cut - self._context
        if self._folds:
            reach = visible_start(buf, cut, self._context, cut - 4 * self._context)
        hold.context = buf[max(0, reach) : cut]
        return out, len(released), {rule.kind for _, _, rule in released}

    def _swallow(self, hold: StreamHold, text: str) -> str:
        """Drop what continues an open over-long match; return the text after its end."""
        probe = hold.open_text + text
        rule = hold.open_rule
        end = -1
        if rule.folded:
            subject, hidden = fold_checked(probe)
            match = rule.regex.match(subject)
            if match is not None:
                end = match.end()
            if hidden:
                # The match read with the invisible characters taken out, if it goes further.
                visible, where = compact(subject)
                match = rule.regex.match(visible)
                if match is not None:
                    mapped = len(probe) if match.end() >= len(visible) else where[match.end()]
                    end = max(end, mapped)
        else:
            match = rule.regex.match(probe)
            if match is not None:
                end = match.end()
        if end < 0:  # cannot happen for the text the match began with; fail open here
            hold.open_rule, hold.open_text = None, ""
            return text
        if end >= len(probe):
            # Still matching to the very end: keep swallowing. What is kept is the match's
            # head (so the rule still matches from its start) and its latest tail.
            if len(probe) > self.max_hold:
                half = self.max_hold // 2
                probe = probe[:half] + probe[-half:]
            hold.open_text = probe
            return ""
        hold.open_rule, hold.open_text = None, ""
        return probe[end:]

    def finish(self, hold: StreamHold) -> tuple[str, int, set[str]]:
        """Release (redacted) whatever the stream still holds; ``hold`` is emptied."""
        hold.open_rule, hold.open_text = None, ""
        base = len(hold.context)
        buf = hold.context + hold.held
        hold.held = ""
        hold.context = ""
        if len(buf) == base:
            return "", 0, set()
        spans = self.spans(buf, base)
        return (
            self._render(buf, spans, base, len(buf)),
            len(spans),
            {rule.kind for _, _, rule in spans},
        )
