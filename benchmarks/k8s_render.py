"""Kubernetes manifests per agent: rendering, and offline validation against the schemas.

    uv run python benchmarks/k8s_render.py [--rounds 20] [--versions 1.30,1.33]

For every example Dockfile, in one process, best and median of R rounds:
- render_file   load + validate the Dockfile, snapshot it, render every manifest
                (what ``agentdock deploy --target kubernetes --dry-run`` does)
- render        rendering alone, from an already validated spec and snapshot
                (what the target does at every ``start``)
- validate      kubernetes-validate in strict mode, every manifest, each version named
The first call of each (imports, plugin loading, schema files read cold) is reported apart.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import functools
import glob
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "benchmark-stand-in-value-0123456789abcdef"


def _times(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    seen = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        seen.append(time.perf_counter() - start)
    return min(seen) * 1000, statistics.median(seen) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--versions", default="1.30,1.33")
    args = parser.parse_args()
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]

    from agentdock.spec.loader import load_document

    examples = sorted(glob.glob(str(ROOT / "examples" / "*" / "Dockfile.yaml")))
    for path in examples:  # the examples' variables get a stand-in value (never rendered)
        for name in load_document(path, environ={}, allow_unresolved=True).variables:
            os.environ.setdefault(name, PLANTED)

    start = time.perf_counter()
    from agentdock.validation import validate_document
    from agentdock_plugins.kubernetes.manifests import render, render_file
    from kubernetes_validate import utils as kv

    first = render_file(examples[0])
    cold_render = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    for manifest in first:
        kv.validate(manifest, versions[0], strict=True)
    cold_validate = (time.perf_counter() - start) * 1000
    print(
        f"cold start: first render_file {cold_render:.0f} ms (imports, plugins), "
        f"first validation {cold_validate:.0f} ms"
    )
    print(
        f"{len(examples)} examples, {args.rounds} rounds, Kubernetes {', '.join(versions)} "
        "(strict); ms best / median"
    )
    header = f"{'agent':<18}{'objects':>8}{'render_file':>18}{'render':>16}{'validate':>18}"
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0, 0.0]
    for path in examples:
        document = load_document(path, environ=dict(os.environ), allow_unresolved=True)
        spec = validate_document(document, skip_imports=True).spec
        snapshot = yaml.safe_dump(document.raw, sort_keys=False, allow_unicode=True)
        manifests = render_file(path)

        def only_render(spec: Any = spec, snapshot: str = snapshot) -> Any:
            return render(spec, snapshot=snapshot, image="registry.example/x:1", version="1.0.0")

        def validate_all(manifests: list[Any] = manifests) -> None:
            for manifest in manifests:
                for version in versions:
                    kv.validate(manifest, version, strict=True)

        full = _times(functools.partial(render_file, path), args.rounds)
        alone = _times(only_render, args.rounds)
        checked = _times(validate_all, max(3, args.rounds // 4))
        totals = [t + x[1] for t, x in zip(totals, (full, alone, checked), strict=True)]
        name = Path(path).parent.name
        print(
            f"{name:<18}{len(manifests):>8}"
            f"{full[0]:>9.2f} /{full[1]:>6.2f}{alone[0]:>8.2f} /{alone[1]:>6.2f}"
            f"{checked[0]:>9.1f} /{checked[1]:>6.1f}"
        )
    n = len(examples)
    print(
        f"{'mean (median)':<18}{'':>8}{totals[0] / n:>17.2f}{totals[1] / n:>16.2f}"
        f"{totals[2] / n:>18.1f}"
    )
    per_object = totals[2] / n / max(1, len(first)) / max(1, len(versions))
    print(
        f"validation: about {per_object:.1f} ms per object and Kubernetes version "
        "(kubernetes-validate reads its schema files on every call)"
    )


if __name__ == "__main__":
    main()
