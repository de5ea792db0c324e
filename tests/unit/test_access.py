"""Roles, permissions and per-role rate limits (GCRA) of the runtime's Access."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agentdock.spec.models import DockSpec11
from agentdock_runtime.access import Access, compile_access
from agentdock_runtime.errors import Forbidden, RateLimited, ServiceUnavailable
from agentdock_runtime.ratelimit import (
    MemoryLimiter,
    RateLimitSyntaxError,
    RedisLimiter,
    parse_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_spec(auth: dict[str, Any]) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "echo_agent", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": "openai", "name": "gpt-4o-mini"},
            "io_schema": {
                "input": {"type": "object", "properties": {"text": {"type": "string"}}},
                "output": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            "auth": {"mode": "api_key", "api_keys": {"enabled": True}, **auth},
            "expose": {"rest": True, "streaming": "sse", "port": 8080},
        }
    )


def check(access: Access, identity: dict[str, Any], permission: str) -> None:
    asyncio.run(access.check(identity, permission))


def test_default_roles_when_the_dockfile_declares_none() -> None:
    access = compile_access(make_spec({}), redis_url="")
    check(access, {"sub": "a", "role": "developer"}, "invoke")
    check(access, {"sub": "a", "role": "viewer"}, "read_docs")
    check(access, {"sub": "a", "role": "admin"}, "key_manage")
    with pytest.raises(Forbidden) as info:
        check(access, {"sub": "a", "role": "viewer"}, "invoke")
    assert info.value.status == 403
    assert info.value.detail == "role 'viewer' lacks permission 'invoke'"
    assert info.value.envelope()["details"] == [{"role": "viewer", "permission": "invoke"}]


def test_declared_roles_replace_the_defaults() -> None:
    spec = make_spec({"roles": [{"name": "caller", "permissions": ["invoke"]}]})
    access = compile_access(spec, redis_url="")
    check(access, {"sub": "a", "role": "caller"}, "invoke")
    with pytest.raises(Forbidden, match="role 'developer' is not defined"):
        check(access, {"sub": "a", "role": "developer"}, "invoke")
    with pytest.raises(Forbidden, match="lacks permission 'view_metrics'"):
        check(access, {"sub": "a", "role": "caller"}, "view_metrics")
    with pytest.raises(Forbidden):
        check(access, {"sub": "a"}, "invoke")


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("100/m", 100, 60.0), ("10/s", 10, 1.0), ("1000/h", 1000, 3600.0), ("5 / d", 5, 86400.0)],
)
def test_parse_rate(text: str, count: int, period: float) -> None:
    rate = parse_rate(text)
    assert (rate.count, rate.period) == (count, period)


@pytest.mark.parametrize("text", ["", "0/m", "100", "100/min", "100 requests/minute", "-1/s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(RateLimitSyntaxError, match="expected <count>/<s\\|m\\|h\\|d>"):
        parse_rate(text)


def test_gcra_burst_then_steady_rate_with_retry_after() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = parse_rate("10/m")  # one every 6 s, burst of 10
    assert all(limiter.hit_now("k", rate).allowed for _ in range(10))
    refused = limiter.hit_now("k", rate)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(6.0)
    clock.now += 5.9
    assert not limiter.hit_now("k", rate).allowed
    clock.now += 0.1
    assert limiter.hit_now("k", rate).allowed
    assert not limiter.hit_now("k", rate).allowed
    # A full period later the whole burst is back, and no more than that.
    clock.now += 60
    assert sum(limiter.hit_now("k", rate).allowed for _ in range(25)) == 10


def test_no_double_burst_at_a_window_edge() -> None:
    """A fixed window would allow 2n around a minute boundary; GCRA allows n + what accrued."""
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = parse_rate("60/m")
    clock.now = 59.5
    assert sum(limiter.hit_now("k", rate).allowed for _ in range(60)) == 60
    clock.now = 60.5  # one second later, "a new minute"
    assert sum(limiter.hit_now("k", rate).allowed for _ in range(60)) == 1


@given(
    now=st.floats(0, 10**7, allow_nan=False),
    count=st.integers(1, 50),
    period=st.sampled_from(["s", "m", "h", "d"]),
)
def test_a_whole_burst_is_always_allowed(now: float, count: int, period: str) -> None:
    """Float sums of the interval round: at 481.0235626848347 s of monotonic time a 1/h
    limit once refused a caller's first request, and at 1000.1 s a 3/s limit its third."""
    clock = Clock()
    clock.now = now
    limiter = MemoryLimiter(clock)
    rate = parse_rate(f"{count}/{period}")
    assert all(limiter.hit_now("k", rate).allowed for _ in range(count))
    assert not limiter.hit_now("k", rate).allowed


