"""Masking known secret values in text a runtime or its supervisor writes to a log.

A deploy target tells the runtime which of its variables hold secrets by name, in
``AGENTDOCK_SECRET_NAMES`` (comma-separated); the values stay in the environment alone.
The runtime and the local supervisor build one :class:`Masker` from those names at start-up
and pass every line they write through it, so an agent's exception text that quotes a
secret reaches the log as ``***``. Standard library only: the supervisor imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["MASK", "MIN_SECRET_LENGTH", "SECRET_NAMES_ENV", "Masker", "masker_from_env"]

#: The names (never the values) of the runtime's variables that hold secrets.
SECRET_NAMES_ENV = "AGENTDOCK_SECRET_NAMES"  # noqa: S105 - a variable name
MASK = "***"
#: Shorter values are never masked: a port, ``true`` or ``info`` would garble every line,
#: and a credential is longer than this.
MIN_SECRET_LENGTH = 8


class Masker:
    """Replaces every occurrence of the given values with :data:`MASK`.

    One regular expression, compiled here, matches them all (longest first, so a value
    that contains another is masked whole). A multi-line value (a PEM key) is masked line
    by line, since logs are written and read a line at a time.
    """

    __slots__ = ("_pattern",)

    def __init__(self, values: Iterable[str]) -> None:
        pieces = {
            piece.strip()
            for value in values
            for piece in value.splitlines()
            if len(piece.strip()) >= MIN_SECRET_LENGTH
        }
        ordered = sorted(pieces, key=lambda p: (-len(p), p))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


def masker_from_env(environ: Mapping[str, str]) -> Masker:
    """The :class:`Masker` of the variables ``environ`` names in ``AGENTDOCK_SECRET_NAMES``."""
    names = (n.strip() for n in environ.get(SECRET_NAMES_ENV, "").split(","))
    return Masker(environ[name] for name in names if name and name in environ)
