"""The recognisers' work on hostile text is bounded: counted in Python calls, not in time.

Text such as ``41 41 41 …`` puts a candidate at every group; confirming each one is a call
into Python, and a mebibyte of it took seconds. The recognisers read such runs as a whole
(``runs.py``, ``repeats.py``), so the Python calls a redaction makes (every function call,
C functions included: one regex search is one call, however far it scans in C) grow with
what is found, not with the text. The calls are counted with ``sys.setprofile``.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest
from agentdock_plugins.policies.redaction_engine import Redactor
from hostile_text import PII, RANDOM, REPEATED, SHAPES

KIB = 1024
#: Python calls allowed per redacted span (its match, its tuple, its merge).
PER_SPAN = 3
#: Python calls allowed per KiB of text whose every group is a fresh candidate (each must
#: be looked at; the old engine made 7,000 to 10,000).
PER_KIB_RANDOM = 2500


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor([], PII)


def calls(redactor: Redactor, text: str) -> tuple[int, int]:
    """The Python calls ``redactor.spans(text)`` makes, and the spans it finds."""
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        spans = redactor.spans(text)
    finally:
        sys.setprofile(None)
    return count, len(spans)


@pytest.mark.parametrize("shape", REPEATED)
def test_a_repeated_unit_costs_no_more_for_more_text(redactor: Redactor, shape: str) -> None:
    small, small_spans = calls(redactor, SHAPES[shape](16 * KIB))
    large, large_spans = calls(redactor, SHAPES[shape](64 * KIB))
    # Four times the text: beyond one call or so per match found, no more work.
    assert large - small <= PER_SPAN * (large_spans - small_spans) + 500, (small, large)


@pytest.mark.parametrize("shape", RANDOM)
def test_fresh_candidates_cost_a_bounded_amount_each(redactor: Redactor, shape: str) -> None:
    small, _ = calls(redactor, SHAPES[shape](16 * KIB))
    large, _ = calls(redactor, SHAPES[shape](64 * KIB))
    assert large <= PER_KIB_RANDOM * 64, large
    # Linear: four times the text, at most about four times the calls.
    assert large <= 4.5 * small + 500, (small, large)


def test_the_counting_sees_per_candidate_work(redactor: Redactor) -> None:
    """The count is not blind: text with a real match every few characters costs calls in
    proportion (each match is reported), so a bound of zero growth means something."""
    text = "SSN 123-45-6789 x " * 200
    count, spans = calls(redactor, text)
    assert spans == 200
    assert count >= spans
