"""Process logging for the runtime's entrypoints: one format for every line of a run.

A library leaves logging alone. The runtime, its plugins and uvicorn log to named loggers
(``agentdock.*``, ``uvicorn.*``), and importing or embedding the runtime (``agentdock.app``,
``agentdock.testing``) configures nothing. Only the programs that own their process,
``agentdock serve`` and the container entrypoint ``python -m agentdock_runtime``, call
:func:`configure` once at start-up. It picks the run's format and holds every line to it:

* ``json``: one JSON object per line, with the keys of the log sink's event lines
  (``timestamp``, ``level``, ``message``) plus ``logger``, the record's extra fields and
  ``exception`` (a traceback);
* ``text``: one readable line per record, ``HH:MM:SS.mmm LEVEL logger message``, the shape
  of the log sink's text lines.

``--json`` or ``AGENTDOCK_LOG_FORMAT`` (``json``, ``text``, ``off``) picks it; unset (or
``off``, which only silences the event lines) means text on a terminal, JSON otherwise.
The choice is written back into ``AGENTDOCK_LOG_FORMAT`` when it was unset, so the log sink
of this process, and uvicorn's worker processes, use the same one; the log sink builds no
sink at all when the variable is unset (a notebook or a test gets no event lines).
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.config
import os
import sys
from collections.abc import MutableMapping
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "FORMAT_ENV",
    "JsonFormatter",
    "LogFormat",
    "StderrHandler",
    "TextFormatter",
    "choose_format",
    "configure",
    "dict_config",
    "level_of",
]

FORMAT_ENV = "AGENTDOCK_LOG_FORMAT"
LogFormat = Literal["json", "text"]

#: The Dockfile's ``observability.log_level`` → the ``logging`` level of the records.
LEVELS = {"debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR"}
#: Level names as the log sink writes them.
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "CRITICAL"}
#: Loggers that chat at INFO about every outgoing request (httpx) or every frame.
_QUIET = ("httpx", "httpcore", "websockets")
#: Attributes every ``LogRecord`` has; anything else came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    # uvicorn's coloured copy of the message.
    "color_message",
}


def _timestamp(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _level(levelno: int) -> str:
    return _NAMES.get(levelno, logging.getLevelName(levelno))


class JsonFormatter(logging.Formatter):
    """A record as one JSON line (keys of the log sink's lines, plus ``logger``)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _timestamp(record.created),
            "level": _level(record.levelno),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A record as one readable line, its traceback (if any) on the lines after it."""

    def format(self, record: logging.LogRecord) -> str:
        clock = _timestamp(record.created)[11:23]
        text = f"{clock} {_level(record.levelno):<5} {record.name} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record, so the secret
    masking of :mod:`.logmask` (installed first) sees every line."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr


def choose_format(requested: str | None, stream: Any = None) -> LogFormat:
    """The run's format: ``requested`` when it is ``json`` or ``text``, else text when
    ``stream`` (default: stdout, where the event lines go) is a terminal, JSON otherwise."""
    value = (requested or "").strip().lower()
    if value in ("json", "text"):
        return value  # type: ignore[return-value]
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return "text" if callable(isatty) and isatty() else "json"
    except ValueError:  # a closed stream
        return "json"


def dict_config(
    fmt: LogFormat, level: str = "info", *, debug_agentdock: bool = False
) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` document of :func:`configure`, also handed to
    uvicorn as ``log_config`` so that its worker processes log the same way."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    loggers: dict[str, Any] = {
        # uvicorn's own loggers: no handlers of their own, through the root's.
        "uvicorn": {"handlers": [], "propagate": True, "level": "INFO"},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": True},
        **{name: {"level": "WARNING"} for name in _QUIET},
    }
    if debug_agentdock:
        loggers["agentdock"] = {"level": "DEBUG"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"agentdock": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {"stderr": {"()": f"{__name__}.StderrHandler", "formatter": "agentdock"}},
        "root": {"handlers": ["stderr"], "level": LEVELS.get(level, "INFO")},
        "loggers": loggers,
    }


def configure(
    *,
    level: str = "info",
    requested: str | None = None,
    environ: MutableMapping[str, str] | None = None,
    debug_agentdock: bool = False,
) -> LogFormat:
    """Configure this process's logging for a run; returns the format chosen.

    For the programs that own the process only (``serve``, the container entrypoint): it
    replaces the root logger's handlers.

    :param level: the Dockfile's ``observability.log_level``.
    :param requested: the format asked for (``--json``); default ``AGENTDOCK_LOG_FORMAT``.
    :param environ: where ``AGENTDOCK_LOG_FORMAT`` is read and, when unset, written
        (default: ``os.environ``).
    :param debug_agentdock: records of the ``agentdock`` loggers from DEBUG up (``-v``).
    """
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    current = env.get(FORMAT_ENV, "").strip().lower()
    fmt = choose_format(requested or current)
    # ``off`` stays off (no event lines); otherwise the event lines follow the records.
    if current != "off" and (requested or not current):
        env[FORMAT_ENV] = fmt
    logging.config.dictConfig(dict_config(fmt, level, debug_agentdock=debug_agentdock))
    return fmt


def level_of(spec: DockSpec) -> str:
    """The Dockfile's ``observability.log_level`` (``info`` when absent)."""
    observability = getattr(spec, "observability", None)
    return str(getattr(observability, "log_level", None) or "info")
