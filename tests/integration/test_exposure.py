"""``expose.rest`` and ``expose.streaming`` decide which run routes exist.

Every combination, against a real server: ``/invoke`` (through the ASGI fast path, and
through Litestar's route for a CORS request), ``GET|POST /stream`` (SSE), ``/ws/stream`` and
the OpenAPI document. A route left out answers 404 with the error envelope.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import agentdock
import httpx
import pytest
from scripted_server import GOOD_KEY, Scripted, scripted_spec
from served import serving
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

ORIGIN = "http://app.example"
KEY = {"x-api-key": GOOD_KEY}


#: Every combination but rest false with streaming none, which is refused (last test).
SERVED = [
    (rest, streaming)
    for rest in (True, False)
    for streaming in ("sse", "websocket", "none")
    if rest or streaming != "none"
]


@pytest.fixture(
    scope="module", params=SERVED, ids=lambda p: f"rest={str(p[0]).lower()}-streaming={p[1]}"
)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[bool, str, str]]:
    rest, streaming = request.param
    spec = scripted_spec(
        rest=rest,
        streaming=streaming,
        expose={"rest": rest, "streaming": streaming, "port": 8080, "cors": {"origins": [ORIGIN]}},
    )
    with serving(Scripted(spec).app) as port:
        yield rest, streaming, f"127.0.0.1:{port}"


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("NotFound", 404)
    assert body["detail"]


def test_invoke_follows_expose_rest(served: tuple[bool, str, str]) -> None:
    rest, _, address = served
    for origin in ({}, {"origin": ORIGIN}):  # the fast path, then Litestar's route
        response = httpx.post(
            f"http://{address}/invoke", json={"text": "hi"}, headers={**KEY, **origin}
        )
        if rest:
            assert (response.status_code, response.json()) == (200, {"text": "HI"})
        else:
            assert_not_found(response)


def test_sse_follows_expose_streaming(served: tuple[bool, str, str]) -> None:
    _, streaming, address = served
    base = f"http://{address}/stream"
    for response in (
        httpx.get(base, params={"input": json.dumps({"text": "hi"})}, headers=KEY),
        httpx.post(base, json={"text": "hi"}, headers=KEY),
    ):
        if streaming == "sse":
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "event: end" in response.text
        else:
            assert_not_found(response)


def test_websocket_follows_expose_streaming(served: tuple[bool, str, str]) -> None:
    _, streaming, address = served
    url = f"ws://{address}/ws/stream"
    if streaming == "websocket":
        with connect(url, additional_headers=KEY, proxy=None) as socket:
            socket.send(json.dumps({"input": {"text": "hi"}}))
            assert json.loads(socket.recv(timeout=30))["event"] == "start"
        return
    with pytest.raises(InvalidStatus) as caught:
        connect(url, additional_headers=KEY, proxy=None).close()
    response = caught.value.response
    assert response.status_code == 404
    assert json.loads(response.body or b"")["error"] == "NotFound"
    # A plain HTTP request to the path is not told "method not allowed": there is no route.
    for method in ("GET", "POST"):
        assert_not_found(httpx.request(method, f"http://{address}/ws/stream", headers=KEY))


def test_openapi_lists_the_routes_served(served: tuple[bool, str, str]) -> None:
    rest, streaming, address = served
    paths = httpx.get(f"http://{address}/openapi.json").json()["paths"]
    assert ("/invoke" in paths) is rest
    assert ("/stream" in paths) is (streaming == "sse")
    assert {"/schema", "/health", "/ready"} <= set(paths)
    for public in ("/schema", "/health", "/ready"):
        assert httpx.get(f"http://{address}{public}").status_code == 200


def test_rest_false_and_streaming_none_is_refused() -> None:
    document = {
        "version": "1.1",
        "agent": {"name": "scripted", "entrypoint": "app:graph", "framework": "langgraph"},
        "model": {"provider": "custom", "name": "none"},
        "io_schema": {
            "input": {"type": "object", "properties": {"text": {"type": "string"}}},
            "output": {"type": "object", "properties": {"text": {"type": "string"}}},
        },
        "auth": {"mode": "api_key", "api_keys": {"enabled": True}},
        "expose": {"rest": False, "streaming": "none"},
    }
    report = agentdock.validate(document, skip_imports=True)
    assert [(f.code, f.dotted_path, f.message) for f in report.errors] == [
        (4010, "expose", "rest is false and streaming is none: the agent would not be reachable")
    ]
    # A spec built without validation is refused by the server as well.
    with pytest.raises(ValueError, match=r"expose\.rest is false and expose\.streaming is none"):
        Scripted(scripted_spec(rest=False, streaming="none"))
