"""The log sink: telemetry events as JSON lines (or one-liners for people) on stdout.

A JSON line holds the fields of the PRD's log format (``timestamp``, ``agent``, ``version``,
``level``, ``message``, ``latency_ms``) plus ``event``, ``run_id``, ``trace_id`` and
``span_id`` for correlation with traces, then the event's own fields except ``model`` and
``provider`` (values of the Dockfile, which may come from ``${VAR}`` placeholders). For a
tool, node or model event ``span_id`` is that step's span and ``run_span_id`` the run's.
Events carry no input, output or credential, so neither do the lines.

``emit`` runs in the telemetry drain task: it only formats lines and appends them to a
bounded buffer. One writer thread empties the buffer into the stream, so a stdout that
blocks (a full pipe, a slow terminal) costs the drain nothing; past ``max_buffered`` lines the
newest are dropped and counted (:attr:`LogSink.dropped`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO

import msgspec
from agentdock_runtime.version import served_version

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = ["LEVELS", "LogFormat", "LogSink", "event_level", "format_from_env"]

LogFormat = Literal["json", "text", "off", "auto"]
#: Dockfile ``log_level`` → numeric threshold (the ``logging`` module's numbers).
LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR"}
_ENCODER = msgspec.json.Encoder(enc_hook=str)
#: After writing fewer lines than this, the writer waits ``LINGER_SEC`` for more.
LINGER_LINES = 256
LINGER_SEC = 0.05
_ENVELOPE = ("event", "run_id", "trace_id", "span_id")
_STEP_EVENTS = frozenset({"tool_event", "node_event", "model_event"})
#: Spec values repeated in events; a Dockfile may fill them from ``${VAR}`` placeholders,
#: whose resolved values never reach a log, so lines leave them out.
_FROM_SPEC = frozenset({"model", "provider"})


def format_from_env(value: str | None) -> LogFormat:
    """``AGENTDOCK_LOG_FORMAT`` read strictly: ``json``, ``text``, ``off`` or unset."""
    if value is None or not value.strip():
        return "auto"
    fmt = value.strip().lower()
    if fmt not in {"json", "text", "off"}:
        raise ValueError(f"AGENTDOCK_LOG_FORMAT must be json, text or off, got {value!r}")
    return fmt  # type: ignore[return-value]


def event_level(event: Mapping[str, Any]) -> int:
    """How loud an event is: failures warn, server faults are errors, steps are debug."""
    name = event.get("event")
    data = event.get("data") or {}
    if name == "run_end":
        return 30 if data.get("status") == "error" else 20
    if name == "error_event":
        code = data.get("code")
        return 40 if isinstance(code, int) and code >= 500 else 30
    if name == "auth_event":
        return 30 if data.get("outcome") == "failure" else 10
    if name == "policy_event":
        return 30 if data.get("action") in {"block", "deny"} else 20
    if name == "tool_event":
        return 30 if data.get("status") in {"error", "denied"} else 10
    if name in {"run_start", "node_event", "model_event"}:
        return 10
    return 20


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if isinstance(value, int | float) else "? ms"


def _message(name: str, data: Mapping[str, Any]) -> str:
    """A short sentence for people; built from the event's fields only."""
    get = data.get
    if name == "run_start":
        return f"run started ({get('mode')})"
    if name == "run_end":
        text = f"run {get('status')} ({get('mode')}) in {_ms(get('latency_ms'))}"
        if get("error_type"):
            text += f": {get('error_type')}"
        tokens = (get("tokens_input"), get("tokens_output"))
        if any(tokens):
            text += f", tokens {tokens[0] or 0}/{tokens[1] or 0}"
        if get("cost_usd") is not None:
            text += f", ${get('cost_usd'):.6f}"
        return text
    if name == "tool_event":
        return f"tool {get('tool')} {get('status')} in {_ms(get('duration_ms'))}"
    if name == "node_event":
        return f"node {get('node')} {get('status')} in {_ms(get('duration_ms'))}"
    if name == "model_event":
        return (
            f"model call {get('status') or 'ok'}: {get('tokens_input') or 0}/"
            f"{get('tokens_output') or 0} tokens in {_ms(get('duration_ms'))}"
        )
    if name == "policy_event":
        return (
            f"policy {get('policy')} {get('action')} at {get('stage')} "
            f"({get('matches') or 0} matches)"
        )
    if name == "error_event":
        return f"{get('error_type')} {get('code')} at {get('stage')}"
    if name == "auth_event":
        reason = get("reason")
        return f"auth {get('outcome')}" + (f": {reason}" if reason else "")
    return str(name)


