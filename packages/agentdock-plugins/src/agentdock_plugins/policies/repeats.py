"""Text written over and over: a recogniser's candidate loop notices it and copies results.

A mebibyte of ``GB82 GB82 …`` or ``x@a.co x@a.co …`` is one short text repeated; a part
confirms a candidate by reading a bounded neighbourhood of it (``before`` characters before
its start, ``reach`` after), so where the text repeats with some period, so do its
candidates and their confirmations. :class:`Repeats` watches a part's candidates; every
:data:`EVERY` of them it checks whether the text around the latest one repeats at the
distance to one of the few before it (one string comparison), and if so how far on
(comparisons of doubling length), then copies the results of the last period over that
stretch and tells the loop where to resume. The cost is a few comparisons per
:data:`EVERY` candidates; text that does not repeat is confirmed candidate by candidate.
"""

from __future__ import annotations

__all__ = ["EVERY", "Repeats", "extent"]

#: A repeat is looked for after every this many candidates.
EVERY = 32
#: Candidates back to look for a repeat (the period's candidates, at most).
_LAG = 8
#: Longest neighbourhood after a candidate for which repeats are looked for.
MAX_REACH = 1024


def extent(text: str, start: int, period: int, limit: int) -> int:
    """How far from ``start`` (up to ``limit``) the text repeats what is ``period`` before
    it: ``text[start:end] == text[start - period : end - period]``, ``end`` as large as the
    comparisons of doubling (then halving) length find."""
    end = start
    size = 64
    while end < limit and size >= 16:
        step = min(size, limit - end)
        if text[end : end + step] == text[end - period : end - period + step]:
            end += step
            size *= 2
        else:
            size //= 4
    return end


class Repeats:
    """The recent candidates of one part, and the check for a repeat among them."""

    __slots__ = ("_before", "_reach", "_seen")

    def __init__(self, before: int, reach: int) -> None:
        self._before = before
        self._reach = reach
        #: ``(start, end)`` of the recent candidates (``end`` -1: refused), in order.
        self._seen: list[tuple[int, int]] = []

    def add(
        self, text: str, start: int, end: int, index: int, found: list[tuple[int, int, int]]
    ) -> int:
        """Note the candidate at ``start`` (confirmed to ``end``, or -1); where the text
        repeats from there on, add to ``found`` (as ``(start, -end, index)``) the copies of
        the last period's confirmed matches, and return where the search resumes; else 0."""
        seen = self._seen
        seen.append((start, end))
        if len(seen) <= EVERY + _LAG:
            return 0
        del seen[: -_LAG - 1]
        window = self._before + self._reach
        for back in range(1, _LAG + 1):
            period = start - seen[-1 - back][0]
            low = start - window
            if low - period < 0:
                continue
            if text[low:start] != text[low - period : start - period]:
                continue
            # The text repeats with ``period`` from ``low - period`` to ``stop``: every
            # candidate up to ``stop - reach`` reads what one of the last period read.
            stop = extent(text, start, period, len(text)) - self._reach
            if stop <= start + period:
                return 0
            for at, confirmed in seen[-back:]:
                if confirmed > at:
                    length = confirmed - at
                    found.extend(
                        (p, -(p + length), index) for p in range(at + period, stop, period)
                    )
            seen.clear()
            return stop
        return 0
