"""Optional capabilities of a third-party plugin: sorted once when the pipeline is built,
used where a plugin has them, and never required of one that lacks them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from agentdock.run import RunContext
from agentdock_plugins.litestar.app import create_app
from agentdock_runtime.asgiclient import client
from agentdock_runtime.capabilities import AuthCapabilities, PipelineCapabilities
from unit.runtime.test_pipeline import GOOD, Agent, KeyAuth, Recorder, Sink, build, run


class MeteredSink(Sink):
    """A sink with every optional sink capability."""

    wants = frozenset({"run_end"})

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 7
        self.bound: list[Any] = []
        self.wrapped: list[Any] = []

    def bind(self, pipeline: Any) -> None:
        self.bound.append(pipeline)

    def render_metrics(self) -> tuple[bytes, str]:
        return b"third_party_metric 1\n", "text/plain; version=0.0.4"

    def asgi_middleware(self, app: Any) -> Any:
        self.wrapped.append(app)

        async def counted(scope: Any, receive: Callable[..., Any], send: Any) -> None:
            if scope["type"] == "http":
                scope.setdefault("state", {})
            await app(scope, receive, send)

        return counted


class HoldingPolicy(Recorder):
    """A post policy that holds text back (``finish``) and reads node updates."""

    async def finish(self, context: RunContext) -> Mapping[str, Any] | None:
        return None

    def check_event(self, value: Any, context: RunContext) -> Any:
        return value


class ReadyAuth(KeyAuth):
    def __init__(self, calls: list[str]) -> None:
        super().__init__(calls)
        self.closed = False

    def readiness(self) -> str | None:
        return "keys not fetched yet"

    def close(self) -> None:
        self.closed = True


def test_sinks_are_sorted_by_capability_once_and_a_plain_one_still_gets_events() -> None:
    plain, metered = Sink(), MeteredSink()
    pipeline = build(Agent(), sinks={"plain": plain, "metered": metered})
    sinks = pipeline.capabilities.sinks
    assert sinks.metrics is metered
    assert sinks.bound == (metered,)
    assert metered.bound == [pipeline]  # bind called once, at compile time
    assert len(sinks.middleware) == 1
    assert sinks.loss_counting == ((1, metered),)
    # The plain sink names no events: every event is built.
    assert sinks.wanted is None
    assert pipeline.telemetry_drops() == {"plain": 0, "metered": 7}

    async def main() -> None:
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in plain.events].count("run_end") == 1
    assert [e["event"] for e in metered.events].count("run_end") == 1


def test_only_sinks_that_name_their_events_narrow_what_is_built() -> None:
    pipeline = build(Agent(), sinks={"metered": MeteredSink()})
    assert pipeline.capabilities.sinks.wanted == frozenset({"run_end"})


def test_the_server_serves_metrics_and_middleware_of_the_sink_that_has_them() -> None:
    metered = MeteredSink()
    pipeline = build(Agent(), sinks={"plain": Sink(), "metered": metered})
    app = create_app(pipeline, pipeline_spec())
    assert metered.wrapped  # its middleware wraps the routes
    with client(app, base_url="http://t") as http:
        answer = http.get("/metrics", headers=GOOD)
    assert answer.status_code == 200
    assert answer.text == "third_party_metric 1\n"


def test_no_metrics_route_without_a_sink_that_renders_them() -> None:
    pipeline = build(Agent(), sinks={"plain": Sink()})
    assert pipeline.capabilities.sinks.metrics is None
    assert pipeline.capabilities.sinks.middleware == ()
    with client(create_app(pipeline, pipeline_spec()), base_url="http://t") as http:
        assert http.get("/metrics", headers=GOOD).status_code == 404
        assert http.post("/invoke", json={"text": "a"}, headers=GOOD).status_code == 200


def test_post_policies_with_and_without_finish_and_check_event() -> None:
    calls: list[str] = []
    holding, plain = HoldingPolicy("post", calls), Recorder("post", calls)
    pipeline = build(Agent(calls), policies={"plain": plain, "holding": holding})
    stages = pipeline._stages
    assert [name for _, name, _ in stages.post_finish] == ["holding"]
    assert [name for name, _ in stages.post_event] == ["holding"]
    assert [name for name, _ in stages.post] == ["plain", "holding"]
    assert run(pipeline.invoke(b'{"text": "a"}', headers=GOOD)).output == {"text": "A"}


def test_auth_provider_capabilities_are_found_once() -> None:
    calls: list[str] = []
    ready = ReadyAuth(calls)
    found = AuthCapabilities.sort(ready)
    assert found.readiness is not None and found.readiness() == "keys not fetched yet"
    assert found.close is not None and found.key_set_stats is None
    plain = PipelineCapabilities.sort(KeyAuth(calls), []).auth
    assert (plain.readiness, plain.close, plain.key_set_stats) == (None, None, None)
    assert PipelineCapabilities.sort(None, []).auth == plain


class ClosingAgent(Agent):
    """An adapter with threads and files to release at shutdown."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.shut = 0

    def close(self) -> None:
        self.shut += 1
        if self.fail:
            raise OSError("disk gone")


