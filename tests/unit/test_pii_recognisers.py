"""The PII recognisers on the variants people and models write, and on what they leave alone.

Every test runs with all seven recognisers on, as a Dockfile with ``pii: [every name]``
would: a value must come out as exactly one marker of its own kind, and ordinary text with
numbers must come out unchanged.
"""

from __future__ import annotations

import random
import string

import pytest
from agentdock.auth.keys import generate_key
from agentdock_plugins.policies.recognisers import RECOGNISERS, card_ok, luhn_ok
from agentdock_plugins.policies.redaction_engine import Redactor

ALL = Redactor([], list(RECOGNISERS))


def redact(text: str) -> str:
    return ALL.redact(text)[0]


def marker(name: str) -> str:
    return RECOGNISERS[name].marker


def luhn_digit(prefix: str) -> str:
    """``prefix`` completed with its Luhn check digit."""
    for digit in "0123456789":
        if luhn_ok(prefix + digit):
            return prefix + digit
    raise AssertionError(prefix)


def token(alphabet: str, size: int, seed: int) -> str:
    """A fixed pseudo-random token: random enough for the entropy check, same every run."""
    rng = random.Random(seed)  # noqa: S311 - test data, not a secret
    return "".join(rng.choice(alphabet) for _ in range(size))


ALNUM = string.ascii_letters + string.digits

# -- cards ---------------------------------------------------------------------------------------

CARD_VARIANTS = [
    "4111\u00a01111\u00a01111\u00a01111",  # no-break space
    "4111\u20091111\u20091111\u20091111",  # thin space
    "4111\u202f1111\u202f1111\u202f1111",  # narrow no-break space
    "4111\u200b1111\u200b1111\u200b1111",  # zero-width space
    "4111\u30001111\u30001111\u30001111",  # ideographic space
    "4111  1111  1111  1111",  # double spaces
    "4111_1111_1111_1111",
    "4111/1111/1111/1111",
    "4111.1111.1111.1111",  # was [REDACTED:PHONE].1111
    "4111 - 1111 - 1111 - 1111",
    "4111\u20131111\u20131111\u20131111",  # en dash
    "４１１１ １１１１ １１１１ １１１１",  # full-width digits
    "𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏",  # mathematical bold digits
    "٤١١١ ١١١١ ١١١١ ١١١١",  # Arabic-Indic digits
    "3782 822463 10005",  # American Express grouping
    "4222 2222 2222 2",  # 13-digit Visa
    "6011000990139424",
    "4111\t1111\t1111\t1111",  # tab
    "4111\n1111\n1111\n1111",  # a number wrapped across lines
    "4111    1111    1111    1111",  # four spaces
    "4111,1111,1111,1111",
    "4111:1111:1111:1111",
    "4111~1111~1111~1111",
    "4111\u00b71111\u00b71111\u00b71111",  # middle dot
    "41 11 11 11 11 11 11 11",  # pairs
    "4111-11111111-1111",  # 4-8-4
    "4111\u200b1111\u200b 1111 1111",  # invisible and visible separators together
    "41\u200b11 1111 1111 1111",  # an invisible character inside a group
]


@pytest.mark.parametrize("card", CARD_VARIANTS)
def test_card_numbers_with_any_separator_are_one_marker(card: str) -> None:
    assert redact(f"card {card} ok") == f"card {marker('credit_card')} ok"


def test_a_card_followed_by_its_expiry_date_is_cut_at_the_card() -> None:
    # The candidate runs on into "12/25"; the longest Luhn-valid prefix is the card.
    assert redact("4111 1111 1111 1111 12/25") == f"{marker('credit_card')} 12/25"
    assert redact("4111-1111-1111-1111-2025") == f"{marker('credit_card')}-2025"
    # An expiry date (MMYY) in the card's shape, where the run ends with it.
    assert redact("Card 4111 1111 1111 1111 1225") == f"Card {marker('credit_card')} 1225"
    assert redact("4111-1111-1111-1111-0325 ok") == f"{marker('credit_card')}-0325 ok"
    assert redact("4111 1111 1111 1111 1225 123") == f"{marker('credit_card')} 1225 123"


