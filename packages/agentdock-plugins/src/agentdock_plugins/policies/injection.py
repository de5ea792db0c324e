"""A heuristic prompt-injection scorer: named rules with weights, summed per string.

Each string of the input is normalised, then scored; the input's score is the highest of its
strings. Normalisation defeats cheap obfuscation: Unicode NFKC (full-width and styled letters
become plain ones), zero-width and other invisible format characters removed, common
Cyrillic and Greek look-alikes mapped to Latin letters, case folded. Then every rule that
matches adds its weight once:

================  ======  ==============================================================
rule              weight  matches
================  ======  ==============================================================
override          1.0     "ignore/disregard/forget/override/bypass ... previous/prior/
                          above/system/... instructions/prompt/rules/..."
override_soft     0.6     "ignore all/your/these ... instructions/rules/guidelines"
chat_template     1.0     chat-template control tokens: ``<|im_start|>``, ``<|system|>``,
                          ``[INST]``, ``<<SYS>>``, ``<|start_header_id|>``, ``<|endoftext|>``
exfiltration      1.0     "reveal/print/show/repeat ... system prompt/hidden instructions"
jailbreak         1.0     "do anything now", "you are now/act as ... DAN/unrestricted/
                          without restrictions", "developer mode enabled"
role_line         0.6     a line that starts with ``system:``, ``assistant:``, ``developer:``
role_header       0.6     a Markdown header ``### System`` / ``# Instructions``
tag_switch        1.0     a closed user tag followed by a system one: ``</user><system>``
role_tag          0.6     ``<system>``, ``</user>``, ``<instructions>`` tags
delimiter         0.5     fake boundaries: "end of user input", "begin system prompt",
                          ``----- system``, triple quotes + ``assistant``
escaped_role      0.6     literal ``\\n\\nSystem:`` escapes that turn into a role line
new_instructions  0.5     "new instructions:", "from now on you ..."
obfuscation       0.3     the text held invisible characters or look-alikes and scored
                          above zero after normalising
encoded           1.0     a base64, hex, URL-encoded or ``\\uXXXX``-escaped blob that
                          decodes to text scoring at the threshold on its own
================  ======  ==============================================================

The default threshold is 1.0: one strong signal blocks, a weak one alone does not. So
"System: Ubuntu 22.04" at the start of a line (0.6), "## Instructions" in a recipe (0.6) or
"the system: Linux" in a sentence (0) pass, while a role line followed by "new instructions:"
(1.1) does not.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from agentdock_plugins.policies.invisible import INVISIBLE

__all__ = ["DEFAULT_THRESHOLD", "RULES", "InjectionScore", "normalise", "score_text"]

DEFAULT_THRESHOLD = 1.0
#: Encoded blobs decoded per string at most, and the longest decoded.
_MAX_BLOBS = 8
_MAX_BLOB = 16_384

_INVISIBLE = dict.fromkeys(INVISIBLE)
#: Unicode tag characters spell ASCII invisibly ("ASCII smuggling"): read them as ASCII.
_TAGS = {cp: cp - 0xE0000 for cp in range(0xE0020, 0xE007F)}
#: ... or, sprinkled inside words, read past them: both readings are scored.
_NO_TAGS = dict.fromkeys(range(0xE0000, 0xE0080))
_ANY_TAG = re.compile("[\U000e0000-\U000e007f]")
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "м": "m", "т": "t",
        "в": "b", "к": "k", "н": "h", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k",
        "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ѵ": "v", "ԛ": "q", "ԝ": "w",
    }
)  # fmt: skip

_VERB = r"(?:ignore|disregard|forget|override|bypass|skip|neglect)"
_THING = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|"
    r"constraints|context|messages?|programming|policies)"
)
# Possessive separators: a run of apostrophes splits one way only (no polynomial backtracking).
_W = r"(?:[\s,;:'\"-]++[\w']+){0,3}?[\s,;:'\"-]++"

_VERBS = ("ignor", "disregard", "forget", "overrid", "bypass", "skip", "neglect")

#: ``(name, weight, regex, triggers)``: the regex runs only on text holding a trigger, a
#: substring every match contains (checked with ``in``, far cheaper than a regex scan). A
#: rule may have several entries (one regex each): it counts once. Regexes start with a
#: literal or a set of literals, not ``\b``, so that ``re`` can skip ahead to candidates.
_RULE_SOURCES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    (
        "override",
        1.0,
        rf"{_VERB}\b{_W}(?:previous|prior|above|earlier|preceding|initial|original|"
        rf"system|developer|safety|existing)\b(?:[\s,-]+[\w']+){{0,2}}?[\s,-]+{_THING}\b",
        _VERBS,
    ),
    (
        "override_soft",
        0.6,
        rf"{_VERB}\s+(?:all|any|your|these|those|every)\b(?:\s+[\w']+){{0,2}}?\s+"
        r"(?:instructions?|rules|guidelines|restrictions|directives)\b",
        _VERBS,
    ),
    (
        "chat_template",
        1.0,
        r"<\|(?:im_start|im_end|system|assistant|user|start_header_id|end_header_id|eot_id|"
        r"endoftext)\|>|\[/?inst\]|<</?sys>>",
        ("<|", "inst]", "<<"),
    ),
    (
        "exfiltration",
        1.0,
        r"(?:reveal|print|show|repeat|output|leak|dump|display|tell\s+me)\b(?:\s+[\w']+){0,3}?"
        r"\s+(?:system\s+prompt|initial\s+prompt|hidden\s+(?:prompt|instructions)|"
        r"original\s+instructions|developer\s+(?:message|prompt))",
        ("prompt", "instruction", "developer"),
    ),
    ("jailbreak", 1.0, r"do\s+anything\s+now\b", ("anything",)),
    ("jailbreak", 1.0, r"developer\s+mode\s+(?:enabled|on|activated)\b", ("developer",)),
    (
        "jailbreak",
        1.0,
        r"(?:you\s+are\s+now|act\s+as|pretend\s+(?:to\s+be|you\s+are)|roleplay\s+as)\b"
        r"[^.\n]{0,40}?\b(?:dan|jailbroken|unrestricted|unfiltered|uncensored|"
        r"without\s+(?:any\s+)?(?:restrictions|filters|rules|limits))\b",
        ("dan", "jailbr", "unrestrict", "unfilter", "uncensor", "without"),
    ),
    (
        "role_line",
        0.6,
        r"(?m:^)[ \t>*_-]*(?:system|assistant|developer)[ \t]*:",
        ("system", "assistant", "developer"),
    ),
    (
        "role_header",
        0.6,
        r"(?m:^)[ \t]*#{1,6}[ \t]*(?:system|instructions?|assistant|developer)\b",
        ("#",),
    ),
    (
        "tag_switch",
        1.0,
        r"</(?:user|human|input|query|document)>\s*<(?:system|assistant|developer|instructions?)>",
        ("</",),
    ),
    ("role_tag", 0.6, r"</?(?:system|assistant|developer|user|instructions?)>", ("<",)),
    (
        "delimiter",
        0.5,
        r"end\s+of\s+(?:the\s+)?(?:user\s+)?(?:input|prompt|context|conversation)\b",
        ("end",),
    ),
    ("delimiter", 0.5, r"begin\s+(?:new\s+)?(?:system|instructions|prompt)\b", ("begin",)),
    (
        "delimiter",
        0.5,
        # A run is tried from its first character only, and never given back: linear time.
        r"(?:(?<!-)-{3,}+|(?<!=)={3,}+|(?<!\*)\*{3,}+|\"{3}|`{3}|(?<!#)#{3,}+)"
        r"\s*(?:system|assistant|new\s+instructions)\b",
        ("---", "===", "***", '"""', "```", "###"),
    ),
    (
        "escaped_role",
        0.6,
        r"\\[nr](?:\\[nr])*\s*(?:system|assistant|human|user)\s*:",
        ("\\",),
    ),
    (
        "new_instructions",
        0.5,
        r"(?:new|updated|real|actual)\s+(?:system\s+)?instructions?\s*:",
        ("instruction",),
    ),
    ("new_instructions", 0.5, r"from\s+now\s+on\b", ("now",)),
)

