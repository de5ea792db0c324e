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

This module holds the regexes and the table of recognisers; what they are made of is in
:mod:`~agentdock_plugins.policies.recogniser_types`, the confirming checks in
:mod:`~agentdock_plugins.policies.pii_checks` and the anchored searches in
:mod:`~agentdock_plugins.policies.pii_seeks`.
"""

from __future__ import annotations

import re

from agentdock_plugins.policies.card_runs import card_sweep
from agentdock_plugins.policies.cards import (
    CARD,
    GAP,
    PUNCT,
    SPACE,
    card_ok,
    luhn_ok,
)
from agentdock_plugins.policies.invisible import INVISIBLE_CLASS
from agentdock_plugins.policies.pii_checks import (
    api_key_ok,
    confirm_card,
    confirm_email,
    confirm_iban,
    confirm_ipv4,
    confirm_jwt,
    confirm_nanp,
    confirm_phone,
    confirm_ssn,
    entropy,
    iban_ok,
    random_after,
    shape_only,
)
from agentdock_plugins.policies.pii_seeks import seek_after, seek_back, seek_from
from agentdock_plugins.policies.recogniser_types import (
    LOOKBACK,
    Part,
    Recogniser,
    Scout,
    Seek,
)

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
    Part(_prefixed("sk-", "[A-Za-z0-9_-]{20,250}"), random_after(3), _DASH),
    # AgentDock's own keys: adk_<12 hex key id>_<43 URL-safe base64 characters>.
    Part(_prefixed("adk_", "[0-9a-f]{12}_[A-Za-z0-9_-]{43}"), shape_only, _UNDERSCORE),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    Part(r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[0-9A-Z]{16}(?![0-9A-Za-z])", shape_only),
    # AWS secret access keys: 40 characters of base64, only right after their name (alone
    # they look like any other 40-character token).
    Part(
        r"[A-Za-z0-9/+](?<![A-Za-z0-9/+][A-Za-z0-9/+])[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=])",
        _aws_secret,
        ("secret",),
        seek_after(_AWS_SECRET_KEYWORD),
    ),
    # GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server (ghs_),
    # refresh (ghr_) and fine-grained personal tokens (github_pat_).
    Part(
        r"gh[pousr]_(?<![A-Za-z0-9_-]gh[pousr]_)[A-Za-z0-9]{30,250}" + _KEY_END,
        random_after(4),
        _UNDERSCORE,
    ),
    Part(_prefixed("github_pat_", "[A-Za-z0-9_]{30,240}"), random_after(11), _UNDERSCORE),
    # Slack: bot, user, app, refresh and configuration tokens, and incoming webhooks.
    Part(
        r"xox[abposre](?<![A-Za-z0-9_-]xox[abposre])(?:\.xox[bp])?-[A-Za-z0-9-]{10,250}" + _KEY_END,
        random_after(5),
        _DASH,
    ),
    Part(_prefixed("xapp-", "[0-9]-[A-Za-z0-9-]{10,250}"), random_after(7), _DASH),
    Part(
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,200}",
        shape_only,
    ),
    # GitLab personal access tokens.
    Part(_prefixed("glpat-", "[A-Za-z0-9_-]{20,60}"), random_after(6), _DASH),
    # Google API keys and OAuth client secrets.
    Part(_prefixed("AIza", "[0-9A-Za-z_-]{35}"), random_after(4)),
    Part(_prefixed("GOCSPX-", "[0-9A-Za-z_-]{28}"), random_after(7), _DASH),
    # Hugging Face access tokens and npm tokens.
    Part(_prefixed("hf_", "[A-Za-z0-9]{34,250}"), random_after(3), _UNDERSCORE),
    Part(_prefixed("npm_", "[A-Za-z0-9]{36}"), random_after(4), _UNDERSCORE),
    # JSON Web Tokens: bearer credentials. Unbounded, and matched as soon as the claims
    # begin, so a stream holds a long token back from its start until it ends.
    Part(
        r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*",
        confirm_jwt,
    ),
    # <prefix>_live_..., sk_test_..., rk_prod_... (Stripe and the many keys named alike).
    Part(
        r"[A-Za-z](?<![A-Za-z0-9_-][A-Za-z])[A-Za-z]{0,8}_(?:live|test|prod|secret|key|token)_"
        r"[A-Za-z0-9]{16,120}" + _KEY_END,
        random_after(_GENERIC_ANCHOR),
        _UNDERSCORE,
        seek_back(_GENERIC_ANCHOR, "[A-Za-z]", 9),
    ),
)

RECOGNISERS: dict[str, Recogniser] = {
    r.name: r
    for r in (
        Recogniser(
            "credit_card",
            "[REDACTED:CREDIT_CARD]",
            (Part(CARD, confirm_card, scout=_DIGIT_LED, sweep=card_sweep),),
        ),
        Recogniser(
            "us_ssn", "[REDACTED:US_SSN]", (Part(_SSN, confirm_ssn, scout=_DIGIT_LED, ahead=9),)
        ),
        Recogniser(
            "email",
            "[REDACTED:EMAIL]",
            (
                Part(_EMAIL, confirm_email, ("@",), _seek_address),
                Part(
                    _QUOTED_EMAIL,
                    confirm_email,
                    ('"',),
                    seek_back(_QUOTED_ANCHOR, '[^"\\\\\r\n]', 62, 1),
                ),
            ),
        ),
        Recogniser(
            "phone",
            "[REDACTED:PHONE]",
            (
                Part(_PHONE_DIGIT, confirm_nanp, scout=_DIGIT_LED, ahead=2),
                Part(_PHONE_SIGN, confirm_phone),
            ),
        ),
        Recogniser(
            "iban", "[REDACTED:IBAN]", (Part(_IBAN, confirm_iban, seek=seek_from(_IBAN_ANCHOR, 2)),)
        ),
        Recogniser("ipv4", "[REDACTED:IPV4]", (Part(_IPV4, confirm_ipv4, scout=_DIGIT_LED),)),
        Recogniser("api_key", "[REDACTED:API_KEY]", _API_KEY_PARTS),
    )
}
