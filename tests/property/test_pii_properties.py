"""Properties of the PII recognisers: every written form of a value is one marker of its
kind, ordinary text with numbers is left alone, and the fast regexes match like plain ones.

All recognisers are on in every test, as with ``pii: [every name]``: a value must come out
as exactly one marker, and of its own kind, whatever else could read part of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import string

from agentdock_plugins.policies.cards import GAP, PUNCT, SPACE
from agentdock_plugins.policies.invisible import INVISIBLE_CLASS, compact, has_invisible
from agentdock_plugins.policies.lookalikes import fold
from agentdock_plugins.policies.recognisers import RECOGNISERS, luhn_ok
from agentdock_plugins.policies.redaction_engine import Redactor, StreamHold
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

ALL = Redactor([], list(RECOGNISERS))

# -- look-alikes ---------------------------------------------------------------------------------

#: Ways of writing each ASCII digit: itself, full-width, mathematical bold, Arabic-Indic,
#: Devanagari.
DIGIT_FORMS = {
    str(d): [str(d), chr(0xFF10 + d), chr(0x1D7CE + d), chr(0x0660 + d), chr(0x0966 + d)]
    for d in range(10)
}


def letter_forms(char: str) -> list[str]:
    """An ASCII letter as itself or full-width."""
    return [char, chr(ord(char) - 0x21 + 0xFF01)]


@st.composite
def dressed(draw: st.DrawFn, text: str) -> str:
    """``text`` with any of its digits and letters written as look-alikes."""
    out = []
    for char in text:
        if char in DIGIT_FORMS:
            out.append(draw(st.sampled_from(DIGIT_FORMS[char])))
        elif char.isascii() and char.isalpha():
            out.append(draw(st.sampled_from(letter_forms(char))))
        else:
            out.append(char)
    return "".join(out)


@st.composite
def seeded(draw: st.DrawFn, alphabet: str, size: int) -> str:
    """A random-looking token (keys are random, and the recognisers ask for entropy):
    hypothesis varies the seed, SHAKE-256 spreads it, so no draw shrinks to ``aaaa…``."""
    seed = draw(st.integers(0, 2**32)).to_bytes(5, "big")
    return "".join(alphabet[b % len(alphabet)] for b in hashlib.shake_256(seed).digest(size))


#: Invisible characters a value may carry inside it: zero-width space, non-joiner, joiner,
#: word joiner, byte order mark, soft hyphen, a variation selector.
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f"]


@st.composite
def hidden(draw: st.DrawFn, value: str) -> str:
    """``value``, or ``value`` with invisible characters at random places inside it (a
    reader still sees it whole)."""
    if len(value) < 2 or not draw(st.booleans()):
        return value
    places = draw(st.lists(st.integers(1, len(value) - 1), min_size=1, max_size=3))
    out = value
    for place in sorted(places, reverse=True):
        out = out[:place] + draw(st.sampled_from(INVISIBLES)) + out[place:]
    return out


def one_marker(name: str, before: str, value: str, after: str) -> None:
    text = before + value + after
    out, count, kinds = ALL.redact(text)
    assert out == before + RECOGNISERS[name].marker + after, (name, text, out)
    assert count == 1 and kinds == {name}


befores = st.sampled_from(["", "value ", "here: ", "(", '"', "号码", "값 ", "\n"])
afters = st.sampled_from(["", " ok", ".", ", thanks", ")", '"', "。", "谢谢", "\n"])

# -- cards ---------------------------------------------------------------------------------------

CARD_SEPARATORS = [
    *(" ", "  ", "    ", "\t", "\n", "\u00a0", "\u2009", "\u202f", "\u3000", "\u200b"),
    *("\u200b ", "\u2060", "-", "\u2013", "\u2014", "\u2212", "\uff0d", " - ", "_", "/"),
    *("\uff0f", ".", "\uff0e", ",", ":", "~", "\u00b7", " \u00b7 ", "|", "\u30fb"),
]
#: Separators that figures are written with: cards use them only in the issuer's grouping.
FIGURE_SEPARATORS = {".", "\uff0e", ","}
#: (issuer prefix, length, grouping or None for one run of digits).
CARD_SHAPES = [
    ("4", 16, (4, 4, 4, 4)),
    ("4", 13, (4, 4, 4, 1)),
    ("4", 19, (4, 4, 4, 4, 3)),
    ("51", 16, (4, 4, 4, 4)),
    ("2221", 16, (4, 4, 4, 4)),
    ("34", 15, (4, 6, 5)),
    ("37", 15, (4, 6, 5)),
    ("36", 14, (4, 6, 4)),
    ("6011", 16, (4, 4, 4, 4)),
    ("62", 19, (4, 4, 4, 4, 3)),
    ("3528", 16, (4, 4, 4, 4)),
]
#: Other groupings (three groups or more of one size, the last up to 8), each written with
#: one separator throughout.
IRREGULAR = {
    16: [(2,) * 8, (4, 8, 4), (5, 5, 6), (6, 6, 4), (7, 7, 2)],
    15: [(5, 5, 5), (2, 2, 2, 2, 2, 2, 3)],
    13: [(2, 2, 2, 2, 2, 3), (6, 6, 1)],
    19: [(2,) * 9 + (1,), (4, 5, 5, 5), (6, 6, 7)],
}


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix, size, grouping = draw(st.sampled_from(CARD_SHAPES))
    body = prefix + draw(st.text("0123456789", min_size=size - len(prefix) - 1, max_size=size))
    body = body[: size - 1]
    number = next(body + d for d in "0123456789" if luhn_ok(body + d))
    assume(len(set(number)) > 1)
    how = draw(
        st.sampled_from(["run", "issuer", "other"] if size in IRREGULAR else ["run", "issuer"])
    )
    if how == "run":
        groups = [number]
    else:
        if how == "other":
            grouping = draw(st.sampled_from(IRREGULAR[size]))
        cuts = list(itertools.accumulate(grouping))
        groups = [number[a:b] for a, b in itertools.pairwise([0, *cuts])]
    if how == "other":  # one separator throughout, not one that figures are written with
        separator = draw(
            st.sampled_from([s for s in CARD_SEPARATORS if s not in FIGURE_SEPARATORS])
        )
        seps = [separator] * (len(groups) - 1)
    else:  # the issuer's grouping: any separators, mixed punctuation too
        spaces = draw(st.booleans())
        choices = [
            sep
            for sep in CARD_SEPARATORS
            if (fold(sep).strip() == "" or has_invisible(sep)) == spaces
        ]
        seps = [draw(st.sampled_from(choices)) for _ in groups[1:]]
    written = draw(
        dressed(groups[0] + "".join(s + g for s, g in zip(seps, groups[1:], strict=True)))
    )
    if any(has_invisible(sep) for sep in seps):
        # Invisible separators are no separators to a reader: more invisible characters
        # inside the groups would make it a different grouping (3400000000.00009).
        return written
    return draw(hidden(written))


@settings(max_examples=400, deadline=None)
@given(befores, cards(), afters)
def test_a_card_written_any_way_is_one_marker(before: str, card: str, after: str) -> None:
    one_marker("credit_card", before, card, after)


# -- SSN -----------------------------------------------------------------------------------------

#: Separators that make three groups an SSN by their shape alone, when both are alike.
SSN_SEPARATORS = [
    *("-", " ", "\u2013", "\u2014", "\u00a0", ".", " - ", "\u200b", "\uff0d", "_", "/"),
    *("\uff0f", "~", "  "),
]
#: ... and any separator after the word SSN, mixed too.
SSN_KEYWORD_SEPARATORS = [*SSN_SEPARATORS, ",", ", ", ":", "\t", "\u00b7", "|", ""]


@st.composite
def ssns(draw: st.DrawFn) -> tuple[str, str]:
    """``(keyword before it or "", the SSN)``: bare digits and mixed separators need the
    keyword."""
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group, serial = draw(st.integers(1, 99)), draw(st.integers(1, 9999))
    parts = [f"{area:03d}", f"{group:02d}", f"{serial:04d}"]
    if draw(st.booleans()):
        keyword = draw(st.sampled_from(["SSN ", "SSN: ", "ssn#", "social security number "]))
        seps = [draw(st.sampled_from(SSN_KEYWORD_SEPARATORS)) for _ in range(2)]
        written = parts[0] + seps[0] + parts[1] + seps[1] + parts[2]
        return keyword, draw(hidden(draw(dressed(written))))
    # Set apart alike: "100.50 2000" is a price and a year, not an SSN.
    separator = draw(st.sampled_from(SSN_SEPARATORS))
    written = draw(dressed(separator.join(parts)))
    if separator == "\u200b":  # more invisible characters would make it nine bare digits
        return "", written
    return "", draw(hidden(written))


@settings(max_examples=300, deadline=None)
@given(befores, ssns(), afters)
def test_an_ssn_written_any_way_is_one_marker(
    before: str, ssn: tuple[str, str], after: str
) -> None:
    keyword, value = ssn
    one_marker("us_ssn", before + keyword, value, after)


# -- e-mail --------------------------------------------------------------------------------------

LOCAL_CHARS = string.ascii_lowercase + string.digits + "äöüéñçøßδοκιμήиван"
#: Local parts written in Japanese or Chinese (taken whole, so not after such text).
UNSPACED_LOCALS = ["ボブ", "山田太郎", "たなか", "张伟", "ｶﾀｶﾅ"]
LABEL_CHARS = string.ascii_lowercase + string.digits + "äöüé例え日本пример"
AT_SIGNS = ["@", "\uff20", "\ufe6b"]
FULL_STOPS = [".", "\u3002", "\uff0e", "\uff61"]


@st.composite
def emails(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.text(LOCAL_CHARS, min_size=1, max_size=8), min_size=1, max_size=3))
    joiners = ".+-_'\u2019"  # an apostrophe between letters: o'neil
    local = "".join(
        w if i == 0 else draw(st.sampled_from(joiners)) + w for i, w in enumerate(words)
    )
    local = draw(dressed(local))
    shape = draw(st.sampled_from(["plain", "plain", "unspaced", "quoted"]))
    if shape == "unspaced":
        local = draw(st.sampled_from(UNSPACED_LOCALS))
    elif shape == "quoted":
        local = '"' + " ".join(words) + '"'
    labels = draw(st.lists(st.text(LABEL_CHARS, min_size=1, max_size=10), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "org", "jp", "de", "io", "co", "рф", "ελ", "xn--p1ai"]))
    dots = [draw(st.sampled_from(FULL_STOPS)) for _ in labels]
    domain = "".join(label + dot for label, dot in zip(labels, dots, strict=True)) + tld
    address = local + draw(st.sampled_from(AT_SIGNS)) + draw(dressed(domain))
    return draw(hidden(address))


def address_before(email: str) -> st.SearchStrategy[str]:
    """What may come right before an address: Chinese text only before a spaced-script
    local part (one in Japanese or Chinese would take it in)."""
    first = fold(email)[0]
    spaced = first.isascii() or not ("\u3040" <= first <= "\u9fff" or first >= "\uff00")
    return st.sampled_from(["", "mail ", "(", "<", "\n"] + (["请联系"] if spaced else []))


@settings(max_examples=500, deadline=None)
@given(emails().flatmap(lambda e: st.tuples(address_before(e), st.just(e))), afters)
def test_an_address_written_any_way_is_one_marker(where: tuple[str, str], after: str) -> None:
    before, email = where
    one_marker("email", before, email, after)


# -- phone ---------------------------------------------------------------------------------------

PHONE_SEPARATORS = [" ", "-", ".", "\u00a0", "\u2013", "\u2009"]


@st.composite
def phones(draw: st.DrawFn) -> str:
    # North American area codes and exchanges start with 2 to 9 and do not end in 11.
    code = st.tuples(st.sampled_from("23456789"), st.text("0123456789", min_size=2, max_size=2))
    area, exchange = ("".join(draw(code.filter(lambda c: c[1] != "11"))) for _ in range(2))
    line = draw(st.text("0123456789", min_size=4, max_size=4))
    a, b, c = (draw(st.sampled_from(PHONE_SEPARATORS)) for _ in range(3))
    country = draw(st.sampled_from(["1", "44", "49", "353", "86"]))
    shape = draw(st.sampled_from(["plus", "parentheses", "both", "digits", "one"]))
    if shape == "digits":  # three groups set apart alike
        written = f"{area}{b}{exchange}{b}{line}"
    elif shape == "one":  # the country code without a plus
        written = f"1{b}{area}{b}{exchange}{b}{line}"
    elif shape == "plus":
        written = f"+{country}{a}{area}{b}{exchange}{c}{line}"
    elif shape == "parentheses":
        written = f"({area}){b}{exchange}{c}{line}"
    else:
        written = f"+{country}{a}({area}){b}{exchange}{c}{line}"
    assume(len(set(area + exchange + line)) > 1)
    return draw(hidden(draw(dressed(written))))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "call ", "tel: ", "电话"]), phones(), afters)
def test_a_phone_number_written_any_way_is_one_marker(before: str, phone: str, after: str) -> None:
    one_marker("phone", before, phone, after)


# -- IBAN ----------------------------------------------------------------------------------------

IBAN_SIZES = {"GB": 22, "DE": 22, "FR": 27, "NL": 18, "ES": 24, "CH": 21, "NO": 15, "MT": 31}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(IBAN_SIZES)))
    size = IBAN_SIZES[country]
    bban = draw(
        st.text(string.ascii_uppercase + string.digits, min_size=size - 4, max_size=size - 4)
    )
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    iban = f"{country}{98 - number % 97:02d}{bban}"
    if draw(st.booleans()):
        separator = draw(st.sampled_from([" ", "\u00a0", "\u200b", "  ", "-", "\u3000"]))
        iban = separator.join(iban[i : i + 4] for i in range(0, len(iban), 4))
    case = draw(st.sampled_from([str, str.lower, str.title]))
    return draw(hidden(draw(dressed(case(iban)))))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "iban ", "IBAN: ", "账户"]), ibans(), afters)
def test_an_iban_written_any_way_is_one_marker(before: str, iban: str, after: str) -> None:
    one_marker("iban", before, iban, after)


# -- IPv4 ----------------------------------------------------------------------------------------


@st.composite
def ipv4s(draw: st.DrawFn) -> str:
    octets = [draw(st.integers(0, 255)) for _ in range(4)]
    # Zero-padded to three digits, to two, or not, octet by octet: 10.001.002.003, 10.01.02.03.
    widths = [draw(st.sampled_from([1, 2, 3])) for _ in range(4)]
    parts = [f"{o:0{w}d}" for o, w in zip(octets, widths, strict=True)]
    # ... except 1.000.000.000 (a round billion written the German way), left alone.
    assume(not (len(parts[0]) < 3 and all(len(p) == 3 for p in parts[1:]) and parts[3] == "000"))
    stops = [draw(st.sampled_from(FULL_STOPS)) for _ in range(3)]
    written = parts[0] + "".join(s + p for s, p in zip(stops, parts[1:], strict=True))
    return draw(hidden(draw(dressed(written))))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["", "host ", "ip=", "服务器", "("]),
    ipv4s(),
    st.sampled_from(["", " up", ".", ":8080", ")", "。", "已启动"]),
)
def test_an_ipv4_address_written_any_way_is_one_marker(before: str, ip: str, after: str) -> None:
    one_marker("ipv4", before, ip, after)


# -- API keys ------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = string.ascii_uppercase + "234567"


@st.composite
def api_keys(draw: st.DrawFn) -> str:
    def body(alphabet: str, size: int) -> str:
        # A real key's body holds letters and digits; so does this one.
        text = draw(seeded(alphabet, size))
        return text[:-2] + draw(st.sampled_from("abcXYZ")) + draw(st.sampled_from("0123789"))

    shapes = [
        lambda: "adk_" + draw(seeded(HEX, 12)) + "_" + draw(seeded(B64URL, 43)),
        lambda: "sk-" + body(ALNUM, 48),
        lambda: "sk-proj-" + body(B64URL, draw(st.integers(40, 160))),
        lambda: "sk-ant-api03-" + body(B64URL, 93) + "AA",
        lambda: draw(st.sampled_from(["AKIA", "ASIA"])) + draw(seeded(BASE32, 16)),
        lambda: "gh" + draw(st.sampled_from("pousr")) + "_" + body(ALNUM, 36),
        lambda: "github_pat_" + body(ALNUM, 22) + "_" + body(ALNUM, 59),
        lambda: draw(st.sampled_from(["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxe.xoxp-"]))
        + draw(seeded("0123456789", 12))
        + "-"
        + body(ALNUM, 24),
        lambda: "xapp-1-A" + body(ALNUM, 10) + "-" + draw(seeded(HEX, 64)),
        lambda: "https://hooks.slack.com/services/T" + draw(seeded("ABCDEFGHIJ0123456789", 10))
        + "/B" + draw(seeded("ABCDEFGHIJ0123456789", 10)) + "/" + body(ALNUM, 24),
        lambda: "AIza" + body(B64URL, 35),
        lambda: "GOCSPX-" + body(B64URL, 28),
        lambda: "glpat-" + body(B64URL, 20),
        lambda: draw(st.sampled_from(["sk", "rk", "whsec"])) + "_"
        + draw(st.sampled_from(["live", "test", "prod"])) + "_" + body(ALNUM, 24),
        lambda: "hf_" + body(ALNUM, draw(st.integers(34, 40))),
        lambda: "npm_" + body(ALNUM, 36),
        lambda: "eyJ" + draw(seeded(B64URL, draw(st.integers(17, 60)))) + ".eyJ"
        + draw(seeded(B64URL, draw(st.integers(20, 200)))) + "." + draw(seeded(B64URL, 43)),
    ]  # fmt: skip
    return draw(hidden(draw(st.sampled_from(shapes))()))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["", "key ", "token=", "export OPENAI_API_KEY=", '"', "密钥", "\n"]),
    api_keys(),
    st.sampled_from(["", " here", '"', ".", "。", ")", "\n", ", next"]),
)
def test_an_api_key_of_any_vendor_is_one_marker(before: str, key: str, after: str) -> None:
    one_marker("api_key", before, key, after)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "aws_secret_access_key = ",
            "AWS_SECRET_ACCESS_KEY=",
            '"SecretAccessKey": "',
            "aws secret key is ",
            "secret-access-key: '",
        ]
    ),
    seeded(ALNUM + "/+", 40),
    st.sampled_from(["", '"', "'", "\n", " and more"]),
)
def test_an_aws_secret_key_after_its_name_is_one_marker(
    before: str, secret: str, after: str
) -> None:
    one_marker("api_key", before, secret, after)


# -- what is left alone --------------------------------------------------------------------------


@st.composite
def ordinary(draw: st.DrawFn) -> str:
    """One piece of ordinary text with numbers in it."""
    day = draw(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)))
    moment = draw(st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)))
    amount = draw(st.floats(0, 1e9, allow_nan=False))
    a, b, c, d = (draw(st.integers(0, 40)) for _ in range(4))
    kind = draw(st.integers(0, 20))
    if kind == 0:
        fmt = draw(st.sampled_from(["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y"]))
        return day.strftime(fmt)
    if kind == 1:
        fmt = draw(st.sampled_from(["%Y%m%d", "%B %d, %Y", "%d %b %Y", "%Y%m%d%H%M%S"]))
        return moment.strftime(fmt)
    if kind == 2:
        fmt = draw(st.sampled_from(["%H:%M", "%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M"]))
        return moment.strftime(fmt)
    if kind == 3:
        return draw(st.sampled_from(["$", "€ ", "£", "USD "])) + f"{amount:,.2f}"
    if kind == 4:  # the German way: 1.234.567,89
        return f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " €"
    if kind == 5:
        return draw(st.sampled_from([f"v{a}.{b}.{c}", f"{a}.{b}.{c}", f"Python 3.{b}.{c}"]))
    if kind == 6:  # four-part versions are told from addresses by the word before them
        return draw(st.sampled_from(["version", "v", "build", "release"])) + f" {a}.{b}.{c}.{d}"
    if kind == 7:
        number = draw(st.integers(0, 10**12 - 1))
        return draw(st.sampled_from(["order #", "order ", "ORD-2024-", "id ", "ref "])) + str(
            number
        )
    if kind == 8:
        return str(draw(st.uuids()))
    if kind == 9:  # ISBN-13, hyphenated or not
        body = "978" + draw(st.text("0123456789", min_size=9, max_size=9))
        check = (10 - sum(int(x) * (3 if i % 2 else 1) for i, x in enumerate(body)) % 10) % 10
        isbn = body + str(check)
        if draw(st.booleans()):
            return isbn
        return f"{isbn[:3]}-{isbn[3]}-{isbn[4:6]}-{isbn[6:12]}-{isbn[12]}"
    if kind == 10:  # Unix times in seconds, milliseconds, microseconds
        seconds = draw(st.integers(10**9, 2 * 10**9 - 1))
        return str(seconds * draw(st.sampled_from([1, 1000, 1000000])))
    if kind == 11:
        return draw(st.sampled_from(["%", " %", " ms", " s", " units", "x"])).join(
            ["", f"{amount:.{draw(st.integers(0, 3))}f}"][::-1]
        )
    if kind == 12:
        return f"{draw(st.integers(0, 10**12)):,}"
    if kind == 13:  # hashes: git commits, SHA-256
        return draw(seeded(HEX, draw(st.sampled_from([7, 40, 64]))))
    if kind == 14:  # short phone-like numbers: extensions, local numbers
        return f"{draw(st.integers(100, 999))}-{draw(st.integers(0, 9999)):04d}"
    if kind == 15:  # part numbers: 4-4-4, 2-4-4, and 3-3-4 that no phone number can be
        groups = draw(st.sampled_from([(4, 4, 4), (2, 4, 4), (3, 3, 4)]))
        parts = [draw(st.text("0123456789", min_size=n, max_size=n)) for n in groups]
        if groups == (3, 3, 4):  # an area code or exchange that starts with 0 or 1
            at = draw(st.integers(0, 1))
            parts[at] = draw(st.sampled_from("01")) + parts[at][1:]
        return "Part " + draw(st.sampled_from(["-", " ", "."])).join(parts)
    if kind == 16:  # a year, then three groups of four
        groups = [draw(st.text("0123456789", min_size=4, max_size=4)) for _ in range(3)]
        return f"Reference {day.year} " + " ".join(groups)
    if kind == 17:  # a dotted quad after the name of a numbered part
        word = draw(st.sampled_from(["Chapter", "section", "§", "Figure", "Table", "v", "Part"]))
        return f"{word} {a}.{b}.{c}.{d}"
    if kind == 18:  # a serial of six groups of four with a card's sixteen digits inside it
        card = luhn_card(draw(st.text("0123456789", min_size=14, max_size=14)))
        others = [draw(st.text("0123456789", min_size=4, max_size=4)) for _ in range(2)]
        at = draw(st.integers(0, 2))
        groups = [*others[:at], *(card[i : i + 4] for i in range(0, 16, 4)), *others[at:]]
        assume(not any(g[:2] in ("19", "20") for g in groups))  # a year may follow a card
        return "Serial " + draw(st.sampled_from([" ", "-"])).join(groups)
    if kind == 19:  # figures with thousands separators
        return f"{draw(st.integers(10**12, 10**19)):,}".replace(
            ",", draw(st.sampled_from([",", ".", " ", "'"]))
        )
    return f"{a}-{b}-{c}-{d}"


def luhn_card(body: str) -> str:
    """A Visa number: 4, ``body`` (14 digits), and its Luhn digit."""
    return next(f"4{body}{d}" for d in "0123456789" if luhn_ok(f"4{body}{d}"))


@settings(max_examples=500, deadline=None)
@given(st.lists(ordinary(), min_size=1, max_size=6), st.sampled_from([" ", ", ", "; ", "\n"]))
# A part number and a phone number in a list: 15 digits, Luhn-valid, across the comma.
@example(["Part 1111-1118-2111", "998-0000"], ", ")
@example(["Part 1111-1118-2111", "998 ms"], "; ")
@example(["Serial 4111 1111 1111 1111 1225 1234"], " ")
def test_ordinary_text_with_numbers_is_left_alone(pieces: list[str], joiner: str) -> None:
    text = joiner.join(pieces)
    assert ALL.redact(text)[0] == text


# -- streams -------------------------------------------------------------------------------------

values = st.one_of(
    cards(),
    ssns().map("".join),
    emails(),
    phones(),
    ibans(),
    ipv4s(),
    api_keys(),
    st.sampled_from(["version 1.2.3.4", "SSN on file", "order 123456789", "bob@例え.jp"]),
)
fillers = st.sampled_from(
    [" ", ", ", " and ", "。", "\n", " 号码 ", " SSN: ", " aws_secret_key = "]
)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(fillers, values), min_size=1, max_size=5),
    st.lists(st.integers(0, 2000), max_size=60),
)
def test_streamed_redaction_of_look_alikes_equals_whole_text(
    items: list[tuple[str, str]], cuts: list[int]
) -> None:
    text = "".join(filler + value for filler, value in items) + " end"
    hold = StreamHold()
    out = [ALL.feed(hold, token)[0] for token in split(text, cuts)]
    out.append(ALL.finish(hold)[0])
    assert "".join(out) == ALL.redact(text)[0]


#: Each recogniser alone: its own hold-back (the widths differ), its own look-ahead.
ONE = {name: Redactor([], [name]) for name in RECOGNISERS}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(RECOGNISERS)),
    st.lists(st.tuples(fillers, values), min_size=1, max_size=4),
    st.lists(st.integers(0, 2000), max_size=60),
)
def test_streamed_redaction_by_one_recogniser_equals_whole_text(
    name: str, items: list[tuple[str, str]], cuts: list[int]
) -> None:
    redactor = ONE[name]
    text = "".join(filler + value for filler, value in items) + " end"
    hold = StreamHold()
    out = [redactor.feed(hold, token)[0] for token in split(text, cuts)]
    out.append(redactor.finish(hold)[0])
    assert "".join(out) == redactor.redact(text)[0]


# -- the fast regexes ----------------------------------------------------------------------------

#: Every part's regex in its plain form (look-behind first); the shipped ones consume a
#: character first and look behind it, which must not change a single match.
_IBAN_SEP = f"[ \\-{INVISIBLE_CLASS}]{{0,2}}"
_KEY_END = r"(?![A-Za-z0-9_-])"
_GROUP_END = "(?![0-9A-Za-z]|_(?![0-9]))"
_PHONE_REST = r"[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}(?![A-Za-z0-9_-]|[.][0-9])"
PLAIN: dict[str, list[str | None]] = {
    "credit_card": [
        rf"(?<![A-Za-z0-9_+])(?<![0-9][.,])[0-9]{{2}}(?=(?:[{SPACE}{PUNCT}]{{0,8}}[0-9]){{11}})"
        rf"[0-9]{{0,17}}+{_GROUP_END}(?:{GAP}[0-9]{{1,16}}+{_GROUP_END}){{0,9}}+"
    ],
    "us_ssn": [
        r"(?<![0-9])(?<![0-9][.,])[0-9]{3}"
        rf"(?:{GAP})?[0-9]{{2}}(?:{GAP})?[0-9]{{4}}(?![0-9])"
    ],
    "email": [None, None],  # their look-behinds are checked below, with their seeks
    "phone": [
        r"(?<![A-Za-z0-9_+/-])(?<![0-9][.,])(?:1[ .-][0-9]{3}|[2-9][0-9]{2})[ .-][0-9]{3}"
        r"[ .-][0-9]{4}(?![A-Za-z0-9_-]|[.][0-9])",
        r"(?<![A-Za-z0-9_+/-])(?<![0-9][.])"
        r"(?:\+[0-9]{1,3}[ .-]?(?:\([0-9]{2,4}\)|[0-9]{2,4})|\([0-9]{2,4}\))" + _PHONE_REST,
    ],
    "iban": [
        rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}[0-9]{{2}}(?:{_IBAN_SEP}[A-Za-z0-9]){{11,30}}"
        r"(?![A-Za-z0-9])"
    ],
    "ipv4": [r"(?<![A-Za-z0-9_.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])"],
    "api_key": [
        rf"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{{20,250}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])adk_[0-9a-f]{{12}}_[A-Za-z0-9_-]{{43}}{_KEY_END}",
        r"(?<![A-Za-z0-9])A[KS]IA[0-9A-Z]{16}(?![0-9A-Za-z])",
        r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
        rf"(?<![A-Za-z0-9_-])gh[pousr]_[A-Za-z0-9]{{30,250}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])github_pat_[A-Za-z0-9_]{{30,240}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])xox[abposre](?:\.xox[bp])?-[A-Za-z0-9-]{{10,250}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])xapp-[0-9]-[A-Za-z0-9-]{{10,250}}{_KEY_END}",
        None,  # the Slack webhook URL starts with a literal: no look-behind
        rf"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{{20,60}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{{35}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])GOCSPX-[0-9A-Za-z_-]{{28}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])hf_[A-Za-z0-9]{{34,250}}{_KEY_END}",
        rf"(?<![A-Za-z0-9_-])npm_[A-Za-z0-9]{{36}}{_KEY_END}",
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*",
        r"(?<![A-Za-z0-9_-])[A-Za-z]{1,9}_(?:live|test|prod|secret|key|token)_[A-Za-z0-9]{16,120}"
        + _KEY_END,
    ],
}

pieces = st.sampled_from(
    ["4111 1111 1111 1111", "4111.1111", "123-45-6789", "123 45", "a.b@ex.io", "bob＠例え。jp",
     "+1 415-555-0132", "(415) 555 0132", "GB82 WEST 1234 5698 7654 32", "10.0.0.1", "010.001",
     "sk-proj-Zq81fLx0VbT3pQa9Wc2Nd7Ye", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRf",
     "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "xoxb-2934-8273-Ab91dk", "xoxe.xoxp-1-", "xapp-1-",
     "adk_0123456789ab_", "github_pat_", "glpat-", "AIza", "GOCSPX-", "aws_secret_access_key=",
     "ab_live_0123456789abcdefXYZ", "_key_", "-", ".", "+", "(", "x", "A", "_", "9", " ", "@", "é",
     "例", "\u200b", "/", "=", "ssn ", "41 11 11 11", "4111\t1111", "4111,1111", "5500\n0000",
     "123_45_6789", "123/45", "hf_", "npm_", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx", ".eyJ", "'",
     "o'neil", "o\u2019", '"bob smith"@ex.io', '"', "ボブ", "山田", "gb82 west", "\n", ",", ":",
     "\u00b7", "2024 ", "1 800 555 0199", "100-200-3000"]
)  # fmt: skip


def test_every_part_has_a_plain_form() -> None:
    for name, recogniser in RECOGNISERS.items():
        assert len(PLAIN[name]) == len(recogniser.parts), name


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(
        [(n, i) for n, forms in PLAIN.items() for i, form in enumerate(forms) if form is not None]
    ),
    st.lists(pieces, max_size=8).map("".join),
)
def test_recognisers_match_like_their_plain_form(where: tuple[str, int], text: str) -> None:
    name, index = where
    plain = re.compile(PLAIN[name][index] or "")
    fast = re.compile(RECOGNISERS[name].parts[index].pattern)
    for start in range(len(text) + 1):
        a, b = plain.match(text, start), fast.match(text, start)
        assert (a and a.span()) == (b and b.span()), (name, index, text, start)


SEEKING = [
    (name, index)
    for name, recogniser in RECOGNISERS.items()
    for index, part in enumerate(recogniser.parts)
    if part.seek is not None
]


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(SEEKING), st.lists(pieces, max_size=10).map("".join), st.integers(0, 30))
def test_a_seek_skips_only_what_its_confirmation_refuses(
    where: tuple[str, int], text: str, pos: int
) -> None:
    """A part's seek returns one of its regex's matches at or after ``pos``, and every match
    it passes over is one the confirmation refuses: the engine finds the same values as with
    ``regex.search``, without trying the regex at every letter."""
    name, index = where
    part = RECOGNISERS[name].parts[index]
    assert part.seek is not None
    regex = re.compile(part.pattern)
    text = fold(text)
    pos = min(pos, len(text))
    found = part.seek(regex)(text, pos)
    stop = len(text) + 1 if found is None else found.start()
    assert found is None or found.start() >= pos
    for start in range(pos, stop):
        m = regex.match(text, start)
        assert m is None or part.confirm(text, start, m.end()) < 0, (name, index, text, start)
    if found is not None:
        m = regex.match(text, found.start())
        assert m is not None and m.span() == found.span()


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=8).map("".join))
def test_the_email_look_behind_matches_its_plain_form(text: str) -> None:
    """Where a local part may start, written as look-behinds first: after no local-part
    character; a spaced-script letter or digit also right after another script; never
    inside a word across an apostrophe (``o'neil``)."""
    from agentdock_plugins.policies import recognisers as r

    spaced, alpha, unspaced, quote = r._SPACED, r._ALPHA, r._UNSPACED, r._APOSTROPHE
    plain_start = (
        f"(?:(?<!{spaced})(?!(?<={unspaced})[%+\\-._])(?!(?<={alpha}{quote}){alpha}){spaced}"
        f"|(?<![^{r._NOT_IN_ADDRESS}]){unspaced}(?!{alpha}))"
    )
    shipped = RECOGNISERS["email"].parts[0].pattern
    assert shipped.startswith(r._LOCAL_START)
    plain = re.compile(plain_start + shipped[len(r._LOCAL_START) :])
    fast = re.compile(shipped)
    for start in range(len(text) + 1):
        a, b = plain.match(text, start), fast.match(text, start)
        assert (a and a.span()) == (b and b.span()), (text, start)


def reference_spans(text: str) -> list[tuple[int, int, str]]:
    """Every confirmed match of every part at every position, overlaps merged: what the
    engine (scouts, seeks, cached matches, prefilters) must find, done the slow way; on the
    folded text and, when it holds invisible characters, on it without them (mapped back)."""

    def merged(subject: str, where: list[int]) -> list[tuple[int, int, str]]:
        matches = []
        for order, (name, recogniser) in enumerate(RECOGNISERS.items()):
            for part in recogniser.parts:
                regex = re.compile(part.pattern)
                for start in range(len(subject)):
                    m = regex.match(subject, start)
                    if m is not None and (end := part.confirm(subject, start, m.end())) > start:
                        matches.append((where[start], -(where[end - 1] + 1), order, name))
        return union(
            [(start, -negative_end, name) for start, negative_end, _, name in sorted(matches)]
        )

    def union(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for start, end, name in sorted(spans, key=lambda span: (span[0], -span[1])):
            if out and start < out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end), out[-1][2])
            else:
                out.append((start, end, name))
        return out

    folded = fold(text)
    spans = merged(folded, list(range(len(folded))))
    if has_invisible(folded):
        visible, where = compact(folded)
        spans = union(spans + merged(visible, where))
    return spans


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(fillers, st.one_of(values, pieces)), min_size=1, max_size=6))
def test_the_engine_finds_what_trying_every_position_finds(items: list[tuple[str, str]]) -> None:
    text = "".join(filler + value for filler, value in items)
    assert [(s, e, rule.kind) for s, e, rule in ALL.spans(text)] == reference_spans(text)


