"""The compiled pipeline, driven by test plugins on a fresh plugin manager (no HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.run import RunContext, RunResult, StreamEvent, ToolCall, ToolDenied, Usage
from agentdock.spec.models import DockSpec11
from agentdock_runtime import (
    AdmittedHeaders,
    AgentError,
    AgentTimeoutError,
    InputValidationError,
    InternalError,
    MalformedJSONError,
    Pipeline,
    PipelineError,
    PolicyViolationError,
    RuntimeHTTPError,
    SchemaMismatchError,
    StreamItem,
    ToolDeniedError,
    Unauthorized,
    compile_pipeline,
)

SECRET = "sk-planted-secret-0123456789abcdef"


def make_spec(**arguments: Any) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "echo_agent", "entrypoint": "app:graph", "framework": "testfw"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {
                        "text": {"type": "string"},
                        "tool": {"type": "string"},
                        "lang": {"type": "string", "enum": ["en", "fr"], "default": "en"},
                        "meta": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"n": {"type": ["integer", "null"], "maximum": 9}},
                        },
                    },
                },
                "output": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
            },
            "arguments": arguments,
            "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


# -- test plugins --------------------------------------------------------------------------------


class Agent:
    """A scriptable adapter: ``behaviour`` decides what each attempt does."""

    def __init__(
        self,
        calls: list[str] | None = None,
        behaviour: Callable[[int, Mapping[str, Any], RunContext], Awaitable[Any]] | None = None,
    ) -> None:
        self.calls = calls if calls is not None else []
        self.behaviour = behaviour
        self.attempts = 0
        self.cancelled = False
        self.closed = False
        self.started = asyncio.Event()

    async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
        self.attempts += 1
        self.calls.append("adapter")
        self.started.set()
        try:
            if "tool" in payload:
                await context.tools.acheck(ToolCall(payload["tool"], {"q": 1}))
            if self.behaviour is not None:
                output = await self.behaviour(self.attempts, payload, context)
            else:
                output = {"text": payload["text"].upper()}
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return RunResult(output, Usage(3, 4))

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        self.attempts += 1
        self.calls.append("adapter")
        self.started.set()
        try:
            if self.behaviour is not None:
                await self.behaviour(self.attempts, payload, context)
            if "tool" in payload:
                await context.tools.acheck(ToolCall(payload["tool"]))
                yield StreamEvent("tool", {"name": payload["tool"]})
            for word in payload["text"].split():
                yield StreamEvent("token", {"text": word})
                yield StreamEvent("usage", {"input_tokens": 1, "output_tokens": 2})
            yield StreamEvent("event", {"node": "done"})
            if payload["text"] == "fail late":
                raise RuntimeError(SECRET)
            if payload["text"] == "hang late":
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        except GeneratorExit:
            self.closed = True
            raise


class KeyAuth:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def authenticate(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        self.calls.append("auth")
        key = headers.get("x-api-key")
        if key == "boom":
            raise ValueError(SECRET)
        if key != "good":
            raise Unauthorized("missing or unknown API key")
        return {"sub": "alice", "role": "developer"}


class Recorder:
    def __init__(self, stage: str, calls: list[str], *, sync: bool = False) -> None:
        self.stage = stage
        self.calls = calls
        if sync:
            self.check = self._sync_check  # type: ignore[method-assign]

    async def check(self, value: Any, context: RunContext) -> Any:
        return self._sync_check(value, context)

    def _sync_check(self, value: Any, context: RunContext) -> Any:
        assert context.subject in ("alice", None)
        if self.stage == "tool":
            assert isinstance(value, ToolCall)
            self.calls.append(f"tool:{value.name}")
            if value.name == "rm":
                raise ToolDenied(value.name, "not in policies.tools.allowed")
            return None
        self.calls.append(self.stage)
        if self.stage == "pre" and value.get("text") == "forbidden":
            raise PolicyViolationError("input refused", path="text")
        if self.stage == "pre" and value.get("text") == "crash":
            raise RuntimeError(SECRET)
        if self.stage == "post" and "text" in value:
            return {**value, "text": value["text"].replace("SECRET", "[REDACTED]")}
        return value


class Sink:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.events: list[Mapping[str, Any]] = []
        self.gate = asyncio.Event()
        self.flushed = False

    async def emit(self, events: list[Mapping[str, Any]]) -> None:
        if self.mode == "raise":
            raise RuntimeError("sink down")
        if self.mode == "hang":
            await asyncio.Event().wait()
        if self.mode == "gate":
            await self.gate.wait()
        self.events.extend(events)

    async def flush(self) -> None:
        self.flushed = True


class Plugin:
    def __init__(
        self,
        agent: Agent | None,
        *,
        auth: Any = None,
        policies: Mapping[str, Any] | None = None,
        sinks: Mapping[str, Any] | None = None,
    ) -> None:
        self.agent = agent
        self.auth = auth
        self.policies = policies or {}
        self.sinks = sinks or {}

    @hookimpl
    def agentdock_register_adapters(self, register: Any) -> None:
        if self.agent is not None:
            register("testfw", lambda entry, spec: self.agent)

    @hookimpl
    def agentdock_register_auth_providers(self, register: Any) -> None:
        if self.auth is not None:
            register("api_key", lambda spec: self.auth)

    @hookimpl
    def agentdock_register_policies(self, register: Any) -> None:
        for name, policy in self.policies.items():
            register(name, lambda spec, p=policy: p)

    @hookimpl
    def agentdock_register_telemetry_sinks(self, register: Any) -> None:
        for name, sink in self.sinks.items():
            register(name, lambda spec, s=sink: s)


def build(
    agent: Agent,
    calls: list[str] | None = None,
    *,
    policies: Mapping[str, Any] | None = None,
    sinks: Mapping[str, Any] | None = None,
    arguments: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Pipeline:
    calls = calls if calls is not None else agent.calls
    plugin = Plugin(agent, auth=KeyAuth(calls), policies=policies, sinks=sinks)
    manager = make_plugin_manager(plugins=[("test", plugin)])
    return compile_pipeline(
        make_spec(**(arguments or {})), entry=object(), plugins=manager, **kwargs
    )


GOOD = {"x-api-key": "good"}


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def raises(coro: Awaitable[Any], kind: type[RuntimeHTTPError]) -> RuntimeHTTPError:
    async def main() -> RuntimeHTTPError:
        with pytest.raises(kind) as exc:
            await coro
        return exc.value

    return asyncio.run(main())


async def collect(stream: AsyncIterator[StreamItem]) -> list[StreamItem]:
    return [item async for item in stream]


# -- compile -------------------------------------------------------------------------------------


def test_pipeline_without_auth_provider_is_refused() -> None:
    manager = make_plugin_manager(plugins=[("test", Plugin(Agent()))])
    with pytest.raises(PipelineError, match="no auth provider"):
        compile_pipeline(make_spec(), entry=None, plugins=manager)


def test_insecure_no_auth_runs_without_a_provider() -> None:
    agent = Agent()
    manager = make_plugin_manager(plugins=[("test", Plugin(agent))])
    pipeline = compile_pipeline(make_spec(), entry=None, plugins=manager, insecure_no_auth=True)
    result = run(pipeline.invoke(b'{"text": "hi"}'))
    assert result.output == {"text": "HI"}


def test_missing_adapter_and_bad_arguments_are_refused() -> None:
    manager = make_plugin_manager(plugins=[("test", Plugin(None, auth=KeyAuth([])))])
    with pytest.raises(PipelineError, match="framework 'testfw'"):
        compile_pipeline(make_spec(), entry=None, plugins=manager)
    for bad in (
        {"timeout_sec": "10"},
        {"timeout_sec": 0},
        {"max_retries": -1},
        {"max_retries": True},
    ):
        with pytest.raises(PipelineError, match="arguments"):
            build(Agent(), arguments=bad)


def test_policy_with_unknown_stage_is_refused_and_none_is_skipped() -> None:
    calls: list[str] = []
    with pytest.raises(PipelineError, match="stage"):
        build(Agent(calls), policies={"odd": Recorder("during", calls)})
    agent = Agent(calls)
    manager = make_plugin_manager(
        plugins=[("test", Plugin(agent, auth=KeyAuth(calls), policies={}))]
    )

    class NotApplicable:
        @hookimpl
        def agentdock_register_policies(self, register: Any) -> None:
            register("na", lambda spec: None)

    manager.register(NotApplicable(), name="na")
    pipeline = compile_pipeline(make_spec(), entry=None, plugins=manager)
    assert run(pipeline.invoke(b'{"text": "a"}', headers=GOOD)).output == {"text": "A"}


def test_factory_failure_names_the_plugin() -> None:
    class Broken:
        @hookimpl
        def agentdock_register_telemetry_sinks(self, register: Any) -> None:
            register("broken", lambda spec: 1 / 0)

    agent = Agent()
    manager = make_plugin_manager(
        plugins=[("test", Plugin(agent, auth=KeyAuth([]))), ("broken", Broken())]
    )
    with pytest.raises(PipelineError, match="telemetry sink 'broken'"):
        compile_pipeline(make_spec(), entry=None, plugins=manager)


# -- invoke --------------------------------------------------------------------------------------


def test_stages_run_in_order() -> None:
    calls: list[str] = []
    sink = Sink()
    pipeline = build(
        Agent(calls),
        calls,
        policies={
            "post": Recorder("post", calls),
            "tool": Recorder("tool", calls, sync=True),
            "pre": Recorder("pre", calls),
        },
        sinks={"s": sink},
    )

    async def main() -> Any:
        result = await pipeline.invoke(b'{"text": "SECRET hi", "tool": "search"}', headers=GOOD)
        await pipeline.aclose()
        return result

    result = run(main())
    assert calls == ["auth", "pre", "adapter", "tool:search", "post"]
    assert result.output == {"text": "[REDACTED] HI"}
    assert result.usage == Usage(3, 4)
    assert len(result.run_id) == 32
    assert [e["event"] for e in sink.events] == ["run_start", "run_end"]
    event = sink.events[1]
    assert event["run_id"] == result.run_id == event["trace_id"] == result.trace_id
    data = event["data"]
    assert data["status"] == "ok" and data["success"] is True and data["subject"] == "alice"
    assert data["tokens_input"] == 3 and data["tokens_output"] == 4
    assert sink.flushed
    assert "hi" not in json.dumps(sink.events).lower().replace("echo_agent", "")


def test_auth_failures_are_401_and_never_reach_the_agent() -> None:
    agent = Agent()
    pipeline = build(agent)
    err = raises(pipeline.invoke(b'{"text": "a"}', headers={}), Unauthorized)
    assert err.envelope()["code"] == 401 and err.run_id
    err = raises(pipeline.invoke(b'{"text": "a"}', headers={"x-api-key": "boom"}), Unauthorized)
    assert SECRET not in json.dumps(err.envelope())
    assert agent.attempts == 0


def test_auth_runs_before_the_body_is_read() -> None:
    agent = Agent()
    pipeline = build(agent)
    raises(pipeline.invoke(b"{not json", headers={}), Unauthorized)
    err = raises(pipeline.invoke(b"{not json", headers=GOOD), MalformedJSONError)
    assert err.envelope()["run_id"] == err.run_id


def test_a_caller_admitted_from_its_headers_is_authenticated_once_for_its_run() -> None:
    """A server admits the caller before it reads the body; the run takes that admission
    (the auth provider and the rate limit see the call once), for one run only."""
    agent = Agent()
    pipeline = build(agent)
    raises(pipeline.admit({}), Unauthorized)
    assert agent.calls == ["auth"] and agent.attempts == 0
    agent.calls.clear()

    async def main() -> None:
        admitted = await pipeline.admit(GOOD)
        assert isinstance(admitted, AdmittedHeaders) and dict(admitted) == GOOD
        assert await pipeline.admit(admitted) is admitted  # admitted already
        assert (await pipeline.authorize(admitted, "invoke"))["sub"] == "alice"
        result = await pipeline.invoke(b'{"text": "a"}', headers=admitted)
        assert result.output == {"text": "A"}
        assert agent.calls == ["auth", "adapter"]
        await pipeline.invoke(b'{"text": "b"}', headers=admitted)  # a second run: admitted
        assert agent.calls == ["auth", "adapter", "auth", "adapter"]
        with pytest.raises(RuntimeHTTPError) as refused:  # another permission: checked anew
            await pipeline.authorize(admitted, "metrics")
        assert refused.value.status == 403 and agent.calls[-1] == "auth"

    run(main())


def test_runs_admitted_together_are_authenticated_once_for_all_of_them() -> None:
    """A batch's runs admitted at once: each of them takes the admission, one more does not."""
    agent = Agent()
    pipeline = build(agent)

    async def main() -> None:
        admitted = await pipeline.admit(GOOD)
        assert await pipeline.admit_runs(admitted, 1) is admitted
        together = await pipeline.admit_runs(admitted, 3)
        assert isinstance(together, AdmittedHeaders) and dict(together) == GOOD
        for text in ("a", "b", "c"):
            await pipeline.invoke(json.dumps({"text": text}).encode(), headers=together)
        assert agent.calls == ["auth", "adapter", "adapter", "adapter"]
        await pipeline.invoke(b'{"text": "d"}', headers=together)  # a fourth: admitted anew
        assert agent.calls[-2:] == ["auth", "adapter"]
        agent.calls.clear()
        await pipeline.admit_runs(GOOD, 2)  # headers not admitted yet: admitted first, once
        assert agent.calls == ["auth"]

    run(main())


