"""Cost of PII redaction on hostile text: bodies made to make the recognisers work hard.

    uv run python benchmarks/policy_hostile.py [--sizes 64,256,1024] [--baseline DIR]

``redact_input`` with all 7 recognisers on (the injection check off) redacts one string of
each shape below, at 64 KiB, 256 KiB and 1 MiB, and the script prints the milliseconds each
took (best of ``--repeat``). With ``--baseline DIR`` (another checkout of the repository,
e.g. ``git worktree add /tmp/old main``) the same shapes are measured in a second process
that imports that checkout's ``agentdock_plugins``, and the ratio old / new is printed;
``--baseline-sizes`` limits the sizes measured there (old code may take seconds a shape).

Shapes (``tests/hostile_text.py``, each written over and over up to the size):
- ``41 41 41 …``                    short digit groups: a candidate at every group
- ``4111 1111 1111 1111 …``         card-shaped groups, the same number again and again
- random groups of 4, spaced        card-shaped groups, digits that never repeat
- random digits, ``-``/``.``/`` ``  random groups of 1 to 4 digits, mixed separators
- ``1.1.1.1.…``                     one IPv4-shaped run with no end
- ``1 2 3 4 …`` (one digit each)    phone-shaped
- 1 MiB of digits                   one group, no separator
- ``a@a@a@…``                       at signs with local parts and no domain
- ``x@a.co x@a.co …``               real addresses, again and again
- ``4\u200b1\u200b …``              digits between invisible characters
- zero-width spaces only            nothing but invisible characters
- ``GB82 GB82 …``                   IBAN-like country code and check digits
- ``GB82WEST12345698765432…``       IBAN-like letters and digits run together

Then the benign path, for the threshold above which the runtime runs synchronous policies in
a worker thread (``agentdock_runtime/offload.py``): the same policy on prose at 4, 16 and
64 KiB, against one ``asyncio.to_thread`` round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _switch in ("AGENTDOCK_METRICS", "AGENTDOCK_LOG_FORMAT", "AGENTDOCK_LOCALSTORE"):
    os.environ.setdefault(_switch, "off")
sys.path.insert(0, str(ROOT / "tests"))

KIB = 1024


PROSE = (
    "The quarterly report covers revenue, churn and the roadmap for the next two releases. "
    "Support tickets fell by a fifth; write to help@example.com or call +44 20 7946 0958. "
)
BENIGN = "prose (benign)"


def redact_input() -> Callable[[str], float]:
    """``redact_input`` with every recogniser, as the runtime builds it: seconds per text."""
    from agentdock_plugins.policies import factories
    from hostile_text import PII
    from policy_support import recording_context, spec_with

    spec = spec_with({"pii": PII, "block_prompt_injection": False})
    policies = [p for _, f in factories() if (p := f(spec)) is not None and p.stage == "pre"]
    context, events = recording_context()

    def run(text: str) -> float:
        data: Any = {"text": text}
        start = time.perf_counter()
        for policy in policies:
            data = policy.check(data, context)
        elapsed = time.perf_counter() - start
        events.clear()
        return elapsed

    return run


def measure(sizes: list[int], repeat: int) -> dict[str, dict[int, float]]:
    """Milliseconds per shape and size (best of ``repeat``)."""
    from hostile_text import SHAPES

    run = redact_input()
    shapes = {**SHAPES, BENIGN: lambda size: (PROSE * (size // len(PROSE) + 1))[:size]}
    out: dict[str, dict[int, float]] = {}
    for name, build in shapes.items():
        out[name] = {}
        for size in sizes:
            text = build(size * KIB)
            out[name][size] = min(run(text) for _ in range(repeat)) * 1000
    return out


def offload_threshold(repeat: int) -> None:
    """Prose at 4, 16 and 64 KiB against one thread round trip (microseconds)."""
    run = redact_input()
    print(f"\nbenign prose, µs (best of {max(repeat, 20)}), against a thread round trip")
    for size in (4, 16, 64):
        text = (PROSE * (size * KIB // len(PROSE) + 1))[: size * KIB]
        best = min(run(text) for _ in range(max(repeat, 20))) * 1e6
        print(f"{f'{size} KiB':<10}{best:>10.0f}")

    async def hops() -> float:
        def nothing() -> None:
            return None

        for _ in range(100):
            await asyncio.to_thread(nothing)
        start = time.perf_counter()
        for _ in range(1000):
            await asyncio.to_thread(nothing)
        return (time.perf_counter() - start) / 1000 * 1e6

    print(f"{'to_thread':<10}{asyncio.run(hops()):>10.0f}")


def baseline(directory: Path, sizes: list[int], repeat: int) -> dict[str, dict[int, float]]:
    """The same measurement in a process that imports ``directory``'s plugins."""
    env = dict(os.environ)
    source = directory / "packages" / "agentdock-plugins" / "src"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH", "")]))
    command = [sys.executable, __file__, "--json", "--repeat", str(repeat)]
    command += ["--sizes", ",".join(map(str, sizes))]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    raw = json.loads(done.stdout)
    return {name: {int(k): v for k, v in row.items()} for name, row in raw.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024", help="KiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None, help="an older checkout")
    parser.add_argument("--baseline-sizes", default=None, help="KiB (default: --sizes)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    now = measure(sizes, args.repeat)
    if args.json:
        print(json.dumps(now))
        return
    old: dict[str, dict[int, float]] = {}
    if args.baseline is not None:
        old_sizes = [int(s) for s in (args.baseline_sizes or args.sizes).split(",")]
        old = baseline(args.baseline, old_sizes, 1)
    print(f"redact_input, 7 PII recognisers, one string; ms (best of {args.repeat})")
    if old:
        print(f"baseline: {args.baseline} (1 run); ratio = baseline / this checkout")
    header = "".join(f"{f'{s} KiB':>14}" for s in sizes)
    print(f"\n{'shape':<38}{header}")
    worst = 0.0
    for name, row in now.items():
        cells = "".join(f"{row[s]:>14.1f}" for s in sizes)
        print(f"{name:<38}{cells}")
        if name != BENIGN:
            worst = max(worst, row[sizes[-1]])
        if name in old:
            ratios = "".join(
                f"{f'{old[name][s]:.0f} ({old[name][s] / row[s]:.1f}x)':>14}"
                if s in old[name]
                else f"{'-':>14}"
                for s in sizes
            )
            print(f"{'  baseline (ratio)':<38}{ratios}")
    print(f"\nslowest hostile shape at {sizes[-1]} KiB: {worst:.1f} ms (goal < 200 ms)")
    offload_threshold(args.repeat)


if __name__ == "__main__":
    main()
