"""What a body gets wrong is told to an admitted caller only.

The Platform and LangServe routes that run the agent leave admission (auth, role, rate
limit) to the run itself, so that a valid call is admitted once. A body that cannot start
a run (malformed JSON, the wrong shape, an unknown assistant, agent or mode) never reaches
it: the caller is admitted here first, and anyone else gets the admission's refusal (401,
403, 429) instead, learning nothing of what a valid call needs. Valid calls pay nothing:
the admission runs on the error path only.

The same holds for what is judged of a body before it is read, on every route whose run
admits the caller (``/invoke``, ``/stream``, the Platform's runs, LangServe, MCP, A2A): a
content type that is not JSON (415) and a body over the size limit (413). Authentication
reads only headers, so a body declared too large is refused, to whoever sends it, without
being read; one sent in chunks is read up to the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from agentdock_runtime import Pipeline, RuntimeHTTPError
from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from agentdock_plugins.litestar.invoke import check_json
from agentdock_plugins.litestar.platform.bodies import decode_body

__all__ = ["body_admitted", "decode_admitted", "refuse"]

T = TypeVar("T")


async def refuse(
    pipeline: Pipeline, headers: Mapping[str, str], error: RuntimeHTTPError
) -> NoReturn:
    """Raise ``error`` if the caller is admitted to run the agent; else its refusal."""
    await pipeline.authorize(headers, "invoke")
    raise error


async def body_admitted(
    pipeline: Pipeline, request: Request[Any, Any, Any], headers: Mapping[str, str]
) -> bytes:
    """The request's body, once its content type is JSON: a body of another type (415) or
    over the limit (413) is refused as :func:`refuse` refuses, the caller admitted first."""
    try:
        check_json(headers)
        return await request.body()
    except (RuntimeHTTPError, RequestEntityTooLarge):
        await pipeline.authorize(headers, "invoke")
        raise


async def decode_admitted(
    pipeline: Pipeline, headers: Mapping[str, str], body: bytes, kind: type[T]
) -> T:
    """``body`` as a non-empty ``kind``; what is wrong with it told as :func:`refuse` tells."""
    try:
        return decode_body(body, kind, empty_ok=False)
    except RuntimeHTTPError as error:
        await refuse(pipeline, headers, error)
