"""The Dockfile's auth additions (1.1): pinned JWT algorithms, public keys, iss/aud, the
rotation grace period, and the semantic checks that go with them."""

from __future__ import annotations

from typing import Any

import pytest
from agentdock import validate
from agentdock.findings import Code

PEM = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"


def document(auth: dict[str, Any], version: str = "1.1") -> dict[str, Any]:
    return {
        "version": version,
        "agent": {"name": "echo_agent", "entrypoint": "app:graph", "framework": "langgraph"},
        "model": {"provider": "openai", "name": "gpt-4o-mini"},
        "io_schema": {
            "input": {"type": "object", "properties": {"text": {"type": "string"}}},
            "output": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
        "auth": {"roles": [{"name": "caller", "permissions": ["invoke"]}], **auth},
        "expose": {"rest": True, "streaming": "sse", "port": 8080},
    }


def errors(doc: dict[str, Any]) -> list[tuple[Any, str]]:
    report = validate(doc, skip_imports=True)
    return [(f.code, ".".join(str(p) for p in f.path)) for f in report.errors]


def test_rs256_with_a_public_key_is_valid() -> None:
    doc = document(
        {
            "mode": "jwt",
            "jwt": {
                "algorithms": ["RS256", "RS512"],
                "public_key": PEM,
                "issuer": "https://idp",
                "audience": "echo",
            },
        }
    )
    report = validate(doc, skip_imports=True)
    assert report.ok, report.errors
    assert report.spec.auth.jwt.algorithms == ["RS256", "RS512"]
    assert report.spec.auth.jwt.secret_key is None


def test_asymmetric_algorithms_need_a_public_key() -> None:
    assert errors(document({"mode": "jwt", "jwt": {"algorithms": ["ES256"]}})) == [
        (Code.AuthConfigError, "auth.jwt.public_key")
    ]


def test_algorithm_families_cannot_be_mixed() -> None:
    doc = document(
        {
            "mode": "jwt",
            "jwt": {"algorithms": ["HS256", "RS256"], "public_key": PEM, "secret_key": "x" * 40},
        }
    )
    assert (Code.AuthConfigError, "auth.jwt.algorithms") in errors(doc)


def test_public_key_with_hmac_is_a_mistake() -> None:
    doc = document({"mode": "jwt", "jwt": {"secret_key": "${JWT_SECRET}", "public_key": PEM}})
    report = validate(doc, skip_imports=True, env={"JWT_SECRET": "y" * 40})
    assert [(f.code, f.path) for f in report.errors] == [
        (Code.AuthConfigError, ("auth", "jwt", "public_key"))
    ]


@pytest.mark.parametrize(
    ("jwt", "path"),
    [
        ({"secret_key": "${S}", "algorithms": ["none"]}, "auth.jwt.algorithms.0"),
        ({"secret_key": "${S}", "algorithms": []}, "auth.jwt.algorithms"),
        ({"secret_key": "${S}", "issuer": ""}, "auth.jwt.issuer"),
    ],
)
def test_schema_rejects_bad_jwt_settings(jwt: dict[str, Any], path: str) -> None:
    report = validate(document({"mode": "jwt", "jwt": jwt}), skip_imports=True, env={"S": "z" * 40})
    assert not report.ok
    assert any(".".join(map(str, f.path)).startswith(path) for f in report.errors), report.errors


def test_grace_hours() -> None:
    ok = validate(
        document({"mode": "api_key", "api_keys": {"enabled": True, "grace_hours": 0}}),
        skip_imports=True,
    )
    assert ok.ok and ok.spec.auth.api_keys.grace_hours == 0
    default = validate(
        document({"mode": "api_key", "api_keys": {"enabled": True}}), skip_imports=True
    )
    assert default.spec.auth.api_keys.grace_hours == 24
    for bad in (-1, 9000, 1.5, "24"):
        report = validate(
            document({"mode": "api_key", "api_keys": {"enabled": True, "grace_hours": bad}}),
            skip_imports=True,
        )
        assert not report.ok, bad


def test_dockfile_10_keeps_its_schema() -> None:
    doc = document({"mode": "jwt", "jwt": {"secret_key": "${S}", "algorithms": ["HS256"]}}, "1.0")
    report = validate(doc, skip_imports=True, env={"S": "z" * 40})
    assert not report.ok
    doc = document({"mode": "api_key", "api_keys": {"enabled": True, "grace_hours": 2}}, "1.0")
    assert not validate(doc, skip_imports=True).ok


@pytest.mark.parametrize(
    ("jwks_url", "warned"),
    [
        ("http://idp.example.com/.well-known/jwks.json", True),
        ("https://idp.example.com/.well-known/jwks.json", False),
        ("http://127.0.0.1:8080/jwks", False),  # loopback: a sidecar on the same host
        ("http://localhost/jwks", False),
        ("http://[::1]:9000/jwks", False),
    ],
)
def test_plain_http_jwks_url_is_a_warning(jwks_url: str, warned: bool) -> None:
    doc = document(
        {"mode": "oauth2", "oauth2": {"issuer": "https://idp.example.com/", "jwks_url": jwks_url}}
    )
    report = validate(doc, skip_imports=True)
    found = [f for f in report.errors + report.warnings if f.code is Code.InsecureJwksWarning]
    if not warned:
        assert found == []
        return
    assert report.ok  # a warning, not an error
    [finding] = found
    assert finding.severity == "warning"
    assert finding.path == ("auth", "oauth2", "jwks_url")
    assert "'idp.example.com'" in finding.message
    assert "https://" in (finding.hint or "")
    assert not validate(doc, skip_imports=True, strict=True).ok
