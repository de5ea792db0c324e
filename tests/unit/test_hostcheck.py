"""The Host check of a runtime without authentication (:mod:`agentdock_runtime.hostcheck`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from agentdock_cli.main import cli
from agentdock_runtime.entrypoint import ConfigError, read_settings
from agentdock_runtime.hostcheck import (
    ALLOWED_HOSTS_ENV,
    HostCheck,
    check_host_names,
    host_name,
    served_app,
)
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"

Message = MutableMapping[str, Any]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:8080", "localhost"),
        ("LOCALHOST", "localhost"),
        ("localhost.:80", "localhost"),
        ("127.0.0.1:1", "127.0.0.1"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("attacker.example:8080", "attacker.example"),
        ("", ""),
        ("[::1", ""),
        ("evil.example/x", ""),
        ("user@localhost", ""),
        ("local\x00host", ""),
        ("localhost#evil", ""),
        ("localhost?x", ""),
        ("localhost:abc", ""),
        ("localhost:99999", ""),
        ("localhost:0", ""),
        ("localhost:", ""),
        ("localhost :80", ""),
        (".", ""),
        ("[::1]x", ""),
        ("[::g]", ""),
        ("localhost:65535", "localhost"),
    ],
)
def test_host_name_of_a_header(header: str, name: str) -> None:
    assert host_name(header) == name


def test_allowed_names_are_checked_and_lowered() -> None:
    assert check_host_names(
        [" Agent.Internal ", "", "*.Svc.Test", "10.0.0.7", "[fd00::1]"], "x"
    ) == (
        "agent.internal",
        "*.svc.test",
        "10.0.0.7",
        "fd00::1",
    )
    for bad in ("http://agent", "agent:8080", "a b", "agent/x", "*agent", "a.*.b"):
        with pytest.raises(ValueError, match=r"^src: .* is not a host name"):
            check_host_names([bad], "src")


async def call(app: Any, scope: Message) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def scope(kind: str, host: bytes | None, **more: Any) -> Message:
    headers = [(b"accept", b"*/*")] + ([(b"host", host)] if host is not None else [])
    return {"type": kind, "path": "/invoke", "headers": headers, **more}


class Inner:
    """An application that records the scopes it is handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        self.seen.append(scope["type"])


def test_a_foreign_or_missing_host_is_refused_with_the_envelope_before_the_app() -> None:
    inner = Inner()
    app = HostCheck(inner, ["agent.internal", "*.svc.test"])
    for host in (b"attacker.example:8080", b"svc.test", b"svc.test.attacker.example", None):
        for _ in range(2):  # the second time from the remembered verdict
            sent = asyncio.run(call(app, scope("http", host)))
            assert sent[0]["status"] == 403
            body = json.loads(sent[1]["body"])
            assert body["error"] == "Forbidden"
            assert body["path"] == "host"
    assert inner.seen == []
    for host in (b"localhost:1", b"127.0.0.2", b"[::1]:9", b"agent.internal", b"a.svc.test:80"):
        assert asyncio.run(call(app, scope("http", host))) == []
    asyncio.run(call(app, {"type": "lifespan"}))
    assert inner.seen == ["http"] * 5 + ["lifespan"]


def test_a_websocket_handshake_with_a_foreign_host_is_refused() -> None:
    inner = Inner()
    app = HostCheck(inner)
    denial = {"websocket.http.response": {}}
    sent = asyncio.run(call(app, scope("websocket", b"attacker.example", extensions=denial)))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403
    assert json.loads(sent[1]["body"])["path"] == "host"
    sent = asyncio.run(call(app, scope("websocket", b"attacker.example")))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Forbidden"}]
    assert inner.seen == []


def test_a_star_allows_every_name_and_auth_on_has_no_check_at_all() -> None:
    inner = Inner()
    asyncio.run(call(HostCheck(inner, ["*"]), scope("http", b"attacker.example")))
    assert inner.seen == ["http"]
    assert served_app(inner, insecure_no_auth=False) is inner  # nothing on /invoke's path
    assert isinstance(served_app(inner, insecure_no_auth=True, environ={}), HostCheck)
    with pytest.raises(ValueError, match=ALLOWED_HOSTS_ENV):
        served_app(inner, insecure_no_auth=True, environ={ALLOWED_HOSTS_ENV: "x:1"})