@pytest.mark.parametrize(("now", "text"), [(481.0235626848347, "1/h"), (1000.1, "3/s")])
def test_bursts_at_times_that_round_up(now: float, text: str) -> None:
    clock = Clock()
    clock.now = now
    limiter = MemoryLimiter(clock)
    rate = parse_rate(text)
    assert all(limiter.hit_now("k", rate).allowed for _ in range(rate.count))
    refused = limiter.hit_now("k", rate)
    assert not refused.allowed and refused.retry_after == pytest.approx(rate.interval)


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 50),
    period=st.sampled_from(["s", "m", "h"]),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=200),
)
def test_gcra_never_allows_more_than_the_rate(count: int, period: str, gaps: list[float]) -> None:
    """Over any run, allowed ≤ count + elapsed / interval (burst plus what accrued)."""
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = parse_rate(f"{count}/{period}")
    start = clock.now
    allowed = 0
    for gap in gaps:
        clock.now += gap
        allowed += limiter.hit_now("k", rate).allowed
    elapsed = clock.now - start
    assert allowed <= count + elapsed / rate.interval + 1e-9


def test_rate_limits_are_per_role_and_subject() -> None:
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    access = compile_access(spec, redis_url="")
    ann = {"sub": "ann", "role": "developer"}
    bob = {"sub": "bob", "role": "developer"}
    check(access, ann, "invoke")
    check(access, ann, "invoke")
    with pytest.raises(RateLimited) as info:
        check(access, ann, "invoke")
    assert info.value.status == 429
    assert info.value.retry_after == pytest.approx(30.0, abs=1)
    assert info.value.headers["Retry-After"] in {"30", "31"}
    assert "developer" in info.value.detail and "2/m" in info.value.detail
    check(access, bob, "invoke")  # another subject has its own budget
    for _ in range(5):  # roles without a limit are not limited
        check(access, {"sub": "ann", "role": "admin"}, "invoke")


def test_forbidden_is_checked_before_the_rate_limit() -> None:
    access = compile_access(make_spec({"rate_limits": {"viewer": "1/h"}}), redis_url="")
    for _ in range(3):
        with pytest.raises(Forbidden):
            check(access, {"sub": "v", "role": "viewer"}, "invoke")
    check(access, {"sub": "v", "role": "viewer"}, "read_docs")


def test_rate_limited_retry_after_header_is_whole_seconds() -> None:
    assert RateLimited("x", retry_after=0.2).headers["Retry-After"] == "1"
    assert RateLimited("x", retry_after=2.01).headers["Retry-After"] == "3"


def test_redis_is_used_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    assert isinstance(compile_access(spec).limiter, MemoryLimiter)
    assert isinstance(compile_access(spec, redis_url="redis://127.0.0.1:1/0").limiter, RedisLimiter)
    monkeypatch.setenv("AGENTDOCK_REDIS_URL", "redis://127.0.0.1:1/0")
    assert isinstance(compile_access(spec).limiter, RedisLimiter)
    # No limits, no Redis connection needed.
    assert isinstance(compile_access(make_spec({})).limiter, MemoryLimiter)


def test_redis_outage_falls_back_to_memory_limits() -> None:
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    access = compile_access(spec, redis_url="redis://127.0.0.1:1/0")
    ann = {"sub": "ann", "role": "developer"}

    async def main() -> None:
        await access.check(ann, "invoke")
        await access.check(ann, "invoke")
        with pytest.raises(RateLimited):
            await access.check(ann, "invoke")
        assert (access.limiter.backend, access.limiter.fallbacks) == ("local", 1)
        await access.close()

    asyncio.run(main())


