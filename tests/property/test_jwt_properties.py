"""Hypothesis: no token that was not signed with the configured key is ever accepted.

Tokens are generated with arbitrary claims (including valid-looking ones), signed with
another secret, another algorithm, no algorithm at all, or mutated after signing; the
provider must refuse every one of them with a 401 (or 498 for an expired token it could
verify, which cannot happen without the key).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from agentdock_plugins.auth import jwt_provider
from agentdock_runtime.errors import RuntimeHTTPError, Unauthorized
from auth_support import AGENT, auth_spec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

# Attackers' keys may be short; pyjwt warns about them when signing.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

SECRET = "property-secret-0123456789abcdef-0123456789"

PROVIDER = jwt_provider(auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}}))

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=20)
)
valid_claims = st.fixed_dictionaries(
    {
        "sub": st.text(min_size=1, max_size=20),
        "role": st.sampled_from(["admin", "developer", "viewer"]),
        "agent": st.just(AGENT),
    },
    optional={"extra": json_scalars, "aud": st.text(max_size=10), "jti": st.text(max_size=10)},
)


def _timed(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {**claims, "iat": now, "nbf": now, "exp": now + 600}


def _refused(token: str) -> None:
    with pytest.raises(RuntimeHTTPError) as info:
        PROVIDER.authenticate({"authorization": f"Bearer {token}"})
    assert isinstance(info.value, Unauthorized)
    assert SECRET not in info.value.detail


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=valid_claims,
    secret=st.text(min_size=32, max_size=64),
    algorithm=st.sampled_from(["HS256", "HS384", "HS512"]),
)
def test_other_secrets_are_refused(claims: dict[str, Any], secret: str, algorithm: str) -> None:
    assume(secret != SECRET)
    _refused(jwt.encode(_timed(claims), secret, algorithm=algorithm))


@settings(max_examples=100, deadline=None)
@given(claims=valid_claims)
def test_unsigned_tokens_are_refused(claims: dict[str, Any]) -> None:
    _refused(jwt.encode(_timed(claims), None, algorithm="none"))


@settings(max_examples=150, deadline=None)
@given(
    claims=valid_claims,
    position=st.integers(min_value=0),
    replacement=st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    ),
)
def test_mutated_tokens_are_refused(
    claims: dict[str, Any], position: int, replacement: str
) -> None:
    token = jwt.encode(_timed(claims), SECRET, algorithm="HS256")
    index = position % len(token)
    assume(token[index] != replacement)
    mutated = token[:index] + replacement + token[index + 1 :]
    # Changing only the unused low bits of the last base64 character can leave the decoded
    # signature identical; such a token *is* the signed one, so skip it.
    parts = mutated.split(".")
    if len(parts) == 3 and index > len(token) - 3:
        try:
            same = base64.urlsafe_b64decode(parts[2] + "==") == base64.urlsafe_b64decode(
                token.split(".")[2] + "=="
            )
        except ValueError:
            same = False
        assume(not same)
    _refused(mutated)


@settings(max_examples=100, deadline=None)
@given(claims=valid_claims, forged=st.dictionaries(st.text(max_size=8), json_scalars, max_size=4))
def test_payload_swapped_under_a_valid_signature_is_refused(
    claims: dict[str, Any], forged: dict[str, Any]
) -> None:
    token = jwt.encode(_timed(claims), SECRET, algorithm="HS256")
    head, payload, signature = token.split(".")
    other = (
        base64.urlsafe_b64encode(json.dumps({**_timed(claims), **forged, "role": "admin"}).encode())
        .rstrip(b"=")
        .decode()
    )
    assume(other != payload)
    _refused(f"{head}.{other}.{signature}")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_cleanly(text: str) -> None:
    assume(text.strip())
    with pytest.raises(RuntimeHTTPError) as info:
        PROVIDER.authenticate({"authorization": f"Bearer {text}"})
    # A comma makes the header a list of credentials: ambiguous, refused before verifying.
    assert info.value.status == (400 if "," in text else 401)
