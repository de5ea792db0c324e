"""Built-in PII recognisers: a regular expression finds candidates, a function confirms them.

A regex alone flags every 16-digit order number as a card and every dotted quad as an
address; the confirming checks (Luhn and issuer rules for cards, mod-97 for IBANs, octet
ranges for IPv4, entropy for API keys, a nearby keyword where a shape alone is ambiguous)
keep redaction to values that really are the thing. Recognisers are opt-in by name through
``policies.safety.pii``.

Recognisers match the *folded* text (:func:`~agentdock_plugins.policies.lookalikes.fold`):
full-width and other look-alike digits, letters, at signs, full stops, spaces and dashes
are ASCII there, and offsets are the original's, so a value typed with look-alikes is cut
out of the original text whole. The regexes are therefore written for ASCII, with two
Unicode allowances: invisible format characters (zero-width space, joiners, soft hyphen)
count as separators between the groups of a number, and e-mail addresses may hold letters
of any script (see :data:`RECOGNISERS` for what each one matches and leaves alone). When
the text holds invisible characters the redactor also matches it without them
(``invisible.py``), so one inside a group or a word does not hide the value. Left and right
boundaries are ASCII classes, so a value written straight after Chinese or Japanese text,
with no space, is still found. Card numbers have their own module (``cards.py``): how a run
of digit groups is read is most of what tells a card from a serial, a date or a figure.

A recogniser is one or more *parts* (an API key has a part per vendor format), each with its
regex, a ``confirm(text, start, end)`` that returns the end of the confirmed value (``-1``:
not one; a shorter end trims a candidate that ran on, as a card number followed by an
expiry date), and how it is found cheaply: parts whose regex starts with a literal
(``sk-``, ``AKIA``) need nothing more, ``re`` finds the literal fast; the digit-led shapes
(cards, SSNs, IPv4, phone numbers) share one *scout*, one pass for all of them; parts whose
regex would start at every letter have a ``seek(text, pos)`` that finds the same matches
from an anchor (``@``, an IBAN's check digits, ``_live_``, a keyword); and a part may name
literals that every match contains, to be skipped when the text holds none (one character,
``_`` or ``-`` of a key's prefix, ``@``, is found with ``memchr``, faster than any search).
Every regex but a JWT's has a bounded width, so a stream holds back only a bounded tail (a
JWT's match grows from its start, and is held while it grows); every look-behind a
confirmation needs reaches at most :data:`LOOKBACK` characters, and every look-ahead at
most its part's ``ahead``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from agentdock_plugins.policies.cards import (
    CARD,
    GAP,
    INVISIBLE_KIND,
    PUNCT,
    SPACE,
    card_end,
    card_ok,
    card_sweep,
    gap_kind,
    luhn_ok,
)
from agentdock_plugins.policies.invisible import INVISIBLE_CLASS
from agentdock_plugins.policies.runs import Stretch

__all__ = [
    "LOOKBACK",
    "RECOGNISERS",
    "Part",
    "Recogniser",
    "Scout",
    "api_key_ok",
    "card_ok",
    "entropy",
    "iban_ok",
    "luhn_ok",
]

#: Most characters before a candidate that a confirmation reads (keywords for a bare SSN,
#: an AWS secret key or a version number).
LOOKBACK = 56

Confirm = Callable[[str, int, int], int]
Seek = Callable[[str, int], "re.Match[str] | None"]
Sweep = Callable[[str, int, int, "Stretch | None", int, int], list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Scout:
    """Parts searched together, in one pass, and how a long run of their candidates is
    taken as a whole.

    Every match of a scout's parts lies inside one match of ``region`` that starts where a
    part matches, and its regex and confirmation read a bounded neighbourhood of it, so a
    region longer than :data:`~agentdock_plugins.policies.runs.LONG` is swept at once
    (:func:`~agentdock_plugins.policies.runs.sweep`) instead of candidate by candidate.
    """

    name: str
    region: str


@dataclass(frozen=True, slots=True)
class Part:
    """One shape of a recogniser: its regex (on folded text) and how a candidate is confirmed.

    ``seek``, when given, is built from the compiled regex and must return exactly what
    ``regex.search(text, pos)`` would, or skip only candidates ``confirm`` would refuse.
    Parts with the same ``scout`` are searched together, in one pass: their regexes joined
    as one alternation, which ``re`` scans as fast as one of them when they all start with
    the same character class (``re`` factors it out and skips ahead to it).
    """

    pattern: str
    confirm: Confirm
    #: Lower-case substrings of which every match contains one (a cheap prefilter), for
    #: parts whose regex starts with a class (one that starts with a literal is as fast to
    #: search as the prefilter is to check).
    literals: tuple[str, ...] | None = None
    seek: Callable[[re.Pattern[str]], Seek] | None = None
    scout: Scout | None = None
    #: Characters past the end of its longest match that ``confirm`` may read (whether a
    #: run of groups goes on): a stream holds back that many more.
    ahead: int = 0
    #: ``sweep(text, start, end, stretch, reach, lookback)``: its confirmed matches that
    #: start in a stretch of a long region of its scout, found together (see
    #: :class:`~agentdock_plugins.policies.runs.Member`).
    sweep: Sweep | None = None


@dataclass(frozen=True, slots=True)
class Recogniser:
    """One kind of PII: its name (the Dockfile's), its marker and its parts."""

    name: str
    marker: str
    parts: tuple[Part, ...]


# -- checks --------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


def _prefixes(text: str, start: int, end: int, ok: Callable[[str], bool], least: int) -> int:
    """The end of the longest prefix of ``text[start:end]`` ending at a group end that is ok.

    A group is a run of letters and digits; ``ok`` sees the prefix's groups joined. Lets a
    candidate that ran on into the next word (``GB82 WEST 1234 5698 7654 32 THE END``)
    confirm the value it starts with.
    """
    groups = [(m.group(), m.end()) for m in _ALNUM.finditer(text, start, end)]
    joined = "".join(g for g, _ in groups)
    size = len(joined)
    for group, group_end in reversed(groups):
        if size < least:
            break
        if ok(joined[:size]):
            return group_end
        size -= len(group)
    return -1


_ALNUM = re.compile(r"[A-Za-z0-9]+")


def _card(text: str, start: int, end: int) -> int:
    return card_end(text, start, end, LOOKBACK)


def ssn_ok(digits: str) -> bool:
    """US SSNs: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


#: A keyword that makes nine digits an SSN however they are set apart: it ends at most 24
#: characters before them, on the same line, with no digit in between.
_SSN_CONTEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:ssns?|ss\s?#|social[\s_-]*security"
    r"(?:[\s_-]*(?:numbers?|nos?|nr|num))?)(?![A-Za-z])[^0-9\n]{0,24}\Z"
)
#: Separators that make three groups of 3, 2 and 4 digits an SSN by their shape alone,
#: when both are alike.
_SSN_MARKS = frozenset({"", INVISIBLE_KIND, "-", ".", "_", "/", "~", "\u00b7", "\u2022", "\u30fb"})
_GAP_BEFORE = re.compile(rf"[0-9]({GAP})\Z")
_GAP_AFTER = re.compile(rf"({GAP})[0-9]")


def _ssn(text: str, start: int, end: int) -> int:
    """Three groups of 3, 2 and 4 digits (a valid area, group and serial), not a part of a
    longer run of groups set apart alike; with both separators alike and of
    :data:`_SSN_MARKS` (no line break), an SSN by its shape; with any separators, or one, or
    none, an SSN after the word."""
    digits = "".join(_DIGITS.findall(text, start, end))
    if not ssn_ok(digits):
        return -1
    gaps = _NOT_DIGITS.findall(text, start, end)
    if gaps:
        kinds = [gap_kind(gap) for gap in gaps]
        before = _GAP_BEFORE.search(text, max(0, start - 12), start)
        if before is not None and gap_kind(before.group(1)) == kinds[0]:
            return -1
        after = _GAP_AFTER.match(text, end)
        if after is not None and gap_kind(after.group(1)) == kinds[-1]:
            return -1
        if (
            len(kinds) == 2
            and kinds[0] == kinds[1]
            and kinds[0] in _SSN_MARKS
            and "\n" not in gaps[0] + gaps[1]
        ):
            return end
    found = _SSN_CONTEXT.search(text, max(0, start - LOOKBACK), start)
    return end if found is not None else -1


_NOT_DIGITS = re.compile(r"[^0-9]+")


def _email(text: str, start: int, end: int) -> int:
    """At most 254 characters; an unquoted local part neither starts nor ends with a full
    stop nor holds two in a row; no domain label starts or ends with a hyphen."""
    candidate = text[start:end]
    local, _, domain = candidate.rpartition("@")
    if len(candidate) > 254:
        return -1
    if local[0] != '"' and (local[0] == "." or local[-1] == "." or ".." in local):
        return -1
    if domain[0] == "-" or domain[-1] == "-" or ".-" in domain or "-." in domain:
        return -1
    return end


def _phone(text: str, start: int, end: int) -> int:
    """A number that starts with ``+`` or ``(``: 10 to 15 digits (E.164), not one repeated."""
    digits = "".join(_DIGITS.findall(text, start, end))
    if not 10 <= len(digits) <= 15 or digits.count(digits[0]) == len(digits):
        return -1
    return end


def _nanp(text: str, start: int, end: int) -> int:
    """A North American number: area code and exchange of three digits, each starting with 2
    to 9 and not ending in 11 (``100-200-3000`` and ``555-123-4567`` are none), a line number
    of four, optionally after a country code 1; all set apart alike by one space, ``-`` or
    ``.``, and not in a longer run of groups set apart the same way."""
    groups = _DIGITS.findall(text, start, end)
    separators = _NOT_DIGITS.findall(text, start, end)
    area, exchange, line = groups[-3:]
    if any(sep != separators[0] for sep in separators):
        return -1
    for code in (area, exchange):
        if code[0] in "01" or code[1:] == "11":
            return -1
    if len(set(area + exchange + line)) == 1:
        return -1
    sep = separators[0]
    if text[start - 2 : start] in _CHAINED_BEFORE.get(sep, ()) or (
        text[end : end + 1] == sep and text[end + 1 : end + 2].isdigit()
    ):
        return -1
    return end


#: ``<digit><separator>`` right before a phone number: a longer run of groups.
_CHAINED_BEFORE = {sep: frozenset(f"{d}{sep}" for d in "0123456789") for sep in " .-"}


def iban_ok(candidate: str) -> bool:
    """ISO 13616: 15 to 34 letters and digits whose rearranged form is 1 modulo 97."""
    compact = "".join(_ALNUM.findall(candidate)).upper()
    if not 15 <= len(compact) <= 34:
        return False
    return int((compact[4:] + compact[:4]).translate(_IBAN_NUMBERS)) % 97 == 1


#: Letters as ISO 13616 numbers them (A = 10 ... Z = 35).
_IBAN_NUMBERS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})
#: The length of each country's IBANs (the SWIFT IBAN registry, and the countries that use
#: the format without being in it): an IBAN not written in capitals must start with one of
#: these countries and have its length, so that a lower-case UUID or hash is never one.
_IBAN_LENGTHS = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FK", "FO", "GL", "NL", "SD"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "MN", "XK"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "OM", "SO", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["AO", "CV", "GW", "LY", "MZ", "PT", "ST"], 25),
    **dict.fromkeys(["DZ", "IR", "IS", "TR"], 26),
    **dict.fromkeys(["BI", "CF", "CG", "CM", "DJ", "FR", "GA", "GQ", "GR", "IT", "KM"], 27),
    **dict.fromkeys(["MC", "MG", "MR", "SM", "TD"], 27),
    **dict.fromkeys(["AL", "AZ", "BF", "BJ", "BY", "CI", "CY", "DO", "GT", "HN", "HU"], 28),
    **dict.fromkeys(["LB", "MA", "ML", "NE", "NI", "PL", "SN", "SV", "TG"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU", "YE"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["RU"], 33),
}


def _iban(text: str, start: int, end: int) -> int:
    """mod-97, cut at the longest valid prefix of the country's length.

    A country in the registry fixes the length whatever the case, so a word after the
    number (``NL90... ok``) is never taken into it by a chance mod-97 match; a country not
    in it is accepted only in capitals, at any length ISO 13616 allows.
    """
    country = text[start : start + 2]
    size = _IBAN_LENGTHS.get(country.upper())
    if size is None:
        return _prefixes(text, start, end, iban_ok, 15) if country.isupper() else -1
    return _prefixes(text, start, end, lambda iban: len(iban) == size and iban_ok(iban), size)


#: Words that make a dotted quad a version, section or figure number, not an address.
_NUMBERED = frozenset(
    {
        "version", "versions", "ver", "v", "release", "build", "firmware", "revision", "rev",
        "chapter", "chapters", "chap", "ch", "section", "sections", "sect", "sec", "figure",
        "figures", "fig", "table", "tables", "tbl", "clause", "clauses", "article", "articles",
        "art", "paragraph", "paragraphs", "para", "appendix", "annex", "part", "parts", "page",
        "pages", "p", "pp", "step", "steps", "equation", "equations", "eq", "§", "§§", "¶",
    }
)  # fmt: skip
#: The word right before a candidate (a full stop after it, then up to three of space,
#: ``:``, ``=`` or ``#``).
_WORD_BEFORE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]+|§§?|¶)\.?[\s:=#]{0,3}\Z")


def _ipv4(text: str, start: int, end: int) -> int:
    """Four octets up to 255, leading zeros or not, not introduced as a numbered thing.

    ``1.000.000.000`` (a first group of one or two digits, then groups of three ending in
    ``000``) is a round figure written the German way, not an address.
    """
    octets = _DIGITS.findall(text, start, end)
    if any(int(octet) > 255 for octet in octets):
        return -1
    if len(octets[0]) < 3 and all(len(o) == 3 for o in octets[1:]) and octets[3] == "000":
        return -1
    word = _WORD_BEFORE.search(text, max(0, start - 24), start)
    if word is not None and word.group(1).lower() in _NUMBERED:
        return -1
    return end


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def api_key_ok(body: str) -> bool:
    """A key's body (what follows its prefix): letters and digits, random enough to be a key
    (3 bits of entropy per character or more, ``-`` and ``_`` aside)."""
    body = body.replace("-", "").replace("_", "")
    has_digit = any(c.isdigit() for c in body)
    has_alpha = any(c.isalpha() for c in body)
    return has_digit and has_alpha and entropy(body) >= 3.0


def _random_after(prefix: int | re.Pattern[str]) -> Confirm:
    """Confirms a key whose body, after ``prefix`` (a length or a regex), is random."""

    def confirm(text: str, start: int, end: int) -> int:
        if isinstance(prefix, int):
            skip = start + prefix
        else:
            found = prefix.search(text, start, end)
            skip = found.end() if found is not None else start
        return end if api_key_ok(text[skip:end]) else -1

    return confirm


def _shape(_text: str, _start: int, end: int) -> int:
    """The regex's shape is the whole check (fixed-format keys)."""
    return end


def _jwt(text: str, start: int, end: int) -> int:
    """A JSON Web Token: a header and claims (base64url JSON objects, ``eyJ…``) and its
    signature. Header and claims alone count too: an unsigned token, or the start of one
    still being streamed, which must be held back from there. A full stop with no signature
    after it ends a sentence."""
    claims = text.index(".", start, end) + 1
    if claims - start < 11:
        return -1
    signature = text.find(".", claims, end) + 1
    if signature == 0:
        return end if end - claims >= 5 else -1
    if signature - claims < 6:
        return -1
    return end if end > signature else signature - 1


# -- seeking -------------------------------------------------------------------------------------


def _seek_back(
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


def _seek_from(anchor: re.Pattern[str], lead: int) -> Callable[[re.Pattern[str]], Seek]:
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


def _seek_after(keyword: re.Pattern[str]) -> Callable[[re.Pattern[str]], Seek]:
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


# -- the recognisers -----------------------------------------------------------------------------

# Invisible characters count as separators between the groups of a number here, and the
# redactor also matches a copy of the text without them (``invisible.py``), where a value
# with one inside a group or a word is whole again.
_IBAN_SEP = f"[ \\-{INVISIBLE_CLASS}]{{0,2}}"

# Every regex starts by consuming one character from a fixed class (or a literal) and only
# then looks behind it (``x(?<!\w[\s\S])`` rather than ``(?<!\w)x``): ``re`` skips ahead to
# candidate positions only for a pattern that starts with a literal or a class, several
# times faster on prose than one that starts with a look-behind.
_SSN = (
    r"[0-9](?<![0-9][0-9])(?<![0-9][.,][0-9])[0-9]{2}"
    rf"(?:{GAP})?[0-9]{{2}}(?:{GAP})?[0-9]{{4}}(?![0-9])"
)

# E-mail: the local part may hold letters of any script. One written in a script that
# separates words with spaces (``böb``, ``иван``) is cut where another script ends right
# before it with no space, so that a Chinese or Japanese sentence running straight into an
# address is not read as part of it; one written in Chinese or Japanese (``ボブ``) is taken
# whole. An apostrophe counts between two letters (``o'neil``), and a quoted local part
# (``"bob smith"``) is its own part. Domain labels may hold any letters (例え.jp,
# exämple.com); the top-level domain is ASCII letters, punycode (xn--...), Cyrillic or Greek.
_NOT_IN_ADDRESS = (
    "\\s\\x00-\\x1f\\x7f!\"#$&'()*,/:;<=>?@\\[\\\\\\]^`{|}~"
    "\u00a0-\u00bf\u00d7\u00f7\u2000-\u2bff\u3000-\u303f\ufeff\U0001f000-\U0001faff"
)
_NO_SPACE_SCRIPTS = (
    "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u312f\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f"
)
#: A local-part character of a spaced script (letters, digits, ``% + - . _``) ...
_SPACED = f"[^{_NOT_IN_ADDRESS}{_NO_SPACE_SCRIPTS}]"
#: ... of those, a letter or digit ...
_ALPHA = f"[^{_NOT_IN_ADDRESS}{_NO_SPACE_SCRIPTS}%+\\-._]"
#: ... and of a script written without spaces.
_UNSPACED = f"[{_NO_SPACE_SCRIPTS}]"
_APOSTROPHE = "['\u2019]"
_LOCAL = (
    f"(?:{_SPACED}|{_UNSPACED}(?!{_ALPHA})|{_APOSTROPHE}(?<={_ALPHA}{_APOSTROPHE})(?={_ALPHA}))"
)
#: Where a local part starts: after no local-part character, or (a spaced-script letter)
#: right after another script.
_LOCAL_START = (
    f"(?:{_SPACED}(?<!{_SPACED}[\\s\\S])(?<!{_UNSPACED}[%+\\-._])"
    f"(?<!{_ALPHA}{_APOSTROPHE}{_ALPHA})"
    f"|{_UNSPACED}(?!{_ALPHA})(?<![^{_NOT_IN_ADDRESS}][\\s\\S]))"
)
_LABEL = f"[^{_NOT_IN_ADDRESS}._%+]"
_DOMAIN = (
    f"(?:{_LABEL}{{1,63}}\\.){{1,8}}"
    r"(?:(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-])"
    "|[\u0370-\u03ff\u0400-\u04ff]{2,24}(?![A-Za-z0-9\u0370-\u03ff\u0400-\u04ff-]))"
)
_EMAIL = f"{_LOCAL_START}{_LOCAL}{{0,63}}@{_DOMAIN}"
_QUOTED_EMAIL = f'"[^"\\\\\\r\\n]{{1,62}}"@{_DOMAIN}'

#: An at sign that can be an address's: a local-part character before it, a domain after
#: it (so a run of "@", "a@a@a@" or "@a.@a." costs one pass, not a try each). It starts
#: with the literal, which ``re`` finds fast, and only then looks around.
_EMAIL_ANCHOR = re.compile(f"@(?<=[^{_NOT_IN_ADDRESS}]@)(?={_DOMAIN})")
_QUOTED_ANCHOR = re.compile(f'"@(?={_DOMAIN})')
#: The run of local-part characters (apostrophes aside) that ends a text: everything up to
#: the last other character is skipped in one backtracking step from the end (a search
#: would try every start in the run).
_LOCAL_RUN = re.compile(f"(?:[\\s\\S]*[{_NOT_IN_ADDRESS}])?(?P<run>[^{_NOT_IN_ADDRESS}]+)\\Z")
#: A letter of a spaced script right after one of a script written without spaces.
_SWITCH = re.compile(f"{_UNSPACED}(?={_ALPHA})")
_ALPHA_CHAR = re.compile(_ALPHA)


def _seek_address(regex: re.Pattern[str]) -> Seek:
    """``regex.search`` for :data:`_EMAIL`, from each at sign: the run of local-part
    characters before it is walked back with one class (fast), across apostrophes between
    letters, and the local part starts after the last change from a script written without
    spaces to a letter of another; the regex is tried there once."""

    def seek(text: str, pos: int) -> re.Match[str] | None:
        for found in _EMAIL_ANCHOR.finditer(text, pos):
            at = found.start()
            floor = max(pos, at - 64)
            run = _LOCAL_RUN.match(text, floor, at)
            if run is None:
                continue
            start = run.start("run")
            while (
                start - 2 >= floor
                and text[start - 1] in "'\u2019"
                and _ALPHA_CHAR.match(text, start - 2)
                and _ALPHA_CHAR.match(text, start)
            ):
                run = _LOCAL_RUN.match(text, floor, start - 1)
                if run is None:
                    break
                start = run.start("run")
            if not text[start:at].isascii():
                for switch in _SWITCH.finditer(text, start, at):
                    start = switch.end()
            match = regex.match(text, start)
            if match is not None:
                return match
        return None

    return seek


# A phone number that starts with a digit (North American, scanned with the other
# digit-led shapes) or with "+" or "(".
_PHONE_DIGIT = (
    r"[0-9](?<![A-Za-z0-9_+/-][0-9])(?<![0-9][.,][0-9])"
    r"(?:(?<=1)[ .-][0-9]{3}|(?<=[2-9])[0-9]{2})[ .-][0-9]{3}[ .-][0-9]{4}"
    r"(?![A-Za-z0-9_-]|[.][0-9])"
)
_PHONE_REST = r"[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}(?![A-Za-z0-9_-]|[.][0-9])"
_PHONE_SIGN = (
    r"[+(](?<![A-Za-z0-9_+/-][+(])(?<![0-9][.][+(])"
    r"(?:(?<=\+)[0-9]{1,3}[ .-]?(?:\([0-9]{2,4}\)|[0-9]{2,4})|(?<=\()[0-9]{2,4}\))" + _PHONE_REST
)
_IBAN = (
    rf"[A-Za-z](?<![A-Za-z0-9][A-Za-z])[A-Za-z][0-9]{{2}}(?:{_IBAN_SEP}[A-Za-z0-9]){{11,30}}"
    r"(?![A-Za-z0-9])"
)
#: An IBAN's check digits: two digits after two letters (digits are rarer than letters in
#: prose, so the search stops less often than at every letter).
_IBAN_ANCHOR = re.compile(r"[0-9](?<=[A-Za-z][A-Za-z][0-9])[0-9]")
_IPV4 = (
    r"[0-9](?<![A-Za-z0-9_.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}"
    r"(?![0-9]|\.[0-9])"
)

#: The scout of the shapes that start with a digit (cards, SSNs, IPv4, phone numbers): each
#: lies in a run of digit groups and separators (whitespace, punctuation, invisible
#: characters), and reads at most :data:`LOOKBACK` characters before it.
_DIGIT_LED = Scout("digit-led", f"[0-9][0-9{SPACE}{PUNCT}]*")

_KEY_END = r"(?![A-Za-z0-9_-])"


def _prefixed(prefix: str, body: str) -> str:
    """``prefix`` then ``body``, with no key character before the prefix."""
    escaped = re.escape(prefix)
    return f"{escaped}(?<![A-Za-z0-9_-]{escaped}){body}{_KEY_END}"


#: ``aws_secret_access_key = ``, ``"SecretAccessKey": "``, ``AWS secret key is ``.
_AWS_SECRET_KEYWORD = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:aws[ _-]?secret(?:[ _-]?access)?|secret[ _-]?access)[ _-]?key"
    r"(?![A-Za-z0-9])[\"'\]]?[ \t]{0,4}(?:[:=]>?|\bis\b)?[ \t]{0,4}[\"']?"
)
_AWS_SECRET_BEFORE = re.compile(_AWS_SECRET_KEYWORD.pattern + r"\Z")


def _aws_secret(text: str, start: int, end: int) -> int:
    found = _AWS_SECRET_BEFORE.search(text, max(0, start - 48), start)
    return end if found is not None else -1


_GENERIC_ANCHOR = re.compile(r"_(?:live|test|prod|secret|key|token)_")
#: Prefilters of one character (found with ``memchr``): keys with ``_`` or ``-`` in their
#: prefix are not sought in a text without one.
_UNDERSCORE = ("_",)
_DASH = ("-",)

_API_KEY_PARTS = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-api03-...) and
    # other sk- keys.
    Part(_prefixed("sk-", "[A-Za-z0-9_-]{20,250}"), _random_after(3), _DASH),
    # AgentDock's own keys: adk_<12 hex key id>_<43 URL-safe base64 characters>.
    Part(_prefixed("adk_", "[0-9a-f]{12}_[A-Za-z0-9_-]{43}"), _shape, _UNDERSCORE),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    Part(r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[0-9A-Z]{16}(?![0-9A-Za-z])", _shape),
    # AWS secret access keys: 40 characters of base64, only right after their name (alone
    # they look like any other 40-character token).
    Part(
        r"[A-Za-z0-9/+](?<![A-Za-z0-9/+][A-Za-z0-9/+])[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=])",
        _aws_secret,
        ("secret",),
        _seek_after(_AWS_SECRET_KEYWORD),
    ),
    # GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server (ghs_),
    # refresh (ghr_) and fine-grained personal tokens (github_pat_).
    Part(
        r"gh[pousr]_(?<![A-Za-z0-9_-]gh[pousr]_)[A-Za-z0-9]{30,250}" + _KEY_END,
        _random_after(4),
        _UNDERSCORE,
    ),
    Part(_prefixed("github_pat_", "[A-Za-z0-9_]{30,240}"), _random_after(11), _UNDERSCORE),
    # Slack: bot, user, app, refresh and configuration tokens, and incoming webhooks.
    Part(
        r"xox[abposre](?<![A-Za-z0-9_-]xox[abposre])(?:\.xox[bp])?-[A-Za-z0-9-]{10,250}" + _KEY_END,
        _random_after(5),
        _DASH,
    ),
    Part(_prefixed("xapp-", "[0-9]-[A-Za-z0-9-]{10,250}"), _random_after(7), _DASH),
    Part(
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,200}",
        _shape,
    ),
    # GitLab personal access tokens.
    Part(_prefixed("glpat-", "[A-Za-z0-9_-]{20,60}"), _random_after(6), _DASH),
    # Google API keys and OAuth client secrets.
    Part(_prefixed("AIza", "[0-9A-Za-z_-]{35}"), _random_after(4)),
    Part(_prefixed("GOCSPX-", "[0-9A-Za-z_-]{28}"), _random_after(7), _DASH),
    # Hugging Face access tokens and npm tokens.
    Part(_prefixed("hf_", "[A-Za-z0-9]{34,250}"), _random_after(3), _UNDERSCORE),
    Part(_prefixed("npm_", "[A-Za-z0-9]{36}"), _random_after(4), _UNDERSCORE),
    # JSON Web Tokens: bearer credentials. Unbounded, and matched as soon as the claims
    # begin, so a stream holds a long token back from its start until it ends.
    Part(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*", _jwt),
    # <prefix>_live_..., sk_test_..., rk_prod_... (Stripe and the many keys named alike).
    Part(
        r"[A-Za-z](?<![A-Za-z0-9_-][A-Za-z])[A-Za-z]{0,8}_(?:live|test|prod|secret|key|token)_"
        r"[A-Za-z0-9]{16,120}" + _KEY_END,
        _random_after(_GENERIC_ANCHOR),
        _UNDERSCORE,
        _seek_back(_GENERIC_ANCHOR, "[A-Za-z]", 9),
    ),
)

