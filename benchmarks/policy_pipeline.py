"""Cost of the policy engine per call: 10 redaction patterns on a 4 KB input.

    uv run python benchmarks/policy_pipeline.py [--calls 2000] [--cpu 0]

The built-in policies are built from a Dockfile 1.1 spec, once, as the runtime builds them;
each case then calls them the way the pipeline does, ``--calls`` times, and reports the
median and p99 microseconds per call (goal: under 200 µs for the pre stage with 10 patterns;
the PRD allows 10 ms). All cases run in the same process, so compare them with each other:
- pre: redaction, 10 patterns           ``redact_input`` on a 4 KB input (a few matches)
- pre: redaction + injection score      the whole pre stage with the default injection check
- pre: + 7 PII recognisers              the same with every built-in recogniser on
- pre: 7 PII recognisers only           ``redact_input`` with the recognisers and nothing else
- pre: 7 PII, non-ASCII text            the same on a 4 KB text of curly quotes, dashes,
                                        accents and Chinese with look-alike values in it
                                        (the recognisers' folded-text path)
- post: invoke output                   redaction, compliance keywords and the length guard
- post: stream, per 4-char token        one streamed token through the same post policies

Then the whole runtime pipeline in process (auth off), the echo graph of examples/echo, 32
calls in flight: ``pipeline.invoke`` calls/s with no redaction and the injection check off,
against two redaction patterns and the injection check on (goal: at least 0.9x), the two
alternating over ``--trials`` rounds, best round of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from throwaway_home import throwaway_home

ROOT = Path(__file__).resolve().parents[1]
# The policies' own cost: no telemetry sink (benchmarks/http_features.py measures those).
for _switch in ("AGENTDOCK_METRICS", "AGENTDOCK_LOG_FORMAT", "AGENTDOCK_LOCALSTORE"):
    os.environ.setdefault(_switch, "off")
sys.path.insert(0, str(ROOT / "tests"))

PATTERNS = [
    r"(?i)password\s*[:=]\s*\S+",
    r"\b\d{3}-\d{2}-\d{4}\b",
    r"\bsk-[A-Za-z0-9]{20,}\b",
    r"(?i)\bconfidential\b",
    r"\b[A-Z]{2}\d{6}\b",
    r"(?i)api[_-]?key\s*[:=]\s*\S+",
    r"\b4\d{3}(?: ?\d{4}){3}\b",
    r"(?i)\bbearer\s+[A-Za-z0-9._-]{10,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"(?i)secret[_-]?token\s*[:=]\s*\S+",
]
PII = ["credit_card", "us_ssn", "email", "phone", "iban", "ipv4", "api_key"]

PROSE = (
    "The quarterly report covers revenue, churn and the roadmap for the next two releases. "
    "Customers asked for faster exports, better search and clearer invoices; the team plans "
    "to ship the export rewrite first. Support tickets fell by a fifth after the new help "
    "centre went live, and the on-call rotation now covers weekends with two engineers. "
)


PROSE_UNICODE = (
    "The model said — quite reasonably — that it’s fine: “naïve café” pricing fell 12–15 % "
    "this year. 季度报告涵盖了收入、客户流失以及路线图。团队计划首先发布导出重写。 "
)


def make_unicode_input() -> dict[str, Any]:
    body = PROSE_UNICODE * 40
    planted = " 卡号 ４１１１ １１１１ １１１１ １１１１，邮箱 bob＠exämple.com，主机 10。1。2。3 "
    text = body[:1900] + planted + body[1900 : 4096 - len(planted)]
    return {"text": text}


def make_input() -> dict[str, Any]:
    body = PROSE * 12
    planted = " password: hunter2 and SSN 123-45-6789 from 10.1.2.3 "
    text = body[:1900] + planted + body[1900 : 4096 - len(planted)]
    return {"text": text}


def measure(call: Callable[[], Any], calls: int) -> tuple[float, float]:
    for _ in range(min(200, calls)):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        call()
        samples.append(clock() - start)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99) - 1] / 1000


async def _rate(call: Callable[[], Any], calls: int, concurrency: int = 32) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await call()

    for _ in range(50):
        await call()
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return calls / (time.perf_counter() - start)


async def invoke_ratio(calls: int, trials: int) -> None:
    import agentdock
    from agentdock.plugins import get_plugin_manager
    from agentdock.spec.models import PoliciesCfg, SafetyPolicy
    from agentdock_runtime import compile_pipeline

    echo = ROOT / "examples" / "echo"
    sys.path.insert(0, str(echo))
    from echo.graph import build_graph

    spec = agentdock.load(echo / "Dockfile.yaml")
    off = PoliciesCfg(safety=SafetyPolicy(block_prompt_injection=False))
    on = PoliciesCfg(safety=SafetyPolicy(redact_patterns=PATTERNS[:2], block_prompt_injection=True))
    plugins = get_plugin_manager()
    pipelines = {
        name: compile_pipeline(
            spec.model_copy(update={"policies": policies}),
            entry=build_graph,
            plugins=plugins,
            insecure_no_auth=True,
        )
        for name, policies in (("policies off", off), ("2 patterns + injection", on))
    }
    body = b'{"text": "hello there, how are you today?"}'
    best = dict.fromkeys(pipelines, 0.0)
    for _ in range(trials):
        for name, pipeline in pipelines.items():
            rate = await _rate(lambda p=pipeline: p.invoke(body), calls)
            best[name] = max(best[name], rate)
    for pipeline in pipelines.values():
        await pipeline.aclose()
    print(f"\npipeline.invoke, echo graph, 32 in flight, best of {trials}")
    for name, rate in best.items():
        print(f"{name:<40} {rate:>9.0f} calls/s")
    ratio = best["2 patterns + injection"] / best["policies off"]
    print(f"with policies / without: {ratio:.2f}x (goal >= 0.9x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--invoke-calls", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from agentdock_plugins.policies import factories
    from policy_support import recording_context, spec_with

    def build(safety: dict[str, Any], stage: str) -> list[Any]:
        spec = spec_with(safety)
        built = [factory(spec) for _, factory in factories()]
        return [p for p in built if p is not None and p.stage == stage]

    value = make_input()
    assert len(value["text"]) == 4096
    context, events = recording_context()

    def run(policies: list[Any], data: Any) -> Callable[[], Any]:
        def call() -> Any:
            out = data
            for policy in policies:
                out = policy.check(out, context)
            events.clear()
            return out

        return call

    only_redaction = build({"redact_patterns": PATTERNS, "block_prompt_injection": False}, "pre")
    pre = build({"redact_patterns": PATTERNS}, "pre")
    pre_pii = build({"redact_patterns": PATTERNS, "pii": PII}, "pre")
    only_pii = build({"pii": PII, "block_prompt_injection": False}, "pre")
    unicode_value = make_unicode_input()
    assert len(unicode_value["text"]) == 4096
    post_safety = {
        "redact_patterns": PATTERNS,
        "compliance_keywords": ["confidential", "restricted"],
        "max_output_chars": 8000,
    }
    post = build(post_safety, "post")

    invoke_post = run(post, value)

    from agentdock.run import ToolGate

    tokens = [value["text"][i : i + 4] for i in range(0, 4096, 4)]
    position = 0

    def one_token() -> Any:
        nonlocal position
        data = {"text": tokens[position % len(tokens)]}
        position += 1
        out: Any = data
        for policy in post:
            out = policy.check(out, context)
        events.clear()
        return out

    print(
        f"$ uv run python benchmarks/policy_pipeline.py --calls {args.calls} "
        f"--invoke-calls {args.invoke_calls} --trials {args.trials}"
    )
    print(f"input: one 4096-character string; {len(PATTERNS)} patterns; µs per call\n")
    print(f"{'case':<40} {'median':>9} {'p99':>9}")
    rows: list[tuple[str, float, float]] = []
    rows.append(("pre: redaction, 10 patterns", *measure(run(only_redaction, value), args.calls)))
    rows.append(("pre: redaction + injection score", *measure(run(pre, value), args.calls)))
    rows.append(("pre: + 7 PII recognisers", *measure(run(pre_pii, value), args.calls)))
    rows.append(("pre: 7 PII recognisers only", *measure(run(only_pii, value), args.calls)))
    rows.append(("pre: 7 PII, non-ASCII text", *measure(run(only_pii, unicode_value), args.calls)))
    context.tools.close()
    rows.append(("post: invoke output", *measure(invoke_post, args.calls)))
    context.tools = ToolGate()
    rows.append(("post: stream, per 4-char token", *measure(one_token, args.calls)))
    for name, median, p99 in rows:
        print(f"{name:<40} {median:>9.1f} {p99:>9.1f}")
    goal = rows[1][1]
    print(
        f"\npre stage (10 patterns + injection): {goal:.1f} µs, goal < 200 µs: "
        f"{'met' if goal < 200 else 'NOT met'} ({goal / 200:.2f}× the goal)"
    )
    with throwaway_home():
        asyncio.run(invoke_ratio(args.invoke_calls, args.trials))


if __name__ == "__main__":
    main()
