"""How long operations report: rich lines for people, one JSON event per line for machines.

With ``--json`` every step is ``{"event": "progress", "step": ..., "message": ...}`` on its
own line, and the last line is ``{"event": "result", "ok": true, ...}`` or
``{"event": "error", "ok": false, "error": NAME, "code": EXIT, "detail": ...}``.

A command whose ``--json`` is one document (``stop``, ``cleanup``, ``rm``) reports with
``events=False``: its progress lines go to stderr, so that stdout holds that document alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich.markup import escape

from agentdock_cli.output import err_console, print_json

__all__ = ["Reporter", "reporting"]


#: Steps a person sees as lines; anything else (uv's and docker's output) only updates the
#: spinner line, so a build shows what it is doing without scrolling the terminal away.
MAIN_STEPS = frozenset(
    {
        "validate",
        "build",
        "bundle",
        "image",
        "start",
        "health",
        "activate",
        "promote",
        "retire",
        "noop",
        "recover",
        "rollback",
        "remove",
        "resolve",
        "cached",
        "layers",
        "registry",
        "stop",
        "warning",
    }
)


class Reporter:
    """A ``progress(step, message, **fields)`` callback bound to one output style."""

    def __init__(self, as_json: bool, events: bool = True) -> None:
        self.as_json = as_json
        #: With ``--json``: progress events on stdout (False: on stderr, stdout is one document)
        self.events = events
        self.started = time.monotonic()
        self._err = None if as_json else err_console()
        self._status: Any = None

    def __call__(self, step: str, message: str, **fields: Any) -> None:
        if self.as_json:
            event = {"event": "progress", "step": step, "message": message, **fields}
            print_json(event, stream=None if self.events else sys.stderr)
            return
        assert self._err is not None
        if step not in MAIN_STEPS:
            if self._err.is_terminal:
                if self._status is None:
                    self._status = self._err.status("", spinner="dots")
                    self._status.start()
                self._status.update(f"[dim]{escape(step)}[/dim] {escape(message[:200])}")
            return
        elapsed = time.monotonic() - self.started
        self._err.print(
            f"[dim]{elapsed:6.1f}s[/dim] [cyan]{escape(step):>8}[/cyan] {escape(message)}",
            markup=True,
            highlight=False,
        )

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def result(self, document: dict[str, Any]) -> None:
        if self.as_json:
            print_json({"event": "result", "ok": True, **document})

    def fail(self, error: Any) -> NoReturn:
        """Report a :class:`agentdock.deployment.DeployError` and exit with its code."""
        if self.as_json:
            print_json({"event": "error", "ok": False, **error.to_json()})
        else:
            assert self._err is not None
            # The cause is text, not markup: a pattern such as [a-z] in it prints as is.
            self._err.print(f"[red]✗[/red] {escape(error.cause)}", markup=True, highlight=False)
            for finding in getattr(error, "findings", ()):
                self._err.print(f"  {finding.one_line()}", markup=False, highlight=False)
            if error.path and not getattr(error, "findings", ()):
                self._err.print(f"  at: {error.path}", markup=False, highlight=False)
            if error.hint:
                self._err.print(f"  hint: {error.hint}", markup=False, highlight=False)
            if error.log_tail:
                self._err.print("  the runtime's last log lines:", highlight=False)
                for line in error.log_tail:
                    self._err.print(f"    {line}", markup=False, highlight=False)
        raise SystemExit(error.exit_code)


@contextmanager
def reporting(as_json: bool, *, events: bool = True) -> Iterator[Reporter]:
    """A reporter; a ``DeployError`` or Ctrl-C inside ends the command with its code.

    ``events=False``: the command prints one JSON document, so ``--json`` progress goes to
    stderr (an error is still that one document, on stdout)."""
    from agentdock.deployment import DeployError

    reporter = Reporter(as_json, events)
    try:
        yield reporter
    except DeployError as exc:
        reporter.close()
        reporter.fail(exc)
    except KeyboardInterrupt:
        reporter.close()
        if as_json:
            print_json({"event": "error", "ok": False, "error": "Interrupted", "code": 130})
        else:
            err_console().print("[red]✗[/red] interrupted", markup=True)
        raise SystemExit(130) from None
    finally:
        reporter.close()