def test_a_card_inside_a_longer_run_of_groups_is_left_alone() -> None:
    # A 24-digit serial: its first 16 digits pass the checks, but the run goes on.
    for text in (
        "Serial no. 4111 1111 1111 1111 1111 1111",
        "Serial no. 1234 5678 4111 1111 1111 1111",
        "Serial no. 1234 4111 1111 1111 1111 5678",
        "Serial no. 4111-1111-1111-1111-1111-1111",
        "Serial no. 4111 1111 1111 1111 1225 1234",  # no expiry: the run goes on
    ):
        assert redact(text) == text


def test_cards_next_to_other_numbers_are_one_marker_each() -> None:
    card = marker("credit_card")
    # Two cards in a row, written alike: each is a card, not a serial.
    assert redact("4111 1111 1111 1111 5500 0000 0000 0004") == f"{card} {card}"
    assert redact("4111 1111 1111 1111, 5500 0000 0000 0004") == f"{card}, {card}"
    # A card and its security code, or a year, in another shape.
    assert redact("4111 1111 1111 1111 123 ok") == f"{card} 123 ok"
    assert redact("in 2019: 4111 1111 1111 1111") == f"in 2019: {card}"
    # A year before four groups of four is as often a reference number's first group.
    assert redact("ref 2019 4111 1111 1111 1111") == "ref 2019 4111 1111 1111 1111"


def test_numbers_grouped_by_thousands_are_not_cards() -> None:
    for text in ("4,111,111,111,111,111", "4.111.111.111.111.111", "4 111 111 111 111 111"):
        assert redact(f"total {text} units") == f"total {text} units"


def test_luhn_valid_numbers_that_no_card_can_be_are_left_alone() -> None:
    millis = luhn_digit("170000000012")  # a millisecond Unix time, 13 digits
    micros = luhn_digit("170000000012345")  # a microsecond one, 16 digits
    isbn = luhn_digit("978316148410")  # 13 digits starting 978: a book
    zero = luhn_digit("012345678901234")  # no card number starts with 0
    stamp = luhn_digit("2024011510304")  # a compact date-time, 14 digits
    imei = luhn_digit("35209900176148")  # IMEIs carry a Luhn digit, 15 digits
    iccid = luhn_digit("890126012345678901")  # so do SIM card numbers, 19 digits
    for number in (millis, micros, isbn, zero, stamp, imei, iccid):
        assert luhn_ok(number) and not card_ok(number)
        assert redact(f"id {number} ok") == f"id {number} ok"
    assert redact(f"pi 3.{micros} ok") == f"pi 3.{micros} ok"  # decimals of a number
    # Inside a hash or an identifier, a run of digits is part of that token.
    card = "4111111111111111"
    assert redact(f"sha 9f{card}ab ok") == f"sha 9f{card}ab ok"


# -- e-mail --------------------------------------------------------------------------------------

EMAIL_VARIANTS = [
    "bob@exämple.com",
    "bob@例え.jp",
    "bob＠example.com",  # full-width at sign
    "bob﹫example.com",  # small at sign
    "böb@example.com",  # was bö[REDACTED:EMAIL]
    "bo\u0308b@example.com",  # o + combining diaeresis
    "ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    "bob@example。com",
    "jürgen.müller+tag@mail.beispiel.de",
    "δοκιμή@παράδειγμα.ελ",
    "иван@пример.рф",
    "user@xn--r8jz45g.jp",
    "bob@exa\u200bmple.com",  # zero-width space in the domain
    "b\u200bob@example.com",
    "bob@example\u200b.com",
    "ボブ@例え.jp",  # Japanese local part
    "山田太郎@example.jp",
    '"bob smith"@example.com',  # quoted local part
    '"bob@home"@example.com',
    "bob.o'neil@example.com",  # apostrophe
    "o'neil@example.com",
    "bob.o\u2019neil@example.com",
]


@pytest.mark.parametrize("address", EMAIL_VARIANTS)
def test_addresses_with_unicode_and_look_alikes_are_one_marker(address: str) -> None:
    assert redact(f"mail {address} now") == f"mail {marker('email')} now"


def test_an_address_written_straight_after_chinese_text_is_cut_out_alone() -> None:
    email = marker("email")
    assert redact("请联系bob@例え.jp谢谢") == f"请联系{email}谢谢"
    assert redact("邮箱：bob@example.com。谢谢") == f"邮箱：{email}。谢谢"


