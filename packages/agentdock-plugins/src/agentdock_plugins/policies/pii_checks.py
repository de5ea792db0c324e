"""The checks that confirm a PII recogniser's candidate: a regex finds it, a function here
decides whether it really is the thing (and where it ends).

Each ``confirm_*`` function is a part's ``confirm(text, start, end)``
(:class:`~agentdock_plugins.policies.recogniser_types.Part`): it returns the end of the
confirmed value, ``-1`` when the candidate is not one, or a shorter end that trims a
candidate that ran on. The pure checks on a value (:func:`ssn_ok`, :func:`iban_ok`,
:func:`api_key_ok`, :func:`entropy`) are public for tests and other policies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from agentdock_plugins.policies.cards import (
    GAP,
    INVISIBLE_KIND,
    card_end,
    gap_kind,
)
from agentdock_plugins.policies.recogniser_types import LOOKBACK, Confirm

__all__ = [
    "api_key_ok",
    "confirm_card",
    "confirm_email",
    "confirm_iban",
    "confirm_ipv4",
    "confirm_jwt",
    "confirm_nanp",
    "confirm_phone",
    "confirm_ssn",
    "entropy",
    "iban_ok",
    "random_after",
    "shape_only",
    "ssn_ok",
]


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


def confirm_card(text: str, start: int, end: int) -> int:
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


def confirm_ssn(text: str, start: int, end: int) -> int:
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


def confirm_email(text: str, start: int, end: int) -> int:
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


def confirm_phone(text: str, start: int, end: int) -> int:
    """A number that starts with ``+`` or ``(``: 10 to 15 digits (E.164), not one repeated."""
    digits = "".join(_DIGITS.findall(text, start, end))
    if not 10 <= len(digits) <= 15 or digits.count(digits[0]) == len(digits):
        return -1
    return end


def confirm_nanp(text: str, start: int, end: int) -> int:
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


def confirm_iban(text: str, start: int, end: int) -> int:
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


def confirm_ipv4(text: str, start: int, end: int) -> int:
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


def random_after(prefix: int | re.Pattern[str]) -> Confirm:
    """Confirms a key whose body, after ``prefix`` (a length or a regex), is random."""

    def confirm(text: str, start: int, end: int) -> int:
        if isinstance(prefix, int):
            skip = start + prefix
        else:
            found = prefix.search(text, start, end)
            skip = found.end() if found is not None else start
        return end if api_key_ok(text[skip:end]) else -1

    return confirm


def shape_only(_text: str, _start: int, end: int) -> int:
    """The regex's shape is the whole check (fixed-format keys)."""
    return end


def confirm_jwt(text: str, start: int, end: int) -> int:
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
