"""The rule for the run knobs of a Dockfile's ``arguments`` (``timeout_sec``,
``max_retries``), in one place for both sides: ``validate`` reports a wrong value as a
finding, and the runtime refuses to start with it. Without the shared rule ``validate``
passed values the runtime then refused, after a deploy had built the whole bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["argument_problems"]


def _placeholder(value: object) -> bool:
    return isinstance(value, str) and "${" in value


def argument_problems(
    arguments: Mapping[str, Any], *, unresolved_ok: bool = False
) -> list[tuple[str, str]]:
    """``(key, cause)`` for each run knob of ``arguments`` the runtime cannot use.

    ``timeout_sec`` is a positive number or null (no bound); ``max_retries`` an integer of
    0 or more. With ``unresolved_ok`` (``validate --allow-unresolved``) an unresolved
    ``${NAME}`` is not judged: its value is not known yet.
    """
    problems: list[tuple[str, str]] = []
    timeout = arguments.get("timeout_sec")
    if (
        timeout is not None
        and not (unresolved_ok and _placeholder(timeout))
        and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0)
    ):
        problems.append(("timeout_sec", f"must be a positive number, got {timeout!r}"))
    retries = arguments.get("max_retries", 0)
    if not (unresolved_ok and _placeholder(retries)) and (
        isinstance(retries, bool) or not isinstance(retries, int) or retries < 0
    ):
        problems.append(("max_retries", f"must be an integer >= 0, got {retries!r}"))
    return problems