def test_headers_admitted_elsewhere_are_not_trusted() -> None:
    agent = Agent()
    pipeline, other = build(agent), build(Agent())
    forged = run(other.admit(GOOD))  # another pipeline's admission, its key then taken out
    del forged["x-api-key"]
    raises(pipeline.invoke(b'{"text": "a"}', headers=forged), Unauthorized)
    raises(pipeline.authorize(forged, "invoke"), Unauthorized)
    assert agent.attempts == 0


def test_authenticate_asks_the_provider_alone_and_reports_nothing() -> None:
    """For a server choosing among agents before it reads the body: who calls, with no
    permission or rate limit checked and no refusal reported (the chosen agent's own
    admission reports and counts)."""
    agent = Agent()
    sink = Sink()
    pipeline = build(agent, sinks={"s": sink})

    async def main() -> None:
        assert (await pipeline.authenticate(GOOD))["sub"] == "alice"
        with pytest.raises(Unauthorized):
            await pipeline.authenticate({})
        with pytest.raises(Unauthorized) as failed:  # the provider's own failure: a 401
            await pipeline.authenticate({"x-api-key": "boom"})
        assert SECRET not in json.dumps(failed.value.envelope())
        await pipeline.aclose()

    run(main())
    assert agent.calls == ["auth", "auth", "auth"] and agent.attempts == 0
    assert sink.events == []


