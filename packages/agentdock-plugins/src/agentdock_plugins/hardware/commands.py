"""``agentdock hardware``: what this machine has, which profile it gets, which defaults apply.

Detection goes NVML, then ``nvidia-smi``, then CPU, and says why each way found nothing.
``AGENTDOCK_NVML=off`` skips NVML and ``AGENTDOCK_NVIDIA_SMI`` names the ``nvidia-smi``
to run (``off`` skips it). The command comes with the hardware plugin, added to the CLI
through ``agentdock_register_commands``.
"""

from __future__ import annotations

import os
from typing import Any

import click
from agentdock_cli import exitcodes
from agentdock_cli.output import console, print_json

__all__ = ["hardware_command", "hardware_document"]


def _profiles() -> dict[str, Any]:
    """The hardware profiles the plugin manager registered (this plugin's ``cpu`` and
    ``cuda`` among them: the command comes with them)."""
    from agentdock.plugins import get_plugin_manager

    from agentdock_plugins.hardware.defaults import load_profiles

    return load_profiles(get_plugin_manager())


def hardware_document(hardware: str = "auto", environ: Any = None) -> dict[str, Any]:
    """What was detected and what applies, as one JSON-ready document (``--json``)."""
    from agentdock_plugins.hardware.defaults import (
        base_image_for,
        hardware_problems,
        machine_profile,
        requested_gpus,
        resolve,
    )
    from agentdock_plugins.hardware.probe import probe

    env = os.environ if environ is None else environ
    profiles = _profiles()
    build = {"hardware": hardware}
    detected = probe(environ=env)
    profile = resolve(build, detected, profiles=profiles)
    document = machine_profile(build, detected, profiles=profiles)
    base = base_image_for(build, profile)
    gpus = requested_gpus(None, profile)
    defaults = document.get("env", {})
    return {
        "detected": detected.to_json(),
        "hardware": hardware,
        "profile": profile.name,
        "profiles": sorted(profiles),
        "base_image": base.ref,
        "base_image_has_python": base.bundles_python,
        "platforms": profile.platforms(),
        "gpu_class": document.get("gpu_class"),
        "redetect_at_start": bool(document.get("redetect")),
        "defaults": defaults,
        "overridden_by_environment": sorted(name for name in defaults if name in env),
        "gpu_request": profile.gpu_request(gpus),
        "problems": hardware_problems(build, None, detected, profiles=profiles),
    }


def _gib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1024**3:.1f} GiB"


@click.command("hardware")
@click.option(
    "--hardware",
    "hardware",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="The build.hardware value to resolve on this machine.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def hardware_command(hardware: str, as_json: bool) -> None:
    """Show the GPUs, CPUs and memory detected, the hardware profile and its defaults."""
    document = hardware_document(hardware)
    if as_json:
        print_json(document)
        raise SystemExit(exitcodes.OK)
    _print(document)
    raise SystemExit(exitcodes.OK)


def _print(document: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    found = document["detected"]
    out.print(
        f"[bold]Machine[/]  {found['platform']}, {found['cpus']} CPUs, "
        f"{_gib(found['memory_bytes'])} memory"
    )
    if found["gpus"]:
        via = found["source"]
        driver = found["driver_version"] or "?"
        cuda = found["cuda_version"] or "?"
        out.print(
            f"[bold]GPUs[/]     {len(found['gpus'])} (driver {driver}, CUDA {cuda}, via {via})"
        )
        table = Table("#", "name", "memory", "compute", box=None, pad_edge=False)
        for gpu in found["gpus"]:
            table.add_row(
                str(gpu["index"]),
                escape(gpu["name"]),
                f"{gpu['memory_gib']:.1f} GiB",
                gpu["compute_capability"] or "-",
            )
        out.print(table)
    else:
        out.print("[bold]GPUs[/]     none")
    for problem in found["problems"]:
        out.print(f"  [dim]{escape(problem)}[/]")
    line = f"[bold]Profile[/]  {document['profile']} (build.hardware: {document['hardware']})"
    if document["gpu_class"]:
        line += f", GPU class {escape(document['gpu_class'])}"
    out.print(line)
    python_note = "" if document["base_image_has_python"] is not False else " (no Python in it)"
    out.print(f"[bold]Base[/]     {escape(document['base_image'])}{python_note}")
    out.print(f"[bold]Platforms[/] {', '.join(document['platforms'])}")
    start = "re-detected at start-up" if document["redetect_at_start"] else "fixed at build"
    out.print(f"[bold]Defaults[/] ({start}; the environment wins)")
    overridden = set(document["overridden_by_environment"])
    for name, value in document["defaults"].items():
        note = "  [yellow](set in the environment: kept)[/]" if name in overridden else ""
        out.print(f"  {name}={escape(str(value))}{note}")
    for problem in document["problems"]:
        out.print(f"[yellow]warning:[/] {escape(problem)}")
