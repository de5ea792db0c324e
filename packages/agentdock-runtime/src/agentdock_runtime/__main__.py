"""``python -m agentdock_runtime``: the container entrypoint (see :mod:`.entrypoint`)."""

from __future__ import annotations

if __name__ == "__main__":
    from agentdock_runtime.heap import quiet_startup

    quiet_startup()  # before the imports it is meant for

    from agentdock_runtime.entrypoint import main

    raise SystemExit(main())
