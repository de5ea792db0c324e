"""MCP's ``tools/call`` and A2A's ``message/send`` against AgentDock's own ``/invoke``.

    uv run python benchmarks/protocol_calls.py [--duration 5] [--connections 32]

One `agentdock serve` of benchmarks/servers/echo-secure (the synchronous echo graph behind
API-key auth, two redaction patterns and the injection check), pinned to core 0 as in
benchmarks/http_servers.py; `wrk -t1` on core 1 posts, in the same run, ``POST /invoke``,
``POST /mcp/`` (a ``tools/call`` of the agent) and ``POST /a2a/echo-secure`` (a
``message/send`` with a ``data`` part). The same pipeline runs behind each; the figures show
what each protocol costs. A2A's message starts a context, and so a thread in the agent's
checkpointer (``memory``), which ``/invoke`` without ``x-thread-id`` does not write: most of
its difference is that checkpoint. Ratios are printed against ``/invoke``; figures move
between runs on a shared machine, so compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentdock.registry import open_store
from siblings import load

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "benchmarks" / "servers"
AGENT = "echo-secure"


harness = load("http_servers")
features = load("http_features")
# The auth tests' key helper (tests/auth_support.py): a key stored as `key create` stores it.
sys.path.insert(0, str(ROOT / "tests"))
from auth_support import add_key  # noqa: E402

BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "POST /invoke": ("/invoke", {"text": "hi"}),
    "POST /mcp/ tools/call": (
        "/mcp/",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": AGENT, "arguments": {"text": "hi"}},
        },
    ),
    "POST /a2a message/send": (
        f"/a2a/{AGENT}",
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "kind": "message",
                    "messageId": "m",
                    "role": "user",
                    "parts": [{"kind": "data", "data": {"text": "hi"}}],
                }
            },
        },
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentdock-protocol-bench-") as home:
        env = {"AGENTDOCK_HOME": home, "AGENTDOCK_LOG_FORMAT": "off"}
        os.environ.update(env)
        with open_store() as store:
            key = add_key(store, AGENT, "caller").key
        server = features._serve(SERVERS / AGENT / "Dockfile.yaml", insecure=False, env=env)
        port = harness._free_port()
        process = harness._start(server, port)
        try:
            harness._wait_ready(server, port, 60)
            base = f"http://127.0.0.1:{port}"
            rows = {
                name: harness._wrk(
                    base + path, body, args.duration, args.connections, {"x-api-key": key}
                )
                for name, (path, body) in BODIES.items()
            }
        finally:
            harness._stop(process)

    print(f"\n{AGENT} (api_key auth, redaction, injection check), one server on core 0")
    print(f"{'wrk -t1 -c' + str(args.connections):34} {'req/s':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, row in rows.items():
        print(f"{name:34} {row['rps']:8.0f} {row['p99']:8.2f} {row['non_2xx']:8.0f}")
    invoke = rows["POST /invoke"]["rps"]
    for name, row in rows.items():
        if name != "POST /invoke":
            print(f"{name} / /invoke = {row['rps'] / invoke:.2f}x")


if __name__ == "__main__":
    main()