def test_the_entrypoint_settings_name_a_malformed_allowed_host(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_settings(
            {
                "AGENTDOCK_SPEC": str(ECHO),
                "AGENTDOCK_INSECURE_NO_AUTH": "1",
                ALLOWED_HOSTS_ENV: "ok.test, https://x",
            }
        )
    assert caught.value.lines == [
        f"{ALLOWED_HOSTS_ENV}: 'https://x' is not a host name (give names such as "
        "agent.internal or *.example.com, without scheme or port)"
    ]


def test_serve_refuses_allowed_host_without_insecure_mode_or_malformed() -> None:
    result = CliRunner().invoke(cli, ["serve", str(ECHO), "--allowed-host", "agent.test"])
    assert result.exit_code == 2
    assert "--allowed-host applies with --insecure-no-auth only" in result.output
    result = CliRunner().invoke(
        cli, ["serve", str(ECHO), "--insecure-no-auth", "--allowed-host", "agent.test:8080"]
    )
    assert result.exit_code == 2
    assert "--allowed-host: 'agent.test:8080' is not a host name" in result.output


def refusal(app: Any, host: bytes | None, *more: bytes, kind: str = "http") -> tuple[int, Any]:
    """The status and error envelope ``app`` answers a request with these Host values."""
    headers = [(b"host", h) for h in ((host,) if host is not None else ()) + more]
    extensions = {"websocket.http.response": {}} if kind == "websocket" else {}
    sent = asyncio.run(
        call(app, {"type": kind, "path": "/", "headers": headers, "extensions": extensions})
    )
    assert len(sent) == 2, sent
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_two_host_headers_are_refused_in_either_order_over_http_and_websocket() -> None:
    inner = Inner()
    app = HostCheck(inner)
    for kind in ("http", "websocket"):
        for pair in ((b"localhost", b"attacker.example"), (b"attacker.example", b"localhost")):
            status, body = refusal(app, *pair, kind=kind)
            assert status == 400
            assert body["error"] == "BadRequest"
            assert body["path"] == "host"
            assert "more than one Host header" in body["detail"]
        status, _ = refusal(app, b"localhost", b"localhost", kind=kind)
        assert status == 400
    assert inner.seen == []


def test_a_host_that_is_no_host_name_and_port_is_refused_with_400() -> None:
    inner = Inner()
    app = HostCheck(inner)
    odd = (b"localhost#evil", b"localhost:abc", b"localhost:99999", b"localhost:", b"[::1")
    for kind in ("http", "websocket"):
        for host in odd:
            for _ in range(2):  # the second time from the remembered verdict
                status, body = refusal(app, host, kind=kind)
                assert (status, body["error"], body["path"]) == (400, "BadRequest", "host")
                assert repr(host.decode()) in body["detail"]
                assert "is not a host name with an optional port" in body["detail"]
    assert inner.seen == []


def test_an_unprintable_or_non_ascii_host_is_described_never_echoed() -> None:
    app = HostCheck(Inner())
    status, body = refusal(app, b"local\thost")
    assert status == 400
    assert body["detail"] == "the Host header holds a control character"
    status, body = refusal(app, "café.example".encode())
    assert status == 400
    assert body["detail"] == "the Host header is not ASCII"
    status, body = refusal(app, b"attacker.example")
    assert status == 403
    assert body["detail"].endswith("not 'attacker.example'")


def test_a_star_logs_that_the_host_check_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="agentdock.runtime"):
        served_app(Inner(), insecure_no_auth=True, environ={ALLOWED_HOSTS_ENV: "a.test"})
        assert caplog.records == []
        served_app(Inner(), insecure_no_auth=True, environ={ALLOWED_HOSTS_ENV: "*"})
        served_app(Inner(), insecure_no_auth=False, environ={ALLOWED_HOSTS_ENV: "*"})
    assert [r.getMessage() for r in caplog.records] == [
        f"{ALLOWED_HOSTS_ENV}=* turns the Host check off: without authentication any web "
        "page can reach this agent through a name re-pointed at this machine (DNS rebinding)"
    ]


def test_an_ignored_allowed_hosts_setting_is_not_checked_with_authentication() -> None:
    settings = read_settings({"AGENTDOCK_SPEC": str(ECHO), ALLOWED_HOSTS_ENV: "x:80"})
    assert settings.insecure_no_auth is False
    assert served_app(Inner, insecure_no_auth=False, environ={ALLOWED_HOSTS_ENV: "x:80"}) is Inner
    with pytest.raises(ConfigError):
        read_settings(
            {
                "AGENTDOCK_SPEC": str(ECHO),
                "AGENTDOCK_INSECURE_NO_AUTH": "1",
                ALLOWED_HOSTS_ENV: "x:80",
            }
        )


@pytest.mark.parametrize("value", ["", "  "])
def test_serve_refuses_an_empty_allowed_host(value: str) -> None:
    result = CliRunner().invoke(
        cli, ["serve", str(ECHO), "--insecure-no-auth", "--allowed-host", value]
    )
    assert result.exit_code == 2
    assert "--allowed-host: an empty value is not a host name" in result.output
