"""Built-in PII recognisers: a regular expression finds candidates, a function confirms them.

A regex alone flags every 16-digit order number as a card and every dotted quad as an
address; the validators (Luhn for cards, mod-97 for IBANs, octet ranges for IPv4, entropy for
API keys) keep redaction to values that really have the shape of the thing. Every regex has a
bounded width, so a stream needs to hold back only a bounded tail to catch a value split
across tokens. Recognisers are opt-in by name through ``policies.safety.pii``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RECOGNISERS", "Recogniser", "entropy", "iban_ok", "luhn_ok"]


@dataclass(frozen=True, slots=True)
class Recogniser:
    """One kind of PII: its name (the Dockfile's), candidate regex and confirming check."""

    name: str
    pattern: str
    validate: Callable[[str], bool] | None
    marker: str
    #: Lower-case substrings of which every match contains one (a cheap prefilter).
    literals: tuple[str, ...] | None = None


def luhn_ok(candidate: str) -> bool:
    """Card numbers: 13 to 19 digits (spaces and dashes ignored) with a valid Luhn digit."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def ssn_ok(candidate: str) -> bool:
    """US SSNs: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    area, group, serial = candidate.split("-")
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def email_ok(candidate: str) -> bool:
    local, _, domain = candidate.rpartition("@")
    if not local or len(candidate) > 254 or local[0] == "." or local[-1] == "." or ".." in local:
        return False
    return all(label and label[0] != "-" and label[-1] != "-" for label in domain.split("."))


def phone_ok(candidate: str) -> bool:
    """10 to 15 digits (E.164 bounds), not one repeated digit."""
    digits = [c for c in candidate if c.isdigit()]
    return 10 <= len(digits) <= 15 and len(set(digits)) > 1


def iban_ok(candidate: str) -> bool:
    """ISO 13616: 15 to 34 characters whose rearranged numeric form is 1 modulo 97."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ipv4_ok(candidate: str) -> bool:
    parts = candidate.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
    )


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


#: Prefixes whose body is fixed-format (no entropy check needed).
_FIXED = ("AKIA", "ASIA")


def api_key_ok(candidate: str) -> bool:
    """Secret-looking tokens: a known prefix, then a body random enough to be a key."""
    if candidate.startswith(_FIXED):
        return True
    body = candidate.rsplit("_", 1)[-1] if "_" in candidate else candidate.split("-", 1)[-1]
    has_digit = any(c.isdigit() for c in body)
    has_alpha = any(c.isalpha() for c in body)
    return has_digit and has_alpha and entropy(body) >= 3.0


# Every regex starts by consuming one character from a fixed class and only then looks behind
# it (``x(?<!\w[\s\S])`` rather than ``(?<!\w)x``): ``re`` skips ahead to candidate
# positions only for a pattern that starts with a literal or a class, several times faster
# on prose than one that starts with a look-behind. ``(?<=s)k-`` after the first character
# means "the first character was s".
_API_KEY = (
    r"[A-Za-z](?<![A-Za-z0-9_-][A-Za-z])(?:"
    r"(?<=s)k-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{20,160}"
    r"|(?<=A)(?:KIA|SIA)[0-9A-Z]{16}"
    r"|(?<=g)h[pousr]_[A-Za-z0-9]{30,120}"
    r"|(?<=g)ithub_pat_[A-Za-z0-9_]{30,160}"
    r"|(?<=x)ox[abposr]-[A-Za-z0-9-]{10,120}"
    r"|(?<=g)lpat-[A-Za-z0-9_-]{20,60}"
    r"|(?<=A)Iza[0-9A-Za-z_-]{35}"
    r"|[A-Za-z]{1,9}_(?:live|test|prod|secret|key|token)_[A-Za-z0-9]{16,120}"
    r")(?![A-Za-z0-9_-])"
)
_EMAIL_CHAR = "[A-Za-z0-9._%+-]"

RECOGNISERS: dict[str, Recogniser] = {
    r.name: r
    for r in (
        Recogniser(
            "credit_card",
            r"\d(?<![\d-]\d)(?:[ -]?\d){12,18}(?!\d)",
            luhn_ok,
            "[REDACTED:CREDIT_CARD]",
        ),
        Recogniser(
            "us_ssn", r"\d(?<![\d-]\d)\d{2}-\d{2}-\d{4}(?![\d-])", ssn_ok, "[REDACTED:US_SSN]"
        ),
        Recogniser(
            "email",
            rf"{_EMAIL_CHAR}(?<!{_EMAIL_CHAR}[\s\S]){_EMAIL_CHAR}{{0,63}}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,6}[A-Za-z]{2,24}"
            r"(?![A-Za-z0-9-])",
            email_ok,
            "[REDACTED:EMAIL]",
        ),
        Recogniser(
            "phone",
            r"[+(\d](?<![\w+][\s\S])"
            r"(?:(?<=\+)\d{1,3}[ .-]?(?:\(\d{2,4}\)|\d{2,4})|(?<=\()\d{2,4}\)|(?<=\d)\d{1,3})"
            r"[ .-]?\d{3,4}[ .-]?\d{3,4}(?![\w-])",
            phone_ok,
            "[REDACTED:PHONE]",
        ),
        Recogniser(
            "iban",
            r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])",
            iban_ok,
            "[REDACTED:IBAN]",
        ),
        Recogniser(
            "ipv4",
            r"\d(?<![\d.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\d|\.\d)",
            ipv4_ok,
            "[REDACTED:IPV4]",
        ),
        Recogniser(
            "api_key",
            _API_KEY,
            api_key_ok,
            "[REDACTED:API_KEY]",
            (
                *("sk-", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
                *("xox", "glpat-", "aiza", "_live_", "_test_", "_prod_", "_secret_", "_key_"),
                "_token_",
            ),
        ),
    )
}
