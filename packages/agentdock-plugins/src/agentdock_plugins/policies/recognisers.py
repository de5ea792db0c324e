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
of any script (see :data:`RECOGNISERS` for what each one matches and leaves alone). Left
and right boundaries are ASCII classes, so a value written straight after Chinese or
Japanese text, with no space, is still found.

A recogniser is one or more *parts* (an API key has a part per vendor format), each with its
regex, a ``confirm(text, start, end)`` that returns the end of the confirmed value (``-1``:
not one; a shorter end trims a candidate that ran on, as a card number followed by an
expiry date), and how it is found cheaply: parts whose regex starts with a literal
(``sk-``, ``AKIA``) need nothing more, ``re`` finds the literal fast; the digit-led shapes
(cards, SSNs, IPv4, phone numbers) share one *scout*, one pass for all of them; parts whose
regex would start at every letter have a ``seek(text, pos)`` that finds the same matches
from an anchor (``@``, ``_live_``, a keyword); and a part may name literals that every match
contains, to be skipped when the text holds none. Every regex has a bounded width, so a
stream holds back only a bounded tail, and every look-behind a confirmation needs reaches
at most :data:`LOOKBACK` characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LOOKBACK",
    "RECOGNISERS",
    "Part",
    "Recogniser",
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
    scout: str | None = None


@dataclass(frozen=True, slots=True)
class Recogniser:
    """One kind of PII: its name (the Dockfile's), its marker and its parts."""

    name: str
    marker: str
    parts: tuple[Part, ...]


# -- checks --------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


def luhn_ok(candidate: str) -> bool:
    """13 to 19 digits (anything else ignored) with a valid Luhn digit, not one repeated."""
    digits = "".join(_DIGITS.findall(candidate))
    if not 13 <= len(digits) <= 19 or digits.count(digits[0]) == len(digits):
        return False
    backwards = digits[::-1]
    doubled = backwards[1::2].translate(_LUHN_DOUBLED)
    return (sum(map(int, backwards[::2])) + sum(map(int, doubled))) % 10 == 0


#: A digit doubled, its two digits summed (Luhn).
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def card_ok(digits: str) -> bool:
    """A card number: Luhn, and an issuer prefix that numbers of its length are given.

    13 digits: Visa (4). 14: Diners Club (30, 36, 38, 39). 15: American Express (34, 37)
    and UATP (1). 16 to 19: Mir and Mastercard (2200-2720), Diners Club and JCB (30, 35,
    36, 38, 39), Visa (4), Mastercard and Maestro (5), Discover, UnionPay, Maestro and RuPay
    (6), Troy (9792). So what is left alone, Luhn or not: millisecond, microsecond and
    nanosecond Unix times (13, 16, 19 digits starting with 1), compact date-times
    (20240115103045), ISBN-13 and EAN-13 codes, IMEIs (15 digits, Luhn-valid, 01/35/86...),
    SIM card numbers (ICCID, 89...) and anything starting with 0, 7 or 8.
    """
    size = len(digits)
    if size == 13:
        issued = digits[0] == "4"
    elif size == 14:
        issued = digits[:2] in _DINERS
    elif size == 15:
        issued = digits[:2] in _AMEX or digits[0] == "1"
    else:
        issued = (
            digits[0] in "456"
            or digits[:2] in _DINERS_JCB
            or "2200" <= digits[:4] <= "2720"
            or digits[:4] == "9792"
        )
    return issued and luhn_ok(digits)


_DINERS = frozenset({"30", "36", "38", "39"})
_DINERS_JCB = _DINERS | {"35"}
_AMEX = frozenset({"34", "37"})


def _prefixes(text: str, start: int, end: int, ok: Callable[[str], bool], least: int) -> int:
    """The end of the longest prefix of ``text[start:end]`` ending at a group end that is ok.

    A group is a run of letters and digits; ``ok`` sees the prefix's groups joined. Lets a
    candidate that ran on into the next number (``4111 1111 1111 1111 2025``) confirm the
    value it starts with.
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
    return _prefixes(text, start, end, card_ok, 13)


def ssn_ok(digits: str) -> bool:
    """US SSNs: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


