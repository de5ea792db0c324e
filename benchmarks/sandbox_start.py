"""What the local sandbox adds to a runtime's start: one more interpreter start and the
Landlock rules, before the bundle's interpreter is exec'd.

    uv run python benchmarks/sandbox_start.py [--runs 20]

Times, in one run on this machine, ``python -c pass`` started directly (the baseline) and
through ``python -I -m agentdock_plugins.local.sandbox --write DIR -- python -c pass`` (what
the supervisor runs), and prints the median of each and their difference. A runtime's own
start (importing LangGraph, the agent) takes seconds; the difference is paid once per start.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from agentdock_plugins.local.sandbox import command, probe


def _median_ms(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(runs: int) -> None:
    abi, why = probe()
    program = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory() as tmp:
        direct = _median_ms(program, runs)
        sandboxed = _median_ms(command(program, [tmp]), runs)
    print(f"Landlock ABI {abi}" if why is None else f"no sandbox: {why}")
    print(f"{'start':24} {'median ms':>10}")
    print(f"{'python -c pass':24} {direct:10.1f}")
    print(f"{'  through the sandbox':24} {sandboxed:10.1f}")
    print(f"{'difference':24} {sandboxed - direct:10.1f}  ({sandboxed / direct:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    main(parser.parse_args().runs)