def test_instances_sharing_a_limiter_have_budgets_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    shared = MemoryLimiter()
    ann = {"sub": "ann", "role": "developer"}
    monkeypatch.setenv("AGENTDOCK_INSTANCE", "acme")
    acme = compile_access(spec, redis_url="")
    assert acme.instance == "acme"
    globex = compile_access(spec, redis_url="", instance="globex")
    for access in (acme, globex):
        access.limiter = shared
        check(access, ann, "invoke")
        check(access, ann, "invoke")
        with pytest.raises(RateLimited):
            check(access, ann, "invoke")
    assert sorted(shared._tat) == [
        "echo_agent:acme:developer:ann",
        "echo_agent:globex:developer:ann",
    ]


def test_an_unknown_outage_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    monkeypatch.setenv("AGENTDOCK_RATELIMIT_ON_OUTAGE", "open")
    with pytest.raises(ValueError, match="AGENTDOCK_RATELIMIT_ON_OUTAGE is 'open'"):
        compile_access(spec, redis_url="redis://127.0.0.1:1/0")
    closed = compile_access(spec, redis_url="redis://127.0.0.1:1/0", on_outage="closed")
    assert isinstance(closed.limiter, RedisLimiter)


def test_an_unreachable_redis_fails_closed_when_asked() -> None:
    spec = make_spec({"rate_limits": {"developer": "2/m"}})
    access = compile_access(spec, redis_url="redis://127.0.0.1:1/0", on_outage="closed")
    ann = {"sub": "ann", "role": "developer"}

    async def main() -> None:
        for _ in range(2):
            with pytest.raises(ServiceUnavailable) as info:
                await access.check(ann, "invoke")
            assert info.value.status == 503
            assert info.value.headers["Retry-After"] == "5"
        assert (access.limiter.backend, access.limiter.fallbacks) == ("closed", 1)
        await access.check({"sub": "ann", "role": "admin"}, "invoke")  # not limited
        await access.close()

    asyncio.run(main())


def test_the_memory_limiter_mirrors_a_tat_forward_only() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = parse_rate("10/m")
    assert limiter.ahead("k") == 0.0
    limiter.observe("k", 54.0)
    limiter.observe("k", 6.0)  # a late, older answer
    assert limiter.ahead("k") == pytest.approx(54.0)
    assert limiter.hit_now("k", rate).allowed
    assert not limiter.hit_now("k", rate).allowed
    clock.now += 120
    assert limiter.ahead("k") < 0


def test_a_charge_of_several_requests_is_allowed_whole_or_refused_whole() -> None:
    """A batch's runs charged at once: never part of them, a refusal spends nothing."""
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = parse_rate("6/h")
    assert limiter.hit_now("k", rate).allowed
    refused = limiter.hit_now("k", rate, 6)  # 1 + 6 > 6
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(600.0)  # when 6 more fit: one interval
    assert limiter.hit_now("k", rate, 5).allowed  # nothing was spent by the refusal
    assert not limiter.hit_now("k", rate).allowed
    clock.now += 1200.0
    assert limiter.hit_now("k", rate, 2).allowed
    assert not limiter.hit_now("k", rate).allowed


def test_a_call_of_more_runs_than_the_limit_is_refused_with_nothing_spent() -> None:
    spec = make_spec({"rate_limits": {"developer": "6/h"}})
    access = compile_access(spec, redis_url="")
    ann = {"sub": "ann", "role": "developer"}
    check(access, ann, "invoke")
    with pytest.raises(RateLimited) as never:
        asyncio.run(access.check(ann, "invoke", cost=6, spent=1))
    assert "at most 6" in never.value.detail and "6/h" in never.value.detail
    assert never.value.retry_after is None and "Retry-After" not in never.value.headers
    asyncio.run(access.check(ann, "invoke", cost=5, spent=1))
    with pytest.raises(RateLimited):
        check(access, ann, "invoke")