#: A keyword that makes nine bare digits an SSN: it ends at most 24 characters before them,
#: on the same line, with no digit in between.
_SSN_CONTEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:ssns?|ss\s?#|social[\s_-]*security"
    r"(?:[\s_-]*(?:numbers?|nos?|nr|num))?)(?![A-Za-z])[^0-9\n]{0,24}\Z"
)


def _ssn(text: str, start: int, end: int) -> int:
    digits = "".join(_DIGITS.findall(text, start, end))
    if not ssn_ok(digits):
        return -1
    if end - start == 9:
        found = _SSN_CONTEXT.search(text, max(0, start - LOOKBACK), start)
        return end if found is not None else -1
    # Both separators alike: "100.50 2000" is a price and a year.
    first, second = _NOT_DIGITS.findall(text, start, end)
    return end if first == second else -1


_NOT_DIGITS = re.compile(r"[^0-9]+")


def _email(text: str, start: int, end: int) -> int:
    candidate = text[start:end]
    local, _, domain = candidate.rpartition("@")
    if len(candidate) > 254 or local[0] == "." or local[-1] == "." or ".." in local:
        return -1
    if any(label[0] == "-" or label[-1] == "-" for label in domain.split(".")):
        return -1
    return end


def _phone(text: str, start: int, end: int) -> int:
    """10 to 15 digits (E.164 bounds), not one repeated, written the way phone numbers are.

    A number that starts with ``+`` or ``(`` is a phone number by its shape; one that starts
    with a digit needs three groups set apart alike (``415 555 0132``, ``020-7946-0958``,
    ``415.555.0132``): a bare run of digits, two runs, or runs set apart differently are as
    often an order number, a Unix time, or a year and a number in a row.
    """
    candidate = text[start:end]
    digits = _DIGITS.findall(candidate)
    count = sum(map(len, digits))
    if not 10 <= count <= 15 or len(set("".join(digits))) == 1:
        return -1
    if not candidate[0].isdigit():
        return end
    separators = _NOT_DIGITS.findall(candidate)
    return end if len(separators) == 2 and separators[0] == separators[1] else -1


def iban_ok(candidate: str) -> bool:
    """ISO 13616: 15 to 34 letters and digits whose rearranged form is 1 modulo 97."""
    compact = "".join(_ALNUM.findall(candidate)).upper()
    if not 15 <= len(compact) <= 34:
        return False
    return int((compact[4:] + compact[:4]).translate(_IBAN_NUMBERS)) % 97 == 1


#: Letters as ISO 13616 numbers them (A = 10 ... Z = 35).
_IBAN_NUMBERS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})


def _iban(text: str, start: int, end: int) -> int:
    return _prefixes(text, start, end, iban_ok, 15)


#: A word that makes a dotted quad a version number rather than an address.
_VERSION_CONTEXT = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:versions?|ver|v|release|build|firmware|revision|rev)\.?"
    r"[\s:=#]{0,3}\Z"
)


def _ipv4(text: str, start: int, end: int) -> int:
    """Four octets up to 255, not introduced as a version.

    Leading zeros are read as padding when the first octet has three digits
    (``010.001.002.003``, ``192.168.001.001``); otherwise a zero-led group is a thousands
    group (``1.000.000.000`` is a billion written the German way).
    """
    octets = _DIGITS.findall(text, start, end)
    if any(int(octet) > 255 for octet in octets):
        return -1
    if len(octets[0]) < 3 and any(len(o) > 1 and o[0] == "0" for o in octets):
        return -1
    if _VERSION_CONTEXT.search(text, max(0, start - 24), start) is not None:
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


# -- seeking -------------------------------------------------------------------------------------


