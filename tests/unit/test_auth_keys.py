"""API key primitives: format, entropy, digests with and without a pepper, constant-time
comparison, durations, default roles and token minting."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import jwt
import pytest
from agentdock.auth import (
    DEFAULT_ROLES,
    HMAC_SHA256,
    KEY_PREFIX,
    PEPPER_ENV,
    RESERVED_PERMISSIONS,
    SHA256,
    DurationError,
    MalformedKey,
    TokenError,
    digest_key,
    generate_key,
    key_id_of,
    mint_token,
    parse_duration,
    roles_from_spec,
    verify_key,
)
from agentdock.auth import keys as keys_module
from auth_support import auth_spec

SECRET = "s" * 40


@pytest.fixture(autouse=True)
def _no_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PEPPER_ENV, raising=False)


def test_key_format_and_randomness() -> None:
    keys = [generate_key() for _ in range(200)]
    for generated in keys:
        assert generated.key.startswith(KEY_PREFIX)
        assert re.fullmatch(r"adk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", generated.key)
        assert key_id_of(generated.key) == generated.key_id
        # 43 base64url characters carry 258 bits; the secret part alone is at least 256 bits.
        assert len(generated.key[len("adk_0123456789ab_") :]) * 6 >= 256
    assert len({g.key for g in keys}) == len(keys)
    assert len({g.key_id for g in keys}) == len(keys)


def test_generated_key_repr_hides_the_key() -> None:
    generated = generate_key()
    assert generated.key not in repr(generated)
    assert generated.digest not in repr(generated)


def test_sha256_digest_without_pepper() -> None:
    generated = generate_key()
    assert generated.algorithm == SHA256
    assert generated.digest == hashlib.sha256(generated.key.encode()).hexdigest()
    assert verify_key(generated.key, generated.digest, SHA256)


def test_hmac_digest_with_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PEPPER_ENV, "pepper-" + "p" * 32)
    generated = generate_key()
    assert generated.algorithm == HMAC_SHA256
    expected = hmac.new(b"pepper-" + b"p" * 32, generated.key.encode(), hashlib.sha256).hexdigest()
    assert generated.digest == expected
    assert verify_key(generated.key, generated.digest, HMAC_SHA256)
    # Another pepper, or none at all, does not verify the same digest.
    assert not verify_key(generated.key, generated.digest, HMAC_SHA256, pepper="other")
    monkeypatch.delenv(PEPPER_ENV)
    assert not verify_key(generated.key, generated.digest, HMAC_SHA256)
    with pytest.raises(ValueError, match=PEPPER_ENV):
        digest_key(generated.key, HMAC_SHA256)


def test_sha256_rows_keep_working_after_a_pepper_is_introduced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = generate_key()
    monkeypatch.setenv(PEPPER_ENV, "x" * 32)
    assert verify_key(old.key, old.digest, old.algorithm)


def test_wrong_key_does_not_verify() -> None:
    generated = generate_key()
    other = generate_key()
    assert not verify_key(other.key, generated.digest, SHA256)
    assert not verify_key(generated.key, generated.digest, "md5")


def test_verification_uses_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    generated = generate_key()
    assert verify_key(generated.key, generated.digest, SHA256)
    assert not verify_key(generate_key().key, generated.digest, SHA256)
    assert len(calls) == 2
    assert calls[0][1] == generated.digest.encode()
    # The module compares through the hmac module, not a copy of the function.
    assert keys_module.hmac is hmac


@pytest.mark.parametrize(
    "text",
    [
        "",
        "adk_",
        "adk_0123456789ab",
        "adk_0123456789ab_short",
        "ADK_0123456789ab_" + "a" * 43,
        "adk_0123456789AB_" + "a" * 43,
        "adk_0123456789ab_" + "a" * 42 + "=",
        "sk-" + "a" * 50,
        "adk_0123456789ab_" + "a" * 500,
    ],
)
def test_malformed_keys(text: str) -> None:
    with pytest.raises(MalformedKey) as info:
        key_id_of(text)
    if len(text) > 20:
        assert text not in str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2592000), ("1h", 3600), ("90s", 90), ("15m", 900), ("2w", 1209600), (" 7 d ", 604800)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "-1h", "1y", "h", "1.5h", "10"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def test_default_roles_follow_the_prd() -> None:
    assert DEFAULT_ROLES["developer"] == {"invoke", "view_metrics", "read_logs"}
    assert DEFAULT_ROLES["viewer"] == {"view_metrics", "read_docs"}
    assert DEFAULT_ROLES["admin"] == RESERVED_PERMISSIONS
    assert "invoke" not in DEFAULT_ROLES["viewer"]


def test_roles_from_spec() -> None:
    declared = auth_spec(
        {
            "mode": "api_key",
            "api_keys": {"enabled": True},
            "roles": [{"name": "caller", "permissions": ["invoke"]}],
        }
    )
    assert roles_from_spec(declared.auth) == {"caller": frozenset({"invoke"})}
    defaults = auth_spec({"mode": "api_key", "api_keys": {"enabled": True}})
    assert roles_from_spec(defaults.auth) == dict(DEFAULT_ROLES)


def test_mint_token_claims() -> None:
    token = mint_token(
        key=SECRET, agent="a1b", role="developer", sub="ann", ttl_seconds=60, now=1000
    )
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
    )
    assert claims["sub"] == "ann"
    assert claims["role"] == "developer"
    assert claims["agent"] == "a1b"
    assert claims["iat"] == claims["nbf"] == 1000
    assert claims["exp"] == 1060
    assert "iss" not in claims and "aud" not in claims


def test_mint_token_refuses_short_secrets_and_bad_lifetimes() -> None:
    with pytest.raises(TokenError, match="at least 32 bytes") as info:
        mint_token(key="short-secret", agent="a1b", role="r", sub="s", ttl_seconds=60)
    assert "short-secret" not in str(info.value)
    with pytest.raises(TokenError, match="positive"):
        mint_token(key=SECRET, agent="a1b", role="r", sub="s", ttl_seconds=0)
    with pytest.raises(TokenError, match="RS256"):
        mint_token(
            key="not a pem", agent="a1b", role="r", sub="s", ttl_seconds=5, algorithm="RS256"
        )
