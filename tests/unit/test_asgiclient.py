"""The runtime's in-process clients on bare ASGI applications: the lifespan runs before the
first request and after the last, its state reaches the requests, and a failed start-up is
an error rather than a wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentdock_runtime.asgiclient import LifespanError, async_client, client


def make_app(events: list[str], *, fail: str | None = None, raise_too: bool = False) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if fail == "startup":
                        await send({"type": "lifespan.startup.failed", "message": "no model"})
                        if raise_too:
                            raise RuntimeError("no model")
                        return
                    scope["state"]["token"] = "from-startup"
                    events.append("startup")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = scope["state"]["token"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def test_sync_client_starts_the_app_shares_its_state_and_stops_it() -> None:
    events: list[str] = []
    http = client(make_app(events), base_url="http://t")
    assert events == []
    assert http.get("/").text == "from-startup"
    assert http.get("/").text == "from-startup"
    assert events == ["startup"]
    http.close()
    assert events == ["startup", "shutdown"]


def test_async_client_starts_the_app_shares_its_state_and_stops_it() -> None:
    events: list[str] = []

    async def scenario() -> None:
        async with async_client(make_app(events), base_url="http://t") as http:
            assert events == ["startup"]
            assert (await http.get("/")).text == "from-startup"
        assert events == ["startup", "shutdown"]

    asyncio.run(scenario())


@pytest.mark.parametrize("raise_too", [False, True], ids=["reports-and-returns", "raises"])
def test_a_failed_start_up_is_an_error_not_a_wait(raise_too: bool) -> None:
    app = make_app([], fail="startup", raise_too=raise_too)

    async def scenario() -> None:
        http = async_client(app, base_url="http://t")
        with pytest.raises((LifespanError, RuntimeError), match="no model"):
            await asyncio.wait_for(http.get("/"), timeout=10)

    asyncio.run(scenario())
    http = client(app, base_url="http://t")
    try:
        with pytest.raises((LifespanError, RuntimeError), match="no model"):
            http.get("/")
    finally:
        http.close()


def test_each_request_gets_its_own_copy_of_the_lifespan_state() -> None:
    """What a request writes in its state (a framework keeps per-connection data there) is
    not seen by the next request; what start-up wrote is seen by all."""
    seen: list[tuple[str, bool]] = []
    base = make_app([])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append((scope["state"]["token"], "mine" in scope["state"]))
            scope["state"]["mine"] = True
        await base(scope, receive, send)

    with client(app, base_url="http://t") as http:
        http.get("/")
        http.get("/")
    assert seen == [("from-startup", False), ("from-startup", False)]
