"""LangServe's ``batch`` under a rate limit, and the headers of its answers.

LangServe's batch is all or nothing: its server runs ``abatch`` without
``return_exceptions`` and its client (``RemoteRunnable.batch``) refuses
``return_exceptions=True``, so one failing input fails the whole call and no output comes
back. A batch is therefore admitted whole, for all of its inputs, before any of them runs:
a batch the rate limit cannot hold is a plain 429 and spends nothing on outputs thrown away.
No batch answer names a single run in a header.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import app, make_plugin_manager
from agentdock.registry import open_store
from auth_support import stored_key
from litestar.testing import TestClient
from platform_agents import ECHO_TEXT_GRAPH, echo_text_dockfile

AGENT_NAME = "batch-limited"
BATCH = f"/langserve/{AGENT_NAME}/batch"
INVOKE = f"/langserve/{AGENT_NAME}/invoke"


@pytest.fixture
def limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, dict[str, str]]]:
    """A client of an agent whose developers may run 6 times an hour, and their headers."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    monkeypatch.delenv("AGENTDOCK_RATELIMIT_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "batch_agent.py").write_text(ECHO_TEXT_GRAPH, encoding="utf-8")
    dockfile = echo_text_dockfile(
        AGENT_NAME, "batch_agent", auth='  rate_limits: {developer: "6/h"}\n'
    )
    (tmp_path / "Dockfile.yaml").write_text(dockfile, encoding="utf-8")
    with open_store() as store:
        key = stored_key(store, AGENT_NAME, "developer")[0].key
    plugins = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    with TestClient(app(tmp_path / "Dockfile.yaml", plugins=plugins)) as client:
        yield client, {"x-api-key": key}


def _inputs(count: int) -> dict[str, Any]:
    return {"inputs": [{"text": str(n)} for n in range(count)]}


def _no_run_headers(answer: Any) -> None:
    assert "x-run-id" not in answer.headers, answer.headers
    assert "x-trace-id" not in answer.headers, answer.headers


def test_a_batch_over_the_limit_is_a_plain_429_and_runs_nothing(
    limited: tuple[Any, dict[str, str]],
) -> None:
    client, headers = limited
    refused = client.post(BATCH, json=_inputs(8), headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "RateLimitExceeded"
    assert "run_id" not in refused.json()
    _no_run_headers(refused)
    # Nothing ran and nothing was spent on it but the request itself: a batch of 5 fits.
    ran = client.post(BATCH, json=_inputs(5), headers=headers)
    assert ran.status_code == 200, ran.text
    assert [o["text"] for o in ran.json()["output"]] == ["0", "1", "2", "3", "4"]
    _no_run_headers(ran)
    # The budget is spent: 1 + 5 of 6.
    assert client.post(INVOKE, json={"input": {"text": "x"}}, headers=headers).status_code == 429


def test_a_batch_is_charged_for_each_input_before_any_runs(
    limited: tuple[Any, dict[str, str]],
) -> None:
    client, headers = limited
    assert client.post(INVOKE, json={"input": {"text": "x"}}, headers=headers).status_code == 200
    # 5 left: a batch of 6 is refused whole, a batch of 5 is not.
    refused = client.post(BATCH, json=_inputs(6), headers=headers)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    ran = client.post(BATCH, json=_inputs(4), headers=headers)
    assert ran.status_code == 200, ran.text
    assert len(ran.json()["metadata"]["run_ids"]) == 4


def test_a_batch_larger_than_the_limit_is_never_admitted(
    limited: tuple[Any, dict[str, str]],
) -> None:
    client, headers = limited
    refused = client.post(BATCH, json=_inputs(7), headers=headers)
    assert refused.status_code == 429, refused.text
    assert "6/h" in refused.json()["detail"]
    assert "at most 6" in refused.json()["detail"]
    assert "retry-after" not in refused.headers  # no wait would help


def test_a_failing_input_names_no_run_in_a_header(limited: tuple[Any, dict[str, str]]) -> None:
    client, headers = limited
    body = {"inputs": [{"text": "a"}, {"text": 3}, {"text": "c"}]}
    failed = client.post(BATCH, json=body, headers=headers)
    assert failed.status_code == 422, failed.text
    _no_run_headers(failed)
    envelope = failed.json()
    assert envelope["error"] == "ValidationError"
    # Which input failed, and the run it started, are in the body.
    assert envelope["path"].startswith("inputs[1]"), envelope
    assert len(envelope["run_id"]) == 32
