"""The OpenAPI 3.1 document of one agent's runtime, built once from its Dockfile.

The request and response bodies of ``/invoke`` and ``/stream`` are the agent's declared
``io_schema`` (inline schemas as written; ``input_class``/``output_class`` through pydantic),
so the document is the contract callers generate clients from. It lists the routes the
server builds: ``/invoke`` when ``expose.rest`` is true, ``/stream`` when
``expose.streaming`` is ``sse`` (OpenAPI cannot describe ``/ws/stream``; its messages carry
the same ``Input`` schema).
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

from agentdock_runtime.version import served_version

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

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The error envelope of every HTTP error.",
    "required": ["error", "code", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Stable error name."},
        "code": {"type": "integer", "description": "The HTTP status."},
        "detail": {"type": "string", "description": "What went wrong, for the caller."},
        "run_id": {"type": "string", "description": "The run, when one had started."},
        "path": {"type": "string", "description": "Where in the input, when known."},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

_HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "version", "agent", "uptime_seconds"],
    "properties": {
        "status": {"type": "string", "enum": ["healthy", "stopping"]},
        "version": {"type": ["string", "null"], "description": "metadata.version"},
        "agent": {"type": "string"},
        "uptime_seconds": {"type": "number"},
    },
}

_STREAM_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "One Server-Sent Event. `data` is JSON: `start` {run_id, trace_id}, `token` "
        "{text, ...}, `event` {node, update} or {name, ...}, `end` (StreamEnd: run_id, usage "
        "and the run's output), `error` (the Error envelope)."
    ),
    "required": ["event", "id", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["start", "token", "event", "end", "error"]},
        "id": {
            "type": "string",
            "pattern": "^.+:[0-9]+$",
            "description": "`<run_id>:<n>`, n from 1; send it back as Last-Event-ID to resume.",
        },
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer", "minimum": 0},
    },
}

_USAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["input_tokens", "output_tokens", "total_tokens"],
    "properties": {
        "input_tokens": {"type": "integer", "minimum": 0},
        "output_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
    },
}

_STREAM_END_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "The `data` of the last frame of a run that succeeded (SSE `end`; the WebSocket's "
        "`end` message holds it as `data` too)."
    ),
    "required": ["run_id", "usage", "output"],
    "properties": {
        "run_id": {"type": "string"},
        "usage": {"$ref": _REF + "Usage"},
        "output": {
            "description": (
                "The run's output, as POST /invoke answers it (validated, through the post "
                "policies); null when the agent's adapter reports none."
            ),
            "anyOf": [{"$ref": _REF + "Output"}, {"type": "null"}],
        },
    },
}

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


def declared_schemas(spec: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(input, output, defs)``: the JSON Schemas the Dockfile declares, refs into ``defs``."""
    io = spec.io_schema
    if getattr(io, "input_class", None):
        from agentdock_runtime.iomodels import import_object
        from pydantic import TypeAdapter

        defs: dict[str, Any] = {}
        sides = []
        for ref in (io.input_class, io.output_class):
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


def _error_responses(*statuses: str) -> dict[str, Any]:
    return {
        status: {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
        }
        for status in statuses
    }


