"""The OpenAPI 3.1 document of one agent's runtime, built once from its Dockfile.

The request and response bodies of ``/invoke`` and ``/stream`` are the agent's declared
``io_schema`` (inline schemas as written; ``input_class``/``output_class`` through pydantic),
so the document is the contract callers generate clients from. It lists the routes the
server builds: ``/invoke`` when ``expose.rest`` is true, ``/stream`` when
``expose.streaming`` is ``sse`` (OpenAPI cannot describe ``/ws/stream``; its messages carry
the same ``Input`` schema).

The document is built with Litestar's OpenAPI spec dataclasses (``litestar.openapi.spec``,
already imported with Litestar) rather than dict literals: the field names and nesting are
the library's, checked by its types. It costs about 2 ms once per application (0.02 ms as
literals), against a runtime's cold start of about 3 s (``benchmarks/openapi_build.py``), and
nothing per request: the server encodes the document once and serves those bytes.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

from agentdock_runtime.version import served_version
from litestar.openapi.spec import (
    Components,
    Info,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Tag,
)

from agentdock_plugins.litestar.platform import served_protocols
from agentdock_plugins.litestar.platform.openapi import (
    PLATFORM_TAG,
    PLATFORM_TAG_TEXT,
    protocol_paths,
)

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "TAG",
    "declared_schemas",
    "openapi_document",
    "security_schemes",
    "swagger_asset",
    "swagger_html",
]

TAG = "AgentDock Runtime"
_REF = "#/components/schemas/"

_OBJECT = OpenAPIType.OBJECT
_STRING = Schema(type=OpenAPIType.STRING)
_COUNT = Schema(type=OpenAPIType.INTEGER, minimum=0)

_ERROR_SCHEMA = Schema(
    type=_OBJECT,
    description="The error envelope of every HTTP error.",
    required=["error", "code", "detail"],
    properties={
        "error": Schema(type=OpenAPIType.STRING, description="Stable error name."),
        "code": Schema(type=OpenAPIType.INTEGER, description="The HTTP status."),
        "detail": Schema(type=OpenAPIType.STRING, description="What went wrong, for the caller."),
        "run_id": Schema(type=OpenAPIType.STRING, description="The run, when one had started."),
        "path": Schema(type=OpenAPIType.STRING, description="Where in the input, when known."),
        "details": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=_OBJECT, properties={"path": _STRING, "message": _STRING}),
        ),
    },
)

_HEALTH_SCHEMA = Schema(
    type=_OBJECT,
    required=["status", "version", "agent", "uptime_seconds"],
    properties={
        "status": Schema(type=OpenAPIType.STRING, enum=["healthy", "stopping"]),
        "version": Schema(
            type=[OpenAPIType.STRING, OpenAPIType.NULL], description="metadata.version"
        ),
        "agent": _STRING,
        "uptime_seconds": Schema(type=OpenAPIType.NUMBER),
    },
)

_STREAM_EVENT_SCHEMA = Schema(
    type=_OBJECT,
    description=(
        "One Server-Sent Event. `data` is JSON: `start` {run_id, trace_id}, `token` "
        "{text, ...}, `event` {node, update} or {name, ...}, `end` (StreamEnd: run_id, usage "
        "and the run's output), `error` (the Error envelope)."
    ),
    required=["event", "id", "data"],
    properties={
        "event": Schema(type=OpenAPIType.STRING, enum=["start", "token", "event", "end", "error"]),
        "id": Schema(
            type=OpenAPIType.STRING,
            pattern="^.+:[0-9]+$",
            description="`<run_id>:<n>`, n from 1; send it back as Last-Event-ID to resume.",
        ),
        "data": Schema(type=OpenAPIType.STRING, content_media_type="application/json"),
        "retry": Schema(type=OpenAPIType.INTEGER, minimum=0),
    },
)

_USAGE_SCHEMA = Schema(
    type=_OBJECT,
    required=["input_tokens", "output_tokens", "total_tokens"],
    properties={"input_tokens": _COUNT, "output_tokens": _COUNT, "total_tokens": _COUNT},
)

_STREAM_END_SCHEMA = Schema(
    type=_OBJECT,
    description=(
        "The `data` of the last frame of a run that succeeded (SSE `end`; the WebSocket's "
        "`end` message holds it as `data` too)."
    ),
    required=["run_id", "usage", "output"],
    properties={
        "run_id": _STRING,
        "usage": Reference(_REF + "Usage"),
        "output": Schema(
            description=(
                "The run's output, as POST /invoke answers it (validated, through the post "
                "policies); null when the agent's adapter reports none."
            ),
            any_of=[Reference(_REF + "Output"), Schema(type=OpenAPIType.NULL)],
        ),
    },
)

_SCHEMA_ROUTE_SCHEMA = Schema(
    type=_OBJECT,
    required=["input_schema", "output_schema"],
    properties={
        "input_schema": Schema(type=_OBJECT, description="JSON Schema of the input"),
        "output_schema": Schema(type=_OBJECT, description="JSON Schema of the output"),
        "$defs": Schema(
            type=_OBJECT, description="Models the schemas refer to (input_class/output_class)"
        ),
    },
)

_ERRORS = {
    "400": "Malformed JSON, a bad query parameter, or ambiguous credentials",
    "401": "Missing or invalid credentials",
    "403": "Forbidden, or refused by a policy",
    "409": "Last-Event-ID names no stream the runtime still holds (StreamNotResumable)",
    "413": "Request body too large",
    "415": "Content type is not JSON",
    "422": "Input does not match the input schema",
    "429": "Rate limit exceeded",
    "498": "Token expired",
    "499": "API key revoked",
    "500": "The agent or the runtime failed",
    "503": "The runtime is shutting down",
    "504": "The agent ran past arguments.timeout_sec",
}
_RUN_ERRORS = ("400", "401", "403", "413", "415", "422", "429", "498", "499", "500", "503")
#: A resumed stream may also answer 409.
_STREAM_ERRORS = (*_RUN_ERRORS[:3], "409", *_RUN_ERRORS[3:])
#: The errors that may belong to a run, and then name it (``x-run-id``, ``x-trace-id``): a
#: body or input the run refused (400, 422), a policy or the tool gate (403), the agent or
#: the runtime failing (500), the state store down (503), the run's timeout (504). A refused
#: caller (401, 403, 429, 498, 499), a body refused unread (413, 415) or a stream no longer
#: held (409) starts no run and names none.
_RUN_NAMED_ERRORS = frozenset({"400", "403", "422", "500", "503", "504"})

_INPUT = Reference(_REF + "Input")
#: The headers that name a run: its id and its W3C trace id (the caller's ``traceparent``'s).
_RUN_ID_HEADER = {
    "x-run-id": OpenAPIHeader(description="The run's id", schema=_STRING),
    "x-trace-id": OpenAPIHeader(
        description="The run's W3C trace id (the caller's, when it sent a traceparent)",
        schema=_STRING,
    ),
}
#: The same headers on an error, which names a run only when one had started.
_ERROR_RUN_ID_HEADER = {
    "x-run-id": OpenAPIHeader(
        description="The run's id, when the refusal or failure is a run's", schema=_STRING
    ),
    "x-trace-id": OpenAPIHeader(
        description="The run's W3C trace id, when the refusal or failure is a run's",
        schema=_STRING,
    ),
}
_THREAD_PARAMETERS: list[Parameter | Reference] = [
    Parameter(
        name="x-thread-id",
        param_in="header",
        description="Conversation id for stateful agents.",
        schema=_STRING,
    ),
    Parameter(
        name="thread_id",
        param_in="query",
        description="Conversation id (when a header cannot be set).",
        schema=_STRING,
    ),
]
_LAST_EVENT_ID = Parameter(
    name="Last-Event-ID",
    param_in="header",
    description=(
        "Resume a recent stream: the `id:` of the last frame received. The frames after it "
        "are sent again without a new run (the input is then ignored); 409 when the "
        "runtime no longer holds them."
    ),
    schema=_STRING,
)
_SSE = OpenAPIResponse(
    description=(
        "Server-Sent Events: `start`, then `token`/`event`, then `end` or `error`; "
        "each frame carries `event:`, `id:` (`<run_id>:<n>`) and JSON `data:`; "
        "`: ping` comments while idle."
    ),
    headers=dict(_RUN_ID_HEADER),
    content={"text/event-stream": OpenAPIMediaType(schema=Reference(_REF + "StreamEvent"))},
)


def declared_schemas(spec: DockSpec) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(input, output, defs)``: the JSON Schemas the Dockfile declares, refs into ``defs``."""
    io = spec.io_schema
    if io.input_class:
        from agentdock_runtime.iomodels import import_object
        from pydantic import TypeAdapter

        defs: dict[str, Any] = {}
        sides = []
        refs: tuple[Any, Any] = (io.input_class, io.output_class)  # set together (4xxx)
        for ref in refs:
            schema = TypeAdapter(import_object(ref)).json_schema(ref_template=_REF + "{model}")
            defs.update(schema.pop("$defs", {}))
            sides.append(schema)
        return sides[0], sides[1], defs
    return _inline(io.input), _inline(io.output), {}


