"""The echo example's OpenAPI document is a contract: it changes only on purpose.

Regenerate the snapshot after an intended change with::

    AGENTDOCK_UPDATE_SNAPSHOTS=1 uv run pytest tests/contract/test_openapi.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import jsonschema
import pytest
from agentdock import make_plugin_manager
from agentdock_plugins.litestar.openapi import TAG, openapi_document
from agentdock_plugins.litestar.platform import PROTOCOLS
from agentdock_plugins.litestar.platform.openapi import PLATFORM_TAG, protocol_paths
from litestar.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]
ECHO = ROOT / "examples" / "echo" / "Dockfile.yaml"
SNAPSHOT = ROOT / "contracts" / "openapi" / "echo.json"
UPDATE_ENV = "AGENTDOCK_UPDATE_SNAPSHOTS"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def echo_document() -> dict[str, Any]:
    return openapi_document(agentdock.load(ECHO))


def test_echo_openapi_matches_the_snapshot() -> None:
    text = render(echo_document())
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: run with {UPDATE_ENV}=1 to create it"
    assert SNAPSHOT.read_text(encoding="utf-8") == text, (
        f"the OpenAPI document of examples/echo changed. If the change is intended, "
        f"regenerate the snapshot with {UPDATE_ENV}=1 uv run pytest tests/contract/test_openapi.py "
        f"and commit {SNAPSHOT.relative_to(ROOT)}"
    )


def test_served_document_is_the_snapshot() -> None:
    import agentdock_plugins.auth

    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    app = agentdock.app(ECHO, plugins=manager)
    with TestClient(app) as client:
        served = client.get("/openapi.json").json()
    assert served == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_a_runtime_without_authentication_declares_no_security() -> None:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    app = agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    with TestClient(app) as client:
        served = client.get("/openapi.json").json()
    assert "security" not in served
    assert "securitySchemes" not in served["components"]
    secured = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    del secured["security"], secured["components"]["securitySchemes"]
    # Without auth, no client protocol is served unless expose.protocols names it.
    for path in protocol_paths(frozenset(PROTOCOLS)):
        del secured["paths"][path]
    secured["tags"] = [tag for tag in secured["tags"] if tag["name"] != PLATFORM_TAG]
    assert served == secured


def test_document_shape() -> None:
    document = echo_document()
    assert document["openapi"].startswith("3.1")
    spec = agentdock.load(ECHO)
    schemas = document["components"]["schemas"]
    assert schemas["Input"] == spec.io_schema.input.model_dump(mode="json", exclude_unset=True)
    assert schemas["Output"] == spec.io_schema.output.model_dump(mode="json", exclude_unset=True)
    for name in ("Input", "Output", "Error", "Health"):
        jsonschema.Draft202012Validator.check_schema(schemas[name])
    invoke = document["paths"]["/invoke"]["post"]
    assert invoke["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Input"
    }
    assert invoke["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Output"
    }
    assert invoke["tags"] == [TAG]
    # echo's auth.mode is api_key: "Authorize" asks for a key, sent as x-api-key.
    assert document["components"]["securitySchemes"] == {
        "apiKeyAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "An API key (auth.mode api_key): agentdock key create.",
        }
    }
    assert document["components"]["securitySchemes"]["apiKeyAuth"]["name"] == "x-api-key"
    assert document["paths"]["/health"]["get"]["security"] == []
    own = {"/invoke", "/stream", "/schema", "/health", "/ready"}
    # echo is a LangGraph agent: the LangGraph Platform API is listed beside its own routes.
    assert set(document["paths"]) == own | set(protocol_paths(frozenset(PROTOCOLS)))
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for response in operation["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.removeprefix("#/components/schemas/") in schemas


def test_schema_route_answers_what_the_document_declares() -> None:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    app = agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    with TestClient(app) as client:
        body = client.get("/schema").json()
        document = client.get("/openapi.json").json()
    declared = document["paths"]["/schema"]["get"]["responses"]["200"]["content"]
    schema = declared["application/json"]["schema"]
    assert schema["required"] == ["input_schema", "output_schema"]
    jsonschema.validate(body, schema)
    assert set(body) == {"input_schema", "output_schema"}  # PRD 5.6 (C)
    assert body["input_schema"] == document["components"]["schemas"]["Input"]


def test_stream_end_frames_match_the_documented_schema() -> None:
    manager = make_plugin_manager(plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar])
    app = agentdock.app(ECHO, insecure_no_auth=True, plugins=manager)
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        text = client.post("/stream", json={"text": "documented"}).text
    end = json.loads(text.strip().split("\n\n")[-1].split("data: ", 1)[1])
    schema = {**document["components"]["schemas"]["StreamEnd"], **document}
    jsonschema.validate(end, schema)
    assert end["output"] == {"text": "DOCUMENTED"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**end, "output": {"text": 1}}, schema)


def test_declared_schemas_keep_their_null_values_and_the_document_names_no_server() -> None:
    """The agent's schemas are the contract as written: a ``null`` default or constant stays
    (the document's own parts are built with Litestar's spec objects, which drop ``None``),
    and no ``servers`` entry pins the routes to the host's root (a path prefix works)."""
    from types import SimpleNamespace as NS

    declared = {
        "type": "object",
        "properties": {
            "note": {"type": ["string", "null"], "default": None},
            "nothing": {"const": None},
        },
    }
    spec = NS(
        agent=NS(name="nulls", description=None),
        io_schema=NS(input=declared, output={"type": "object"}, input_class=None),
        expose=NS(rest=True, streaming="none", protocols=[]),
        auth=NS(mode="api_key", api_keys=None),
        metadata=NS(version="1.0.0"),
    )
    document = openapi_document(spec)
    assert document["components"]["schemas"]["Input"] == declared
    assert "servers" not in document
    assert set(document["paths"]) == {"/invoke", "/schema", "/health", "/ready"}
    assert "StreamEnd" not in document["components"]["schemas"]
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"]["Input"])


