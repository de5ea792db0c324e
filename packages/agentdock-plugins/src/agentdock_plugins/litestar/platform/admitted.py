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
limit when sent in chunks), and a body that cannot start a run (the wrong shape, an
unknown assistant, agent or mode), which never reaches the run: anyone but an admitted
caller gets the admission's refusal instead, learning nothing of what a valid call needs.
On those error paths :func:`refuse` asks for the admission again; with the admitted
headers that costs no second authentication.

A body that is not JSON at all (or is empty), sent to a route that starts one run (the
Platform's runs, LangServe's ``invoke`` and ``stream``), is refused as ``/invoke`` refuses
it: as a run refused at its input (:meth:`~agentdock_runtime.Pipeline.refuse_input`), with
its ``x-run-id`` and ``x-trace-id`` and a ``run_end`` whose status is ``error``, the
admission it took counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NoReturn, TypeVar

from agentdock_runtime import MalformedJSONError, Pipeline, RuntimeHTTPError
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
    pipeline: Pipeline,
    headers: Mapping[str, str],
    body: bytes,
    kind: type[T],
    *,
    run: Literal["invoke", "stream"] | None = None,
) -> T:
    """``body`` as a non-empty ``kind``; what is wrong with it told as :func:`refuse` tells.

    :param run: the body asks for one run, which the pipeline runs this way: a body that is
        not JSON (or is empty) is then a run refused at its input, as on ``/invoke``
        (``headers`` are those :func:`body_admitted` handed out, so the run takes that
        admission and the rate limit counts the call once).
    """
    try:
        return decode_body(body, kind, empty_ok=False)
    except MalformedJSONError as error:
        if run is not None:
            await pipeline.refuse_input(error, headers=headers, mode=run)
        await refuse(pipeline, headers, error)
    except RuntimeHTTPError as error:
        await refuse(pipeline, headers, error)
