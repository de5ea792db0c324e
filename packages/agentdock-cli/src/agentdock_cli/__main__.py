"""``python -m agentdock_cli``: the same as the ``agentdock`` command."""

from __future__ import annotations

from agentdock_cli.main import main

if __name__ == "__main__":
    main()
