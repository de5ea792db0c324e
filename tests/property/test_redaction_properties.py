"""Properties of redaction: nothing configured survives, and streams equal whole texts."""

from __future__ import annotations

import itertools
import re

from agentdock_plugins.policies.redaction_engine import Redactor, StreamHold
from hypothesis import given, settings
from hypothesis import strategies as st

# Patterns over a small lowercase alphabet (so that matches are frequent and overlap), built
# from literals, classes and bounded or unbounded repeats. Markers hold no lowercase letter,
# so a marker can never create a new match.
ALPHABET = "abcd"
atoms = st.one_of(
    st.text(ALPHABET, min_size=1, max_size=3).map(re.escape),
    st.sampled_from(["[ab]", "[cd]", "[a-d]", "[^ab ]"]),
)
quantifiers = st.sampled_from(["", "", "?", "{1,3}", "{2}", "+"])
pattern = st.lists(st.tuples(atoms, quantifiers), min_size=1, max_size=3).map(
    lambda parts: "".join(a + q for a, q in parts)
)
patterns = st.lists(pattern, min_size=1, max_size=4).filter(
    lambda ps: all(re.compile(p).match("") is None for p in ps)
)
texts = st.text(ALPHABET + " .X\n", max_size=120)


def covered(text: str, regex: re.Pattern[str]) -> list[str]:
    """Matches of ``regex`` in the output that do not overlap a marker."""
    markers = [(m.start(), m.end()) for m in re.finditer(r"\[REDACTED[^\]]*\]", text)]
    return [
        m.group()
        for m in regex.finditer(text)
        if not any(s < m.end() and m.start() < e for s, e in markers)
    ]


@settings(max_examples=300, deadline=None)
@given(patterns, texts)
def test_no_configured_pattern_matches_the_redacted_text(ps: list[str], text: str) -> None:
    out = Redactor(ps).redact(text)[0]
    for p in ps:
        # No match outside the markers; a negated class may match a marker's own brackets.
        assert covered(out, re.compile(p)) == [], (p, out)
        if "[^" not in p:
            assert re.search(p, out) is None, (p, out)


@settings(max_examples=200, deadline=None)
@given(patterns, texts)
def test_redacted_text_keeps_everything_no_pattern_matched(ps: list[str], text: str) -> None:
    redactor = Redactor(ps)
    out, count, _ = redactor.redact(text)
    if count == 0:
        assert out == text
    else:
        # What is left besides markers is a subsequence of the input, in order.
        rest = iter(text)
        leftover = re.sub(r"\[REDACTED\]", "", out)
        assert all(char in rest for char in leftover)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(patterns, texts, st.lists(st.integers(0, 500), max_size=40), st.integers(1, 16))
def test_streamed_redaction_equals_whole_text_redaction(
    ps: list[str], text: str, cuts: list[int], window: int
) -> None:
    bounded = [p for p in ps if "+" not in p]
    if not bounded:
        return
    redactor = Redactor(bounded, window=max(window, 12))
    hold = StreamHold()
    out = [redactor.feed(hold, token)[0] for token in split(text, cuts)]
    out.append(redactor.finish(hold)[0])
    assert "".join(out) == redactor.redact(text)[0]


@settings(max_examples=200, deadline=None)
@given(texts, st.lists(st.integers(0, 500), max_size=40))
def test_streamed_pii_redaction_equals_whole_text(text: str, cuts: list[int]) -> None:
    text = f"{text} card 4111 1111 1111 1111 ssn 123-45-6789 {text} mail ab@cd.io ip 10.1.2.3"
    redactor = Redactor(["ab+c"], ["credit_card", "us_ssn", "email", "ipv4"])
    hold = StreamHold()
    out = [redactor.feed(hold, token)[0] for token in split(text, cuts)]
    out.append(redactor.finish(hold)[0])
    assert "".join(out) == redactor.redact(text)[0]


boundary_patterns = st.builds(
    lambda flags, atom, quantifier, rest: f"{flags}\\b{atom}{quantifier}{rest}",
    st.sampled_from(["", "(?i)", "(?a)"]),
    st.sampled_from([r"\d", r"\w", "[a-c]", "[A-Z0-9]", "a", "K", "s"]),
    st.sampled_from(["", "{1}", "{2}", "{1,3}", "{2,}", "+", "*", "?"]),
    st.sampled_from(["", "b", r"\d", "-x", r"\b", "[^a]", "|c"]),
)


@settings(max_examples=500, deadline=None)
@given(
    boundary_patterns,
    st.text("aAbcK\u212as\u017f19-_ \u00e9\u0663.", max_size=40),
    st.integers(0, 5),
)
def test_fast_form_matches_exactly_what_the_pattern_matches(
    source: str, text: str, pos: int
) -> None:
    from agentdock_plugins.policies.redaction_engine import fast_form

    original, rewritten = re.compile(source), re.compile(fast_form(source))
    assert [m.span() for m in original.finditer(text, pos)] == [
        m.span() for m in rewritten.finditer(text, pos)
    ]
    for start in range(len(text)):
        a, b = original.match(text, start), rewritten.match(text, start)
        assert (a and a.span()) == (b and b.span())
