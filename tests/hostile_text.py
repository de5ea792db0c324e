"""Hostile text for the PII recognisers: shapes that put a candidate at every few characters.

Shared by the cost tests (``tests/unit/test_pii_hostile_cost.py``) and
``benchmarks/policy_hostile.py``; each builder returns ``size`` characters, the same for a
given size on every run (random shapes are seeded).
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["PII", "RANDOM", "REPEATED", "SHAPES"]

#: Every built-in recogniser.
PII = ["credit_card", "us_ssn", "email", "phone", "iban", "ipv4", "api_key"]


def _random(make: Callable[[random.Random], str]) -> Callable[[int], str]:
    def build(size: int) -> str:
        rng = random.Random(7)  # noqa: S311 - reproducible text, not a secret
        parts: list[str] = []
        total = 0
        while total < size:
            part = make(rng)
            parts.append(part)
            total += len(part)
        return "".join(parts)[:size]

    return build


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


SHAPES: dict[str, Callable[[int], str]] = {
    "'41 ' repeated": _repeat("41 "),
    "'4111 1111 1111 1111 ' repeated": _repeat("4111 1111 1111 1111 "),
    "random groups of 4, spaced": _random(lambda r: f"{r.randrange(10000):04d} "),
    "random 1-4 digits, mixed separators": _random(
        lambda r: str(r.randrange(10 ** r.randint(1, 4))) + r.choice("-. ")
    ),
    "'1.1.1.1.' run": _repeat("1."),
    "'1 2 3 4 ' single digits": _random(lambda r: f"{r.randrange(10)} "),
    "digits only": _random(lambda r: str(r.randrange(10))),
    "'a@a@a@'": _repeat("a@"),
    "'x@a.co ' repeated": _repeat("x@a.co "),
    "digits between invisibles": _repeat("4\u200b1\u200b "),
    "invisibles only": _repeat("\u200b"),
    "'GB82 ' repeated": _repeat("GB82 "),
    "IBAN-like letters+digits run": _random(
        lambda r: r.choice(["GB82", "DE89", "WEST", "1234", "5698", "7654"])
    ),
}


#: Shapes made of one short unit written again and again.
REPEATED = (
    "'41 ' repeated",
    "'4111 1111 1111 1111 ' repeated",
    "'1.1.1.1.' run",
    "'a@a@a@'",
    "'x@a.co ' repeated",
    "digits between invisibles",
    "invisibles only",
    "'GB82 ' repeated",
)
#: Shapes whose digits (or letters) are drawn at random: no unit repeats.
RANDOM = tuple(name for name in SHAPES if name not in REPEATED)