class LogSink:
    """Writes one line per event at or above the Dockfile's ``log_level``.

    :param spec: the resolved ``DockSpec`` (``observability.log_level``, ``metadata.version``).
    :param fmt: ``json``, ``text`` or ``auto`` (text when ``stream`` is a terminal).
    :param stream: where lines go (default: ``sys.stdout`` at construction).
    :param max_buffered: lines held for the writer thread before new ones are dropped.
    """

    def __init__(
        self,
        spec: DockSpec | None = None,
        *,
        fmt: LogFormat = "auto",
        stream: TextIO | None = None,
        max_buffered: int = 10_000,
    ) -> None:
        observability = getattr(spec, "observability", None)
        level_name = getattr(observability, "log_level", "info") or "info"
        self.threshold = LEVELS[level_name]
        #: Events this sink may write at its level (``TelemetrySink.wants``).
        self.wants: frozenset[str] | None = (
            None
            if self.threshold <= 10
            else frozenset({"run_end", "error_event", "auth_event", "policy_event", "tool_event"})
        )
        # A deployed runtime knows its registry version even when the Dockfile names none.
        self.version = served_version(spec)
        self.stream: TextIO = stream if stream is not None else sys.stdout
        if fmt == "auto":
            isatty = getattr(self.stream, "isatty", None)
            fmt = "text" if isatty is not None and isatty() else "json"
        if fmt not in {"json", "text"}:
            raise ValueError(f"log format must be json, text or auto, got {fmt!r}")
        self.format: LogFormat = fmt
        self._render: Callable[[Mapping[str, Any], int], str] = (
            self._json_line if fmt == "json" else self._text_line
        )
        self.max_buffered = max_buffered
        self.dropped = 0
        self.written = 0
        self.write_errors = 0
        self._lines: deque[str] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    # -- formatting ------------------------------------------------------------------------------

    def _json_line(self, event: Mapping[str, Any], level: int) -> str:
        name = event.get("event")
        data: Mapping[str, Any] = event.get("data") or {}
        line: dict[str, Any] = {
            "timestamp": event.get("timestamp"),
            "level": _NAMES[level],
            "agent": event.get("agent"),
            "version": self.version,
            "message": _message(str(name), data),
        }
        for key in _ENVELOPE:
            line[key] = event.get(key)
        if name in _STEP_EVENTS and data.get("span_id"):
            line["run_span_id"] = event.get("span_id")
        for key, value in data.items():
            if (key not in line or key == "span_id") and key not in _FROM_SPEC:
                line[key] = value
        return _ENCODER.encode(line).decode("utf-8")

    def _text_line(self, event: Mapping[str, Any], level: int) -> str:
        data: Mapping[str, Any] = event.get("data") or {}
        timestamp = str(event.get("timestamp") or "")
        clock = timestamp[11:23] if len(timestamp) >= 23 else timestamp
        trace = event.get("trace_id")
        return (
            f"{clock} {_NAMES[level]:<5} {event.get('agent')} "
            f"{_message(str(event.get('event')), data)}" + (f" trace={trace}" if trace else "")
        )

    # -- the telemetry side ----------------------------------------------------------------------

    async def emit(self, events: Sequence[Mapping[str, Any]]) -> None:
        lines = []
        threshold, render = self.threshold, self._render
        for event in events:
            level = event_level(event)
            if level >= threshold:
                lines.append(render(event, level))
        if lines:
            self._enqueue(lines)

    def _enqueue(self, lines: list[str]) -> None:
        with self._cond:
            room = self.max_buffered - len(self._lines)
            if room < len(lines):
                self.dropped += len(lines) - max(room, 0)
                lines = lines[: max(room, 0)]
            self._lines.extend(lines)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._write_loop, name="agentdock-logs", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._lines:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                batch = list(self._lines)
                self._lines.clear()
            try:
                self.stream.write("\n".join(batch) + "\n")
                self.stream.flush()
                self.written += len(batch)
            except Exception:  # a closed or broken stdout loses lines, never the thread
                self.write_errors += 1
            if len(batch) < LINGER_LINES:
                # Let lines gather: one write (and one wake-up of this thread) for many runs
                # rather than one per run, each of which costs the event loop the GIL.
                time.sleep(LINGER_SEC)

    def wait_written(self, timeout: float) -> bool:
        """Block until every buffered line is written (or ``timeout``); ``True`` when done."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._lines and not self._busy, timeout)

    async def flush(self) -> None:
        """Wait, off the event loop, for the writer thread to empty the buffer."""
        import asyncio

        await asyncio.to_thread(self.wait_written, 5.0)
