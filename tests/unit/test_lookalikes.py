"""Folding look-alikes to ASCII for the recognisers: one character for one, offsets kept."""

from __future__ import annotations

import unicodedata

from agentdock_plugins.policies.invisible import compact, visible_start
from agentdock_plugins.policies.lookalikes import fold, fold_checked, fold_table


def test_look_alikes_fold_to_ascii_one_for_one() -> None:
    cases = {
        "４１１１\u00a0１１１１": "4111 1111",
        "bob＠example．com": "bob@example.com",
        "bob﹫example.com": "bob@example.com",
        "10。1｡2︒3": "10.1.2.3",
        "123\u201345\u20146789\u2212": "123-45-6789-",
        "𝟒𝟏𝟏𝟏 ٤١١١ ४१११ ①": "4111 4111 4111 1",
        "\u2009\u202f\u3000": "   ",
        "ｂｏｂ": "bob",
    }
    for text, folded in cases.items():
        assert fold(text) == folded
        assert len(fold(text)) == len(text)


def test_what_does_not_fold_is_left_in_place() -> None:
    # Several-character NFKC forms, invisible characters, letters of other scripts, emoji.
    text = "⑴ ﬁ ½ a\u200bb ä 例 😀 ’"
    assert fold(text) == text


def test_ascii_text_is_returned_as_the_same_object() -> None:
    text = "plain ASCII text 4111 1111"
    assert fold(text) is text


def test_a_text_with_many_look_alikes_folds_them_all() -> None:
    text = "。".join("１２３" for _ in range(500)) + "😀" * 50 + "＠"
    folded = fold(text)
    assert folded == ".".join("123" for _ in range(500)) + "😀" * 50 + "@"


def test_a_text_with_many_distinct_look_alikes_folds_them_all() -> None:
    # More distinct characters than are replaced one by one: the rest in one pass.
    full_width = "".join(chr(0xFF41 + i) for i in range(26))  # ａ to ｚ
    text = f"{full_width} 😀 ⑴ {full_width.upper()} 。"
    assert fold(text) == "abcdefghijklmnopqrstuvwxyz 😀 ⑴ ABCDEFGHIJKLMNOPQRSTUVWXYZ ."


def test_the_table_holds_every_character_whose_nfkc_form_is_one_ascii_character() -> None:
    """The table is built from a list of Unicode blocks (fast at start-up): this checks the
    list against the whole code space of the running Python."""
    table = fold_table()
    for code in range(0x80, 0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        char = chr(code)
        nfkc = unicodedata.normalize("NFKC", char)
        if len(nfkc) == 1 and nfkc < "\x80":
            assert table.get(char) == nfkc, hex(code)
        elif unicodedata.decimal(char, None) is not None:
            assert table.get(char) == str(unicodedata.decimal(char)), hex(code)


def test_fold_checked_says_whether_the_text_holds_invisible_characters() -> None:
    assert fold_checked("plain 4111") == ("plain 4111", False)
    assert fold_checked("４１１１ 例") == ("4111 例", False)
    assert fold_checked("４１\u200b１１") == ("41\u200b11", True)
    assert fold_checked("a\U000e0041b") == ("a\U000e0041b", True)  # a tag character
    assert fold_checked("😀 a") == ("😀 a", False)
    # Past sixteen distinct look-alikes the rest is folded in one pass; still told.
    many = "".join(chr(0xFF41 + i) for i in range(20)) + "\u2060"
    assert fold_checked(many) == ("abcdefghijklmnopqrst\u2060", True)


def test_compact_maps_each_character_kept_to_where_it_came_from() -> None:
    text = "bob@exa\u200bmple.\u200c\u200dcom\ufeff"
    visible, where = compact(text)
    assert visible == "bob@example.com"
    assert [text[i] for i in where] == list(visible)
    # The span of the whole address covers the invisible characters inside it.
    assert text[where[0] : where[-1] + 1] == text[:-1]


def test_the_visible_tail_of_a_stream_counts_no_invisible_characters() -> None:
    text = "x" * 10 + "4\u200b1\u200b1\u200b1" + "\u200b" * 5
    # The last four visible characters start at the 4, invisible ones aside.
    assert visible_start(text, len(text), 4, 0) == 10
    # A run of invisible characters alone is not held at all.
    assert visible_start("ab" + "\u200b" * 50, 52, 10, 0) == 0
    assert visible_start("\u200b" * 50, 50, 10, 0) == 50
    # Never further back than the floor.
    assert visible_start("a" + "\u200b" * 100 + "bc", 103, 3, 60) == 101
