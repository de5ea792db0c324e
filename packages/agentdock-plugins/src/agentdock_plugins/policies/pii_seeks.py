"""Searches that find a part's matches from an anchor, instead of trying its regex at every
letter.

A part whose regex would start at every letter (an e-mail address, an IBAN, a key named by a
keyword) finds its candidates from something rare and fast to find (``@``, an IBAN's check
digits, ``_live_``, a keyword). Each function here takes the anchor and returns a builder:
given the part's compiled regex, it returns a ``seek(text, pos)`` that must return exactly
what ``regex.search(text, pos)`` would (:class:`~agentdock_plugins.policies.recogniser_types.
Part`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agentdock_plugins.policies.recogniser_types import Seek

__all__ = ["seek_after", "seek_back", "seek_from"]


def seek_back(
    anchor: re.Pattern[str], run: str, reach: int, lead: int = 0
) -> Callable[[re.Pattern[str]], Seek]:
    """A search for a regex whose matches are ``lead`` characters, a run of ``run``
    characters, then ``anchor``.

    The anchor (``@``, ``_live_``) is rare and fast to find; from it the run is walked back
    (at most ``reach`` characters) to where a match must start, and the regex is tried
    there once. Same result as ``regex.search``, without trying the regex at every letter.
    """
    tail = re.compile(f"{run}{{1,{reach}}}\\Z")

    def build(regex: re.Pattern[str]) -> Seek:
        def seek(text: str, pos: int) -> re.Match[str] | None:
            for found in anchor.finditer(text, pos + lead):
                at = found.start()
                start = tail.search(text, max(pos + lead, at - reach), at)
                if start is not None:
                    match = regex.match(text, start.start() - lead)
                    if match is not None:
                        return match
            return None

        return seek

    return build


def seek_from(anchor: re.Pattern[str], lead: int) -> Callable[[re.Pattern[str]], Seek]:
    """A search for a regex whose matches have ``anchor`` ``lead`` characters after their
    start (the digits of an IBAN's check number): the anchor is found, the regex tried
    ``lead`` characters before it."""

    def build(regex: re.Pattern[str]) -> Seek:
        def seek(text: str, pos: int) -> re.Match[str] | None:
            for found in anchor.finditer(text, pos + lead):
                match = regex.match(text, found.start() - lead)
                if match is not None:
                    return match
            return None

        return seek

    return build


def seek_after(keyword: re.Pattern[str]) -> Callable[[re.Pattern[str]], Seek]:
    """A search for values that count only right after ``keyword`` (which spans < 48)."""

    def build(regex: re.Pattern[str]) -> Seek:
        def seek(text: str, pos: int) -> re.Match[str] | None:
            for found in keyword.finditer(text, max(0, pos - 48)):
                if found.end() >= pos:
                    match = regex.match(text, found.end())
                    if match is not None:
                        return match
            return None

        return seek

    return build