#: ``(name, weight)`` of each text rule, in the order of the table above.
RULES: tuple[tuple[str, float], ...] = tuple(dict.fromkeys((n, w) for n, w, _, _ in _RULE_SOURCES))
_COMPILED = tuple((n, w, re.compile(src), trig) for n, w, src, trig in _RULE_SOURCES)
#: Any trigger of any rule: a rule fires only where one of its triggers occurs, so a short
#: text without any (most ordinary input) is scored with one scan instead of one per
#: trigger. On long prose the substring checks are faster than this scan: it is used up to
#: ``_PREFILTER_MAX`` characters.
_PREFILTER_MAX = 512
_ANY_TRIGGER = re.compile(
    "|".join(
        re.escape(t)
        for t in sorted({t for *_, trig in _RULE_SOURCES for t in trig}, key=len, reverse=True)
    )
)

#: A base64 or hex blob: 16 or more characters of the base64 alphabets (hex is a subset).
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_BLOB_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
#: Maps blob characters to ``a`` and everything else to a space, for a cheap run check.
_BLOB_BYTES = bytes(97 if i in _BLOB_CHARS else 32 for i in range(256))
_RUN = b"a" * 16
_URLENC = re.compile(r"%[0-9A-Fa-f]{2}")
_UESC = re.compile(r"(?:\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2})+")