def test_quotes_and_apostrophes_around_an_address_are_not_part_of_it() -> None:
    email = marker("email")
    assert redact("write to 'bob@example.com' now") == f"write to '{email}' now"
    assert redact('He said "hi" to "bob smith"@example.com') == f'He said "hi" to {email}'
    assert redact("bob's address: bob@example.com") == f"bob's address: {email}"


# -- API keys ------------------------------------------------------------------------------------


#: A JSON Web Token (HS256, {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}).
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def api_keys() -> list[str]:
    b64 = ALNUM + "-_"
    return [
        generate_key().key,  # AgentDock's own adk_<id>_<secret>
        "sk-" + token(ALNUM, 48, 1),  # OpenAI, legacy
        "sk-proj-" + token(b64, 156, 2),  # OpenAI project key
        "sk-svcacct-" + token(b64, 60, 3),
        "sk-ant-api03-" + token(b64, 93, 4) + "AA",  # Anthropic
        "AKIA" + token(string.ascii_uppercase + "234567", 16, 5),  # AWS access key id
        "ASIA" + token(string.ascii_uppercase + "234567", 16, 6),
        *(f"gh{kind}_" + token(ALNUM, 36, 7) for kind in "pousr"),  # GitHub
        "github_pat_" + token(ALNUM, 22, 8) + "_" + token(ALNUM, 59, 9),
        "xoxb-" + "-".join((token("0123456789", 12, 10), token(ALNUM, 24, 11))),  # Slack
        "xoxp-" + "-".join((token("0123456789", 12, 12), token(ALNUM, 32, 13))),
        "xapp-1-A0" + token(ALNUM, 9, 14) + "-" + token("0123456789abcdef", 64, 15),
        "https://hooks.slack.com/services/T0"
        + token(string.ascii_uppercase, 8, 16)
        + "/B0"
        + token(string.ascii_uppercase, 8, 17)
        + "/"
        + token(ALNUM, 24, 18),
        "AIza" + token(b64, 35, 19),  # Google API key
        "GOCSPX-" + token(b64, 28, 20),  # Google OAuth client secret
        "glpat-" + token(b64, 20, 21),  # GitLab
        "sk_live_" + token(ALNUM, 24, 22),  # Stripe
        "hf_" + token(ALNUM, 34, 23),  # Hugging Face
        "npm_" + token(ALNUM, 36, 24),  # npm
        JWT,
        JWT.rsplit(".", 1)[0],  # header and claims, no signature
        "AKIA\u200bIOSFODNN7EXAMPLE",  # a zero-width space inside
        "sk-" + token(ALNUM, 20, 25) + "\u200b" + token(ALNUM, 28, 26),
    ]


@pytest.mark.parametrize("key", api_keys())
def test_vendor_key_formats_are_one_marker(key: str) -> None:
    assert redact(f"key {key} here") == f"key {marker('api_key')} here"


AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "before",
    [
        "aws_secret_access_key = ",
        "AWS_SECRET_ACCESS_KEY=",
        '"SecretAccessKey": "',
        "aws secret key is ",
        "secret_access_key: ",
    ],
)
def test_aws_secret_keys_are_redacted_after_their_name(before: str) -> None:
    assert redact(f"{before}{AWS_SECRET}") == f"{before}{marker('api_key')}"


def test_a_jwt_at_the_end_of_a_sentence_leaves_the_full_stop() -> None:
    assert redact(f"Bearer {JWT}.") == f"Bearer {marker('api_key')}."
    assert redact(f"token={JWT}&next=1") == f"token={marker('api_key')}&next=1"


def test_forty_character_tokens_without_a_name_are_left_alone() -> None:
    # Alone, an AWS secret key looks like any 40-character token, and a git commit like it.
    for text in (f"value {AWS_SECRET} end", "commit 3f786850e387550fdab836ed7e6dc881de23001b"):
        assert redact(text) == text


# -- IPv4 ----------------------------------------------------------------------------------------

IPV4_VARIANTS = [
    "010.001.002.003",  # leading zeros
    "192.168.001.001",
    "10。1。2。3",  # ideographic full stop
    "10．1．2．3",  # full-width full stop
    "10｡1｡2｡3",  # half-width ideographic full stop
    "１９２．１６８．０．１",
    "192.168.0.1",
    "10.001.002.003",  # leading zeros, first octet of two digits
    "10.01.02.03",
    "1.002.003.004",
    "10.1\u200b.2.3",  # a zero-width space inside
]


