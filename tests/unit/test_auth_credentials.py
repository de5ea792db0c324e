"""Which credential a request carries: one, or a 400 when that would be a guess."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store
from agentdock_plugins.auth import api_key_provider, jwt_provider
from agentdock_plugins.auth.credentials import presented_key
from agentdock_plugins.litestar.invoke import request_headers
from agentdock_runtime.errors import BadRequest, Unauthorized
from auth_support import add_key, auth_spec

SECRET = "credentials-secret-0123456789abcdef-0123456789"


def test_repeated_credential_headers_are_joined_others_keep_their_last() -> None:
    scope = {
        "headers": [
            (b"x-api-key", b"adk_one"),
            (b"accept", b"text/plain"),
            (b"x-api-key", b"adk_two"),
            (b"authorization", b"Bearer a"),
            (b"accept", b"application/json"),
            (b"authorization", b""),
        ]
    }
    assert request_headers(scope) == {
        "x-api-key": "adk_one, adk_two",
        "authorization": "Bearer a, ",
        "accept": "application/json",
    }
    single = {"headers": [(b"x-api-key", b"adk_one"), (b"accept", b"*/*")]}
    assert request_headers(single) == {"x-api-key": "adk_one", "accept": "*/*"}


def test_a_repeated_traceparent_is_dropped_a_single_one_kept() -> None:
    """W3C Trace Context: a request with more than one ``traceparent`` is invalid for
    propagation (its run starts a new trace); one ``traceparent`` is kept, whatever else
    repeats."""
    first = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    second = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    twice = {"headers": [(b"traceparent", first), (b"accept", b"*/*"), (b"traceparent", second)]}
    assert request_headers(twice) == {"accept": "*/*"}
    same = {"headers": [(b"traceparent", first), (b"traceparent", first)]}
    assert request_headers(same) == {}
    once = {"headers": [(b"traceparent", first), (b"accept", b"a"), (b"accept", b"b")]}
    assert request_headers(once) == {"traceparent": first.decode(), "accept": "b"}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "adk_one, adk_two"},
        {"authorization": "Bearer adk_one, Bearer adk_two"},
        {"x-api-key": "", "authorization": "Bearer adk_one"},
        {"x-api-key": "adk_one", "authorization": "Bearer"},
        {"x-api-key": "adk_one", "authorization": "  "},
        {"x-api-key": "adk_one", "authorization": "Bearer adk_two"},
        {"x-api-key": "adk_one", "authorization": "Basic dXNlcjpwdw=="},
        {"x-api-key": "adk_one, adk_one", "authorization": "Bearer adk_one"},
    ],
)
def test_ambiguous_key_headers_are_400(headers: dict[str, str]) -> None:
    with pytest.raises(BadRequest) as info:
        presented_key(headers)
    assert info.value.status == 400 and info.value.name == "BadRequest"
    assert "adk_one" not in info.value.detail and "adk_two" not in info.value.detail


def test_one_key_in_either_header_or_both() -> None:
    assert presented_key({}) is None
    assert presented_key({"x-api-key": " adk_one "}) == "adk_one"
    assert presented_key({"authorization": "Bearer adk_one"}) == "adk_one"
    assert presented_key({"x-api-key": "adk_one", "authorization": "bearer  adk_one"}) == "adk_one"
    with pytest.raises(Unauthorized):  # one empty header alone is no credential: 401
        presented_key({"x-api-key": ""})


def test_providers_refuse_ambiguity_before_any_lookup(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    key = add_key(store)
    keys = api_key_provider(
        auth_spec({"mode": "api_key", "api_keys": {"enabled": True}}), store=store
    )
    both = jwt_provider(
        auth_spec({"mode": "jwt", "jwt": {"secret_key": SECRET}, "api_keys": {"enabled": True}}),
        store=store,
    )

    async def outcome(provider: Any, headers: dict[str, str]) -> int:
        try:
            await provider.authenticate(headers)
        except (BadRequest, Unauthorized) as exc:
            return exc.status
        return 200

    async def main() -> None:
        assert await outcome(keys, {"x-api-key": key.key}) == 200
        assert await outcome(keys, {"x-api-key": "", "authorization": f"Bearer {key.key}"}) == 400
        assert await outcome(keys, {"x-api-key": f"{key.key}, {key.key}"}) == 400
        assert await outcome(both, {"x-api-key": key.key}) == 200
        assert await outcome(both, {"x-api-key": "", "authorization": "Bearer x.y.z"}) == 400
        assert await outcome(both, {"x-api-key": key.key, "authorization": ""}) == 400
        assert await outcome(both, {"authorization": "Bearer a.b.c, Bearer d.e.f"}) == 400

    asyncio.run(main())
    keys.close()
    both.close()
    store.close()