def _inline(schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict):
        return copy.deepcopy(schema)
    dumped: dict[str, Any] = schema.model_dump(mode="json", exclude_unset=True)
    return dumped


def _json(schema: Schema | Reference) -> dict[str, OpenAPIMediaType]:
    return {"application/json": OpenAPIMediaType(schema=schema)}


def _error_responses(*statuses: str, run: bool = False) -> dict[str, OpenAPIResponse | Reference]:
    """The error answers ``statuses``; of a route that runs the agent (``run``), those that
    may belong to a run declare the headers naming it."""
    return {
        status: OpenAPIResponse(
            description=_ERRORS[status],
            headers=dict(_ERROR_RUN_ID_HEADER) if run and status in _RUN_NAMED_ERRORS else None,
            content=_json(Reference(_REF + "Error")),
        )
        for status in statuses
    }


def _run_paths() -> dict[str, PathItem]:
    """``/invoke`` and ``/stream``: the routes that run the agent."""
    invoke = Operation(
        tags=[TAG],
        summary="Run the agent once",
        operation_id="invoke",
        parameters=list(_THREAD_PARAMETERS),
        request_body=RequestBody(required=True, content=_json(_INPUT)),
        responses={
            "200": OpenAPIResponse(
                description="The agent's output",
                headers=dict(_RUN_ID_HEADER),
                content=_json(Reference(_REF + "Output")),
            ),
            **_error_responses(*_RUN_ERRORS, "504", run=True),
        },
    )
    stream_get = Operation(
        tags=[TAG],
        summary="Run the agent, streaming events",
        operation_id="stream",
        parameters=[
            Parameter(
                name="input",
                param_in="query",
                required=True,
                description="The input as one JSON document.",
                content=_json(_INPUT),
            ),
            *_THREAD_PARAMETERS,
            _LAST_EVENT_ID,
        ],
        responses={"200": _SSE, **_error_responses(*_STREAM_ERRORS, run=True)},
    )
    stream_post = Operation(
        tags=[TAG],
        summary="Run the agent, streaming events (input in the body)",
        operation_id="stream_post",
        parameters=[*_THREAD_PARAMETERS, _LAST_EVENT_ID],
        request_body=RequestBody(required=True, content=_json(_INPUT)),
        responses={"200": _SSE, **_error_responses(*_STREAM_ERRORS, run=True)},
    )
    return {"/invoke": PathItem(post=invoke), "/stream": PathItem(get=stream_get, post=stream_post)}