def test_the_identity_of_an_admission_is_read_without_asking_again() -> None:
    agent = Agent()
    pipeline, other = build(agent), build(Agent())

    async def main() -> None:
        assert pipeline.admitted_identity(GOOD) is None  # not admitted: nothing to read
        admitted = await pipeline.admit(GOOD)
        identity = pipeline.admitted_identity(admitted)
        assert identity is not None and identity["sub"] == "alice"
        assert other.admitted_identity(admitted) is None  # another pipeline's admission
        assert agent.calls == ["auth"]

    run(main())


def test_a_platform_run_on_a_thread_takes_the_routes_admission() -> None:
    """Before a run on a thread the Platform asks who calls; headers the route admitted
    already carry the answer, and the provider is not asked a second time."""
    from agentdock_plugins.litestar.platform.context import Platform
    from agentdock_plugins.litestar.platform.records import MemoryRecords

    agent = Agent()
    pipeline = build(agent)
    platform = Platform(pipeline, make_spec(), MemoryRecords(), 15.0)

    async def main() -> None:
        assert await platform.subject(GOOD) == "alice"  # plain headers: authenticated here
        assert agent.calls == ["auth"]
        admitted = await pipeline.admit(GOOD)
        assert agent.calls == ["auth", "auth"]
        assert await platform.subject(admitted) == "alice"
        assert agent.calls == ["auth", "auth"]  # the admission's identity, not asked again
        with pytest.raises(Unauthorized):
            await platform.subject({})

    run(main())


