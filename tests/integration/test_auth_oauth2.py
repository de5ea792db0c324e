"""Mode oauth2 against a JWKS server started by the test: issuer and audience checks, the
key-set cache, refresh on an unknown kid (rate-limited), the algorithm attacks, and an
issuer that is slow, silent, huge or broken (bounded fetch, 503, /ready, metrics)."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import logging
import math
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import agentdock_plugins.prometheus
import jwt
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock_plugins.auth import oauth2_provider
from agentdock_plugins.auth.oauth2 import OAuth2Provider
from agentdock_runtime.errors import ServiceUnavailable, TokenExpired, Unauthorized
from auth_support import AGENT, auth_spec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from litestar.testing import TestClient

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml"
ISSUER = "https://idp.example.test/"
AUDIENCE = "echo-api"


class Issuer:
    """The keys an identity provider publishes; tests rotate them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.requests = 0
        #: One of :data:`MODES`: how the JWKS endpoint answers.
        self.mode = "ok"
        #: Bytes of a chunked huge document written before the client hung up.
        self.sent = 0
        self.add("k1")

    def huge(self) -> bytes:
        return huge_jwks()

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

    def token(self, kid: str = "k1", *, header_kid: str | None = None, **overrides: Any) -> str:
        """A token signed with key ``kid`` (its header names ``header_kid`` when given)."""
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
        return jwt.encode(
            claims, self.keys[kid], algorithm="RS256", headers={"kid": header_kid or kid}
        )


#: Modes of the test issuer's JWKS endpoint besides ``ok``: what a slow, broken or hostile
#: identity provider does.
MODES = ("ok", "trickle", "hang", "huge", "huge_chunked", "many_keys", "not_json", "status_500")


@functools.cache
def huge_jwks() -> bytes:
    """A 45 MB document of 100,000 RSA keys (one modulus repeated, distinct key ids)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    entry = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    entry.update(alg="RS256", use="sig", x5c=["A" * 100])
    template = json.dumps({**entry, "kid": "KID"})
    keys = ",".join(template.replace("KID", f"h{i}") for i in range(100_000))
    return f'{{"keys":[{keys}]}}'.encode()


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests += 1
            mode = state.mode
            if mode == "hang":  # accepts the request, never answers
                stop.wait(60)
                return
            if mode == "status_500":
                self._answer(b'{"error": "down"}', status=500)
            elif mode == "trickle":  # headers at once, then one byte at a time, forever
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "1000000")
                self.end_headers()
                while not stop.wait(0.2):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
            elif mode == "huge":
                self._answer(state.huge())
            elif mode == "huge_chunked":  # no content-length: only the bytes read tell
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                body = state.huge()
                try:
                    for at in range(0, len(body), 65536):
                        chunk = body[at : at + 65536]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        state.sent += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    return
            elif mode == "many_keys":
                document = state.jwks()
                document["keys"] = [dict(document["keys"][0], kid=f"m{i}") for i in range(150)]
                self._answer(json.dumps(document).encode())
            elif mode == "not_json":
                self._answer(b"<html>login</html>")
            else:
                self._answer(json.dumps(state.jwks()).encode())

        def _answer(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                return

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        stop.set()
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


def unavailable(provider: OAuth2Provider, headers: dict[str, str]) -> ServiceUnavailable:
    """The 503 a request gets when the issuer's keys cannot be had (answered within 30 s)."""
    with pytest.raises(ServiceUnavailable) as info:
        asyncio.run(asyncio.wait_for(provider.authenticate(headers), 30))
    return answer_of(info.value)


def answer_of(exc: ServiceUnavailable) -> ServiceUnavailable:
    assert exc.envelope() == {
        "error": "ServiceUnavailable",
        "code": 503,
        "detail": "the token issuer's signing keys are unavailable; try again later",
    }
    assert int(exc.headers["Retry-After"]) >= 1
    return exc


def fast(url: str, **options: Any) -> OAuth2Provider:
    """A provider with small bounds, so that a test of a slow issuer stays short."""
    settings: dict[str, Any] = {"fetch_deadline": 1.0, "min_refresh_interval": 0.2, **options}
    return OAuth2Provider(make_spec(url), **settings)


def test_issuer_down_at_first_use_is_503_not_a_crash() -> None:
    provider = fast("http://127.0.0.1:9/jwks.json")
    unavailable(provider, bearer(Issuer().token()))
    assert provider.jwks.outcomes["unreachable"] == 1
    assert provider.readiness() is not None


