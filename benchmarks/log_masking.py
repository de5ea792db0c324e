"""Cost of masking secret values in what a runtime writes, per log line.

    uv run python benchmarks/log_masking.py [--lines 20000] [--trials 7] [--secrets 6]

A deployed runtime's stdout and stderr go through ``agentdock_runtime.logmask.MaskedStream``
(the log sink writes one JSON line per run from its writer thread, off the event loop).
Measured in one process, in the same run (compare the ratios):
- plain write                    the wrapped text file alone (os.devnull)
- masked write, no secret in it  a line holding none of the values: one regex scan
- masked write, a secret in it   a line quoting one of the values (replaced with ***)

Each figure is the median over the trials of the mean µs per line within a trial.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from agentdock.masking import Masker
from agentdock_runtime.logmask import MaskedStream

LINE = (
    '{"timestamp":"2026-11-25T16:40:00.123456Z","level":"INFO","agent":"invoice_copilot",'
    '"version":"v1.0.0","message":"run ok (invoke) in 2010.0 ms, tokens 1124/731",'
    '"event":"run_end","run_id":"4bf9c1d2","trace_id":"4bf9c1d2e3f4","span_id":"00f0a1b2",'
    '"mode":"invoke","status":"ok","latency_ms":2010.0,"tokens_input":1124,"tokens_output":731}\n'
)


def _per_line_us(write: Callable[[str], object], line: str, lines: int, trials: int) -> float:
    for _ in range(min(lines, 500)):
        write(line)
    means = []
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(lines):
            write(line)
        means.append((time.perf_counter() - started) / lines * 1e6)
    return statistics.median(means)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=7)
    parser.add_argument("--secrets", type=int, default=6)
    args = parser.parse_args()
    values = [f"sk-benchmark-{i:02d}-0123456789abcdef0123456789" for i in range(args.secrets)]
    leaking = LINE.replace("run ok", f"run failed: bad key {values[-1]}")
    with open(os.devnull, "w", encoding="utf-8") as sink:  # a text file, as stdout is
        masked = MaskedStream(sink, Masker(values))
        rows = [
            ("plain write", _per_line_us(sink.write, LINE, args.lines, args.trials)),
            (
                "masked write, no secret in it",
                _per_line_us(masked.write, LINE, args.lines, args.trials),
            ),
            (
                "masked write, a secret in it",
                _per_line_us(masked.write, leaking, args.lines, args.trials),
            ),
        ]
    base = rows[0][1]
    print(f"{len(LINE)}-character JSON log line, {args.secrets} secret values, {args.lines} lines")
    for name, us in rows:
        print(f"{name:32s} {us:8.2f} µs/line   x{us / base:6.1f} of plain")


if __name__ == "__main__":
    main()