#: Groups of four that make cards, expiry dates (MMYY) and years likely in a long run.
_GROUPS_OF_FOUR = ["4111", "1111", "5500", "0000", "0004", "1225", "0325", "2025", "1999"]


@st.composite
def long_runs(draw: st.DrawFn) -> str:
    """A run of digit groups long enough to be swept as a whole (``runs.py``): one shape
    of unit (sizes and separators) repeated, its digits drawn afresh for each repeat."""
    unit = draw(
        st.lists(
            st.tuples(st.sampled_from([2, 3, 4, 4, 4, 5]), st.sampled_from([" ", "-", " - ", "/"])),
            min_size=1,
            max_size=6,
        )
    )
    groups: list[str] = []
    for _ in range(draw(st.integers(6, 16))):
        for size, separator in unit:
            if size == 4:
                group = draw(st.sampled_from([*_GROUPS_OF_FOUR, "random"]))
                if group == "random":
                    group = draw(st.text("0123456789", min_size=4, max_size=4))
            else:
                group = draw(st.text("0123456789", min_size=size, max_size=size))
            groups.append(group + separator)
    return "".join(groups).rstrip(" -/") + draw(st.sampled_from(["", " ok", " 123", "/25"]))


@settings(max_examples=150, deadline=None)
@given(long_runs())
@example("4111 1111 1111 1111 1225 123 " * 8)
@example("4111-1111-1111-1111 0325 " * 8)
def test_a_long_run_is_swept_as_trying_every_position_reads_it(text: str) -> None:
    assert [(s, e, rule.kind) for s, e, rule in ALL.spans(text)] == reference_spans(text)
