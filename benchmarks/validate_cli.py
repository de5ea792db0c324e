"""Time `agentdock validate` as a whole process, against baselines measured in the same run.

    uv run python benchmarks/validate_cli.py [--runs 21]

Cases (each a fresh process, median and p90 of N runs):
- python -c pass                      the interpreter's own start-up (floor)
- python -c "import click, yaml, jsonschema_rs, pluggy" + entry-point scan: the floor of
                                      any validating CLI process
- agentdock validate --skip-imports   the PRD's full example (examples/invoice-copilot)
- agentdock validate                  the same, importing the entrypoint and I/O classes
                                      in a subprocess (LangGraph is imported there)
The target for `--skip-imports` is a median under 300 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKFILE = str(ROOT / "examples" / "invoice-copilot" / "Dockfile.yaml")
ENV = [
    "--env",
    "JWT_SECRET=" + "s" * 48,
    "--env",
    "LANGFUSE_PUBLIC=pk-lf-bench",
    "--env",
    "LANGFUSE_SECRET=sk-lf-bench",
]
CLI = [sys.executable, "-m", "agentdock_cli"]
#: The libraries `validate --skip-imports` cannot avoid: the CLI, YAML, the schema validator,
#: the plugin manager and the entry-point scan.
IMPORTS = (
    "import click, yaml, jsonschema_rs, pluggy, importlib.metadata;"
    "importlib.metadata.entry_points(group='agentdock')"
)


def _time(cmd: list[str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, cwd=ROOT)
        samples.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(
                f"{' '.join(cmd)} failed:\n{result.stdout.decode()}{result.stderr.decode()}"
            )
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import click+yaml+jsonschema_rs", [sys.executable, "-c", IMPORTS]),
        ("validate --skip-imports", [*CLI, "validate", DOCKFILE, "--skip-imports", "--json", *ENV]),
        ("validate (with imports)", [*CLI, "validate", DOCKFILE, "--json", *ENV]),
    ]
    results = {}
    print(f"{'case':<34} {'median ms':>10} {'p90 ms':>8}")
    for name, cmd in cases:
        _time(cmd, 2)  # warm the page cache and bytecode
        median, p90 = _time(cmd, args.runs)
        results[name] = median
        print(f"{name:<34} {median:>10.1f} {p90:>8.1f}")
    floor = results["python -c pass"]
    skip = results["validate --skip-imports"]
    libs = results["import click+yaml+jsonschema_rs"]
    full = results["validate (with imports)"]
    print()
    print(f"validate --skip-imports / interpreter start-up: {skip / floor:.1f}x")
    print(f"validate --skip-imports / unavoidable imports:  {skip / libs:.2f}x")
    print(f"validate with imports / --skip-imports:         {full / skip:.2f}x")
    print(f"target: --skip-imports median < 300 ms -> {'met' if skip < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
