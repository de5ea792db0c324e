"""A small agent behind the litestar server, with an auth provider and a telemetry sink that
tests can steer and read: for the routes, the WebSocket and the limits of the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import agentdock_plugins.litestar
from agentdock import hookimpl, make_plugin_manager
from agentdock.run import RunContext, RunResult, StreamEvent, Usage
from agentdock.spec.models import DockSpec11
from agentdock_plugins.auth.credentials import missing
from agentdock_plugins.litestar import litestar_server
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_runtime import KeyRevoked, TokenExpired, Unauthorized, compile_pipeline

#: A key of the role ``developer`` (holds ``invoke``); planted: it must never be echoed.
GOOD_KEY = "adk_planted0001_wsKeyThatMustNeverBeEchoed0123456789"
#: A key of the role ``viewer`` (lacks ``invoke``).
VIEWER_KEY = "adk_viewer00001_viewerKey0123456789"
#: Answered 498, as an expired token.
EXPIRED_KEY = "adk_expired0001_expiredKey0123456789"


class Echo:
    """Upper-cases ``text``; ``slow`` takes a second. Counts the runs that reached it."""

    def __init__(self) -> None:
        self.runs = 0

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        self.runs += 1
        return RunResult({"text": str(payload["text"]).upper()}, Usage(1, 1))

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        self.runs += 1
        if payload["text"] == "slow":
            await asyncio.sleep(1.0)
        yield StreamEvent("token", {"text": str(payload["text"]).upper()})


class Keys:
    """API keys from ``x-api-key`` or ``Authorization: Bearer``; ``revoked`` answers 499."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        key = headers.get("x-api-key")
        if key is None:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            key = token if scheme == "Bearer" and token else None
        if key is None:
            raise missing(("ApiKey", "Bearer"))
        if key in self.revoked:
            raise KeyRevoked("the API key was revoked")
        if key == EXPIRED_KEY:
            raise TokenExpired("the token has expired")
        role = {GOOD_KEY: "developer", VIEWER_KEY: "viewer"}.get(key)
        if role is None:
            raise Unauthorized("unknown API key")
        return {"sub": key[:15], "role": role}


class Recorder:
    """A telemetry sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    async def emit(self, events: list[Mapping[str, Any]]) -> None:
        self.events.extend(events)

    async def flush(self) -> None:
        return None

    def auth_failures(self) -> list[Mapping[str, Any]]:
        return [
            e["data"]
            for e in self.events
            if e["event"] == "auth_event" and e["data"]["outcome"] == "failure"
        ]

    def wait_for_auth_failures(self, count: int, timeout: float = 30.0) -> list[Any]:
        """The auth failures once ``count`` of them arrived (the sink is fed in the
        background)."""
        deadline = time.monotonic() + timeout
        while len(self.auth_failures()) < count:
            assert time.monotonic() < deadline, f"only {self.auth_failures()} arrived"
            time.sleep(0.02)
        return self.auth_failures()


def scripted_spec(*, rest: bool = True, streaming: str = "websocket", **extra: Any) -> Any:
    document: dict[str, Any] = {
        "version": "1.1",
        "agent": {"name": "scripted", "entrypoint": "app:graph", "framework": "scripted"},
        "model": {"provider": "custom", "name": "none"},
        "io_schema": {
            "input": {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string"}},
            },
            "output": {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string"}},
            },
        },
        "arguments": {"timeout_sec": 10},
        "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
        "expose": {"rest": rest, "streaming": streaming, "port": 8080},
    }
    document.update(extra)
    return DockSpec11.model_validate(document)


class Scripted:
    """The app of :func:`scripted_spec`'s agent, with its agent, keys and recorder."""

    def __init__(
        self,
        spec: Any | None = None,
        *,
        limits: ServerLimits | None = None,
        insecure_no_auth: bool = False,
    ) -> None:
        self.agent = Echo()
        self.keys = Keys()
        self.recorder = Recorder()
        outer = self

        class Plugin:
            @hookimpl
            def agentdock_register_adapters(self, register: Any) -> None:
                register("scripted", lambda entry, spec: outer.agent)

            @hookimpl
            def agentdock_register_auth_providers(self, register: Any) -> None:
                register("api_key", lambda spec: outer.keys)

            @hookimpl
            def agentdock_register_telemetry_sinks(self, register: Any) -> None:
                register("recorder", lambda spec: outer.recorder)

        manager = make_plugin_manager(plugins=[("scripted", Plugin()), agentdock_plugins.litestar])
        self.spec = spec if spec is not None else scripted_spec()
        self.pipeline = compile_pipeline(
            self.spec, entry=None, plugins=manager, insecure_no_auth=insecure_no_auth
        )
        self.app = litestar_server(self.spec, limits=limits or ServerLimits()).app(self.pipeline)