def test_closing_the_pipeline_closes_its_adapter_once_and_a_failure_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closing, failing, plain = ClosingAgent(), ClosingAgent(fail=True), Agent()
    calls: list[str] = []
    ready = ReadyAuth(calls)
    for agent in (closing, failing, plain):
        pipeline = build(agent)
        assert run(pipeline.invoke(b'{"text": "a"}', headers=GOOD)).output == {"text": "A"}
        if agent is failing:  # shutdown goes on: the auth provider is still closed
            pipeline.capabilities = PipelineCapabilities.sort(ready, [])
        run(pipeline.aclose())
    assert (closing.shut, failing.shut) == (1, 1)
    assert ready.closed
    assert "adapter did not close (OSError)" in caplog.text


def pipeline_spec() -> Any:
    from unit.runtime.test_pipeline import make_spec

    return make_spec()


class FailingCountSink(Sink):
    """A sink whose lost-event count and event names raise: from the start, or after its
    first batch."""

    def __init__(self, *, at_once: bool) -> None:
        super().__init__()
        self.at_once = at_once

    @property
    def dropped(self) -> int:
        if self.at_once or self.events:
            raise RuntimeError("count unavailable")
        return 0

    @property
    def wants(self) -> frozenset[str]:
        if self.at_once:
            raise RuntimeError("names unavailable")
        return frozenset({"run_end"})


@pytest.mark.parametrize("at_once", [True, False], ids=["at-once", "after-a-run"])
def test_a_sink_whose_count_raises_fails_no_build_no_run_and_no_other_sinks_count(
    at_once: bool, caplog: pytest.LogCaptureFixture
) -> None:
    failing, metered = FailingCountSink(at_once=at_once), MeteredSink()
    pipeline = build(Agent(), sinks={"failing": failing, "metered": metered})
    sinks = pipeline.capabilities.sinks
    assert sinks.loss_counting == ((0, failing), (1, metered))  # judged without reading it
    # Names that cannot be read are no names: every event is built.
    assert sinks.wanted == (None if at_once else frozenset({"run_end"}))

    async def main() -> None:
        await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        await pipeline.invoke(b'{"text": "b"}', headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in metered.events].count("run_end") == 2
    assert [e["event"] for e in failing.events].count("run_end") == 2
    with caplog.at_level("WARNING", logger="agentdock"):
        first, second = pipeline.telemetry_drops(), pipeline.telemetry_drops()
    assert first == second == {"failing": 0, "metered": 7}
    warned = [r for r in caplog.records if "lost-event count failed" in r.getMessage()]
    assert len(warned) == 1, "warned once, not on every scrape"
    assert "failing" in warned[0].getMessage() and "RuntimeError" in warned[0].getMessage()