@pytest.mark.parametrize("mode", ["trickle", "hang"])
def test_a_slow_issuer_is_cut_off_at_the_fetch_deadline(
    issuer: tuple[Issuer, str], mode: str
) -> None:
    """One byte every 0.2 s (each read well inside any per-read timeout), or no answer at all:
    the whole fetch is bounded, the request gets 503, and so does the next one at once."""
    state, url = issuer
    state.mode = mode
    provider = fast(url, min_refresh_interval=3600)
    unavailable(provider, bearer(state.token()))
    assert provider.jwks.outcomes["timeout"] == 1
    assert provider.jwks.outcomes["ok"] == 0
    # Within the back-off nobody waits and the issuer is not asked again.
    unavailable(provider, bearer(state.token()))
    assert state.requests == 1
    assert "not been fetched" in (provider.readiness() or "")


def test_known_kid_never_waits_for_a_refetch(issuer: tuple[Issuer, str]) -> None:
    """Expired key set, issuer now trickling: requests whose key is known are answered from
    the old keys while one refetch runs in the background."""
    state, url = issuer
    provider = fast(url, jwks_ttl=0.0, fetch_deadline=60.0)

    async def scenario() -> None:
        await provider.authenticate(bearer(state.token()))
        assert state.requests == 1
        state.mode = "trickle"

        async def twenty() -> None:
            answers = await asyncio.wait_for(
                asyncio.gather(*(provider.authenticate(bearer(state.token())) for _ in range(20))),
                30,
            )
            assert {a["sub"] for a in answers} == {"user-42"}
            # Answered while the refetch is still under way: none of them waited for it.
            assert provider.jwks.refreshing

        await twenty()
        deadline = time.monotonic() + 30
        while state.requests < 2:  # the refetch reaches the trickling issuer
            assert time.monotonic() < deadline, "the refetch never reached the issuer"
            await asyncio.sleep(0.05)
        await twenty()
        assert state.requests == 2  # one refetch in flight, not one per request

    asyncio.run(scenario())


def test_unknown_kid_waits_for_the_one_refetch_then_503_then_recovers(
    issuer: tuple[Issuer, str],
) -> None:
    state, url = issuer
    provider = fast(url)

    async def scenario() -> None:
        await provider.authenticate(bearer(state.token()))
        state.add("k2")  # the issuer rotates, then slows to a trickle
        state.mode = "trickle"
        results = await asyncio.wait_for(
            asyncio.gather(
                *(provider.authenticate(bearer(state.token("k2"))) for _ in range(10)),
                return_exceptions=True,
            ),
            30,
        )
        for result in results:
            assert isinstance(result, ServiceUnavailable), result
            answer_of(result)
        assert state.requests == 2  # the ten waited on one refetch
        assert provider.jwks.outcomes["timeout"] == 1
        # The old key still verifies while the issuer is slow; /ready stays ready.
        assert (await provider.authenticate(bearer(state.token())))["sub"] == "user-42"
        assert provider.readiness() is None
        # The issuer recovers: after the back-off the new key is fetched and accepted.
        state.mode = "ok"
        await asyncio.sleep(0.3)
        assert (await provider.authenticate(bearer(state.token("k2"))))["sub"] == "user-42"
        assert provider.jwks.outcomes["ok"] == 2
        # A made-up key id, with the issuer healthy, is an unknown key (401), not an outage.
        with pytest.raises(Unauthorized, match="unknown key"):
            await provider.authenticate(bearer(state.token("k2", header_kid="nope")))

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("huge", "too_large"),
        ("huge_chunked", "too_large"),
        ("many_keys", "too_many_keys"),
        ("not_json", "invalid"),
        ("status_500", "http_error"),
    ],
)
def test_a_bad_key_set_is_refused_and_the_old_keys_are_kept(
    issuer: tuple[Issuer, str], mode: str, outcome: str
) -> None:
    """A 45 MB document of 100,000 keys (declared or chunked), 150 keys, HTML, a 500: the
    document is refused and counted, and the keys fetched before keep working."""
    state, url = issuer
    provider = fast(url)

    async def scenario() -> None:
        await provider.authenticate(bearer(state.token()))
        state.add("k2")
        state.mode = mode
        with pytest.raises(ServiceUnavailable) as info:
            await asyncio.wait_for(provider.authenticate(bearer(state.token("k2"))), 30)
        answer_of(info.value)
        assert provider.jwks.outcomes[outcome] == 1
        assert sorted(provider.jwks.kids) == ["k1"]
        assert (await provider.authenticate(bearer(state.token())))["sub"] == "user-42"

    asyncio.run(scenario())
    if mode == "huge_chunked":  # the reader hung up long before the 45 MB were sent
        assert state.sent < len(huge_jwks()) // 2