def test_bad_input_is_422_with_run_id() -> None:
    agent = Agent()
    pipeline = build(agent)
    err = raises(pipeline.invoke(b'{"text": 1, "tool": 2}', headers=GOOD), InputValidationError)
    envelope = err.envelope()
    assert envelope["run_id"] == err.run_id
    assert {d["path"] for d in envelope["details"]} == {"text", "tool"}
    assert agent.attempts == 0
    err = raises(pipeline.invoke({"text": None}, headers=GOOD), InputValidationError)
    assert err.details == [{"path": "text", "message": "expected string, got a null"}]


def test_inline_schema_of_the_spec_reaches_the_agent_with_defaults() -> None:
    seen: list[Mapping[str, Any]] = []

    async def capture(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        seen.append(payload)
        return {"text": "ok"}

    pipeline = build(Agent(behaviour=capture))
    run(pipeline.invoke(b'{"text": "a", "meta": {"n": null}}', headers=GOOD))
    assert seen == [{"text": "a", "meta": {"n": None}, "lang": "en"}]
    err = raises(
        pipeline.invoke(b'{"text": "a", "lang": "de", "meta": {"n": 10, "x": 1}}', headers=GOOD),
        InputValidationError,
    )
    assert [d["path"] for d in err.details or []] == ["lang", "meta.n", "meta.x"]


def test_policy_refusals_and_crashes() -> None:
    calls: list[str] = []
    agent = Agent(calls)
    pipeline = build(agent, calls, policies={"pre": Recorder("pre", calls)})
    err = raises(pipeline.invoke(b'{"text": "forbidden"}', headers=GOOD), PolicyViolationError)
    assert err.envelope()["code"] == 403 and err.envelope()["path"] == "text"
    err = raises(pipeline.invoke(b'{"text": "crash"}', headers=GOOD), InternalError)
    assert SECRET not in json.dumps(err.envelope())
    assert agent.attempts == 0


class ForgetsToReturn:
    """A policy whose check forgets to return the value (the contract says it must)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def check(self, value: Any, context: RunContext) -> None:
        return None


@pytest.mark.parametrize("stage", ["pre", "post"])
def test_a_policy_that_returns_nothing_is_named_not_the_agent(stage: str) -> None:
    calls: list[str] = []
    agent = Agent(calls)
    pipeline = build(agent, calls, policies={"forgets": ForgetsToReturn(stage)})
    err = raises(pipeline.invoke(b'{"text": "hi"}', headers=GOOD), InternalError)
    assert err.envelope()["detail"] == "policy 'forgets' failed: its check returned nothing"
    assert agent.attempts == (0 if stage == "pre" else 1)


def test_agent_that_raises_is_500_with_run_id_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def explode(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        raise KeyError(SECRET)

    agent = Agent(behaviour=explode)
    err = raises(build(agent).invoke(b'{"text": "a"}', headers=GOOD), AgentError)
    envelope = err.envelope()
    assert envelope["code"] == 500 and envelope["error"] == "AgentError"
    assert envelope["run_id"] == err.run_id
    text = json.dumps(envelope)
    assert SECRET not in text and "Traceback" not in text and "KeyError" not in text
    assert err.__cause__ is None and err.__suppress_context__
    logged = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert logged and all(SECRET not in r.getMessage() and not r.exc_info for r in logged)


def test_retries_then_success() -> None:
    async def flaky(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        if attempt < 3:
            raise ConnectionError("transient")
        return {"text": f"attempt {attempt}"}

    agent = Agent(behaviour=flaky)
    result = run(build(agent, arguments={"max_retries": 2}).invoke(b'{"text": "a"}', headers=GOOD))
    assert result.output == {"text": "attempt 3"}
    assert agent.attempts == 3

    agent = Agent(behaviour=flaky)
    raises(
        build(agent, arguments={"max_retries": 1}).invoke(b'{"text": "a"}', headers=GOOD),
        AgentError,
    )
    assert agent.attempts == 2


def test_agent_past_timeout_is_504_and_not_retried() -> None:
    async def hang(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        await asyncio.Event().wait()

    agent = Agent(behaviour=hang)
    pipeline = build(agent, arguments={"timeout_sec": 0.05, "max_retries": 3})
    err = raises(pipeline.invoke(b'{"text": "a"}', headers=GOOD), AgentTimeoutError)
    assert err.envelope()["code"] == 504 and err.envelope()["run_id"] == err.run_id
    assert agent.attempts == 1
    assert agent.cancelled


def test_agent_raising_its_own_timeout_error_is_an_agent_error() -> None:
    async def own_timeout(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        raise TimeoutError("upstream model timed out")

    agent = Agent(behaviour=own_timeout)
    pipeline = build(agent, arguments={"timeout_sec": 30, "max_retries": 1})
    raises(pipeline.invoke(b'{"text": "a"}', headers=GOOD), AgentError)
    assert agent.attempts == 2


def test_tool_denial_is_403_and_not_retried_even_if_the_agent_swallows_it() -> None:
    calls: list[str] = []

    async def swallow(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        return {"text": "done anyway"}

    agent = Agent(calls)
    pipeline = build(
        agent, calls, policies={"tool": Recorder("tool", calls)}, arguments={"max_retries": 2}
    )
    err = raises(pipeline.invoke(b'{"text": "a", "tool": "rm"}', headers=GOOD), ToolDeniedError)
    assert err.envelope()["code"] == 403 and err.envelope()["error"] == "ToolDeniedError"
    assert agent.attempts == 1

    class Swallower(Agent):
        async def invoke(self, payload: Mapping[str, Any], context: RunContext) -> RunResult:
            self.attempts += 1
            with contextlib.suppress(ToolDenied):
                await context.tools.acheck(ToolCall("rm"))
            return RunResult({"text": "ran anyway"})

    quiet = Swallower(calls)
    pipeline = build(quiet, calls, policies={"tool": Recorder("tool", calls)})
    raises(pipeline.invoke(b'{"text": "a"}', headers=GOOD), ToolDeniedError)


def test_output_that_fails_the_schema_is_500_without_internals() -> None:
    async def wrong(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        return {"text": [SECRET], "debug": {"trace": SECRET}}

    agent = Agent(behaviour=wrong)
    err = raises(build(agent).invoke(b'{"text": "a"}', headers=GOOD), SchemaMismatchError)
    envelope = err.envelope()
    assert envelope["code"] == 500 and envelope["run_id"] == err.run_id
    assert [d["path"] for d in envelope["details"]] == ["text"]
    assert SECRET not in json.dumps(envelope)


def test_cancelling_the_caller_cancels_the_agent() -> None:
    async def hang(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        await asyncio.Event().wait()

    agent = Agent(behaviour=hang)
    pipeline = build(agent, arguments={"timeout_sec": None})

    async def main() -> set[asyncio.Task[Any]]:
        task = asyncio.create_task(pipeline.invoke(b'{"text": "a"}', headers=GOOD))
        await agent.started.wait()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}

    left = asyncio.run(main())
    assert agent.cancelled
    assert left == set()


# -- telemetry -----------------------------------------------------------------------------------


def test_slow_and_raising_sinks_never_slow_or_fail_a_run() -> None:
    hanging, failing, good = Sink("hang"), Sink("raise"), Sink()
    pipeline = build(
        Agent(), sinks={"hang": hanging, "fail": failing, "good": good}, sink_timeout=0.05
    )

    async def main() -> None:
        for _ in range(3):
            result = await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
            assert result.output == {"text": "A"}
        stats = pipeline.telemetry_stats
        assert stats.sink_timeouts == 0, "no run waited for the hanging sink"
        for _ in range(200):
            if stats.sink_timeouts and stats.sink_errors and good.events:
                break
            await asyncio.sleep(0.01)
        await pipeline.aclose(timeout=1.0)

    run(main())
    stats = pipeline.telemetry_stats
    assert stats.sink_timeouts >= 1 and stats.sink_errors >= 1
    assert len(good.events) == 6, "run_start and run_end of each run"
    assert stats.queued == 3 * 6 and stats.dropped == 0, "six events for each of three sinks"


def test_queue_overflow_drops_and_counts() -> None:
    sink = Sink("gate")
    pipeline = build(Agent(), sinks={"s": sink}, telemetry_queue_size=2)

    async def main() -> None:
        for _ in range(10):
            await pipeline.invoke(b'{"text": "a"}', headers=GOOD)
        sink.gate.set()
        await pipeline.aclose(timeout=1.0)

    run(main())
    stats = pipeline.telemetry_stats
    assert stats.dropped > 0
    assert stats.queued + stats.dropped == 20, "run_start and run_end of each run"
    assert len(sink.events) == stats.queued


def test_errors_and_cancellations_are_reported_to_telemetry() -> None:
    sink = Sink()
    agent = Agent()
    pipeline = build(agent, sinks={"s": sink})

    async def main() -> None:
        with pytest.raises(Unauthorized):
            await pipeline.invoke(b'{"text": "a"}')
        with pytest.raises(InputValidationError):
            await pipeline.invoke(b"{}", headers=GOOD)
        await pipeline.aclose()

    run(main())
    assert [e["event"] for e in sink.events] == [
        "auth_event",
        "error_event",
        "run_end",
        "error_event",
        "run_end",
    ]
    auth, denied, end, invalid, _ = (e["data"] for e in sink.events)
    assert auth == {
        "outcome": "failure",
        "reason": "missing",
        "mode": "api_key",
        "role": None,
        "subject": None,
    }
    assert (denied["error_type"], denied["code"], denied["stage"]) == ("Unauthorized", 401, "auth")
    assert (end["status"], end["success"], end["error_type"]) == ("error", False, "Unauthorized")
    assert (invalid["error_type"], invalid["code"], invalid["stage"]) == (
        "ValidationError",
        422,
        "input",
    )


# -- stream --------------------------------------------------------------------------------------


def test_stream_items_in_order_with_increasing_ids() -> None:
    calls: list[str] = []
    agent = Agent(calls)
    pipeline = build(
        agent, calls, policies={"tool": Recorder("tool", calls), "post": Recorder("post", calls)}
    )
    items = run(collect(pipeline.stream(b'{"text": "one SECRET", "tool": "search"}', headers=GOOD)))
    assert [i.id for i in items] == list(range(1, len(items) + 1))
    assert [i.event for i in items] == ["start", "event", "token", "token", "event", "end"]
    run_id = items[0].data["run_id"]
    assert items[1].data == {"type": "tool", "name": "search"}
    assert [i.data["text"] for i in items if i.event == "token"] == ["one", "[REDACTED]"]
    assert items[-1].data == {
        "run_id": run_id,
        "usage": {"input_tokens": 2, "output_tokens": 4, "total_tokens": 6},
        "output": None,  # this adapter reports no output
    }
    assert calls == ["auth", "adapter", "tool:search", "post", "post"]


class Outputting(Agent):
    """Streams as :class:`Agent` does, then reports the run's output."""

    def __init__(self, output: Any, calls: list[str] | None = None) -> None:
        super().__init__(calls)
        self.output = output

    async def stream(
        self, payload: Mapping[str, Any], context: RunContext
    ) -> AsyncIterator[StreamEvent]:
        async for event in super().stream(payload, context):
            yield event
        yield StreamEvent("output", {"output": self.output})


class ModeRecorder(Recorder):
    """A post policy that notes the run mode it saw, and reports one event per call."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__("post", calls)
        self.modes: list[str] = []

    def _sync_check(self, value: Any, context: RunContext) -> Any:
        self.modes.append(context.mode)
        context.emit("policy_event", {"policy": "mode", "action": "flag"})
        return super()._sync_check(value, context)


def test_stream_end_carries_the_output_after_the_post_policies() -> None:
    calls: list[str] = []
    agent = Outputting({"text": "one SECRET"}, calls)
    post = ModeRecorder(calls)
    sink = Sink()
    pipeline = build(agent, calls, policies={"post": post}, sinks={"capture": sink})

    async def main() -> list[StreamItem]:
        items = await collect(pipeline.stream(b'{"text": "one SECRET"}', headers=GOOD))
        await pipeline.aclose()
        return items

    items = run(main())
    assert [i.event for i in items] == ["start", "token", "token", "event", "end"]
    # Redacted as /invoke's body is: the whole output once, in invoke mode.
    assert items[-1].data["output"] == {"text": "one [REDACTED]"}
    assert post.modes == ["stream", "stream", "invoke"]
    # The policy's events were reported for the tokens; the end's pass adds none.
    assert sum(e["event"] == "policy_event" for e in sink.events) == 2


def test_stream_output_that_fails_the_output_schema_is_an_error_item() -> None:
    items = run(collect(build(Outputting({"txt": 1})).stream(b'{"text": "a"}', headers=GOOD)))
    assert [i.event for i in items] == ["start", "token", "event", "error"]
    error = items[-1].data
    assert (error["error"], error["code"]) == ("SchemaMismatchError", 500)


def test_stream_refusals_before_start_are_raised() -> None:
    agent = Agent()
    pipeline = build(agent)
    raises(collect(pipeline.stream(b'{"text": "a"}')), Unauthorized)
    err = raises(collect(pipeline.stream(b'{"text": 5}', headers=GOOD)), InputValidationError)
    assert err.run_id
    assert agent.attempts == 0


def test_stream_failure_after_start_is_an_error_item() -> None:
    agent = Agent()
    items = run(
        collect(
            build(agent, arguments={"max_retries": 3}).stream(
                b'{"text": "fail late"}', headers=GOOD
            )
        )
    )
    assert [i.event for i in items] == ["start", "token", "token", "event", "error"]
    error = items[-1].data
    assert error["error"] == "AgentError" and error["code"] == 500
    assert error["run_id"] == items[0].data["run_id"]
    assert SECRET not in json.dumps(error)
    assert agent.attempts == 1, "no retry once output was streamed"


def test_stream_retries_only_before_output() -> None:
    async def flaky(attempt: int, payload: Mapping[str, Any], context: RunContext) -> Any:
        if attempt == 1:
            raise ConnectionError("transient")

    agent = Agent(behaviour=flaky)
    items = run(
        collect(build(agent, arguments={"max_retries": 1}).stream(b'{"text": "a"}', headers=GOOD))
    )
    assert [i.event for i in items] == ["start", "token", "event", "end"]
    assert agent.attempts == 2


def test_stream_timeout_is_a_504_item() -> None:
    agent = Agent()
    pipeline = build(agent, arguments={"timeout_sec": 0.05})
    items = run(collect(pipeline.stream(b'{"text": "hang late"}', headers=GOOD)))
    assert items[-1].event == "error"
    assert items[-1].data["code"] == 504
    assert agent.cancelled


def test_stream_tool_denial_is_a_403_item() -> None:
    calls: list[str] = []
    agent = Agent(calls)
    pipeline = build(agent, calls, policies={"tool": Recorder("tool", calls)})
    items = run(collect(pipeline.stream(b'{"text": "a", "tool": "rm"}', headers=GOOD)))
    assert [i.event for i in items] == ["start", "error"]
    assert items[-1].data["error"] == "ToolDeniedError"


def test_cancelling_a_stream_consumer_cancels_the_agent() -> None:
    agent = Agent()
    pipeline = build(agent, arguments={"timeout_sec": None})

    async def main() -> set[asyncio.Task[Any]]:
        async def consume() -> None:
            async for _ in pipeline.stream(b'{"text": "hang late"}', headers=GOOD):
                pass

        task = asyncio.create_task(consume())
        await agent.started.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.all_tasks() - {asyncio.current_task()}

    left = asyncio.run(main())
    assert agent.cancelled
    assert left == set()


def test_closing_a_stream_early_closes_the_agent() -> None:
    agent = Agent()
    pipeline = build(agent)

    async def main() -> None:
        stream = pipeline.stream(b'{"text": "a b c"}', headers=GOOD)
        first = await anext(stream)
        token = await anext(stream)
        assert (first.event, token.event) == ("start", "token")
        await stream.aclose()  # type: ignore[attr-defined]

    run(main())
    assert agent.closed


@pytest.mark.parametrize(
    ("text", "last", "status"),
    [("a b", "end", "ok"), ("fail late", "error", "error"), ("a b c", "token", "cancelled")],
)
def test_a_stream_closed_at_its_last_item_ends_as_that_item_says(
    text: str, last: str, status: str
) -> None:
    """A reader that stops at ``end`` (or ``error``) and closes the stream there, as the
    A2A and LangServe streams did, leaves a run that ended ``ok`` (or ``error``), not one
    ``cancelled``; closed before its last item, the run was cancelled."""
    sink = Sink()
    pipeline = build(Agent(), sinks={"s": sink})

    async def main() -> None:
        stream = pipeline.stream(json.dumps({"text": text}).encode(), headers=GOOD)
        async for item in stream:
            if item.event == last:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        await pipeline.aclose()

    run(main())
    ends = [e["data"] for e in sink.events if e["event"] == "run_end"]
    assert [end["status"] for end in ends] == [status]
