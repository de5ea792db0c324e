"""Which installed distributions a runtime serving an example never imports.

Starts ``python -X importtime -m agentdock_runtime`` for an example (default: chat) in this
environment, without auth, answers ``/ready``, one ``/invoke`` and one ``/stream``, stops it
with SIGTERM, and maps every module it imported to its distribution. Prints the
distributions a bundle or image of that agent installs (its requirements and AgentDock's)
and, of those, the ones never imported with their size on disk: the candidates for
``pydeps.NEVER_IMPORTED``. Run: ``uv run --frozen python benchmarks/runtime_imports.py [chat]``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loaded_modules(example: str) -> set[str]:
    project = ROOT / "examples" / example
    log = Path(tempfile.mkdtemp(prefix="agentdock-imports-")) / "importtime.log"
    port = _free_port()
    env = {
        **os.environ,
        "AGENTDOCK_SPEC": str(project / "Dockfile.yaml"),
        "AGENTDOCK_PROJECT_DIR": str(project),
        "AGENTDOCK_HOST": "127.0.0.1",
        "AGENTDOCK_PORT": str(port),
        "AGENTDOCK_INSECURE_NO_AUTH": "1",
        "AGENTDOCK_HOME": str(log.parent / "home"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "agentdock_runtime"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),  # a pipe would fill up and stop the runtime
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = {"question": "hello"}
        print("invoke", httpx.post(f"{base}/invoke", json=body, timeout=30).status_code)
        with httpx.stream("POST", f"{base}/stream", json=body, timeout=30) as answer:
            print("stream", answer.status_code, sum(1 for _ in answer.iter_lines()), "lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    err = log.read_text()
    return {m.group(1) for line in err.splitlines() if (m := _IMPORT.match(line))}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> None:
    example = sys.argv[1] if len(sys.argv) > 1 else "chat"
    modules = loaded_modules(example)
    owners = metadata.packages_distributions()
    imported = {dist for mod in modules for dist in owners.get(mod.split(".")[0], [])}
    sizes = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        size = sum((p.size or 0) for p in (dist.files or []) if not str(p).endswith(".pyc"))
        sizes[_norm(name)] = size
    shipped = _shipped(example)
    never = sorted(
        ((sizes.get(n, 0), n) for n in shipped if n not in {_norm(i) for i in imported}),
        reverse=True,
    )
    print(f"{len(modules)} modules from {len(imported)} distributions imported")
    print(f"{len(shipped)} distributions shipped; never imported:")
    for size, name in never:
        print(f"  {size / 1e6:7.2f} MB  {name}")
    print(json.dumps({"never_imported": [n for _, n in never]}))


def _shipped(example: str) -> set[str]:
    """The third-party distributions a bundle of the example installs: its lock, resolved
    the way the builders resolve it (held to the project's uv.lock)."""
    from agentdock_plugins import pydeps

    project = ROOT / "examples" / example
    agent = pydeps.agent_requirements(project)
    with tempfile.TemporaryDirectory() as tmp:
        lock = pydeps.lock_for(
            agent,
            pydeps.agentdock_dists(),
            Path(tmp) / "requirements.lock",
            python=sys.executable,
            constraints=pydeps.constraints_for(project, agent),
        )
        text = lock.read_text("utf-8")
    return {_norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==", text, re.M)}


if __name__ == "__main__":
    main()
