"""Known secret values never reach the runtime's log: its stdout and stderr mask them.

The target names the variables that hold secrets in ``AGENTDOCK_SECRET_NAMES``; at start-up
the entrypoint calls :func:`install`, which wraps ``sys.stdout`` and ``sys.stderr`` in
:class:`MaskedStream`. Everything the runtime writes through them is masked: ``[FATAL]``
lines, its loggers' and uvicorn's records, tracebacks, the log sink's lines and whatever
the agent prints. A line is masked whole (a value split across two writes is still found),
so a partial line waits for its newline or a flush. Bytes written to the file descriptors
directly (a C extension, a child process) are not seen here: under the ``local`` target the
supervisor masks its copy of them too.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from agentdock.masking import Masker, masker_from_env

__all__ = ["MaskedStream", "install", "mask"]

#: A partial line longer than this is written (masked) without waiting for its newline.
_MAX_PENDING = 1 << 16

_active = Masker(())


class MaskedStream:
    """A text stream that writes whole lines through a :class:`Masker` to ``stream``.

    Anything else (``fileno``, ``encoding``, ``isatty``, ``buffer``) is the wrapped
    stream's."""

    def __init__(self, stream: TextIO, mask: Masker) -> None:
        self._stream = stream
        self._mask = mask
        self._pending = ""
        # Reentrant: a signal handler may write while this thread is inside write().
        self._lock = threading.RLock()

    @property
    def wrapped(self) -> TextIO:
        return self._stream

    def write(self, text: str) -> int:
        with self._lock:
            head, newline, tail = (self._pending + text).rpartition("\n")
            if newline:
                self._stream.write(self._mask(head + newline))
                self._pending = tail
            else:
                self._pending = tail
            if len(self._pending) > _MAX_PENDING:
                self._stream.write(self._mask(self._pending))
                self._pending = ""
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._stream.write(self._mask(self._pending))
                self._pending = ""
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install(environ: Mapping[str, str]) -> Masker:
    """Mask the values of the variables ``environ`` names in ``AGENTDOCK_SECRET_NAMES`` in
    everything written to ``sys.stdout`` and ``sys.stderr`` from now on (once per process;
    a later call replaces the values)."""
    global _active
    _active = masker_from_env(environ)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, MaskedStream):
            stream.flush()
            stream = stream.wrapped
        if stream is not None:
            setattr(sys, name, MaskedStream(stream, _active) if _active else stream)
    return _active


def mask(text: str) -> str:
    """``text`` with the installed secret values masked (for text that goes elsewhere)."""
    return _active(text)
