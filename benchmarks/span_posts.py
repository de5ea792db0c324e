"""CPU one export request costs each span exporter, the HTTP client's work alone.

    uv run python benchmarks/span_posts.py [--requests 300] [--trials 3] [--kib 20]

Each exporter (OpenTelemetry's, through the SDK's export loop, and LangFuse's spooling one)
POSTs an already-compressed body of ``--kib`` KiB (a 512-span batch of AgentDock's spans is
about 20 KiB gzipped) ``--requests`` times to an endpoint that answers 200 at once and keeps
connections open (a child process, so its CPU is not counted). The figure is this process's
CPU time per request, best of the trials: what the client does per request (headers, the
connection, the environment it reads), not encoding or compression. Run it on an earlier
checkout (``cd OTHER && uv run python THIS_FILE``) in the same session to compare.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from agentdock import validate
from trace_sinks import DOCUMENT, _serve, _sinks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--kib", type=int, default=20)
    args = parser.parse_args()
    report = validate(DOCUMENT, skip_imports=True)
    assert report.ok, [f.one_line() for f in report.errors]
    port = multiprocessing.Value("i", 0)
    received = multiprocessing.Value("q", 0)
    server = multiprocessing.Process(target=_serve, args=(port, received), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port.value}"
    body = os.urandom(args.kib * 1024)  # incompressible: as a gzipped body
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-") as scratch:
        sinks = _sinks(report.spec, "otel+langfuse", url, Path(scratch))
        sends: dict[str, Any] = {}
        for sink in sinks:
            exporter = sink.processor.exporter
            if sink.target_name == "otel":
                sends["OpenTelemetry"] = lambda e=exporter: e._post(body, len(body))
            else:
                sends["LangFuse"] = lambda e=exporter: e._post("bench", body)
        best: dict[str, float] = {}
        for _ in range(args.trials):
            for name, send in sends.items():
                send()  # the connection opened
                started = time.process_time()
                for _ in range(args.requests):
                    send()
                cost = (time.process_time() - started) / args.requests * 1e6
                best[name] = min(best.get(name, cost), cost)
        for sink in sinks:
            sink.shutdown()
    server.terminate()
    print(f"{'exporter':<15} {'CPU µs/request':>15}")
    for name, cost in best.items():
        print(f"{name:<15} {cost:>15.0f}")


if __name__ == "__main__":
    main()
