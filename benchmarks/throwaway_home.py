"""A throw-away AGENTDOCK_HOME for a benchmark's servers and pipelines.

Without one, a served agent writes its telemetry store (and a deploy its registry) into the
nearest ``.agentdock/``: the developer's own, whose size then changes what is measured (a
store at its row bound makes the writer slower) and which the benchmark fills. Scripts in
this folder import it as a sibling module (``python benchmarks/<script>.py`` puts the folder
first on ``sys.path``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["throwaway_home"]


@contextmanager
def throwaway_home() -> Iterator[Path]:
    """Set ``AGENTDOCK_HOME`` to an empty temporary directory (inherited by the processes the
    benchmark starts), then restore it and delete the directory."""
    previous = os.environ.get("AGENTDOCK_HOME")
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-home-") as home:
        os.environ["AGENTDOCK_HOME"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("AGENTDOCK_HOME", None)
            else:
                os.environ["AGENTDOCK_HOME"] = previous
