"""One pass that says which of tier 1's English rules can match an ASCII text.

Python's ``re`` scans a text once per pattern, some 10 ns a character whatever the pattern,
so 4 KB of prose cost tier 1 about 250 µs in the rules whose trigger words it held. RE2
(``google-re2``) runs every pattern of a set in one DFA pass over the text (about 10 µs for
4 KB): :class:`Prefilter` asks it which rules could match, and only those are run by ``re``,
whose match still decides. RE2 has no possessive quantifiers, look-arounds or
back-references and reads ``\\s`` as ASCII whitespace only, so each pattern is rewritten into
one that matches wherever the original matches in ASCII text (:func:`superset`): a
look-around dropped, a possessive quantifier made greedy, ``\\s`` widened to the ASCII
characters Python counts as space. On ASCII text ``\\b``, ``\\w``, ``\\d`` and case folding
read the same in both engines. A pattern that cannot be rewritten is marked to be run as
before (its triggers, then ``re``). Where the set names a candidate, RE2 also says where its
rewritten pattern first matches, and ``re`` searches from there (:meth:`Prefilter.start`).
Text with any non-ASCII character, and a pass that RE2 could not finish (its DFA out of
memory on a hostile text: a pattern that matches everything, added last, is then missing
from the answer), are read as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2

__all__ = ["Prefilter", "superset"]

#: ASCII characters Python's ``\s`` matches in ``str`` patterns beyond RE2's ``[\t\n\f\r ]``.
_MORE_SPACE = r"\x0b\x1c-\x1f"
#: Memory for the set's DFA; a pass that needs more falls back to ``re`` (see above).
_MAX_MEM = 32 << 20


def _class_end(src: str, start: int) -> int:
    """The index just past the character class that opens at ``src[start]`` (``[``)."""
    i = start + 1
    if i < len(src) and src[i] == "^":
        i += 1
    if i < len(src) and src[i] == "]":
        i += 1
    while i < len(src) and src[i] != "]":
        i += 2 if src[i] == "\\" else 1
    if i >= len(src):
        raise ValueError("unclosed character class")
    return i + 1


def _group_end(src: str, start: int) -> int:
    """The index just past the group that opens at ``src[start]`` (``(``)."""
    depth, i = 0, start
    while i < len(src):
        char = src[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(src, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced parenthesis")


def _class(body: str) -> str:
    """A character class with ``\\s`` widened, if it is not negated (a negated ``\\s`` in
    RE2 already holds more than Python's)."""
    if body.startswith("[^"):
        if "\\S" in body or "\\W" in body or "\\D" in body:
            raise ValueError("negated class of a negated escape")
        return body
    return body.replace("\\s", "\\s" + _MORE_SPACE)


def superset(src: str) -> str:
    """An RE2 pattern that matches every ASCII text ``re``'s ``src`` matches (see the module
    doc); :class:`ValueError` for a pattern it cannot rewrite (back-references)."""
    out: list[str] = []
    i = 0
    after_quantifier = False
    while i < len(src):
        char = src[i]
        if char == "\\":
            escape = src[i : i + 2]
            if escape[1:].isdigit() or escape == "\\g":
                raise ValueError("back-reference")
            out.append(f"[\\s{_MORE_SPACE}]" if escape == "\\s" else escape)
            i += 2
            after_quantifier = False
            continue
        if char == "[":
            end = _class_end(src, i)
            out.append(_class(src[i:end]))
            i = end
            after_quantifier = False
            continue
        if char == "(" and src.startswith(("(?<!", "(?<=", "(?=", "(?!"), i):
            i = _group_end(src, i)  # a look-around holds no text: dropping it only widens
            after_quantifier = False
            continue
        if char == "(" and src.startswith("(?P=", i):
            raise ValueError("back-reference")
        if char == "+" and after_quantifier:
            i += 1  # possessive: the greedy form matches wherever it does
            after_quantifier = False
            continue
        if char in "*+?":
            after_quantifier = not (char == "?" and out and out[-1][-1] in "*+?}")
        elif char == "{" and "}" in src[i:]:
            end = src.index("}", i) + 1
            out.append(src[i:end])
            i = end
            after_quantifier = True
            continue
        else:
            after_quantifier = False
        out.append(char)
        i += 1
    return "".join(out)


class Prefilter:
    """The patterns of a rule table in one RE2 set, built once."""

    def __init__(self, patterns: Sequence[str]) -> None:
        options = re2.Options()
        options.max_mem = _MAX_MEM
        self._set = re2.Set.SearchSet(options)
        covered: list[int] = []
        rewritten_all: list[str] = []
        self._each: dict[int, Any] = {}  # compiled RE2 patterns (the module is untyped)
        for index, src in enumerate(patterns):
            try:
                rewritten = superset(src)
                self._each[index] = re2.compile(rewritten, options)
            except (ValueError, re2.error):
                continue
            if self._set.Add(rewritten) != len(covered):
                raise RuntimeError("RE2 set indices out of step")
            covered.append(index)
            rewritten_all.append(rewritten)
        self._indices = tuple(covered)
        #: The rewritten patterns the set holds, in its order (another set may add them).
        self.rewritten = tuple(rewritten_all)
        self._sentinel = self._set.Add("")
        self._set.Compile()
        #: Indices of the patterns the set holds; the others are run as before.
        self.covered = frozenset(covered)

    def candidates(self, text: str) -> frozenset[int] | None:
        """The indices (into ``patterns``) of the covered patterns that may match ASCII
        ``text``, or ``None`` when the set cannot say (non-ASCII text, a pass not finished)."""
        if not text.isascii():
            return None
        found = self._set.Match(text)
        if not found or self._sentinel not in found:
            return None
        return self.named(found)

    def named(self, found: Sequence[int]) -> frozenset[int]:
        """The indices (into ``patterns``) of the set's matches ``found``: positions in
        :attr:`rewritten`, of which those past its end (another set's) are left out."""
        indices = self._indices
        count = len(indices)
        return frozenset(indices[i] for i in found if i < count)

    def start(self, index: int, text: str) -> int | None:
        """Where in ASCII ``text`` the rewritten pattern ``index`` (a covered one) first
        matches, or ``None`` where it does not. The original matches nowhere before (each
        of its matches is one of the rewritten pattern's, and RE2 finds the leftmost
        start), so ``re`` need search only from there: a candidate's ``re`` scan of 4 KB
        cost some 95 µs, an attack at its end is now found by scanning its tail."""
        # Handed bytes (ASCII: offsets are the same): RE2's wrapper maps no offsets then.
        found = self._each[index].search(text.encode("ascii"))
        return None if found is None else found.start()
