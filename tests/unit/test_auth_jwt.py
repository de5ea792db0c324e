"""JWT mode: pinned algorithms and every classic token attack.

alg none, HS256 signed with the RS public key, expired (498), future nbf, wrong aud, iss
and agent, tampered payload, truncated token, an 8 KB header, missing credentials (401 with
WWW-Authenticate), and api keys accepted beside tokens when enabled.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from agentdock.auth import mint_token
from agentdock.registry import open_store
from agentdock_plugins.auth import jwt_provider
from agentdock_plugins.auth.jwt import JwtOrKeyProvider, JwtProvider, JwtVerifier
from agentdock_runtime.errors import TokenExpired, Unauthorized
from auth_support import AGENT, add_key, auth_spec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "planted-jwt-secret-0123456789abcdef-XYZ"


def pem_public(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def hs() -> JwtProvider:
    return jwt_provider(auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}}))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "ann@example.com",
        "role": "developer",
        "agent": AGENT,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def refused(provider: Any, headers: dict[str, str]) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        result = provider.authenticate(headers)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"].startswith(("Bearer", "ApiKey"))
    assert SECRET not in info.value.detail
    return info.value


def test_valid_hs256_token(hs: JwtProvider) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    identity = hs.authenticate(bearer(token))
    assert identity == {
        "sub": "ann@example.com",
        "role": "developer",
        "agent": AGENT,
        "auth": "jwt",
    }
    # The token minted by `agentdock token issue` verifies too.
    minted = mint_token(key=SECRET, agent=AGENT, role="viewer", sub="bob", ttl_seconds=60)
    assert hs.authenticate(bearer(minted))["role"] == "viewer"


def test_missing_credentials_answer_401_with_a_challenge(hs: JwtProvider) -> None:
    error = refused(hs, {})
    assert error.headers["WWW-Authenticate"] == 'Bearer realm="agentdock"'
    assert "missing" in error.detail
    assert refused(hs, {"authorization": "Basic YTpi"}).detail.endswith("Bearer scheme")
    assert "empty" in refused(hs, {"authorization": "Bearer   "}).detail


def test_alg_none_is_refused(hs: JwtProvider) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode())
    for token in (
        header.rstrip(b"=").decode() + "." + body.rstrip(b"=").decode() + ".",
        jwt.encode(claims(), None, algorithm="none"),
    ):
        assert "algorithm" in refused(hs, bearer(token)).detail


def test_hs256_signed_with_the_rs_public_key_is_refused(rsa_key: Any) -> None:
    public = pem_public(rsa_key)
    provider = jwt_provider(
        auth_spec({"mode": "jwt", "jwt": {"algorithms": ["RS256"], "public_key": public}})
    )
    good = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert provider.authenticate(bearer(good))["sub"] == "ann@example.com"
    # Forge the confusion attack by hand (pyjwt refuses to sign HS256 with a PEM key).
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    signing_input = header + b"." + payload
    signature = hmac.new(public.encode(), signing_input, hashlib.sha256).digest()
    forged = (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()
    assert "algorithm" in refused(provider, bearer(forged)).detail


def test_es256_with_a_public_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    provider = jwt_provider(
        auth_spec({"mode": "jwt", "jwt": {"algorithms": ["ES256"], "public_key": pem_public(key)}})
    )
    assert provider.authenticate(bearer(jwt.encode(claims(), key, algorithm="ES256")))
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims(), other, algorithm="ES256")
    assert "signature" in refused(provider, bearer(forged)).detail


def test_expired_token_is_498(hs: JwtProvider) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256")
    with pytest.raises(TokenExpired) as info:
        hs.authenticate(bearer(token))
    assert info.value.status == 498
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_small_clock_skew_is_tolerated(hs: JwtProvider) -> None:
    now = int(time.time())
    token = jwt.encode(claims(exp=now - 5, nbf=now + 5, iat=now + 5), SECRET, algorithm="HS256")
    assert hs.authenticate(bearer(token))["role"] == "developer"


def test_future_nbf_and_iat_are_refused(hs: JwtProvider) -> None:
    later = int(time.time()) + 3600
    token = jwt.encode(claims(nbf=later), SECRET, algorithm="HS256")
    assert "not valid yet" in refused(hs, bearer(token)).detail
    token = jwt.encode(claims(iat=later), SECRET, algorithm="HS256")
    assert "not valid yet" in refused(hs, bearer(token)).detail


def test_exp_sub_role_and_agent_are_required(hs: JwtProvider) -> None:
    for missing, word in (("exp", "exp"), ("sub", "sub"), ("role", "role"), ("agent", "agent")):
        token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
        assert word in refused(hs, bearer(token)).detail


def test_token_for_another_agent_is_refused(hs: JwtProvider) -> None:
    token = jwt.encode(claims(agent="other_agent"), SECRET, algorithm="HS256")
    assert "another agent" in refused(hs, bearer(token)).detail


def test_audience_and_issuer_when_configured() -> None:
    provider = jwt_provider(
        auth_spec(
            {
                "mode": "jwt",
                "jwt": {"secret_key": SECRET, "issuer": "https://idp.example", "audience": "echo"},
            }
        )
    )
    good = claims(iss="https://idp.example", aud="echo")
    assert provider.authenticate(bearer(jwt.encode(good, SECRET, algorithm="HS256")))
    for bad, word in (
        (claims(iss="https://evil.example", aud="echo"), "issuer"),
        (claims(iss="https://idp.example", aud="other"), "audience"),
        (claims(aud="echo"), "iss"),
        (claims(iss="https://idp.example"), "aud"),
    ):
        assert word in refused(provider, bearer(jwt.encode(bad, SECRET, algorithm="HS256"))).detail


def test_wrong_secret_tampered_and_truncated_tokens(hs: JwtProvider) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    other = jwt.encode(claims(), SECRET + "x", algorithm="HS256")
    assert "signature" in refused(hs, bearer(other)).detail
    head, payload, signature = token.split(".")
    evil = claims(role="admin")
    tampered_payload = base64.urlsafe_b64encode(json.dumps(evil).encode()).rstrip(b"=").decode()
    assert "signature" in refused(hs, bearer(f"{head}.{tampered_payload}.{signature}")).detail
    for cut in (token[:-10], f"{head}.{payload}", head, token[: len(token) // 2], "a.b.c", "..."):
        refused(hs, bearer(cut))


def test_oversized_headers_are_refused_before_parsing(hs: JwtProvider) -> None:
    huge = "A" * 8192
    assert "too large" in refused(hs, bearer(huge)).detail
    padded = jwt.encode(claims(pad="x" * 8192), SECRET, algorithm="HS256")
    assert "too large" in refused(hs, bearer(padded)).detail


def test_verifier_refuses_mixed_or_unknown_algorithms() -> None:
    with pytest.raises(ValueError, match="mixed"):
        JwtVerifier(algorithms=["HS256", "RS256"])
    with pytest.raises(ValueError, match="unsupported"):
        JwtVerifier(algorithms=["none"])
    with pytest.raises(ValueError, match="at least one"):
        JwtVerifier(algorithms=[])


def test_factory_refuses_unusable_configurations(rsa_key: Any) -> None:
    with pytest.raises(ValueError, match="secret_key"):
        jwt_provider(auth_spec({"mode": "jwt", "jwt": {"secret_key": "${JWT_SECRET}"}}))
    with pytest.raises(ValueError, match="public_key"):
        jwt_provider(auth_spec({"mode": "jwt", "jwt": {"algorithms": ["RS256"]}}))
    with pytest.raises(ValueError, match="PEM"):
        jwt_provider(
            auth_spec({"mode": "jwt", "jwt": {"algorithms": ["RS256"], "public_key": "nope"}})
        )


def test_jwt_mode_with_api_keys_accepts_either(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    generated = add_key(store, role="viewer")
    spec = auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}, "api_keys": {"enabled": True}})
    provider = jwt_provider(spec, store=store)
    assert isinstance(provider, JwtOrKeyProvider)
    token = jwt.encode(claims(), SECRET, algorithm="HS256")

    async def main() -> None:
        assert (await provider.authenticate(bearer(token)))["role"] == "developer"
        by_key = await provider.authenticate({"x-api-key": generated.key})
        assert by_key["role"] == "viewer" and by_key["auth"] == "api_key"
        # The bearer token wins when both are sent.
        both = await provider.authenticate({**bearer(token), "x-api-key": generated.key})
        assert both["auth"] == "jwt"

    asyncio.run(main())
    error = refused(provider, {})
    assert error.headers["WWW-Authenticate"] == 'Bearer realm="agentdock", ApiKey realm="agentdock"'
    provider.close()
    store.close()


def test_verified_tokens_are_remembered_until_they_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = jwt_provider(auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}}))
    calls: list[str] = []
    real = provider.verifier.verify

    def counting(token: str, key: Any) -> Any:
        calls.append(token)
        return real(token, key)

    monkeypatch.setattr(provider.verifier, "verify", counting)
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    first = provider.authenticate(bearer(token))
    first["role"] = "admin"  # callers cannot poison the cache through the returned mapping
    assert provider.authenticate(bearer(token))["role"] == "developer"
    assert len(calls) == 1
    # Once past its exp (plus leeway) the cached entry is dropped and the token re-verified.
    identity, _ = provider._verified[token]
    provider._verified[token] = (identity, time.time() - 1)
    provider.authenticate(bearer(token))
    assert len(calls) == 2
    # Refused tokens are never remembered.
    bad = jwt.encode(claims(), SECRET + "x", algorithm="HS256")
    for _ in range(2):
        refused(provider, bearer(bad))
    assert bad not in provider._verified


def test_each_refusal_names_its_own_cause_and_no_secret() -> None:
    verifier = JwtVerifier(algorithms=["HS256"], audience="agent-a", issuer="issuer-a")
    key = SECRET.encode()
    good = claims(aud="agent-a", iss="issuer-a")
    cases = {
        "the token is not valid yet (nbf or iat in the future)": jwt.encode(
            {**good, "nbf": int(time.time()) + 3600}, key, algorithm="HS256"
        ),
        "the token's audience is not this agent": jwt.encode(
            {**good, "aud": "agent-b"}, key, algorithm="HS256"
        ),
        "the token's issuer is not trusted": jwt.encode(
            {**good, "iss": "issuer-b"}, key, algorithm="HS256"
        ),
        "the token has no sub claim": jwt.encode(
            {k: v for k, v in good.items() if k != "sub"}, key, algorithm="HS256"
        ),
        "the token's algorithm is not allowed": jwt.encode(good, key * 2, algorithm="HS512"),
        "the token's signature does not verify": jwt.encode(
            good, b"another-secret-0123456789abcdef-XYZ", algorithm="HS256"
        ),
        "the token is malformed": "not.a.token",
    }
    for cause, token in cases.items():
        with pytest.raises(Unauthorized) as info:
            verifier.verify(token, key)
        assert info.value.detail == cause
        assert SECRET not in str(info.value)
