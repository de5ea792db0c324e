"""``python -m agentdock_runtime``: the container entrypoint (see :mod:`.entrypoint`)."""

from __future__ import annotations

from agentdock_runtime.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main())
