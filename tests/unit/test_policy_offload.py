"""Synchronous policies on large values run off the event loop; small values stay on it.

A policy that reads a large body (redaction) would otherwise hold the event loop for as
long as it reads, and every other request (``/health`` included) would wait. These tests
use a policy that tells whether it runs on the loop's thread and, on a large input, blocks
until the test releases it: deterministic, no timing.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import agentdock_plugins.litestar
import httpx
import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock_plugins.litestar import litestar_server
from agentdock_plugins.litestar.limits import ServerLimits
from agentdock_runtime import compile_pipeline
from agentdock_runtime.offload import OFFLOAD_CHARS, is_large, text_size
from scripted_server import Echo, scripted_spec

#: Longest a blocked policy waits for the test (a bound, not a timing: the test releases it).
WAIT = 10.0


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Gate:
    """A synchronous policy: notes whether it ran on the event loop; on a large ``text``
    (and ``block``), signals ``entered`` and waits for ``release``."""

    def __init__(self, stage: str, *, block: bool = False) -> None:
        self.stage = stage
        self.block = block
        self.on_loop: list[bool] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.released: bool | None = None

    def check(self, value: Any, context: Any) -> Any:
        self.on_loop.append(_on_loop())
        if self.block and len(value["text"]) > OFFLOAD_CHARS:
            self.entered.set()
            self.released = self.release.wait(WAIT)
        return value


def _pipeline(*gates: Gate) -> Any:
    class Plugin:
        @hookimpl
        def agentdock_register_adapters(self, register: Any) -> None:
            register("scripted", lambda entry, spec: Echo())

        @hookimpl
        def agentdock_register_policies(self, register: Any) -> None:
            for index, gate in enumerate(gates):
                register(f"gate{index}", lambda spec, gate=gate: gate)

    manager = make_plugin_manager(plugins=[("gate", Plugin()), agentdock_plugins.litestar])
    spec = scripted_spec()
    return spec, compile_pipeline(spec, entry=None, plugins=manager, insecure_no_auth=True)


def test_text_size_counts_every_string_and_stops_early() -> None:
    assert text_size({"a": ["bc", {"d": "efg"}], "n": 3}) == 1 + 2 + 1 + 3 + 1
    big = {"x": "y" * (OFFLOAD_CHARS + 1), "z": ["q"] * 10}
    assert text_size(big) > OFFLOAD_CHARS
    assert is_large(big)
    assert not is_large({"t": "y" * (OFFLOAD_CHARS - 1)})
    assert is_large({}, b"{" + b" " * OFFLOAD_CHARS + b"}")


@pytest.mark.parametrize("stage", ["pre", "post"])
@pytest.mark.parametrize("raw", [True, False], ids=["body", "mapping"])
def test_small_values_on_the_loop_large_ones_in_a_thread(stage: str, raw: bool) -> None:
    gate = Gate(stage)
    _, pipeline = _pipeline(gate)
    asyncio.run(_invoke_both(pipeline, raw))
    assert gate.on_loop == [True, False]


async def _invoke_both(pipeline: Any, raw: bool) -> None:
    async with pipeline:
        for text in ("hello", "x" * (OFFLOAD_CHARS + 1)):
            payload = {"text": text}
            result = await pipeline.invoke(
                httpx.Request("POST", "/", json=payload).content if raw else payload
            )
            assert result.output["text"].lower() == text


def test_stream_output_of_a_large_token_is_checked_in_a_thread() -> None:
    gate = Gate("post")
    _, pipeline = _pipeline(gate)

    async def run() -> list[Any]:
        async with pipeline:
            return [item async for item in pipeline.stream({"text": "x" * (OFFLOAD_CHARS + 1)})]

    items = asyncio.run(run())
    assert items[-1].event == "end"
    assert gate.on_loop == [False]  # the token (Echo streams no final output)


def test_health_answers_while_a_large_input_is_checked() -> None:
    gate = Gate("pre", block=True)
    response = asyncio.run(_health_during(gate))
    assert response.status_code == 200, response.text
    assert gate.released is True
    assert gate.on_loop == [False]


async def _health_during(gate: Gate) -> httpx.Response:
    spec, pipeline = _pipeline(gate)
    app = litestar_server(spec, limits=ServerLimits()).app(pipeline)
    transport = httpx.ASGITransport(app=app)
    async with pipeline, httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        big = client.post("/invoke", json={"text": "x" * (OFFLOAD_CHARS + 1)})
        request = asyncio.ensure_future(big)
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        health = await client.get("/health")
        assert health.status_code == 200
        # /health answered while the policy was still blocked, then the test let it go: on
        # the loop, the policy would have held it until its wait ran out (released False).
        assert not gate.release.is_set()
        gate.release.set()
        return await request