def _served_echo() -> Any:
    import agentdock_plugins.auth

    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    return agentdock.app(ECHO, plugins=manager)


#: The operations whose answer names the run they start or follow.
RUN_OPERATIONS = {
    ("/invoke", "post"),
    ("/stream", "get"),
    ("/stream", "post"),
    ("/runs/wait", "post"),
    ("/runs/stream", "post"),
    ("/runs", "post"),
    ("/threads/{thread_id}/runs/wait", "post"),
    ("/threads/{thread_id}/runs/stream", "post"),
    ("/threads/{thread_id}/runs", "post"),
    ("/threads/{thread_id}/runs/{run_id}/join", "get"),
    ("/threads/{thread_id}/runs/{run_id}/stream", "get"),
    ("/langserve/{agent}/invoke", "post"),
    ("/langserve/{agent}/stream", "post"),
    ("/a2a/{agent}", "post"),
}


#: The operations whose success names its run, but none of whose HTTP errors does (a run's
#: refusal or failure is a JSON-RPC answer, 200).
RPC_RUN_OPERATIONS = {("/a2a/{agent}", "post"), ("/mcp", "post")}
#: The error statuses of ``/invoke`` and ``/stream`` that may belong to a run, and so name
#: it: a refused input (400, 422), a policy (403), a failure (500, 503), a timeout (504).
RUN_NAMED_STATUSES = {"400", "403", "422", "500", "503", "504"}


def test_every_answer_that_names_its_run_names_its_trace_too() -> None:
    """``x-run-id`` and ``x-trace-id`` are declared together, on each response that may
    send them: the success of each run operation and those of its errors that may belong
    to a run (on the Platform's routes, whose errors are one ``default``, that one); not
    on a refusal of the caller or of a body unread; a LangServe batch, which names its
    runs in its body, declares neither."""
    document = echo_document()
    named: dict[tuple[str, str], set[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                if {"x-run-id", "x-trace-id"} & set(headers):
                    assert {"x-run-id", "x-trace-id"} <= set(headers), (path, method, status)
                    named.setdefault((path, method), set()).add(status)
    assert set(named) == RUN_OPERATIONS | RPC_RUN_OPERATIONS
    assert ("/langserve/{agent}/batch", "post") not in named
    for operation, statuses in named.items():
        declared = set(document["paths"][operation[0]][operation[1]]["responses"])
        if operation in RPC_RUN_OPERATIONS:
            assert statuses == {"200"}, operation
        elif operation[0] in ("/invoke", "/stream"):
            assert statuses == {"200"} | (RUN_NAMED_STATUSES & declared), operation
            assert not statuses & {"401", "409", "413", "415", "429", "498", "499"}
        else:
            assert statuses == {"200", "default"}, operation


def test_the_documents_paths_are_the_routes_the_app_serves() -> None:
    """Each path of the document is a route of the app, its parameters named alike (the
    Platform's ``{assistant_id}``, not another name), so a path template read from the
    document is the route label ``/metrics`` reports."""
    import re

    app = _served_echo()
    routes = {re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path_format) for route in app.routes}
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    missing = set(document["paths"]) - routes
    assert not missing, sorted(missing)