@dataclass(frozen=True, slots=True)
class InjectionScore:
    """A string's score and the names of the rules that contributed."""

    score: float
    rules: tuple[str, ...]


def normalise(text: str) -> tuple[str, bool]:
    """``(normalised text, whether obfuscation was removed)``: NFKC, invisibles, look-alikes."""
    if text.isascii():
        return text.lower(), False
    untagged = text.translate(_TAGS)
    folded = unicodedata.normalize("NFKC", untagged).casefold()
    mapped = folded.translate(_INVISIBLE).translate(_LOOKALIKES)
    return mapped, mapped != folded or untagged != text


def _rules(text: str) -> tuple[set[str], float]:
    """Names and summed weight of the rules matching normalised ``text``."""
    names: set[str] = set()
    total = 0.0
    if len(text) <= _PREFILTER_MAX and _ANY_TRIGGER.search(text) is None:
        return names, total
    present: dict[str, bool] = {}
    for name, weight, regex, triggers in _COMPILED:
        if name in names:
            continue
        hit = False
        for trigger in triggers:
            seen = present.get(trigger)
            if seen is None:
                seen = present[trigger] = trigger in text
            if seen:
                hit = True
                break
        if hit and regex.search(text) is not None:
            names.add(name)
            total += weight
    return names, total


def _unescape(match: re.Match[str]) -> str:
    return match.group().encode("ascii").decode("unicode_escape")


def _decoded(text: str) -> Iterable[str]:
    """Texts hidden in ``text``: escapes decoded in place, blobs decoded on their own, tag
    characters read past."""
    if not text.isascii() and _ANY_TAG.search(text):
        yield text.translate(_NO_TAGS)
    if "%" in text and _URLENC.search(text):
        out = urllib.parse.unquote(text)
        if out != text:
            yield out
    if "\\" in text and _UESC.search(text):
        with contextlib.suppress(UnicodeError):
            yield _UESC.sub(_unescape, text)
    if text.isascii() and _RUN not in text.encode("ascii").translate(_BLOB_BYTES):
        return  # no run of 16 blob characters: nothing to decode (no regex scan needed)
    found = 0
    for m in _BLOB.finditer(text):
        blob = m.group()
        if found >= _MAX_BLOBS:
            return
        if len(blob) > _MAX_BLOB:
            continue  # too long to decode; the blobs after it are still looked at
        try:
            out = _hex(blob) if _HEX.fullmatch(blob) else _b64(blob)
        except (ValueError, UnicodeError, binascii.Error):
            continue
        found += 1
        yield out


def _hex(blob: str) -> str:
    return _printable(bytes.fromhex(blob).decode("utf-8"))


def _printable(text: str) -> str:
    if not all(c.isprintable() or c.isspace() for c in text):
        raise ValueError("not text")
    return text


def _b64(blob: str) -> str:
    padded = blob + "=" * (-len(blob) % 4)
    altchars = b"-_" if ("-" in blob or "_" in blob) else None
    raw = base64.b64decode(padded, altchars=altchars, validate=altchars is None)
    return _printable(raw.decode("utf-8"))


def score_text(
    text: str, threshold: float = DEFAULT_THRESHOLD, *, depth: int = 2
) -> InjectionScore:
    """Score one string (see the module docstring for the rules)."""
    normal, obfuscated = normalise(text)
    names, total = _rules(normal)
    if names and obfuscated:
        names.add("obfuscation")
        total += 0.3
    if depth > 0 and total < threshold:
        for decoded in _decoded(text):
            inner = score_text(decoded, threshold, depth=depth - 1)
            if inner.score >= threshold:
                names.add("encoded")
                total += 1.0
                break
    return InjectionScore(round(total, 3), tuple(sorted(names)))