def _seek_back(anchor: re.Pattern[str], run: str, reach: int) -> Callable[[re.Pattern[str]], Seek]:
    """A search for a regex whose matches are a run of ``run`` characters, then ``anchor``.

    The anchor (``@``, ``_live_``) is rare and fast to find; from it the run is walked back
    (at most ``reach`` characters) to where a match must start, and the regex is tried
    there once. Same result as ``regex.search``, without trying the regex at every letter.
    """
    tail = re.compile(f"{run}{{1,{reach}}}\\Z")

    def build(regex: re.Pattern[str]) -> Seek:
        def seek(text: str, pos: int) -> re.Match[str] | None:
            for found in anchor.finditer(text, pos):
                at = found.start()
                start = tail.search(text, max(pos, at - reach), at)
                if start is not None:
                    match = regex.match(text, start.start())
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

#: Invisible format characters, read as separators between the groups of a number.
_INVISIBLE = "\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff"
#: Between the groups of a card number: one to three of space (any Unicode space folds to
#: it), ``_ . / -`` (any dash folds to ``-``) or invisible characters.
_CARD_SEP = f"[ _./\\-{_INVISIBLE}]{{1,3}}"
_SSN_SEP = f"[ .\\-{_INVISIBLE}]{{1,3}}"
_IBAN_SEP = f"[ \\-{_INVISIBLE}]{{0,2}}"

# Every regex starts by consuming one character from a fixed class (or a literal) and only
# then looks behind it (``x(?<!\w[\s\S])`` rather than ``(?<!\w)x``): ``re`` skips ahead to
# candidate positions only for a pattern that starts with a literal or a class, several
# times faster on prose than one that starts with a look-behind.
_CARD = (
    r"[0-9](?<![A-Za-z0-9_][0-9])(?<![0-9][.,][0-9])(?:[0-9]{12,18}"
    rf"|[0-9]{{3}}(?:{_CARD_SEP}[0-9]{{4,6}}){{0,3}}{_CARD_SEP}[0-9]{{1,6}})(?![A-Za-z0-9_])"
)
_SSN = (
    r"[0-9](?<![0-9][0-9])(?<![0-9][.-][0-9])[0-9]{2}"
    rf"(?:{_SSN_SEP}[0-9]{{2}}{_SSN_SEP}|[0-9]{{2}})[0-9]{{4}}(?![0-9]|[.-][0-9])"
)

# E-mail: the local part may hold letters of any script that separates words with spaces,
# so that a Chinese or Japanese sentence running straight into an address is not read as
# part of it; domain labels may hold any letters (例え.jp, exämple.com). The top-level domain
# is ASCII letters, punycode (xn--...), Cyrillic or Greek.
_NOT_IN_ADDRESS = (
    "\\s\\x00-\\x1f\\x7f!\"#$&'()*,/:;<=>?@\\[\\\\\\]^`{|}~"
    "\u00a0-\u00bf\u00d7\u00f7\u2000-\u2bff\u3000-\u303f\ufeff\U0001f000-\U0001faff"
)
_NO_SPACE_SCRIPTS = (
    "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u312f\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003134f"
)
_LOCAL = f"[^{_NOT_IN_ADDRESS}{_NO_SPACE_SCRIPTS}]"
_LABEL = f"[^{_NOT_IN_ADDRESS}._%+]"
_EMAIL = (
    f"{_LOCAL}(?<!{_LOCAL}[\\s\\S]){_LOCAL}{{0,63}}@(?:{_LABEL}{{1,63}}\\.){{1,8}}"
    r"(?:(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![A-Za-z0-9-])"
    "|[\u0370-\u03ff\u0400-\u04ff]{2,24}(?![A-Za-z0-9\u0370-\u03ff\u0400-\u04ff-]))"
)

#: An at sign that can be an address's: a local-part character before it, a label and a
#: full stop after it (so a run of "@" or "a@a@a@" costs one pass, not a try each). It
#: starts with the literal, which ``re`` finds fast, and only then looks behind.
_EMAIL_ANCHOR = re.compile(f"@(?<={_LOCAL}@)(?={_LABEL}{{1,63}}\\.)")

