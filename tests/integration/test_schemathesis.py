"""Property-based checks of the echo example against its own ``/openapi.json`` (schemathesis).

Schemathesis generates valid and invalid requests for every documented operation and checks
each response: no 5xx (echo never fails on its own), documented status codes, content types
and headers, bodies (and each SSE event) that match the documented schemas, valid input
accepted and invalid input refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
import schemathesis
from agentdock import make_plugin_manager
from agentdock_plugins.litestar.platform import PROTOCOLS
from agentdock_plugins.litestar.platform.openapi import PLATFORM_TAG
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo" / "Dockfile.yaml"
MAX_EXAMPLES = 50
PLATFORM_EXAMPLES = 15

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _app() -> Any:
    """The echo application, its lifespan left out.

    Schemathesis starts and stops an ASGI application's lifespan around every test; the
    runtime's shutdown is final (it stops taking runs and closes the pipeline), so the
    application here answers the lifespan messages itself and serves every test.
    """
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    # Without auth no client protocol is served unless the Dockfile names it: name them all
    # (a spec's entrypoint is imported from the path, as the Dockfile's would be from its
    # directory).
    if str(ECHO.parent) not in sys.path:
        sys.path.insert(0, str(ECHO.parent))
    spec = agentdock.load(ECHO)
    every = spec.expose.model_copy(update={"protocols": list(PROTOCOLS)})
    app = agentdock.app(
        spec.model_copy(update={"expose": every}), insecure_no_auth=True, plugins=manager
    )

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return without_lifespan


#: The whole document, AgentDock's own routes, and the LangGraph Platform API's (which the
#: real clients drive in test_platform_api.py; here they are checked for crashes, status
#: codes and content types).
document = schemathesis.openapi.from_asgi("/openapi.json", _app())
schema = document.exclude(tag=PLATFORM_TAG)
platform = document.include(tag=PLATFORM_TAG)

#: The runtime refuses an integer wider than 64 bits with 400 (checkpointers and telemetry
#: store no wider; README, "Inline I/O schemas"). JSON Schema cannot say so without also
#: forbidding integral floats such as 6.02e23, which it accepts: such bodies are not
#: generated, and the refusal itself is tested in tests/unit/runtime/test_iomodels.py.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _fits_64_bits(value: Any) -> bool:
    if type(value) is int:
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, dict):
        return all(_fits_64_bits(item) for item in value.values())
    if isinstance(value, list):
        return all(_fits_64_bits(item) for item in value)
    return True


@document.hook
def filter_body(context: Any, body: Any) -> bool:
    return _fits_64_bits(body)


@document.hook
def filter_query(context: Any, query: Any) -> bool:
    # ``input`` of GET /stream is JSON in a query parameter: it may come already serialized.
    values = query.values() if isinstance(query, dict) else ()
    return _fits_64_bits(query) and all(_fits_64_bits(_as_json(value)) for value in values)


def _as_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_echo_conforms_to_its_openapi_document(case: schemathesis.Case[Any]) -> None:
    # Every default check: served with ``insecure_no_auth``, the document declares no
    # security, so schemathesis expects none.
    case.call_and_validate()


@platform.parametrize()
@settings(
    max_examples=PLATFORM_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_platform_routes_never_fail_on_bad_input(case: schemathesis.Case[Any]) -> None:
    # Generated ids name no assistant, thread or run: 404 (or 409, 422) with the envelope,
    # never a 5xx other than the documented 501 of crons.
    response = case.call()
    assert response.status_code < 500 or response.status_code == 501, response.text
    body = response.json() if response.content else None
    if isinstance(body, dict) and "jsonrpc" in body:
        # MCP and A2A answer a bad message with a JSON-RPC error (HTTP 200 or 400).
        assert body.get("result") is not None or isinstance(body["error"]["code"], int), body
    elif response.status_code >= 400:
        assert body["code"] == response.status_code and body["error"] and body["detail"]
    case.validate_response(response, checks=[status_code_conformance, content_type_conformance])


def test_every_operation_is_covered() -> None:
    operations = set()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.add(f"{result.ok().method.upper()} {result.ok().path}")
    assert operations == {
        "POST /invoke",
        "GET /stream",
        "POST /stream",
        "GET /schema",
        "GET /health",
        "GET /ready",
    }


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "ü" * 100}, {"text": "a", "x": [1]}])
def test_valid_bodies_answer_the_output_schema(body: dict[str, Any]) -> None:
    case = schema["/invoke"]["POST"].Case(body=body, media_type="application/json")
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 200