def _public_paths() -> dict[str, PathItem]:
    """``/schema``, ``/health`` and ``/ready``: public (``security: []``), always served."""
    schema = Operation(
        tags=[TAG],
        summary="The agent's input and output JSON Schemas",
        operation_id="schema",
        security=[],
        responses={
            "200": OpenAPIResponse(
                description="The schemas as declared in the Dockfile",
                content=_json(_SCHEMA_ROUTE_SCHEMA),
            )
        },
    )
    health = Operation(
        tags=[TAG],
        summary="Liveness and version",
        operation_id="health",
        security=[],
        responses={
            "200": OpenAPIResponse(
                description="The runtime is alive", content=_json(Reference(_REF + "Health"))
            )
        },
    )
    ready = Operation(
        tags=[TAG],
        summary="Readiness: the agent is loaded and takes runs",
        operation_id="ready",
        security=[],
        responses={
            "200": OpenAPIResponse(
                description="Ready",
                content=_json(Schema(type=_OBJECT, properties={"status": _STRING})),
            ),
            **_error_responses("503"),
        },
    )
    return {
        "/schema": PathItem(get=schema),
        "/health": PathItem(get=health),
        "/ready": PathItem(get=ready),
    }


def openapi_document(spec: DockSpec, *, secured: bool = True) -> dict[str, Any]:
    """The whole OpenAPI document (deterministic: the same spec gives the same bytes).

    Built with Litestar's OpenAPI spec dataclasses; the agent's own schemas (``Input``,
    ``Output`` and the models they refer to) are added to the result as declared, since a
    dataclass round trip would drop their ``null`` values (a ``default: null``, say).
    The document names no ``servers``: its routes are relative to wherever it is served,
    so it works under a path prefix.

    :param secured: whether the runtime authenticates; a runtime served without
        authentication (``--insecure-no-auth``) declares no security schemes, so Swagger UI
        asks for no credentials and clients generated from it send none.
    """
    input_schema, output_schema, defs = declared_schemas(spec)
    agent = spec.agent
    expose = spec.expose
    run_paths = _run_paths()
    paths: dict[str, PathItem] = {}
    if expose.rest:
        paths["/invoke"] = run_paths["/invoke"]
    if expose.streaming == "sse":
        paths["/stream"] = run_paths["/stream"]
    paths.update(_public_paths())
    schemas: dict[str, Schema] = {"Error": _ERROR_SCHEMA, "Health": _HEALTH_SCHEMA}
    if "/stream" in paths:
        schemas["StreamEvent"] = _STREAM_EVENT_SCHEMA
    if expose.streaming != "none":
        schemas["StreamEnd"] = _STREAM_END_SCHEMA
        schemas["Usage"] = _USAGE_SCHEMA
    schemes = security_schemes(spec.auth) if secured else {}
    document = OpenAPI(
        openapi="3.1.0",
        # None: the routes are relative to wherever the document is served (a path prefix
        # too); Litestar's default server, "/", would pin them to the host's root.
        servers=[],
        info=Info(
            title=agent.name,
            version=served_version(spec) or "0.0.0",
            description=agent.description or None,
        ),
        tags=[Tag(name=TAG, description="The routes every AgentDock agent exposes.")],
        paths=paths,
        components=Components(
            schemas=schemas,
            security_schemes=dict(schemes) if secured else None,
        ),
        security=[{name: []} for name in schemes] if secured else None,
    ).to_schema()
    del document["servers"]
    # The client protocols the agent serves beside its own routes (``expose.protocols``).
    protocols = served_protocols(
        spec, secured=secured, langgraph=getattr(agent, "framework", None) == "langgraph"
    )
    if protocols:
        document["paths"].update(protocol_paths(protocols))
        document["tags"].append({"name": PLATFORM_TAG, "description": PLATFORM_TAG_TEXT})
    declared = {"Input": input_schema, "Output": output_schema}
    document["components"]["schemas"] = {**declared, **document["components"]["schemas"], **defs}
    return document


