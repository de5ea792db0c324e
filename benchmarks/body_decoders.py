"""What refusing integers wider than 64 bits costs the body decoders, in CPU µs per
decode, on well-formed bodies.

    uv run --frozen python benchmarks/body_decoders.py [--calls 20000] [--rounds 7]

For each body, two decoders alternate round by round in one thread (``time.process_time``,
best round of each). Before: the Platform's and LangServe's typed msgspec decode and MCP's
and A2A's plain one, which took an integer of any width, and ``/invoke``'s
:func:`~agentdock_runtime.iomodels.decode_json` as it scanned for a run of 19 digits with
the regular expression ``[0-9]{19}``. Now: each route's decoder
(:func:`~agentdock_plugins.litestar.platform.bodies.decode_body`,
:func:`~agentdock_plugins.litestar.platform.jsonrpc.read_message`, ``decode_json``), all
with the scan of :mod:`agentdock_runtime.jsonvalues` (digits translated to ``0``, then a
substring search). Prints µs per decode and the ratio now/before.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from typing import Any

import msgspec
from agentdock_plugins.litestar.platform.bodies import RunCreate, decode_body
from agentdock_plugins.litestar.platform.jsonrpc import read_message
from agentdock_plugins.litestar.platform.langserve import Invoke
from agentdock_runtime.iomodels import decode_json

_MESSAGE = {"role": "user", "content": "What changed in the deployment since yesterday?"}

BODIES: dict[str, tuple[type[Any] | None, bytes]] = {
    "runs.wait (RunCreate, 0.2 KiB)": (
        RunCreate,
        json.dumps(
            {
                "assistant_id": "agent",
                "input": {"messages": [_MESSAGE]},
                "stream_mode": ["values"],
                "metadata": {"user": "u-123"},
            }
        ).encode(),
    ),
    "runs.wait (RunCreate, 4 KiB)": (
        RunCreate,
        json.dumps(
            {"assistant_id": "agent", "input": {"messages": [_MESSAGE] * 48}, "config": {}}
        ).encode(),
    ),
    "langserve invoke (0.1 KiB)": (
        Invoke,
        json.dumps({"input": {"text": "hello there"}, "config": {}}).encode(),
    ),
    "/invoke input (4 KiB)": (
        dict,
        json.dumps({"messages": [_MESSAGE] * 48}).encode(),
    ),
    "mcp tools/call (0.1 KiB)": (
        None,
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "agent", "arguments": {"text": "hello there"}},
            }
        ).encode(),
    ),
}


def _best(fn: Callable[[], Any], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    plain = msgspec.json.Decoder()
    old_scan = re.compile(rb"[0-9]{19}")

    def old_decode_json(body: bytes) -> Any:
        value = plain.decode(body)
        old_scan.search(body)
        return value

    def old_decode_body(body: bytes, typed: msgspec.json.Decoder[Any]) -> Any:
        if not body.strip():
            raise ValueError("empty")
        return typed.decode(body)

    print(f"{'body':34} {'before µs':>10} {'now µs':>8} {'now/before':>10}")
    for name, (kind, body) in BODIES.items():
        if kind is None:
            before: Callable[[], Any] = lambda body=body: plain.decode(body)  # noqa: E731
            now: Callable[[], Any] = lambda body=body: read_message(body)  # noqa: E731
        elif kind is dict:
            before = lambda body=body: old_decode_json(body)  # noqa: E731
            now = lambda body=body: decode_json(body)  # noqa: E731
        else:
            typed = msgspec.json.Decoder(kind)
            before = lambda body=body, typed=typed: old_decode_body(body, typed)  # noqa: E731
            now = lambda body=body, kind=kind: decode_body(body, kind, empty_ok=False)  # noqa: E731
        a, b = [], []
        for _ in range(args.rounds):
            a.append(_best(before, args.calls))
            b.append(_best(now, args.calls))
        print(f"{name:34} {min(a):10.2f} {min(b):8.2f} {min(b) / min(a):10.2f}")


if __name__ == "__main__":
    main()