@pytest.mark.parametrize("address", IPV4_VARIANTS)
def test_ipv4_with_leading_zeros_and_other_full_stops_is_one_marker(address: str) -> None:
    assert redact(f"host {address} up") == f"host {marker('ipv4')} up"
    assert redact(f"服务器{address}已启动") == f"服务器{marker('ipv4')}已启动"


@pytest.mark.parametrize(
    "before",
    [
        "Chapter",
        "chapter",
        "Section",
        "section",
        "§",
        "§ ",
        "Figure",
        "Fig.",
        "Table",
        "version",
        "v",
    ],
)
def test_a_dotted_quad_after_a_section_word_is_left_alone(before: str) -> None:
    text = f"See {before} 12.34.56.78 for details"
    assert redact(text) == text


# -- SSN -----------------------------------------------------------------------------------------

SSN_VARIANTS = [
    "123-45-6789",
    "123 45 6789",
    "123\u201345\u20136789",  # en dash
    "123\u00a045\u00a06789",
    "123.45.6789",
    "１２３－４５－６７８９",
    "123_45_6789",
    "123/45/6789",
    "123\u200b-45-6789",
]


@pytest.mark.parametrize("ssn", SSN_VARIANTS)
def test_ssns_with_any_separator_are_one_marker(ssn: str) -> None:
    assert redact(f"ssn {ssn} ok") == f"ssn {marker('us_ssn')} ok"


@pytest.mark.parametrize(
    "before",
    ["SSN 123456789", "SSN: 123456789", "ssn#123456789", "Social Security Number is 123456789"],
)
def test_nine_bare_digits_are_an_ssn_only_after_the_word(before: str) -> None:
    assert redact(before) == before.replace("123456789", marker("us_ssn"))


@pytest.mark.parametrize("ssn", ["123-45 6789", "123 45-6789", "123.45/6789", "123, 45, 6789"])
def test_ssns_with_mixed_separators_are_one_marker_after_the_word(ssn: str) -> None:
    assert redact(f"SSN {ssn} ok") == f"SSN {marker('us_ssn')} ok"
    assert redact(f"SSN: {ssn}") == f"SSN: {marker('us_ssn')}"
    # Without the word, mixed separators are as often a price and a year (100.50 2000).
    assert redact(f"ref {ssn} ok") == f"ref {ssn} ok"


def test_nine_bare_digits_without_the_word_are_left_alone() -> None:
    for text in ("order 123456789 shipped", "zip 941051234", "SSN on file.\nRef 123456789"):
        assert redact(text) == text
    # With the word, the number still has to be a possible SSN (area 000, 666, 9xx: never).
    assert redact("SSN 666123456") == "SSN 666123456"


# -- what is left alone --------------------------------------------------------------------------