def security_schemes(auth: Any) -> dict[str, SecurityScheme | Reference]:
    """The credentials ``auth.mode`` accepts, as OpenAPI security schemes (sorted by name):
    what Swagger UI's "Authorize" dialog asks for and sends with "Try it out"."""
    mode = auth.mode
    schemes: dict[str, SecurityScheme | Reference] = {}
    keys = getattr(auth, "api_keys", None)
    if mode == "api_key" or (mode == "jwt" and keys is not None and keys.enabled):
        schemes["apiKeyAuth"] = SecurityScheme(
            type="apiKey",
            security_scheme_in="header",
            name="x-api-key",
            description=f"An API key (auth.mode {mode}): agentdock key create.",
        )
    if mode in ("jwt", "oauth2"):
        schemes["bearerAuth"] = SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description=(
                "A JWT signed with auth.jwt's key: agentdock token issue."
                if mode == "jwt"
                else "An access token of the auth.oauth2 issuer."
            ),
        )
    return dict(sorted(schemes.items()))


def swagger_html(title: str, openapi_url: str = "openapi.json") -> str:
    """A Swagger UI page for the document at ``openapi_url``.

    Its script and style come from the runtime itself (``/docs/assets/``, Swagger UI shipped
    in the package), so the page works where no CDN is reachable. Every link is relative to
    ``/docs``, so the page works under a path prefix too. The key or token given to
    "Authorize" stays in the page (never stored), sent with each "Try it out".
    """
    from html import escape

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} — API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{escape(openapi_url)}", dom_id: "#swagger-ui"}});
</script>
</body>
</html>
"""


_SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
}


@functools.cache
def swagger_asset(name: str) -> tuple[bytes, str] | None:
    """``(body, media type)`` of a shipped Swagger UI file, read once; ``None`` if unknown."""
    media_type = _SWAGGER_ASSETS.get(name)
    if media_type is None:
        return None
    body = resources.files("agentdock_plugins.litestar").joinpath("swagger", name).read_bytes()
    return body, media_type
