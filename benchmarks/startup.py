"""Start-up times: the LangGraph import floor, ``agentdock serve`` to ``/ready``, and the
local target's restarts (printed, not asserted).

    uv run --frozen python benchmarks/startup.py [--runs 5] [--skip-local | --local-only]

In one run on this machine:

* ``python -c "import langgraph.graph"`` started cold (the floor no runtime can go under
  without a process kept warm), median of ``--runs``;
* ``agentdock serve examples/echo --insecure-no-auth`` from its start until ``/ready``
  answers 200, median of ``--runs``, and its difference from the floor (with
  ``--baseline``, an earlier checkout's serve too, alternated with this one's);
* the same agent through the container entrypoint, ``python -m agentdock_runtime`` (how
  the local and Docker targets start a runtime), and the baseline's;
* ``agentdock validate examples/echo`` with its import check (the CLI's interpreter and
  the one that imports the agent), median of ``--runs`` (and the baseline's);
* a runtime of examples/echo forked from a warm process (``agentdock_runtime.zygote``, as a
  local supervisor keeps one) until its ``/ready``, in this environment;
* on the local target, with a throw-away ``AGENTDOCK_HOME`` and a copy of examples/echo:
  a restart after the runtime is killed (SIGKILL until the new runtime answers
  ``/ready`` on its own port), forked from the supervisor's warm process and, on another
  instance, with ``AGENTDOCK_WARM_START=off`` (the baseline); a rollback forked from the
  superseded version's standby and, with ``AGENTDOCK_WARM_ROLLBACK=off`` (the baseline:
  a new supervisor started cold, as before standbys), started cold; and a new instance of
  a version already built
  (from the call until its health gate passed, and from the supervisor's start until its
  runtime was ready, as the supervisor recorded it);
* the memory of the processes of one deployment (RSS and PSS from
  ``/proc/<pid>/smaps_rollup``): the runtime, its supervisor and, when the supervisor keeps
  one, the warm process runtimes are forked from; of a runtime started cold; and of a
  superseded version on standby (its supervisor and warm process).

Every start reads bytecode, as a deployed bundle's does: the packages (and the baseline's)
are byte-compiled first and ``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment. Wall time is what a start costs its user; the CPU time of the children is
printed beside the cold starts (it is steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "examples" / "echo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_ready(url: str, deadline: float) -> None:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        while time.perf_counter() < deadline:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer 200")


def import_floor(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``import langgraph.graph`` in a fresh interpreter."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "import langgraph.graph"], check=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
    return walls, cpus


def _sources(checkout: Path) -> str:
    """``PYTHONPATH`` that makes this environment import the packages of ``checkout``."""
    return os.pathsep.join(str(p) for p in sorted((checkout / "packages").glob("*/src")))


def _process_cpu(pid: int) -> float:
    """User and system seconds ``pid`` has spent so far (its threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def serve_cold(
    runs: int, home: Path, checkout: Path | None = None, *, entrypoint: bool = False
) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds from ``agentdock serve`` (with ``entrypoint``: the container entrypoint,
    ``python -m agentdock_runtime``, as the local target starts a runtime) until ``/ready``,
    the CPU seconds of the whole run (start-up, then SIGTERM and drain) and of the process
    when ``/ready`` answered; with ``checkout``, of its packages."""
    walls, cpus, at_ready = [], [], []
    env = {**os.environ, "AGENTDOCK_HOME": str(home)}
    if checkout is not None:
        env["PYTHONPATH"] = _sources(checkout)
    agentdock = Path(sys.executable).with_name("agentdock")
    for _ in range(runs):
        port = _free_port()
        argv = [str(agentdock), "serve", str(ECHO), "--insecure-no-auth", "--port", str(port)]
        if entrypoint:
            argv = [sys.executable, "-m", "agentdock_runtime"]
            env.update(
                AGENTDOCK_SPEC=str(ECHO / "Dockfile.yaml"),
                AGENTDOCK_INSECURE_NO_AUTH="1",
                AGENTDOCK_HOST="127.0.0.1",
                AGENTDOCK_PORT=str(port),
            )
        cpu0, t0 = _children_cpu(), time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/ready", t0 + 60)
            walls.append(time.perf_counter() - t0)
            at_ready.append(_process_cpu(proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        cpus.append(_children_cpu() - cpu0)
    return walls, cpus, at_ready


def validate_cold(home: Path, checkout: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``agentdock validate examples/echo`` with its import check
    (a second interpreter imports the agent and builds its graph); with ``checkout``, of its
    packages."""
    env = {**os.environ, "AGENTDOCK_HOME": str(home)}
    if checkout is not None:
        env["PYTHONPATH"] = _sources(checkout)
    agentdock = Path(sys.executable).with_name("agentdock")
    cpu0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(
        [str(agentdock), "validate", str(ECHO)], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - t0, _children_cpu() - cpu0


def forked(runs: int, home: Path) -> tuple[list[float], list[float]]:
    """Wall seconds from asking a warm process (``agentdock_runtime.zygote``, what a local
    supervisor keeps) for a runtime of examples/echo until its ``/ready``, and the CPU
    seconds of that runtime until then; in this environment, without a bundle or sandbox."""
    import select
    import threading

    from agentdock_plugins.local import warm

    def drain(out: Any) -> None:
        threading.Thread(
            target=lambda: all(iter(lambda: out.read1(1 << 16), b"")), daemon=True
        ).start()

    warm.become_subreaper()
    zygote = warm.Zygote(
        [sys.executable, "-m", "agentdock_runtime.zygote"], os.environ, ROOT, drain
    )
    walls, cpus = [], []
    try:
        while not zygote.answer():
            select.select([zygote.fileno()], [], [], 120)
        for _ in range(runs):
            port = _free_port()
            env = {
                "PATH": os.environ["PATH"],
                "AGENTDOCK_SPEC": str(ECHO / "Dockfile.yaml"),
                "AGENTDOCK_INSECURE_NO_AUTH": "1",
                "AGENTDOCK_HOST": "127.0.0.1",
                "AGENTDOCK_PORT": str(port),
                "AGENTDOCK_HOME": str(home),
            }
            t0 = time.perf_counter()
            runtime = zygote.spawn(env, [], [], ROOT)
            drain(runtime.stdout)
            _wait_ready(f"http://127.0.0.1:{port}/ready", t0 + 60)
            walls.append(time.perf_counter() - t0)
            cpus.append(_process_cpu(runtime.pid))
            runtime.send_signal(signal.SIGTERM)
            while runtime.poll() is None:
                time.sleep(0.01)
    finally:
        zygote.close()
    return walls, cpus


def _memory(pid: int | None) -> str:
    if not pid:
        return "-"
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
    except (OSError, ValueError):
        return "-"
    return f"RSS {fields.get('Rss', 0):6.1f} MB  PSS {fields.get('Pss', 0):6.1f} MB"


def _standby(home: Path) -> dict[str, Any]:
    """The state file of the supervisor that stands by for a rollback, if one does."""
    from agentdock_plugins.local.supervisor import read_state

    for path in (home / "run").glob("*/supervisor.json"):
        state = read_state(path.parent) or {}
        if state.get("state") == "standby":
            return state
    return {}


class _Stamps:
    """Progress events of one deploy call, with the time each came."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.events: dict[str, float] = {}

    def __call__(self, stage: str, message: str, **_: Any) -> None:
        key = "ready" if (stage, message) == ("health", "ready") else stage
        self.events.setdefault(key, time.perf_counter() - self.t0)


def local_target(tmp: Path, restarts: int) -> dict[str, Any]:
    """Restart, rollback and new-instance times on the local target (see the module doc)."""
    os.environ["AGENTDOCK_HOME"] = str(tmp / "home")
    import agentdock
    from agentdock_plugins.local.supervisor import read_state

    project = tmp / "echo"
    shutil.copytree(ECHO, project, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    dockfile = project / "Dockfile.yaml"
    home = Path(os.environ["AGENTDOCK_HOME"])
    out: dict[str, Any] = {}

    def state_of(agent: str, instance: str | None = None) -> tuple[dict[str, Any], Any]:
        info = agentdock.status(agent, instance=instance)
        state = read_state(home / "run" / str(info["deployment_id"])) or {}
        return state, info

    def started_to_ready(state: dict[str, Any]) -> float | None:
        if state.get("ready_at") and state.get("started_at"):
            return float(state["ready_at"]) - float(state["started_at"])
        return None

    t0 = time.perf_counter()
    agentdock.deploy(dockfile)
    out["first deploy (builds)"] = time.perf_counter() - t0
    graph = next(project.rglob("graph.py"))
    graph.write_text(graph.read_text() + "\n# a one-line change\n")
    stamps = _Stamps()
    agentdock.deploy(dockfile, progress=stamps)
    out["second version (builds)"] = stamps.events.get("ready")

    def crashes(instance: str | None) -> tuple[list[float], list[str]]:
        times, how = [], []
        for _ in range(restarts):
            while True:  # the supervisor's record of its runtime (and warm process) first
                state, info = state_of("echo", instance)
                if state.get("ready") and (state.get("zygote_pid") or not warm_wanted):
                    break
                time.sleep(0.01)
            os.kill(int(state["runtime_pid"]), signal.SIGKILL)
            t0 = time.perf_counter()
            _wait_ready(f"{info['runtime_endpoint']}/ready", t0 + 60)
            times.append(time.perf_counter() - t0)
            while not (state := state_of("echo", instance)[0]).get("ready"):
                time.sleep(0.01)
            how.append(str(state.get("runtime_start") or "cold"))
        return times, how

    # The same restarts with warm starts off (a supervisor of this release started cold).
    warm_wanted = False
    os.environ["AGENTDOCK_WARM_START"] = "off"
    agentdock.deploy(dockfile, instance="cold")
    del os.environ["AGENTDOCK_WARM_START"]
    cold, _ = crashes("cold")
    cold_state, _ = state_of("echo", "cold")
    out["memory of a cold runtime"] = _memory(cold_state.get("runtime_pid"))
    agentdock.stop("echo", instance="cold")
    out["restart after a crash, warm starts off"] = cold
    warm_wanted = "off" not in os.environ.get("AGENTDOCK_WARM_START", "")
    crash, how = crashes(None)
    out["restart after a crash"] = crash
    out["  how each restart started"] = ", ".join(how)
    state, _ = state_of("echo")
    out["memory"] = {
        "runtime (forked when warm)": _memory(state.get("runtime_pid")),
        "supervisor": _memory(state.get("supervisor_pid")),
        "warm process": _memory(state.get("zygote_pid")),
    }

    # The superseded version waits on standby with its warm process (its memory, then a
    # rollback forked from it); with AGENTDOCK_WARM_ROLLBACK=off (the baseline) it started cold.
    kept = _standby(home)
    out["memory of the standby"] = {
        "standby supervisor": _memory(kept.get("supervisor_pid")),
        "standby warm process": _memory(kept.get("zygote_pid")),
    }
    for label, switch in (("rollback", None), ("rollback, warm rollbacks off", "off")):
        if switch:
            os.environ["AGENTDOCK_WARM_ROLLBACK"] = switch
        rollback, rollback_sup, cpu, how = [], [], [], []
        for _ in range(2):
            stamps = _Stamps()
            agentdock.rollback("echo", progress=stamps)
            rollback.append(stamps.events["ready"])
            state = state_of("echo")[0]
            cpu.append(_process_cpu(int(state["runtime_pid"])))
            rollback_sup.append(started_to_ready(state))
            how.append(str(state.get("runtime_start") or "cold"))
            while switch is None and not state_of("echo")[0].get("zygote_pid"):
                time.sleep(0.01)  # the next rollback finds this version's warm process
            while switch is None and not _standby(home):
                time.sleep(0.01)
        os.environ.pop("AGENTDOCK_WARM_ROLLBACK", None)
        out[f"{label}: call to gate passed"] = rollback
        out[f"{label}: supervisor start to ready"] = rollback_sup
        out[f"{label}: CPU of its runtime until ready"] = cpu
        out[f"  how each started ({label})"] = ", ".join(how)

    fresh, fresh_sup = [], []
    for name in ("tenant-a", "tenant-b"):
        stamps = _Stamps()
        agentdock.deploy(dockfile, instance=name, progress=stamps)
        fresh.append(stamps.events["ready"])
        fresh_sup.append(started_to_ready(state_of("echo", name)[0]))
    out["new instance: call to gate passed"] = fresh
    out["new instance: supervisor start to ready"] = fresh_sup

    for name in (None, "tenant-a", "tenant-b"):
        agentdock.stop("echo", instance=name)
    return out


def _show(label: str, value: Any) -> None:
    if isinstance(value, list):
        known = [v for v in value if v is not None]
        if not known:
            print(f"  {label:42} -")
            return
        each = ", ".join(f"{v:.3f}" for v in known)
        print(f"  {label:42} median {statistics.median(known):6.3f} s  ({each})")
    elif isinstance(value, float):
        print(f"  {label:42} {value:6.3f} s")
    else:
        print(f"  {label:42} {value}")


def _byte_compiled(baseline: Path | None) -> None:
    """Starts read bytecode, as a deployed bundle's do (bundles and images are byte-compiled
    when they are built): the packages of this checkout and of ``baseline`` are compiled
    now, and no child runs with ``PYTHONDONTWRITEBYTECODE``, which would otherwise make each
    start compile every module it imports whose bytecode is missing or stale."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    for checkout in (ROOT, baseline):
        if checkout is not None:
            for src in sorted((checkout / "packages").glob("*/src")):
                compileall.compile_dir(src, quiet=1, workers=0)
    compileall.compile_dir(ECHO, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--restarts", type=int, default=3, help="crashes (3 at most a minute)")
    parser.add_argument("--skip-local", action="store_true", help="cold starts only")
    parser.add_argument("--local-only", action="store_true", help="the local target only")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier commit (git archive REV packages | tar -x -C DIR): "
        "its serve is measured too, alternating with this one's",
    )
    args = parser.parse_args()
    _byte_compiled(args.baseline)
    with tempfile.TemporaryDirectory(prefix="agentdock-startup-") as name:
        tmp = Path(name)
        if args.local_only:
            _show_local(tmp, args.restarts)
            return
        figures: dict[str, list[float]] = {}
        for _ in range(args.runs):  # alternated, so load on the machine hits all alike
            for label, value in zip(("floor", "floor CPU"), import_floor(1), strict=True):
                figures.setdefault(label, []).extend(value)
            served = serve_cold(1, tmp / "h")
            for label, value in zip(("serve", "serve CPU", "serve ready"), served, strict=True):
                figures.setdefault(label, []).extend(value)
            served = serve_cold(1, tmp / "h", entrypoint=True)
            for label, value in zip(("entry", "entry CPU", "entry ready"), served, strict=True):
                figures.setdefault(label, []).extend(value)
            checked = validate_cold(tmp / "h")
            for label, one in zip(("validate", "validate CPU"), checked, strict=True):
                figures.setdefault(label, []).append(one)
            if args.baseline is not None:
                base = serve_cold(1, tmp / "b", args.baseline)
                for label, value in zip(("base", "base CPU", "base ready"), base, strict=True):
                    figures.setdefault(label, []).extend(value)
                base = serve_cold(1, tmp / "b", args.baseline, entrypoint=True)
                labels = ("base entry", "base entry CPU", "base entry ready")
                for label, value in zip(labels, base, strict=True):
                    figures.setdefault(label, []).extend(value)
                checked = validate_cold(tmp / "b", args.baseline)
                for label, one in zip(("base validate", "base validate CPU"), checked, strict=True):
                    figures.setdefault(label, []).append(one)
        print("cold starts (wall; CPU of the whole process)")
        _show("import langgraph.graph", figures["floor"])
        _show("  CPU", figures["floor CPU"])
        _show("agentdock serve echo to /ready", figures["serve"])
        _show("  CPU (start, then SIGTERM and drain)", figures["serve CPU"])
        _show("  CPU when /ready answered", figures["serve ready"])
        floor = statistics.median(figures["floor"])
        floor_cpu = statistics.median(figures["floor CPU"])
        gap = statistics.median(figures["serve"]) - floor
        gap_cpu = statistics.median(figures["serve CPU"]) - floor_cpu
        print(f"  {'serve minus the import floor':42} {gap:+6.3f} s  (CPU {gap_cpu:+.3f} s)")
        _show("python -m agentdock_runtime to /ready", figures["entry"])
        _show("  CPU (start, then SIGTERM and drain)", figures["entry CPU"])
        _show("  CPU when /ready answered", figures["entry ready"])
        gap = statistics.median(figures["entry"]) - floor
        gap_cpu = statistics.median(figures["entry CPU"]) - floor_cpu
        print(f"  {'entrypoint minus the import floor':42} {gap:+6.3f} s  (CPU {gap_cpu:+.3f} s)")
        _show("agentdock validate echo (imports)", figures["validate"])
        _show("  CPU (both interpreters)", figures["validate CPU"])
        fork_walls, fork_cpus = forked(args.runs, tmp / "f")
        _show("runtime forked from a warm process, to /ready", fork_walls)
        _show("  CPU of the forked runtime until then", fork_cpus)
        if args.baseline is not None:
            _show(f"serve of {args.baseline.name} to /ready", figures["base"])
            _show("  CPU (start, then SIGTERM and drain)", figures["base CPU"])
            _show("  CPU when /ready answered", figures["base ready"])
            gap = statistics.median(figures["base"]) - floor
            gap_cpu = statistics.median(figures["base CPU"]) - floor_cpu
            print(f"  {'  minus the import floor':42} {gap:+6.3f} s  (CPU {gap_cpu:+.3f} s)")
            _show(f"entrypoint of {args.baseline.name} to /ready", figures["base entry"])
            _show("  CPU (start, then SIGTERM and drain)", figures["base entry CPU"])
            _show("  CPU when /ready answered", figures["base entry ready"])
            gap = statistics.median(figures["base entry"]) - floor
            gap_cpu = statistics.median(figures["base entry CPU"]) - floor_cpu
            print(f"  {'  minus the import floor':42} {gap:+6.3f} s  (CPU {gap_cpu:+.3f} s)")
            _show(f"validate of {args.baseline.name} (imports)", figures["base validate"])
            _show("  CPU (both interpreters)", figures["base validate CPU"])
        if not args.skip_local:
            _show_local(tmp, args.restarts)


def _show_local(tmp: Path, restarts: int) -> None:
    print(f"local target (echo), load {os.getloadavg()[0]:.1f}")
    for label, value in local_target(tmp, restarts).items():
        if isinstance(value, dict):
            for what, figure in value.items():
                _show(f"memory of the {what}", figure)
        else:
            _show(label, value)
    print(f"  load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
