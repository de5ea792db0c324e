"""Mode oauth2 against a JWKS server started by the test: issuer and audience checks, the
key-set cache, refresh on an unknown kid (rate-limited), and the algorithm attacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from agentdock_plugins.auth import oauth2_provider
from agentdock_plugins.auth.oauth2 import OAuth2Provider
from agentdock_runtime.errors import TokenExpired, Unauthorized
from auth_support import AGENT, auth_spec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://idp.example.test/"
AUDIENCE = "echo-api"


class Issuer:
    """The keys an identity provider publishes; tests rotate them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.requests = 0
        self.add("k1")

    def add(self, kid: str) -> Any:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            jwk.update(kid=kid, alg="RS256", use="sig")
            out.append(jwk)
        return {"keys": out}

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "role": "developer",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def make_spec(jwks_url: str, **oauth2: Any) -> Any:
    block = {"issuer": ISSUER, "jwks_url": jwks_url, "audience": AUDIENCE, **oauth2}
    return auth_spec({"mode": "oauth2", "oauth2": block})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def run(provider: OAuth2Provider, headers: dict[str, str]) -> Any:
    return asyncio.run(provider.authenticate(headers))


def refused(provider: OAuth2Provider, headers: dict[str, str]) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        run(provider, headers)
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")
    return info.value


def test_valid_token_and_cached_key_set(issuer: tuple[Issuer, str]) -> None:
    state, url = issuer
    provider = oauth2_provider(make_spec(url))
    for _ in range(5):
        identity = run(provider, bearer(state.token()))
    assert identity == {"sub": "user-42", "role": "developer", "agent": AGENT, "auth": "oauth2"}
    assert state.requests == 1
    assert provider.jwks.fetches == 1


def test_missing_token(issuer: tuple[Issuer, str]) -> None:
    _, url = issuer
    provider = oauth2_provider(make_spec(url))
    assert refused(provider, {}).headers["WWW-Authenticate"] == 'Bearer realm="agentdock"'


def test_issuer_audience_expiry_and_agent(issuer: tuple[Issuer, str]) -> None:
    state, url = issuer
    provider = oauth2_provider(make_spec(url))
    assert "issuer" in refused(provider, bearer(state.token(iss="https://evil.test/"))).detail
    assert "audience" in refused(provider, bearer(state.token(aud="another-api"))).detail
    assert "exp" in refused(provider, bearer(state.token(exp=None))).detail
    assert "another agent" in refused(provider, bearer(state.token(agent="other_agent"))).detail
    assert "role" in refused(provider, bearer(state.token(role=None))).detail
    with pytest.raises(TokenExpired):
        run(provider, bearer(state.token(exp=int(time.time()) - 600)))
    # An agent claim naming this agent is fine; none at all is fine for an external issuer.
    assert run(provider, bearer(state.token(agent=AGENT)))["sub"] == "user-42"


def test_unknown_kid_refreshes_once_then_is_rate_limited(issuer: tuple[Issuer, str]) -> None:
    state, url = issuer
    provider = OAuth2Provider(make_spec(url), min_refresh_interval=3600)
    run(provider, bearer(state.token()))
    assert state.requests == 1
    state.add("k2")  # the issuer rotates its signing key
    assert run(provider, bearer(state.token("k2")))["sub"] == "user-42"
    assert state.requests == 2
    # Made-up key ids do not make the runtime fetch again and again.
    forged_kid = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "x",
            "role": "developer",
            "exp": int(time.time()) + 60,
        },
        state.keys["k1"],
        algorithm="RS256",
        headers={"kid": "made-up"},
    )
    for _ in range(10):
        assert "unknown key" in refused(provider, bearer(forged_kid)).detail
    assert state.requests == 2


def test_foreign_signing_key_is_refused(issuer: tuple[Issuer, str]) -> None:
    _, url = issuer
    provider = oauth2_provider(make_spec(url))
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "role": "admin", "exp": now + 60},
        attacker,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert "signature" in refused(provider, bearer(token)).detail


def test_alg_none_and_hs256_with_the_published_key(issuer: tuple[Issuer, str]) -> None:
    state, url = issuer
    provider = oauth2_provider(make_spec(url))
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "role": "admin",
        "exp": int(time.time()) + 60,
    }
    none = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    assert "algorithm" in refused(provider, bearer(none)).detail
    public_jwk = json.dumps(state.jwks()["keys"][0]).encode()
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signature = hmac.new(public_jwk, header + b"." + payload, hashlib.sha256).digest()
    forged = b".".join([header, payload, base64.urlsafe_b64encode(signature).rstrip(b"=")])
    assert "algorithm" in refused(provider, bearer(forged.decode())).detail
    assert state.requests == 0  # refused before any key was needed


def test_issuer_down_at_first_use_is_401_not_a_crash() -> None:
    spec = make_spec("http://127.0.0.1:9/jwks.json")
    provider = oauth2_provider(spec)
    issuer = Issuer()
    assert "unavailable" in refused(provider, bearer(issuer.token())).detail