def openapi_document(spec: Any, *, secured: bool = True) -> dict[str, Any]:
    """The whole OpenAPI document (deterministic: the same spec gives the same bytes).

    :param secured: whether the runtime authenticates; a runtime served without
        authentication (``--insecure-no-auth``) declares no security schemes, so Swagger UI
        asks for no credentials and clients generated from it send none.
    """
    input_schema, output_schema, defs = declared_schemas(spec)
    agent = spec.agent
    version = served_version(spec)
    run_errors = ("400", "401", "403", "413", "415", "422", "429", "498", "499", "500", "503")
    input_ref = {"$ref": _REF + "Input"}
    run_id_header = {
        "x-run-id": {"description": "The run's id", "schema": {"type": "string"}},
    }
    thread_params = [
        {
            "name": "x-thread-id",
            "in": "header",
            "required": False,
            "description": "Conversation id for stateful agents.",
            "schema": {"type": "string"},
        },
        {
            "name": "thread_id",
            "in": "query",
            "required": False,
            "description": "Conversation id (when a header cannot be set).",
            "schema": {"type": "string"},
        },
    ]
    sse = {
        "description": (
            "Server-Sent Events: `start`, then `token`/`event`, then `end` or `error`; "
            "each frame carries `event:`, `id:` (`<run_id>:<n>`) and JSON `data:`; "
            "`: ping` comments while idle."
        ),
        "headers": run_id_header,
        "content": {"text/event-stream": {"schema": {"$ref": _REF + "StreamEvent"}}},
    }
    last_event_id = {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "description": (
            "Resume a recent stream: the `id:` of the last frame received. The frames after it "
            "are sent again without a new run (the input is then ignored); 409 when the "
            "runtime no longer holds them."
        ),
        "schema": {"type": "string"},
    }
    stream_errors = (*run_errors[:3], "409", *run_errors[3:])
    public: list[Any] = []
    paths: dict[str, Any] = {
        "/invoke": {
            "post": {
                "tags": [TAG],
                "summary": "Run the agent once",
                "operationId": "invoke",
                "parameters": thread_params,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": input_ref}},
                },
                "responses": {
                    "200": {
                        "description": "The agent's output",
                        "headers": run_id_header,
                        "content": {"application/json": {"schema": {"$ref": _REF + "Output"}}},
                    },
                    **_error_responses(*run_errors, "504"),
                },
            }
        },
        "/stream": {
            "get": {
                "tags": [TAG],
                "summary": "Run the agent, streaming events",
                "operationId": "stream",
                "parameters": [
                    {
                        "name": "input",
                        "in": "query",
                        "required": True,
                        "description": "The input as one JSON document.",
                        "content": {"application/json": {"schema": input_ref}},
                    },
                    *thread_params,
                    last_event_id,
                ],
                "responses": {"200": sse, **_error_responses(*stream_errors)},
            },
            "post": {
                "tags": [TAG],
                "summary": "Run the agent, streaming events (input in the body)",
                "operationId": "stream_post",
                "parameters": [*thread_params, last_event_id],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": input_ref}},
                },
                "responses": {"200": sse, **_error_responses(*stream_errors)},
            },
        },
        "/schema": {
            "get": {
                "tags": [TAG],
                "summary": "The agent's input and output JSON Schemas",
                "operationId": "schema",
                "security": public,
                "responses": {
                    "200": {
                        "description": "The schemas as declared in the Dockfile",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["input_schema", "output_schema"],
                                    "properties": {
                                        "input_schema": {
                                            "type": "object",
                                            "description": "JSON Schema of the input",
                                        },
                                        "output_schema": {
                                            "type": "object",
                                            "description": "JSON Schema of the output",
                                        },
                                        "$defs": {
                                            "type": "object",
                                            "description": (
                                                "Models the schemas refer to "
                                                "(input_class/output_class)"
                                            ),
                                        },
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/health": {
            "get": {
                "tags": [TAG],
                "summary": "Liveness and version",
                "operationId": "health",
                "security": public,
                "responses": {
                    "200": {
                        "description": "The runtime is alive",
                        "content": {"application/json": {"schema": {"$ref": _REF + "Health"}}},
                    }
                },
            }
        },
        "/ready": {
            "get": {
                "tags": [TAG],
                "summary": "Readiness: the agent is loaded and takes runs",
                "operationId": "ready",
                "security": public,
                "responses": {
                    "200": {
                        "description": "Ready",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"type": "string"}},
                                }
                            }
                        },
                    },
                    **_error_responses("503"),
                },
            }
        },
    }
    expose = spec.expose
    if not expose.rest:
        del paths["/invoke"]
    if expose.streaming != "sse":
        del paths["/stream"]
    schemas: dict[str, Any] = {
        "Input": input_schema,
        "Output": output_schema,
        "Error": _ERROR_SCHEMA,
        "Health": _HEALTH_SCHEMA,
    }
    if "/stream" in paths:
        schemas["StreamEvent"] = _STREAM_EVENT_SCHEMA
    if expose.streaming != "none":
        schemas["StreamEnd"] = _STREAM_END_SCHEMA
        schemas["Usage"] = _USAGE_SCHEMA
    info: dict[str, Any] = {"title": agent.name, "version": version or "0.0.0"}
    if agent.description:
        info["description"] = agent.description
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "tags": [{"name": TAG, "description": "The routes every AgentDock agent exposes."}],
        "paths": paths,
        "components": {"schemas": {**schemas, **defs}},
    }
    if secured:
        schemes = security_schemes(spec.auth)
        document["security"] = [{name: []} for name in schemes]
        document["components"]["securitySchemes"] = schemes
    return document


def security_schemes(auth: Any) -> dict[str, Any]:
    """The credentials ``auth.mode`` accepts, as OpenAPI security schemes (sorted by name):
    what Swagger UI's "Authorize" dialog asks for and sends with "Try it out"."""
    mode = auth.mode
    schemes: dict[str, Any] = {}
    keys = getattr(auth, "api_keys", None)
    if mode == "api_key" or (mode == "jwt" and keys is not None and keys.enabled):
        schemes["apiKeyAuth"] = {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": f"An API key (auth.mode {mode}): agentdock key create.",
        }
    if mode in ("jwt", "oauth2"):
        schemes["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "A JWT signed with auth.jwt's key: agentdock token issue."
                if mode == "jwt"
                else "An access token of the auth.oauth2 issuer."
            ),
        }
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
