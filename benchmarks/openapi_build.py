"""Cost of the OpenAPI document at start-up: built once per application, never per request.

    uv run python benchmarks/openapi_build.py [--rounds 200] [--starts 5]

Prints, in one run:
- document: milliseconds per ``openapi_document(spec)`` (best and median of R rounds) for the
  echo example (inline schemas) and invoice-copilot (pydantic ``input_class``);
- app: milliseconds per ``agentdock.app(echo)`` (plugins loaded, pipeline compiled, Litestar
  app built; the document is part of it), and the document's share of it;
- cold start: seconds for a fresh interpreter to import AgentDock and build the echo app
  (best and median of S processes), the figure a runtime's start pays.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"
INVOICE = ROOT / "examples" / "invoice-copilot" / "Dockfile.yaml"
#: Stand-ins for the variables invoice-copilot's Dockfile names.
STAND_INS = {
    "JWT_SECRET": "benchmark-stand-in-value-0123456789abcdef",
    "LANGFUSE_PUBLIC": "pk-benchmark",
    "LANGFUSE_SECRET": "sk-benchmark",
}
COLD_START = f"import agentdock; agentdock.app({str(ECHO)!r}, insecure_no_auth=True)"


def _times(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    seen = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        seen.append(time.perf_counter() - start)
    return min(seen) * 1000, statistics.median(seen) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()

    import agentdock
    from agentdock_plugins.litestar.openapi import openapi_document

    echo = agentdock.load(ECHO)
    sys.path.insert(0, str(INVOICE.parent))
    invoice = agentdock.load(INVOICE, env=STAND_INS)
    openapi_document(invoice)  # imports the pydantic models once
    for name, spec in (("echo", echo), ("invoice-copilot", invoice)):
        best, median = _times(lambda spec=spec: openapi_document(spec), args.rounds)
        print(f"document {name:16s} best {best:7.3f} ms  median {median:7.3f} ms")
    document, _ = _times(lambda: openapi_document(echo), args.rounds)
    app_rounds = max(args.rounds // 10, 5)
    with contextlib.redirect_stderr(io.StringIO()):  # the "authentication is OFF" notice
        app, app_median = _times(lambda: agentdock.app(ECHO, insecure_no_auth=True), app_rounds)
    print(f"app      echo             best {app:7.3f} ms  median {app_median:7.3f} ms")
    print(f"document share of app build (best/best): {document / app:.1%}")

    starts = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(args.starts):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", COLD_START], check=True, env=env, stderr=subprocess.DEVNULL
        )
        starts.append(time.perf_counter() - start)
    print(
        f"cold start (import + echo app) best {min(starts):.3f} s  "
        f"median {statistics.median(starts):.3f} s"
    )


if __name__ == "__main__":
    main()
