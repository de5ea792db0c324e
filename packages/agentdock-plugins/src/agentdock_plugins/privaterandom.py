"""AgentDock's own pseudo-random generator, apart from the process-wide one.

Span ids, retry jitter and checkpoint version suffixes come from here, never from the
``random`` module's shared generator: an agent that seeds that generator for reproducible
runs (``random.seed(42)``) gets the same sequence whether telemetry is on or not, and
replicas that seed it alike still make distinct trace ids. Seeded from the system's
entropy at import and again in each forked child (as Python reseeds its own after a fork).
"""

from __future__ import annotations

import os
import random

RANDOM = random.Random()  # noqa: S311 - ids and jitter, not secrets
os.register_at_fork(after_in_child=RANDOM.seed)