# A phone number that starts with a digit (scanned with the other digit-led shapes) or
# with "+" or "(".
_PHONE_REST = r"[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}(?![A-Za-z0-9_-]|[.][0-9])"
_PHONE_DIGIT = r"[0-9](?<![A-Za-z0-9_+/-][0-9])(?<![0-9][.][0-9])[0-9]{1,3}" + _PHONE_REST
_PHONE_SIGN = (
    r"[+(](?<![A-Za-z0-9_+/-][+(])(?<![0-9][.][+(])"
    r"(?:(?<=\+)[0-9]{1,3}[ .-]?(?:\([0-9]{2,4}\)|[0-9]{2,4})|(?<=\()[0-9]{2,4}\))" + _PHONE_REST
)
_IBAN = (
    rf"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{{2}}(?:{_IBAN_SEP}[A-Z0-9]){{11,30}}"
    r"(?![A-Za-z0-9])"
)
_IPV4 = (
    r"[0-9](?<![A-Za-z0-9_.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}"
    r"(?![0-9]|\.[0-9])"
)

#: The scout of the shapes that start with a digit (cards, SSNs, IPv4, phone numbers).
_DIGIT_LED = "digit-led"

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

_API_KEY_PARTS = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-api03-...) and
    # other sk- keys.
    Part(_prefixed("sk-", "[A-Za-z0-9_-]{20,250}"), _random_after(3)),
    # AgentDock's own keys: adk_<12 hex key id>_<43 URL-safe base64 characters>.
    Part(_prefixed("adk_", "[0-9a-f]{12}_[A-Za-z0-9_-]{43}"), _shape),
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
    ),
    Part(_prefixed("github_pat_", "[A-Za-z0-9_]{30,240}"), _random_after(11)),
    # Slack: bot, user, app, refresh and configuration tokens, and incoming webhooks.
    Part(
        r"xox[abposre](?<![A-Za-z0-9_-]xox[abposre])(?:\.xox[bp])?-[A-Za-z0-9-]{10,250}" + _KEY_END,
        _random_after(5),
    ),
    Part(_prefixed("xapp-", "[0-9]-[A-Za-z0-9-]{10,250}"), _random_after(7)),
    Part(
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,200}",
        _shape,
    ),
    # GitLab personal access tokens.
    Part(_prefixed("glpat-", "[A-Za-z0-9_-]{20,60}"), _random_after(6)),
    # Google API keys and OAuth client secrets.
    Part(_prefixed("AIza", "[0-9A-Za-z_-]{35}"), _random_after(4)),
    Part(_prefixed("GOCSPX-", "[0-9A-Za-z_-]{28}"), _random_after(7)),
    # <prefix>_live_..., sk_test_..., rk_prod_... (Stripe and the many keys named alike).
    Part(
        r"[A-Za-z](?<![A-Za-z0-9_-][A-Za-z])[A-Za-z]{0,8}_(?:live|test|prod|secret|key|token)_"
        r"[A-Za-z0-9]{16,120}" + _KEY_END,
        _random_after(_GENERIC_ANCHOR),
        seek=_seek_back(_GENERIC_ANCHOR, "[A-Za-z]", 9),
    ),
)

RECOGNISERS: dict[str, Recogniser] = {
    r.name: r
    for r in (
        Recogniser(
            "credit_card", "[REDACTED:CREDIT_CARD]", (Part(_CARD, _card, scout=_DIGIT_LED),)
        ),
        Recogniser("us_ssn", "[REDACTED:US_SSN]", (Part(_SSN, _ssn, scout=_DIGIT_LED),)),
        Recogniser(
            "email",
            "[REDACTED:EMAIL]",
            (Part(_EMAIL, _email, seek=_seek_back(_EMAIL_ANCHOR, _LOCAL, 64)),),
        ),
        Recogniser(
            "phone",
            "[REDACTED:PHONE]",
            (Part(_PHONE_DIGIT, _phone, scout=_DIGIT_LED), Part(_PHONE_SIGN, _phone)),
        ),
        Recogniser("iban", "[REDACTED:IBAN]", (Part(_IBAN, _iban),)),
        Recogniser("ipv4", "[REDACTED:IPV4]", (Part(_IPV4, _ipv4, scout=_DIGIT_LED),)),
        Recogniser("api_key", "[REDACTED:API_KEY]", _API_KEY_PARTS),
    )
}
