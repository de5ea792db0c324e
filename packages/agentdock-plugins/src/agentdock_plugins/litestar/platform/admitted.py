"""What a body gets wrong is told to an admitted caller only.

The Platform and LangServe routes that run the agent leave admission (auth, role, rate
limit) to the run itself, so that a valid call is admitted once. A body that cannot start
a run (malformed JSON, the wrong shape, an unknown assistant, agent or mode) never reaches
it: the caller is admitted here first, and anyone else gets the admission's refusal (401,
403, 429) instead, learning nothing of what a valid call needs. Valid calls pay nothing:
the admission runs on the error path only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn, TypeVar

from agentdock_runtime import Pipeline, RuntimeHTTPError

from agentdock_plugins.litestar.platform.bodies import decode_body

__all__ = ["decode_admitted", "refuse"]

T = TypeVar("T")


async def refuse(
    pipeline: Pipeline, headers: Mapping[str, str], error: RuntimeHTTPError
) -> NoReturn:
    """Raise ``error`` if the caller is admitted to run the agent; else its refusal."""
    await pipeline.authorize(headers, "invoke")
    raise error


async def decode_admitted(
    pipeline: Pipeline, headers: Mapping[str, str], body: bytes, kind: type[T]
) -> T:
    """``body`` as a non-empty ``kind``; what is wrong with it told as :func:`refuse` tells."""
    try:
        return decode_body(body, kind, empty_ok=False)
    except RuntimeHTTPError as error:
        await refuse(pipeline, headers, error)
