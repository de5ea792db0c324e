"""Known secret values are masked wherever they occur in what a runtime writes."""

from __future__ import annotations

import io
import sys

import pytest
from agentdock.masking import MASK, SECRET_NAMES_ENV, Masker, masker_from_env
from agentdock_runtime import logmask
from agentdock_runtime.logmask import MaskedStream
from hypothesis import given
from hypothesis import strategies as st

SECRET = "planted-secret-5d1f0a"


def test_every_occurrence_is_masked_not_just_whole_lines() -> None:
    mask = Masker([SECRET, "second-value-xyz"])
    text = f"a{SECRET}b {SECRET}second-value-xyz,{SECRET}"
    assert mask(text) == f"a{MASK}b {MASK}{MASK},{MASK}"


def test_a_value_inside_another_is_masked_whole_and_short_values_never() -> None:
    mask = Masker(["abcdefgh", "abcdefgh-longer", "short", ""])
    assert mask("x abcdefgh-longer y abcdefgh short") == f"x {MASK} y {MASK} short"
    assert not Masker(["", "1234567"]) and Masker(["", "1234567"])("1234567") == "1234567"


def test_a_multi_line_value_is_masked_line_by_line() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----"
    out = Masker([pem])(f"key: {pem}\n")
    assert "MIIEvQ" not in out and "PRIVATE" not in out


def test_values_come_from_the_names_only() -> None:
    environ = {SECRET_NAMES_ENV: "A_TOKEN, MISSING,,B_TOKEN", "A_TOKEN": SECRET, "B_TOKEN": "b" * 9}
    mask = masker_from_env(environ)
    assert mask(f"{SECRET} {'b' * 9} A_TOKEN") == f"{MASK} {MASK} A_TOKEN"
    assert not masker_from_env({"A_TOKEN": SECRET})  # not named: not a secret


@given(
    st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=8),
    st.lists(st.integers(0, 40), max_size=6),
)
def test_a_stream_masks_a_value_split_across_writes(pieces: list[str], cuts: list[int]) -> None:
    text = SECRET.join(pieces) + "\n" + SECRET + "\n"
    out = io.StringIO()
    stream = MaskedStream(out, Masker([SECRET]))  # type: ignore[arg-type]
    start = 0
    for cut in sorted(cuts):
        stream.write(text[start : start + cut])
        start += cut
    stream.write(text[start:])
    stream.flush()
    assert SECRET not in out.getvalue()
    assert out.getvalue() == Masker([SECRET])(text)


def test_a_stream_holds_a_partial_line_until_its_newline_or_a_flush() -> None:
    out = io.StringIO()
    stream = MaskedStream(out, Masker([SECRET]))  # type: ignore[arg-type]
    stream.write("no newline yet " + SECRET[:4])
    assert out.getvalue() == ""
    stream.write(SECRET[4:] + " done\nnext")
    assert out.getvalue() == f"no newline yet {MASK} done\n"
    stream.flush()
    assert out.getvalue().endswith("next")
    assert stream.encoding == out.encoding  # the rest is the wrapped stream's


def test_install_wraps_stdout_and_stderr_and_fatal_lines_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(logmask, "_active", Masker(()))
    logmask.install({SECRET_NAMES_ENV: "TOKEN", "TOKEN": SECRET})
    print(f"printed {SECRET}")
    print(f"[FATAL] cannot load x: ValueError: bad token {SECRET}", file=sys.stderr)
    assert logmask.mask(SECRET) == MASK
    logmask.install({})  # nothing to mask: the streams are the plain ones again
    assert sys.stdout is out and sys.stderr is err
    assert out.getvalue() == f"printed {MASK}\n"
    assert err.getvalue() == f"[FATAL] cannot load x: ValueError: bad token {MASK}\n"
