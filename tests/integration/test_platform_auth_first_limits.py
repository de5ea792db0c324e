"""A caller over its rate limit gets 429 before anything of its body is looked at.

On the Platform and LangServe run routes a body's mistakes are told only to an admitted
caller; one whose role has spent its rate limit is not admitted, so a malformed body, an
unknown assistant or agent gets the same 429 as a valid run would.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import app, make_plugin_manager
from agentdock.registry import open_store
from auth_support import stored_key
from litestar.testing import TestClient
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile

AGENT_NAME = "auth-first-limited"

GRAPH = ECHO_TEXT_GRAPH

DOCKFILE = echo_text_dockfile(
    AGENT_NAME, "limited_agent", auth='  rate_limits: {developer: "2/h"}\n'
)

#: Bodies a valid call never sends: each is told only to an admitted caller.
MISTAKES = [
    ("/runs/wait", b"{not json"),
    ("/runs/wait", b'{"assistant_id": "nope", "input": {"text": "x"}}'),
    ("/runs/stream", b'{"id": 1}'),
    ("/runs", b"[1]"),
    (f"/langserve/{AGENT_NAME}/invoke", b"{not json"),
    (f"/langserve/{AGENT_NAME}/batch", b'{"inputs": 3}'),
    ("/langserve/nope/stream", b'{"input": {"text": "x"}}'),
    # A thread that is not there, with a valid run's body.
    (
        f"/threads/{uuid.uuid4()}/runs/wait",
        f'{{"assistant_id": "{AGENT_NAME}", "input": {{"text": "x"}}}}'.encode(),
    ),
    (
        f"/threads/{uuid.uuid4()}/runs",
        f'{{"assistant_id": "{AGENT_NAME}", "input": {{"text": "x"}}}}'.encode(),
    ),
]


def test_a_caller_over_its_rate_limit_gets_429_whatever_its_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "limited_agent.py").write_text(GRAPH, encoding="utf-8")
    (tmp_path / "Dockfile.yaml").write_text(DOCKFILE, encoding="utf-8")
    with open_store() as store:
        key = stored_key(store, AGENT_NAME, "developer")[0].key
    plugins = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    headers = {"x-api-key": key, "content-type": "application/json"}
    with TestClient(app(tmp_path / "Dockfile.yaml", plugins=plugins)) as client:
        # Admitted, a mistake is told, and counts as a request.
        told = client.post("/runs/wait", content=b"{not json", headers=headers)
        assert told.status_code == 400, told.text
        ran = client.post(
            "/runs/wait",
            json={"assistant_id": AGENT_NAME, "input": {"text": "hi"}},
            headers=headers,
        )
        assert ran.status_code == 200, ran.text
        for path, body in MISTAKES:
            refused = client.post(path, content=body, headers=headers)
            assert refused.status_code == 429, (path, refused.text)
            assert refused.json()["error"] == "RateLimitExceeded", refused.text
            assert refused.headers.get("retry-after"), refused.headers