ORDINARY = [
    "Released 2024-01-15, patched 15/01/2024 and again on 2024/01/15 at 10:30:45.123.",
    "Order #123456789 and ORD-2024-000123 shipped; invoice 112-1234567-1234567.",
    "Unix time 1700000000, or 1700000000123 in milliseconds.",
    "It costs $1,234,567.89 (or € 1.234.567,89), up 12.5% on 1,000,000 units.",
    "Upgrade from v1.2.3 to version 1.2.3.4, build 10.0.19045.2965, Python 3.11.4.",
    "ISBN 978-3-16-148410-0, ISBN-10 0-306-40615-2 and 9783161484100.",
    "Request 123e4567-e89b-12d3-a456-426614174000 took 1.25 s.",
    "OID 1.3.6.1.4.1.311 and the range 1-2-3-4-5-6-7-8-9-10.",
    "Call extension 555-0132 or dial 0000000000.",
    "Temperatures of 21.5 23.0 19.75 and 22.25 degrees.",
    "The ratio is 0.4111111111111111 exactly.",
    "See ISO 8601 and RFC 3339; section 4.1.2.",
    "A billion is 1.000.000.000 in Germany, ten are 10.000.000.000.",
    "ghp_short and sk-aaaaaaaaaaaaaaaaaaaaaaaa and AKIA are not keys.",
    "Part numbers 1234-5678-9012, 12-3456-7890 and 100-200-3000.",
    # A list: 1111-1118-2111, 998 has 15 digits with a valid Luhn digit and a card's shape.
    "Parts 1111-1118-2111, 998-0000; 1111-1118-2111; 998 ms.",
    # Lists: a comma or semicolon and a space separate items, never a card's groups.
    "IDs 4111, 1111, 1111, 1111; 4440, 1664, 3107, 2866; 4111; 1111; 1111; 1111.",
    "Reference 2024 1234 5678 9012.",
    "Chapter 12.34.56.78 and section 1.2.3.4.",
    "Serial no. 4111 1111 1111 1111 1111 1111.",
    "Call 555-123-4567 or 911-555-0132: exchanges and area codes never start with 0 or 1.",
    "UK 020 7946 0958, without the country code, is a national number.",
    "Scores 12 34 56 78 and hf_model_name and npm_package and eyJ alone.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_with_numbers_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_phone_numbers_need_a_plus_parentheses_or_separators() -> None:
    phone = marker("phone")
    assert redact("call +1 415-555-0132 today") == f"call {phone} today"
    assert redact("call (415) 555 0132 today") == f"call {phone} today"
    assert redact("call +14155550132 today") == f"call {phone} today"
    assert redact("call +44\u00a020\u00a07946\u00a00958 today") == f"call {phone} today"
    assert redact("call 415.555.0132 today") == f"call {phone} today"
    assert redact("call 1-800-555-0199 today") == f"call {phone} today"
    assert redact("call 1 415 555 0132 today") == f"call {phone} today"
    # A bare run of ten digits is as often an order number or a Unix time.
    assert redact("call 4155550132 today") == "call 4155550132 today"


@pytest.mark.parametrize(
    "text",
    ["1234-5678-9012", "12-3456-7890", "100-200-3000", "2024 1234 5678 9012", "415-555 0132"],
)
def test_numbers_that_no_north_american_number_can_be_are_not_phones(text: str) -> None:
    # Area codes and exchanges start with 2 to 9; three groups of 3, 3 and 4 set apart alike.
    assert redact(f"no. {text} ok") == f"no. {text} ok"


def test_a_uuid_tail_is_not_a_phone_number() -> None:
    text = "id 123e4567-e89b-12d3-a456-426614174000"
    assert redact(text) == text


def test_every_value_of_a_mixed_text_gets_its_own_marker() -> None:
    text = (
        "Card 4111\u00a01111\u00a01111\u00a01111, mail bob＠example.com, "
        "host 10。1。2。3, SSN 123–45–6789, key AKIAIOSFODNN7EXAMPLE, "
        "IBAN GB82 WEST 1234 5698 7654 32, tel +1 415 555 0132."
    )
    out, count, kinds = ALL.redact(text)
    assert out == (
        "Card [REDACTED:CREDIT_CARD], mail [REDACTED:EMAIL], host [REDACTED:IPV4], "
        "SSN [REDACTED:US_SSN], key [REDACTED:API_KEY], IBAN [REDACTED:IBAN], "
        "tel [REDACTED:PHONE]."
    )
    assert count == 7 and kinds == set(RECOGNISERS)


@pytest.mark.parametrize(
    "iban",
    ["gb82 west 1234 5698 7654 32", "gb82west12345698765432", "Gb82 West 1234 5698 7654 32"],
)
def test_an_iban_in_lower_case_is_one_iban_marker(iban: str) -> None:
    assert redact(f"iban {iban} ok") == f"iban {marker('iban')} ok"


def test_lower_case_words_and_digits_are_not_ibans() -> None:
    # Lower case needs a country that issues IBANs: "zz" is none.
    for text in ("zz82 west 1234 5698 7654 32", "ab12 cd34 ef56 gh78"):
        assert redact(f"code {text} ok") == f"code {text} ok"


def test_an_iban_followed_by_capitals_is_cut_at_the_iban() -> None:
    text = "IBAN GB82 WEST 1234 5698 7654 32 THE END"
    assert redact(text) == f"IBAN {marker('iban')} THE END"


def test_a_word_after_an_iban_is_not_taken_in_by_a_chance_checksum() -> None:
    # NL IBANs have 18 characters; "NL909O1SEIA8LSEF90OK" (20) also happens to be 1 mod 97.
    assert redact("NL909O1SEIA8LSEF90 ok") == f"{marker('iban')} ok"


def test_values_with_invisible_characters_split_across_tokens_are_one_marker() -> None:
    from agentdock_plugins.policies.redaction_engine import StreamHold

    text = (
        "mail bob@exa\u200bmple.com key AKIA\u200bIOSFODNN7EXAMPLE card 4111\u200b 1111 "
        "11\u200b11 1111 host 10.1\u200b.2.3 SSN: 123\u200b456789 " + "filler text " * 30
    )
    expected = (
        f"mail {marker('email')} key {marker('api_key')} card {marker('credit_card')} "
        f"host {marker('ipv4')} SSN: {marker('us_ssn')} " + "filler text " * 30
    )
    assert redact(text) == expected
    for size in (1, 2, 5, 11):
        hold = StreamHold()
        tokens = [text[i : i + size] for i in range(0, len(text), size)]
        out = "".join(ALL.feed(hold, token)[0] for token in tokens) + ALL.finish(hold)[0]
        assert out == expected, size


def test_a_stream_holds_back_a_value_with_many_invisible_characters_but_not_them_alone() -> None:
    from agentdock_plugins.policies.redaction_engine import StreamHold

    # 300 zero-width spaces inside a card number: more than the hold-back window, still
    # held back whole (visible characters are what the window counts).
    card = "4111" + "\u200b" * 300 + " 1111 1111 1111"
    text = f"card {card} ok " + "filler text " * 30
    hold = StreamHold()
    tokens = [text[i : i + 3] for i in range(0, len(text), 3)]
    out = "".join(ALL.feed(hold, token)[0] for token in tokens) + ALL.finish(hold)[0]
    assert out == f"card {marker('credit_card')} ok " + "filler text " * 30
    # Invisible characters alone are released as they come, not held.
    hold = StreamHold()
    released = "".join(ALL.feed(hold, "\u200b" * 100)[0] for _ in range(20))
    assert len(released) == 2000 and hold.held == ""


def test_a_long_jwt_streamed_in_small_tokens_is_never_released_in_clear() -> None:
    from agentdock_plugins.policies.redaction_engine import StreamHold

    claims = "eyJ" + token(ALNUM + "-_", 900, 27)
    jwt = f"eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.{claims}.{token(ALNUM, 342, 28)}"
    text = f"Authorization: Bearer {jwt}\nnext line " + "filler " * 50
    expected = f"Authorization: Bearer {marker('api_key')}\nnext line " + "filler " * 50
    assert redact(text) == expected
    for size in (3, 16):
        hold = StreamHold()
        tokens = [text[i : i + size] for i in range(0, len(text), size)]
        out = "".join(ALL.feed(hold, token)[0] for token in tokens) + ALL.finish(hold)[0]
        assert out == expected, size


def test_a_jwt_longer_than_the_hold_with_invisible_characters_is_swallowed_whole() -> None:
    from agentdock_plugins.policies.redaction_engine import StreamHold

    claims = "eyJ" + "\u200b".join(token(ALNUM, 60, 100 + i) for i in range(90))
    jwt = f"eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.{claims}.{token(ALNUM, 342, 29)}"
    assert len(jwt) > 5000
    text = f"Bearer {jwt} done"
    for size in (5, 64):
        hold = StreamHold()
        tokens = [text[i : i + size] for i in range(0, len(text), size)]
        out = "".join(ALL.feed(hold, token)[0] for token in tokens) + ALL.finish(hold)[0]
        assert out == f"Bearer {marker('api_key')} done", size


def test_words_before_a_value_are_read_across_token_boundaries() -> None:
    from agentdock_plugins.policies.redaction_engine import StreamHold

    text = (
        "Your SSN: 123456789, aws_secret_access_key = " + AWS_SECRET + ", version 1.2.3.4 "
        "and host 10。1。2。3 " + "filler text " * 30
    )
    expected = (
        f"Your SSN: {marker('us_ssn')}, aws_secret_access_key = {marker('api_key')}, "
        f"version 1.2.3.4 and host {marker('ipv4')} " + "filler text " * 30
    )
    assert redact(text) == expected
    for size in (1, 3, 7):
        hold = StreamHold()
        tokens = [text[i : i + size] for i in range(0, len(text), size)]
        out = "".join(ALL.feed(hold, token)[0] for token in tokens) + ALL.finish(hold)[0]
        assert out == expected, size
