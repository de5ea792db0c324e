"""Redaction of the input and the output: patterns, PII recognisers, overlaps, streams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agentdock_plugins.policies import FACTORIES
from agentdock_plugins.policies.recognisers import RECOGNISERS, iban_ok, luhn_ok
from agentdock_plugins.policies.redaction import (
    InputRedaction,
    OutputRedaction,
    input_redaction,
    output_redaction,
)
from agentdock_plugins.policies.redaction_engine import MARKER, Redactor, StreamHold
from agentdock_runtime.errors import PolicyViolationError
from policy_support import recording_context, spec_with

SECRET = "sk-proj-Zq81fLx0VbT3pQa9Wc2Nd7Ye"


def redact(patterns: list[str], text: str, pii: tuple[str, ...] = ()) -> str:
    return Redactor(patterns, pii).redact(text)[0]


# -- the engine ----------------------------------------------------------------------------------


def test_overlapping_patterns_redact_the_longest_match_at_a_position() -> None:
    # Leftmost-first alternation would stop at "pass" and leave "word" readable.
    assert redact(["pass", "password"], "my password is x") == f"my {MARKER} is x"
    assert redact(["password", "pass"], "my password is x") == f"my {MARKER} is x"


def test_overlapping_matches_of_different_patterns_are_merged() -> None:
    # "word123" starts inside "password" and runs past it: nothing of either survives.
    assert redact(["password", "word123"], "a password123 b") == f"a {MARKER} b"
    assert redact(["ab", "bcd", "cdef"], "xabcdefx") == f"x{MARKER}x"


def test_adjacent_matches_keep_one_marker_each() -> None:
    assert redact(["ab", "cd"], "abcd") == f"{MARKER}{MARKER}"


def test_clean_text_is_returned_as_the_same_object() -> None:
    text = "nothing to see here"
    redactor = Redactor(["secret"], ["email"])
    assert redactor.redact(text)[0] is text
    value = {"a": [text, {"b": text}], "n": 3}
    assert redactor.redact_value(value)[0] is value


def test_unicode_text_and_patterns() -> None:
    assert redact(["Straße", "日本"], "Die Straße in 日本 ☃") == f"Die {MARKER} in {MARKER} ☃"
    assert redact([r"(?i)geheim\w*"], "Das GEHEIMNIS, naïve café") == f"Das {MARKER}, naïve café"
    assert redact(["🔑+"], "key 🔑🔑 done") == f"key {MARKER} done"


def test_leading_inline_flags_stay_local_to_their_pattern() -> None:
    redactor = Redactor([r"(?i)password", "token"])
    assert redactor.redact("PASSWORD Token token")[0] == f"{MARKER} Token {MARKER}"


def test_patterns_with_back_references_still_work() -> None:
    # A numbered back-reference cannot share the alternation: it is searched on its own.
    redactor = Redactor([r"(\w)\1{3}", "beta"])
    assert redactor.redact("zzzz alpha beta aaab")[0] == f"{MARKER} alpha {MARKER} aaab"


def test_markers_name_the_recogniser_and_kinds_are_reported() -> None:
    text, count, kinds = Redactor(["internal"], ["email"]).redact("internal mail a@b.io")
    assert text == f"{MARKER} mail [REDACTED:EMAIL]"
    assert count == 2
    assert kinds == {"redact_patterns[0]", "email"}


def test_unknown_recogniser_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown PII recogniser 'passport'"):
        Redactor([], ["passport"])


# -- PII recognisers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "positive", "negative"),
    [
        ("credit_card", "card 4111 1111 1111 1111 ok", "order 4111 1111 1111 1112 ok"),
        ("credit_card", "card 5500-0000-0000-0004.", "id 1234567812345678"),
        ("us_ssn", "ssn 123-45-6789", "ssn 000-45-6789 or 666-12-3456 or 123-00-6789"),
        ("email", "mail jane.doe+x@mail.example.org now", "not an email: a@b or @handle"),
        ("phone", "call +1 415-555-0132 today", "call 555-0132 or 0000000000"),
        ("iban", "iban GB82 WEST 1234 5698 7654 32", "iban GB82 WEST 1234 5698 7654 33"),
        ("iban", "DE89370400440532013000", "DE89370400440532013001"),
        ("ipv4", "host 192.168.10.255 up", "version 1.2.3.400 or 256.1.1.1 or 1.2.3"),
        ("api_key", f"key {SECRET}", "key sk-aaaaaaaaaaaaaaaaaaaaaaaa"),
        ("api_key", "aws AKIAIOSFODNN7EXAMPLE", "word AKIA or akiaiosfodnn7example"),
        ("api_key", "gh ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_short"),
        ("api_key", "slack xoxb-2934-8273-Ab91dkQz", "xoxb-aaaaaaaaaaaa"),
    ],
)
def test_recognisers_confirm_candidates(name: str, positive: str, negative: str) -> None:
    redactor = Redactor([], [name])
    marker = RECOGNISERS[name].marker
    assert marker in redactor.redact(positive)[0]
    assert redactor.redact(negative)[0] == negative


def test_checksums() -> None:
    assert luhn_ok("4012888888881881") and not luhn_ok("4012888888881882")
    assert not luhn_ok("0000000000000000")  # one repeated digit
    assert iban_ok("FR14 2004 1010 0505 0001 3M02 606") and not iban_ok("FR14 2004")


def test_ipv4_at_the_end_of_a_sentence() -> None:
    assert redact([], "served from 10.0.0.1.", ("ipv4",)) == "served from [REDACTED:IPV4]."


# -- streams -------------------------------------------------------------------------------------


def stream(redactor: Redactor, tokens: list[str]) -> str:
    hold = StreamHold()
    out = [redactor.feed(hold, token)[0] for token in tokens]
    out.append(redactor.finish(hold)[0])
    return "".join(out)


def test_a_secret_split_across_tokens_is_redacted() -> None:
    redactor = Redactor([], ["api_key"])
    tokens = ["Your key is s", "k-proj-Zq81", "fLx0VbT3", "pQa9Wc2Nd7Ye", " keep it safe."]
    assert stream(redactor, tokens) == "Your key is [REDACTED:API_KEY] keep it safe."


def test_stream_releases_text_before_the_hold_back_window() -> None:
    redactor = Redactor([r"\d{3}-\d{2}-\d{4}"])
    hold = StreamHold()
    released = redactor.feed(hold, "a" * 40)[0]
    # Only the last width + 1 characters are held.
    assert released == "a" * (40 - redactor.width - 1)
    assert redactor.finish(hold)[0] == "a" * (redactor.width + 1)


def test_stream_character_by_character_equals_whole_text() -> None:
    redactor = Redactor(["password", "word123", r"\b\d{3}-\d{2}-\d{4}\b"], ["email", "ipv4"])
    text = "my password123 is 123-45-6789, mail a.b@example.com from 10.0.0.1 thanks " * 3
    assert stream(redactor, list(text)) == redactor.redact(text)[0]


def test_a_very_long_match_is_released_in_parts_past_max_hold() -> None:
    redactor = Redactor([r"x+"], window=8, max_hold=32)
    hold = StreamHold()
    out = "".join(redactor.feed(hold, "x" * 10)[0] for _ in range(10))
    out += redactor.finish(hold)[0]
    assert "x" not in out and out.startswith(MARKER)


@pytest.mark.parametrize("size", [7, 1, 33])
def test_a_match_longer_than_the_hold_fails_closed(size: int) -> None:
    """The rest of an over-long match never leaks, and the text after it still streams."""
    redactor = Redactor([r"password=\S+"], window=16, max_hold=64)
    text = "x password=" + "Q" * 5000 + " y and then some text after the secret"
    tokens = [text[i : i + size] for i in range(0, len(text), size)]
    out = stream(redactor, tokens)
    assert "Q" not in out
    assert out == f"x {MARKER} y and then some text after the secret"


@pytest.mark.parametrize("size", [5, 64, 1000])
def test_a_match_that_completes_late_is_caught_whole_in_a_stream(size: int) -> None:
    pem = r"-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----"
    redactor = Redactor([pem])
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 40  # 1,280 characters of key
    text = f"hello -----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY----- bye"
    tokens = [text[i : i + size] for i in range(0, len(text), size)]
    assert stream(redactor, tokens) == f"hello {MARKER} bye" == redactor.redact(text)[0]


def test_a_rule_that_grows_from_its_start_keeps_the_short_hold() -> None:
    assert Redactor([r"password=\S+"]).width == 256
    assert Redactor([r"-----BEGIN[\s\S]*?-----END"]).width == 4095


# -- the policies --------------------------------------------------------------------------------


def test_factories_return_none_when_nothing_is_configured() -> None:
    spec = spec_with({})
    assert input_redaction(spec) is None and output_redaction(spec) is None


def test_input_redaction_rewrites_nested_strings_and_keys() -> None:
    policy = input_redaction(spec_with({"redact_patterns": ["secret"], "pii": ["us_ssn"]}))
    assert isinstance(policy, InputRedaction) and policy.stage == "pre"
    context, events = recording_context()
    value = {"secret": "a secret", "items": [{"ssn": "123-45-6789"}, 7, None], "t": ("secret",)}
    out = policy.check(value, context)
    assert out == {
        MARKER: f"a {MARKER}",  # a key is sent to the client too: redacted like any text
        "items": [{"ssn": "[REDACTED:US_SSN]"}, 7, None],
        "t": (MARKER,),
    }
    assert value["secret"] == "a secret"  # the caller's object is not modified
    [(kind, data)] = events
    assert kind == "policy_event"
    assert data["stage"] == "pre" and data["action"] == "redact" and data["matches"] == 4
    assert data["policy"] == "safety.redact_patterns"
    assert data["kinds"] == ["redact_patterns[0]", "us_ssn"]
    assert data["duration_ms"] >= 0


def test_halt_on_violation_refuses_naming_policy_and_field_not_the_text() -> None:
    spec = spec_with({"pii": ["api_key"], "halt_on_violation": True})
    policy = input_redaction(spec)
    assert policy is not None
    context, events = recording_context()
    with pytest.raises(PolicyViolationError) as raised:
        policy.check({"messages": [{"content": f"use {SECRET}"}]}, context)
    err = raised.value
    assert err.status == 403
    assert "safety.pii" in err.detail and "messages[0].content" in err.detail
    assert SECRET not in json.dumps(err.envelope())
    assert events[0][1]["action"] == "block" and events[0][1]["kinds"] == ["api_key"]
    assert SECRET not in json.dumps(events)


def test_events_never_hold_the_matched_text() -> None:
    policy = output_redaction(spec_with({"redact_patterns": ["hunter2"], "pii": ["email"]}))
    assert policy is not None
    context, events = recording_context()
    policy.check_output({"text": "pw hunter2 mail x@y.org"}, context)
    dumped = json.dumps(events)
    assert "hunter2" not in dumped and "x@y.org" not in dumped


def test_output_redaction_of_a_stream_through_check_and_finish() -> None:
    policy = output_redaction(spec_with({"pii": ["credit_card"]}))
    assert isinstance(policy, OutputRedaction)
    context, events = recording_context(mode="stream")
    parts = ["card 4111 11", "11 1111 1", "111 thanks"]
    out = [policy.check({"text": p}, context)["text"] for p in parts]
    tail = policy.finish(context)
    assert tail is not None
    assert "".join(out) + tail["text"] == "card [REDACTED:CREDIT_CARD] thanks"
    assert policy.finish(context) is None  # the hold is released once
    assert sum(e[1]["matches"] for e in events) == 1


def test_stream_halt_stops_before_the_secret_is_sent() -> None:
    policy = output_redaction(spec_with({"pii": ["api_key"], "halt_on_violation": True}))
    assert policy is not None
    context, _ = recording_context()
    sent: list[str] = []
    with pytest.raises(PolicyViolationError):
        for token in ["here: ", SECRET[:10], SECRET[10:], " and more text " * 30]:
            sent.append(policy.check_token({"text": token}, context)["text"])
    assert not any(part and part in "".join(sent) for part in (SECRET[:10], SECRET[10:]))


def test_invoke_output_is_redacted_whole() -> None:
    policy = output_redaction(spec_with({"redact_patterns": ["zebra"]}))
    assert policy is not None
    context, _ = recording_context()
    assert policy.check({"text": "a zebra"}, context) == {"text": f"a {MARKER}"}
    assert context.state == {}


def test_policies_are_registered_in_run_order() -> None:
    names = [name for name, _, _ in FACTORIES]
    assert names.index("redact_input") < names.index("prompt_injection")
    assert names.index("redact_output") < names.index("compliance_keywords")
    assert names.index("compliance_keywords") < names.index("max_output_chars")


def test_every_built_in_policy_module_builds_its_policy() -> None:
    """Each ``module:factory`` of FACTORIES imports, and the factory builds its policy when
    the Dockfile turns it on and nothing when it is off."""
    from agentdock_plugins.policies import factories

    on = spec_with(
        {
            "redact_patterns": ["x"],
            "compliance_keywords": ["secret"],
            "max_output_chars": 10,
            "injection": {"tool_output": ["search"]},
        },
        {"allowed": ["search"]},
    )
    off = spec_with({"block_prompt_injection": False}, {"deny_by_default": False})
    built = {name: factory(on) for name, factory in factories()}
    assert set(built) == {name for name, _, _ in FACTORIES}
    assert [name for name, policy in built.items() if policy is None] == []
    assert {name: factory(off) for name, factory in factories()} == dict.fromkeys(built)


def test_registered_through_the_plugin_manager() -> None:
    import agentdock_plugins.policies as plugin
    from agentdock.plugins import make_plugin_manager

    manager = make_plugin_manager(plugins=[("policies", plugin)])
    registered: dict[str, Any] = manager.registrations("policies")
    assert set(registered) == {name for name, _, _ in FACTORIES}


# -- validation of the patterns ------------------------------------------------------------------


def test_bad_redact_patterns_are_caught_by_validate() -> None:
    from agentdock import validate
    from agentdock.findings import Code
    from policy_support import BASE_DOCKFILE

    document = {
        **BASE_DOCKFILE,
        "policies": {"safety": {"redact_patterns": [r"(\w+\s?)+$", "(", "x*", "ok"]}},
    }
    report = validate(document, skip_imports=True)
    errors = {(f.code, ".".join(map(str, f.path))) for f in report.errors}
    warnings = {(f.code, ".".join(map(str, f.path))) for f in report.warnings}
    assert (Code.PolicyValidationError, "policies.safety.redact_patterns.1") in errors
    assert (Code.PolicyValidationError, "policies.safety.redact_patterns.2") in errors
    assert (Code.CatastrophicRegexWarning, "policies.safety.redact_patterns.0") in warnings
    strict = validate(document, strict=True, skip_imports=True)
    assert not strict.ok  # --strict rejects the backtracking pattern too
    assert {f.code for f in strict.errors} >= {Code.CatastrophicRegexWarning}


def test_1_0_dockfiles_do_not_know_the_1_1_safety_keys() -> None:
    from agentdock import validate
    from policy_support import BASE_DOCKFILE

    document = {
        **BASE_DOCKFILE,
        "version": "1.0",
        "policies": {"safety": {"pii": ["email"]}},
    }
    report = validate(document, skip_imports=True)
    assert not report.ok
    assert any(f.path[:3] == ("policies", "safety", "pii") for f in report.errors)


def test_schema_model_and_engine_name_the_same_recognisers() -> None:
    from typing import get_args

    from agentdock.spec.models import PiiName
    from agentdock.spec.schema import load_schema

    safety = load_schema("1.1")["properties"]["policies"]["properties"]["safety"]
    assert safety["properties"]["pii"]["items"]["enum"] == list(RECOGNISERS)
    assert list(get_args(PiiName)) == list(RECOGNISERS)


def test_pydantic_model_values_are_walked_and_copied() -> None:
    from pydantic import BaseModel

    class Item(BaseModel):
        note: str
        count: int = 0

    class Request(BaseModel, frozen=True):
        text: str
        items: list[Item]

    policy = input_redaction(spec_with({"redact_patterns": ["hunter2"]}))
    assert policy is not None
    context, _ = recording_context()
    value = Request(text="pw hunter2", items=[Item(note="ok"), Item(note="hunter2!", count=2)])
    out = policy.check(value, context)
    assert isinstance(out, Request)
    assert out.text == f"pw {MARKER}" and out.items[1].note == f"{MARKER}!"
    assert out.items[1].count == 2 and out.items[0] is value.items[0]
    assert value.text == "pw hunter2"
    clean = Request(text="fine", items=[])
    assert policy.check(clean, context) is clean

    halting = input_redaction(
        spec_with({"redact_patterns": ["hunter2"], "halt_on_violation": True})
    )
    assert halting is not None
    with pytest.raises(PolicyViolationError) as raised:
        halting.check(value.model_copy(update={"text": "fine"}), context)
    assert raised.value.path == "items[1].note"


def test_everything_the_encoder_sends_is_redacted() -> None:
    """Keys, sets, bytes, long numbers, dataclasses and pydantic extras, not only strings."""
    import dataclasses

    from pydantic import BaseModel, ConfigDict

    @dataclasses.dataclass(frozen=True)
    class Update:
        note: str

    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: str

    redactor = Redactor(["hunter2"], ["credit_card"])
    value = {
        "hunter2": 1,
        "tags": {"hunter2", "ok"},
        "raw": b"pw hunter2",
        "card": 4111111111111111,
        "count": 7,
        "update": Update("hunter2"),
        "model": Loose(a="x", extra="hunter2"),
    }
    out, count, _ = redactor.redact_value(value)
    assert MARKER in out and out[MARKER] == 1
    assert out["tags"] == {MARKER, "ok"}
    assert out["raw"] == f"pw {MARKER}".encode()
    assert out["card"] == "[REDACTED:CREDIT_CARD]"
    assert out["count"] == 7
    assert out["update"] == Update(MARKER)
    assert out["model"].extra == MARKER and out["model"].a == "x"
    assert count == 6
    assert "hunter2" not in repr(out)