def test_a_huge_first_key_set_leaves_the_runtime_unready(issuer: tuple[Issuer, str]) -> None:
    state, url = issuer
    state.mode = "huge_chunked"
    provider = fast(url)
    unavailable(provider, bearer(state.token()))
    assert provider.jwks.outcomes["too_large"] == 1
    assert provider.jwks.kids == []
    assert provider.readiness() is not None


def test_the_fetch_outcome_never_carries_the_url_secrets(
    issuer: tuple[Issuer, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = issuer
    state.mode = "not_json"
    planted = "planted-secret-4f1c"
    secret_url = url.replace("http://", f"http://user:{planted}@") + f"?token={planted}"
    provider = fast(secret_url)
    with caplog.at_level(logging.DEBUG, logger="agentdock.auth"):
        refused = unavailable(provider, bearer(state.token()))
    assert "could not fetch" in caplog.text
    assert planted not in caplog.text
    assert planted not in json.dumps(refused.envelope())
    assert planted not in (provider.readiness() or "")


class FastOAuth2:
    """The built-in oauth2 provider with small bounds, registered under its own mode."""

    @hookimpl
    def agentdock_register_auth_providers(self, register: Any) -> None:
        register("oauth2", lambda spec: fast(spec.auth.oauth2.jwks_url))


def served_echo(tmp_path: Path, jwks_url: str) -> Path:
    """The echo example, in oauth2 mode against ``jwks_url``, its metrics public."""
    project = tmp_path / "echo"
    shutil.copytree(ECHO.parent, project, ignore=shutil.ignore_patterns("__pycache__"))
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text(encoding="utf-8")
    old = "auth:\n  mode: api_key\n  api_keys: { enabled: true }\n"
    assert old in text
    oauth2 = (
        f"auth:\n  mode: oauth2\n  oauth2: {{issuer: '{ISSUER}', jwks_url: '{jwks_url}', "
        f"audience: {AUDIENCE}}}\nobservability:\n  metrics: {{public: true}}\n"
    )
    dockfile.write_text(text.replace(old, oauth2), encoding="utf-8")
    return dockfile


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_ready_invoke_and_metrics_follow_the_key_set(
    issuer: tuple[Issuer, str], tmp_path: Path
) -> None:
    """A hanging issuer: /health 200 (the process lives), /ready 503 (it cannot verify
    anyone yet), /invoke 503 with the envelope, the timeouts counted; once the issuer
    answers, /ready turns 200 without any request and /invoke works."""
    state, url = issuer
    state.mode = "hang"
    manager = make_plugin_manager(
        plugins=[
            agentdock_plugins.langgraph,
            agentdock_plugins.litestar,
            agentdock_plugins.prometheus,
            ("fast-oauth2", FastOAuth2()),
        ]
    )
    app = agentdock.app(served_echo(tmp_path, url), plugins=manager)
    token = {"authorization": f"Bearer {state.token()}"}
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        not_ready = client.get("/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"] == "ServiceUnavailable"
        assert "signing keys" in not_ready.json()["detail"]
        refused = client.post("/invoke", json={"text": "hi"}, headers=token)
        assert refused.status_code == 503, refused.text
        # Refused at admission, before the body is read: no run was started, none is named.
        assert refused.json() == {
            "error": "ServiceUnavailable",
            "code": 503,
            "detail": "the token issuer's signing keys are unavailable; try again later",
        }
        assert "x-run-id" not in refused.headers
        assert int(refused.headers["retry-after"]) >= 1
        scrape = client.get("/metrics").text
        timeouts = metric(scrape, 'agentdock_auth_keys_fetch_total{outcome="timeout"}')
        assert timeouts is not None and timeouts >= 1
        assert metric(scrape, 'agentdock_auth_keys_fetch_total{outcome="ok"}') == 0.0
        assert metric(scrape, "agentdock_auth_keys_age_seconds") == math.inf
        assert metric(scrape, 'agentdock_auth_failures_total{reason="unavailable"}') == 1.0

        state.mode = "ok"
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200:  # each probe may start a fetch
            assert time.monotonic() < deadline, "never ready after the issuer recovered"
            time.sleep(0.1)
        answered = client.post("/invoke", json={"text": "hi"}, headers=token)
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"text": "HI"}
        scrape = client.get("/metrics").text
        assert metric(scrape, 'agentdock_auth_keys_fetch_total{outcome="ok"}') == 1.0
        age = metric(scrape, "agentdock_auth_keys_age_seconds")
        assert age is not None and 0 <= age < 30
