"""The caller is admitted before its body is read; what a body gets wrong is told to an
admitted caller only.

On every route that runs the agent (``/invoke``, ``/stream``, the Platform's runs,
LangServe, MCP, A2A) the caller is admitted (auth, role, rate limit) from the headers
alone, before a byte of the body is read: a stranger is answered 401 (403, 429) at once,
whatever body it declares, and holds no memory while it sends it. The run then takes the
caller as admitted (:class:`~agentdock_runtime.AdmittedHeaders`), so a valid call is
admitted once and the rate limit counts it once.

What is judged of a body comes after: a content type that is not JSON (415), a body over
the size limit (413: refused unread when its ``content-length`` says so, read up to the
limit when sent in chunks), and a body that cannot start a run (malformed JSON, the wrong
shape, an unknown assistant, agent or mode), which never reaches the run: anyone but an
admitted caller gets the admission's refusal instead, learning nothing of what a valid call
needs. On those error paths :func:`refuse` asks for the admission again; with the admitted
headers that costs no second authentication.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from agentdock_runtime import Pipeline, RuntimeHTTPError
from litestar import Request

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
) -> tuple[bytes, dict[str, str]]:
    """The caller admitted from ``headers`` alone (401, 403, 429 otherwise, with not a byte
    of the body read), then the body, once its content type is JSON (415) and within the
    limit (413); with the headers to hand to the run (:meth:`Pipeline.admit`)."""
    admitted = await pipeline.admit(headers)
    check_json(headers)
    body = await request.body()
    return body, admitted if isinstance(admitted, dict) else dict(admitted)


async def decode_admitted(
    pipeline: Pipeline, headers: Mapping[str, str], body: bytes, kind: type[T]
) -> T:
    """``body`` as a non-empty ``kind``; what is wrong with it told as :func:`refuse` tells."""
    try:
        return decode_body(body, kind, empty_ok=False)
    except RuntimeHTTPError as error:
        await refuse(pipeline, headers, error)
