"""The server's limits: defaults, the AGENTDOCK_* variables, and where they reach uvicorn."""

from __future__ import annotations

import math
import pickle

import pytest
from agentdock_plugins.litestar import litestar_server
from agentdock_plugins.litestar.limits import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_WS_IDLE_TIMEOUT,
    DEFAULT_WS_MAX_CONNECTIONS,
    ServerLimits,
)
from agentdock_plugins.litestar.protocols import WebSocketProtocol
from agentdock_plugins.litestar.running import server_config
from scripted_server import scripted_spec

ENV = {
    "AGENTDOCK_MAX_BODY_BYTES": "2048",
    "AGENTDOCK_HEADER_TIMEOUT": "2.5",
    "AGENTDOCK_BODY_TIMEOUT": "7",
    "AGENTDOCK_WS_MAX_CONNECTIONS": "8",
    "AGENTDOCK_WS_IDLE_TIMEOUT": "60",
}


def test_defaults_when_nothing_is_set() -> None:
    assert ServerLimits.from_env({}) == ServerLimits(
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        header_timeout=DEFAULT_HEADER_TIMEOUT,
        body_timeout=DEFAULT_BODY_TIMEOUT,
        ws_max_connections=DEFAULT_WS_MAX_CONNECTIONS,
        ws_idle_timeout=DEFAULT_WS_IDLE_TIMEOUT,
    )
    assert ServerLimits.from_env({name: " " for name in ENV}) == ServerLimits()


def test_every_variable_is_read() -> None:
    assert ServerLimits.from_env(ENV) == ServerLimits(2048, 2.5, 7.0, 8, 60.0)


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "ten", "1e400"])
def test_malformed_values_name_the_variable(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        ServerLimits.from_env({"AGENTDOCK_WS_IDLE_TIMEOUT": value})
    assert str(caught.value) == (
        f"AGENTDOCK_WS_IDLE_TIMEOUT must be a positive number of seconds, got {value!r}"
    )


def test_every_malformed_variable_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        ServerLimits.from_env({"AGENTDOCK_MAX_BODY_BYTES": "1.5", "AGENTDOCK_BODY_TIMEOUT": "0"})
    message = str(caught.value)
    assert "AGENTDOCK_MAX_BODY_BYTES must be a positive whole number, got '1.5'" in message
    assert "AGENTDOCK_BODY_TIMEOUT must be a positive number of seconds, got '0'" in message


def test_limits_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="ws_max_connections must be a positive number"):
        ServerLimits(ws_max_connections=0)
    with pytest.raises(ValueError, match="header_timeout"):
        ServerLimits(header_timeout=math.nan)


def test_the_server_plugin_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    server = litestar_server(scripted_spec())
    assert server.limits == ServerLimits.from_env(ENV)
    assert litestar_server(scripted_spec(), max_body_bytes=64).limits.max_body_bytes == 64
    monkeypatch.setenv("AGENTDOCK_HEADER_TIMEOUT", "never")
    with pytest.raises(ValueError, match="AGENTDOCK_HEADER_TIMEOUT"):
        litestar_server(scripted_spec())


def test_uvicorn_is_held_to_the_limits() -> None:
    limits = ServerLimits(max_body_bytes=2048, header_timeout=2.5, body_timeout=7.0)
    config = server_config(object(), host="127.0.0.1", port=1, limits=limits)
    assert config.ws_max_size == 2048  # the WebSocket message limit is the body limit
    assert config.ws_max_queue == 1
    assert config.ws is WebSocketProtocol
    assert config.http.keywords == {"header_timeout": 2.5, "body_timeout": 7.0}
    # Workers started by `agentdock serve --workers` receive the options pickled.
    options = litestar_server(scripted_spec(), limits=limits).uvicorn_options()
    assert pickle.loads(pickle.dumps(options))["http"].keywords == config.http.keywords  # noqa: S301