RECOGNISERS: dict[str, Recogniser] = {
    r.name: r
    for r in (
        Recogniser(
            "credit_card",
            "[REDACTED:CREDIT_CARD]",
            (Part(CARD, _card, scout=_DIGIT_LED, sweep=card_sweep),),
        ),
        Recogniser("us_ssn", "[REDACTED:US_SSN]", (Part(_SSN, _ssn, scout=_DIGIT_LED, ahead=9),)),
        Recogniser(
            "email",
            "[REDACTED:EMAIL]",
            (
                Part(_EMAIL, _email, ("@",), _seek_address),
                Part(
                    _QUOTED_EMAIL,
                    _email,
                    ('"',),
                    _seek_back(_QUOTED_ANCHOR, '[^"\\\\\r\n]', 62, 1),
                ),
            ),
        ),
        Recogniser(
            "phone",
            "[REDACTED:PHONE]",
            (Part(_PHONE_DIGIT, _nanp, scout=_DIGIT_LED, ahead=2), Part(_PHONE_SIGN, _phone)),
        ),
        Recogniser(
            "iban", "[REDACTED:IBAN]", (Part(_IBAN, _iban, seek=_seek_from(_IBAN_ANCHOR, 2)),)
        ),
        Recogniser("ipv4", "[REDACTED:IPV4]", (Part(_IPV4, _ipv4, scout=_DIGIT_LED),)),
        Recogniser("api_key", "[REDACTED:API_KEY]", _API_KEY_PARTS),
    )
}
