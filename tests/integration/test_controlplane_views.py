"""The agent page's Policies and Audit tabs, the Traces tab's LangFuse links and the log
follow stream, against the control plane on the fake target."""

from __future__ import annotations

import html
import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from controlplane_support import DEADLINE, Plane, record_events, run_event, telemetry_event
from policy_plugin import PLUGINS_BLOCK, with_policy_plugin

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

PLANTED = "planted-compliance-word-3f9a"


def _deploy(cp: Plane, echo: Path) -> dict[str, Any]:
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    assert answer.status_code == 202, answer.text
    done = cp.wait(answer.json()["operation_id"])
    assert done["status"] == "succeeded", done["error"]
    return done


def _policies(echo: Path, block: str) -> None:
    text = echo.read_text()
    start = text.index("policies:")
    end = text.index("\nauth:")
    echo.write_text(text[:start] + block + text[end:])


def test_the_policies_tab_shows_the_running_versions_policies_with_placeholders(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_WORD", PLANTED)
    _policies(
        echo,
        "policies:\n"
        "  tools:\n    allowed: [search]\n"
        "  safety:\n"
        "    pii: [email]\n"
        '    compliance_keywords: ["${SECRET_WORD}", "<b>bold</b>"]\n'
        "    max_output_chars: 500\n"
        "    block_prompt_injection: false\n",
    )
    _deploy(cp, echo)
    record_events(
        cp, [telemetry_event("policy_event", policy="pii", action="redact") for _ in range(2)]
    )
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'href="#policies"' in page and 'id="policies-table"' in page
    rows = {
        name: page[page.index(f'data-policy="{name}"') :].split("</tr>", 1)[0]
        for name in ("redact_input", "prompt_injection", "tool_gate", "compliance_keywords")
    }
    assert "<td>pre</td>" in rows["redact_input"] and ">on<" in rows["redact_input"]
    assert "[&#34;email&#34;]" in rows["redact_input"] or '["email"]' in html.unescape(
        rows["redact_input"]
    )
    assert ">off<" in rows["prompt_injection"]  # block_prompt_injection: false
    assert "<td>tool</td>" in rows["tool_gate"] and ">on<" in rows["tool_gate"]
    assert "(default)" in rows["tool_gate"]  # deny_by_default, not written, shown as default
    keywords = html.unescape(rows["compliance_keywords"])
    assert "${SECRET_WORD}" in keywords  # the placeholder as written, never its value
    assert "<b>bold</b>" in keywords and "<b>bold</b>" not in rows["compliance_keywords"]
    assert PLANTED not in page
    # The violations trend: the Metrics data, per policy, and a chart of the same series.
    events = page[page.index('id="policy-events"') :].split("</table>", 1)[0]
    assert "pii" in events and "redact" in events and '<td class="num">2</td>' in events
    assert 'data-chart="policy"' in page[page.index('id="policies"') :]


def test_the_policies_tab_says_unknown_for_a_number_left_as_a_placeholder(
    cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIMIT", "400")
    _policies(echo, "policies:\n  safety:\n    max_output_chars: ${LIMIT}\n")
    _deploy(cp, echo)
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    row = page[page.index('data-policy="max_output_chars"') :].split("</tr>", 1)[0]
    assert ">unknown<" in row and "${LIMIT}" in html.unescape(row)
    assert ">400<" not in row


def test_the_policies_tab_shows_a_plugins_policies_as_written(
    cp: Plane, echo: Path, fakes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = with_policy_plugin(fakes[1])
    cp.plane.plugins = manager
    monkeypatch.setenv("SECRET_WORD", PLANTED)
    echo.write_text(echo.read_text() + PLUGINS_BLOCK)
    _deploy(cp, echo)
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'id="plugin-policies-table"' in page
    rows = {
        name: page[page.index(f'data-plugin-policy="{name}"') :].split("</tr>", 1)[0]
        for name in ("no-shouting", "audit-trail")
    }
    assert 'data-plugin-policy="trail-sink"' not in page  # a sink is not a policy
    shouting = html.unescape(rows["no-shouting"])
    assert "<td>pre</td>" in rows["no-shouting"] and "shout-plugin" in shouting
    assert "lower-cases shouted input" in shouting
    assert (
        "plugins.no-shouting.words" in shouting and "plugins.no-shouting.nested.level" in shouting
    )
    assert "${SECRET_WORD}" in shouting  # the placeholder as written, never its value
    assert "<b>LOUD</b>" in shouting and "<b>LOUD</b>" not in rows["no-shouting"]
    trail = html.unescape(rows["audit-trail"])
    assert "<td>unknown</td>" in rows["audit-trail"]  # a factory function: no stage declared
    assert "no configuration" in trail and "<i>every</i>" not in rows["audit-trail"]
    assert PLANTED not in page
    # A control plane that no longer has the plugin still lists what the version names.
    manager.unregister("shout-plugin")
    page = cp.client.get("/agents/echo").text
    row = page[page.index('data-plugin-policy="no-shouting"') :].split("</tr>", 1)[0]
    assert "not installed here" in row and "${SECRET_WORD}" in html.unescape(row)
    assert PLANTED not in page


def test_the_policies_tab_says_when_no_plugin_policy_is_named(cp: Plane, echo: Path) -> None:
    _deploy(cp, echo)
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'id="no-plugin-policies"' in page and 'id="plugin-policies-table"' not in page


def test_the_audit_tab_lists_this_agents_entries_newest_first_escaped(
    cp: Plane, echo: Path
) -> None:
    _deploy(cp, echo)
    store = cp.plane.store
    store.append_audit("test.first", actor="tester", agent="echo")
    store.append_audit(
        "test.hostile",
        actor="<script>alert(1)</script>",
        agent="echo",
        target="<b>t</b>",
        details={"note": "<img src=x onerror=alert(2)>"},
    )
    store.append_audit("test.elsewhere", actor="tester", agent="other-agent")
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert 'href="#audit"' in page
    tab = page[page.index('id="agent-audit"') :].split("</table>", 1)[0]
    assert "<script>alert(1)" not in tab and "&lt;script&gt;alert(1)&lt;/script&gt;" in tab
    assert "<img src=x" not in tab and "&lt;img src=x onerror=alert(2)&gt;" in tab
    assert "<b>t</b>" not in tab
    assert "test.elsewhere" not in tab
    # Newest first, as GET /audit?agent=echo answers.
    api = cp.client.get("/audit?agent=echo", headers=cp.auth("viewer")).json()
    shown = [a for a in (e["action"] for e in api) if f">{a}<" in tab]
    assert shown == [e["action"] for e in api]
    assert (
        shown.index("test.hostile") < shown.index("test.first") < shown.index("controlplane.deploy")
    )
    positions = [tab.index(f">{a}<") for a in shown]
    assert positions == sorted(positions)


# -- the followed log ----------------------------------------------------------------------------


class _Log:
    """A runtime log the test writes to: the fake target's ``logs`` reads it as the local
    target does (the lines so far, then each new one; the end when ``close`` is called)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.new: queue.Queue[str | None] = queue.Queue()
        self.read_to_end = threading.Event()

    def logs(self, handle: Any, tail: int | None, follow: bool) -> Iterator[str]:
        yield from self.lines[-tail:] if tail else self.lines
        while follow:
            line = self.new.get()
            if line is None:
                break
            yield line
        self.read_to_end.set()


def _frames(lines: Iterator[str], count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` SSE events (``event``, parsed ``data``), comments skipped."""
    found: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    for raw in lines:
        if raw.startswith("event:"):
            kind = raw.split(":", 1)[1].strip()
        elif raw.startswith("data:"):
            found.append((kind, json.loads(raw.split(":", 1)[1])))
            if len(found) == count:
                return found
    return found


@pytest.fixture
def runtime_log(cp: Plane, echo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Log]:
    import deploy_fakes

    log = _Log(["12:00:00.000 INFO app started", "12:00:01.000 DEBUG app noise"])
    monkeypatch.setattr(
        deploy_fakes.FakeTarget, "logs", lambda self, h, tail, follow: log.logs(h, tail, follow)
    )
    _deploy(cp, echo)
    yield log
    log.new.put(None)


@pytest.fixture
def http(cp: Plane) -> Iterator[httpx.Client]:
    """A client of the same control plane on a real socket (the test client reads a
    response whole, and a followed log never ends by itself)."""
    from agentdock_plugins.controlplane.app import controlplane_app
    from served import serving

    with (
        serving(controlplane_app(cp.plane)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client,
    ):
        yield client


def test_a_followed_log_streams_new_lines_to_a_viewer(
    cp: Plane, runtime_log: _Log, http: httpx.Client
) -> None:
    with http.stream(
        "GET", "/controller/logs/echo/follow?tail=1", headers=cp.auth("viewer")
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        assert _frames(lines, 1) == [("line", {"line": "12:00:01.000 DEBUG app noise"})]
        runtime_log.new.put("12:00:02.000 ERROR app <b>new</b>")
        assert _frames(lines, 1) == [("line", {"line": "12:00:02.000 ERROR app <b>new</b>"})]
        runtime_log.new.put(None)  # the runtime stopped: the log ends
        assert _frames(lines, 1) == [("end", {})]
    _until(lambda: cp.plane.followers.taken == 0)


def test_a_followed_log_keeps_the_level_filter(
    cp: Plane, runtime_log: _Log, http: httpx.Client
) -> None:
    with http.stream(
        "GET", "/controller/logs/echo/follow?level=warn", headers=cp.auth("viewer")
    ) as answer:
        lines = answer.iter_lines()
        runtime_log.new.put("12:00:02.000 INFO app chatter")
        runtime_log.new.put("12:00:03.000 ERROR app failed")
        runtime_log.new.put("Traceback (most recent call last):")
        runtime_log.new.put(None)
        assert _frames(lines, 3) == [
            ("line", {"line": "12:00:03.000 ERROR app failed"}),
            ("line", {"line": "Traceback (most recent call last):"}),
            ("end", {}),
        ]


def test_a_followed_log_stops_its_thread_when_the_client_goes(
    cp: Plane, runtime_log: _Log, http: httpx.Client
) -> None:
    with http.stream("GET", "/controller/logs/echo/follow", headers=cp.auth("viewer")) as answer:
        assert _frames(answer.iter_lines(), 2)[1][1]["line"].endswith("noise")
        assert cp.plane.followers.taken == 1
    # The thread waits inside the target for a line; each new one wakes it, and once the
    # server has seen the client go it stops (a line may come before that: keep writing).
    _until(lambda: runtime_log.new.put("12:00:04.000 INFO more") or cp.plane.followers.taken == 0)
    assert not runtime_log.read_to_end.is_set()  # stopped, not read to the end


def _follower_threads() -> int:
    return sum(t.name == "agentdock-log-follow" for t in threading.enumerate())


def test_clients_that_come_and_go_never_fill_the_followers(
    cp: Plane, echo: Path, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local target's follow of a log nobody writes to: each client that leaves frees
    its place at once, where its thread used to wait for a next line that never came
    (and the 33rd client was refused)."""
    import os

    import deploy_fakes
    from agentdock_plugins.controlplane.logfollow import MAX_FOLLOWERS
    from agentdock_plugins.local.target import LocalTarget

    log = tmp_path / "runtime.log"
    log.write_text("12:00:00.000 INFO app started\n")
    handle = {"log": str(log), "pid": os.getpid()}  # a live runtime: the follow never ends
    local = LocalTarget()
    monkeypatch.setattr(
        deploy_fakes.FakeTarget,
        "logs",
        lambda self, h, tail, follow: local.logs(handle, tail, follow),
    )
    _deploy(cp, echo)
    before = _follower_threads()
    for cycle in range(MAX_FOLLOWERS + 8):
        with http.stream(
            "GET", "/controller/logs/echo/follow?tail=1", headers=cp.auth("viewer")
        ) as answer:
            assert answer.status_code == 200, (cycle, answer.read())
            first = _frames(answer.iter_lines(), 1)
            assert first == [("line", {"line": "12:00:00.000 INFO app started"})], cycle
    _until(lambda: cp.plane.followers.taken == 0)
    _until(lambda: _follower_threads() <= before)
    assert log.read_text() == "12:00:00.000 INFO app started\n"  # nothing woke them but us


def test_a_followed_log_refuses_strangers_unknown_agents_and_bad_levels(
    cp: Plane, runtime_log: _Log
) -> None:
    assert cp.client.get("/controller/logs/echo/follow").status_code == 401
    bad_key = {"authorization": "Bearer adk_nope"}
    assert cp.client.get("/controller/logs/echo/follow", headers=bad_key).status_code == 401
    unknown = cp.client.get("/controller/logs/nobody/follow", headers=cp.auth("viewer"))
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFound"
    hostile = cp.client.get("/controller/logs/..%2F..%2Fetc/follow", headers=cp.auth("viewer"))
    assert hostile.status_code in (400, 404)
    loud = cp.client.get("/controller/logs/echo/follow?level=loud", headers=cp.auth("viewer"))
    assert loud.status_code == 400
    assert cp.plane.followers.taken == 0


def test_followers_are_bounded(cp: Plane, runtime_log: _Log) -> None:
    from agentdock_plugins.controlplane.logfollow import MAX_FOLLOWERS

    for _ in range(MAX_FOLLOWERS):
        assert cp.plane.followers.take()
    try:
        busy = cp.client.get("/controller/logs/echo/follow", headers=cp.auth("viewer"))
        assert busy.status_code == 503 and busy.json()["error"] == "TooManyFollowers"
    finally:
        for _ in range(MAX_FOLLOWERS):
            cp.plane.followers.give_back()


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


# -- LangFuse links from the Traces tab ----------------------------------------------------------

TRACE = "0af7651916cd43dd8448eb211c80319c"
LANGFUSE_SECRET = "sk-lf-planted-secret-5c1d"


def _with_langfuse(echo: Path, extra: str = "") -> None:
    echo.write_text(
        echo.read_text()
        + "\nobservability:\n  langfuse:\n"
        + "    public_key: ${LANGFUSE_PUBLIC_KEY}\n    secret_key: ${LANGFUSE_SECRET_KEY}\n"
        + extra
    )


def _traced_run(cp: Plane) -> None:
    record_events(cp, [{**run_event(7.0, ago=1.0), "trace_id": TRACE}])


@pytest.fixture
def langfuse_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-public")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", LANGFUSE_SECRET)
    for name in ("LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_traces_link_each_run_to_langfuse_at_the_dockfiles_host(
    cp: Plane, echo: Path, langfuse_keys: None
) -> None:
    _with_langfuse(echo, "    host: https://ops:hunter2@langfuse.example.com:3000/\n")
    _deploy(cp, echo)
    _traced_run(cp)
    body = cp.client.get("/controller/traces/echo", headers=cp.auth("viewer")).json()
    link = f"https://langfuse.example.com:3000/trace/{TRACE}"
    assert body["langfuse"] == "https://langfuse.example.com:3000"
    assert body["runs"][0]["langfuse_url"] == link
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert f'<a href="{link}" target="_blank" rel="noopener noreferrer"' in page
    for never in (LANGFUSE_SECRET, "hunter2", "pk-lf-public"):
        assert never not in page and never not in str(body)


def test_the_langfuse_host_is_the_one_the_runtime_gets(
    cp: Plane, echo: Path, langfuse_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deploy.env reaches the runtime, and the runtime's LANGFUSE_HOST wins over the Dockfile.
    _with_langfuse(echo, "    host: https://ignored.example.com\n")
    text = echo.read_text().replace(
        "deploy:\n  target: fake\n",
        "deploy:\n  target: fake\n  env:\n    LANGFUSE_HOST: https://eu.langfuse.example\n",
    )
    echo.write_text(text)
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://not-passed.example")  # never named
    _deploy(cp, echo)
    _traced_run(cp)
    body = cp.client.get("/controller/traces/echo", headers=cp.auth("viewer")).json()
    assert body["runs"][0]["langfuse_url"] == f"https://eu.langfuse.example/trace/{TRACE}"


def test_no_langfuse_link_without_langfuse(cp: Plane, echo: Path) -> None:
    _deploy(cp, echo)
    _traced_run(cp)
    record_events(cp, [{**run_event(8.0, ago=0.5), "trace_id": "not-a-trace-id"}])
    body = cp.client.get("/controller/traces/echo", headers=cp.auth("viewer")).json()
    assert body["langfuse"] is None
    assert [r["langfuse_url"] for r in body["runs"]] == [None, None]
    cp.sign_in("viewer")
    page = cp.client.get("/agents/echo").text
    assert "/trace/" not in page and 'id="langfuse-note"' not in page


# -- platform keys from the dashboard ------------------------------------------------------------


def _key_id(key: str) -> str:
    return key.split("_")[1]


def test_an_admin_rotates_and_bulk_revokes_platform_keys_from_the_page(cp: Plane) -> None:
    from agentdock_plugins.controlplane.principals import create_platform_key

    store = cp.plane.store
    spare = create_platform_key(store, "viewer", created_by="test")[0].key
    token = cp.sign_in("admin")
    csrf = {"x-csrf-token": token}
    mine = _key_id(cp.keys["admin"])
    page = cp.client.get("/platform-keys").text
    assert 'id="revoke-selected"' in page and 'id="rotate-grace"' in page
    assert f'value="{_key_id(spare)}"' in page and f'value="{mine}"' not in page  # not yours

    rotated = cp.client.post(
        "/ui/keys/rotate", data={"key_id": _key_id(cp.keys["viewer"]), "grace_s": "0"}, headers=csrf
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    assert rotated.headers["hx-trigger"] == "keys-changed"
    new_key = rotated.text.split('id="new-key-value"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert new_key.startswith("adk_")
    assert cp.client.get("/controller/agents", headers=cp.auth("viewer")).status_code == 401
    assert (
        cp.client.get(
            "/controller/agents", headers={"authorization": f"Bearer {new_key}"}
        ).status_code
        == 200
    )
    table = cp.client.get("/ui/platform-keys").text
    assert f'data-key="{_key_id(new_key)}"' in table

    bulk = cp.client.post(
        "/ui/keys/revoke-bulk",
        content=f"key_ids={_key_id(spare)}&key_ids={_key_id(cp.keys['developer'])}",
        headers={**csrf, "content-type": "application/x-www-form-urlencoded"},
    )
    assert bulk.status_code == 204, bulk.text
    for key in (spare, cp.keys["developer"]):
        assert (
            cp.client.get(
                "/controller/agents", headers={"authorization": f"Bearer {key}"}
            ).status_code
            == 401
        )
    every = cp.client.post("/ui/keys/revoke-all", data={}, headers=csrf)
    assert every.status_code == 204
    assert (
        cp.client.get(
            "/controller/agents", headers={"authorization": f"Bearer {new_key}"}
        ).status_code
        == 401
    )
    assert cp.client.get("/platform-keys").status_code == 200  # the admin's own key still works
    actions = [e.action for e in store.list_audit(limit=50)]
    assert actions.count("controlplane.key.rotate") == 1
    assert actions.count("controlplane.key.revoke") == 3


def test_platform_key_actions_refuse_bad_input_and_non_admins(cp: Plane) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    token = cp.sign_in("admin")
    for body in ("", "key_ids=../../etc", "key_ids=" + "&key_ids=".join(["0" * 12] * 1001)):
        answer = cp.client.post(
            "/ui/keys/revoke-bulk", content=body, headers={**form, "x-csrf-token": token}
        )
        assert answer.status_code == 400, body[:40]
    no_csrf = cp.client.post("/ui/keys/revoke-bulk", content="key_ids=0123456789ab", headers=form)
    assert no_csrf.status_code == 403
    token = cp.sign_in("developer")
    target = _key_id(cp.keys["viewer"])
    for path, body in (
        ("/ui/keys/revoke-bulk", f"key_ids={target}"),
        ("/ui/keys/rotate", f"key_id={target}&grace_s=0"),
        ("/ui/keys/revoke-all", ""),
    ):
        answer = cp.client.post(path, content=body, headers={**form, "x-csrf-token": token})
        assert answer.status_code == 403, path
    assert cp.client.get("/ui/platform-keys").status_code == 403
    assert cp.client.get("/controller/agents", headers=cp.auth("viewer")).status_code == 200


def test_a_followed_log_ends_once_its_key_is_revoked(
    cp: Plane, runtime_log: _Log, http: httpx.Client
) -> None:
    from agentdock_plugins.controlplane.principals import PLATFORM

    cp.plane.stream_recheck_s = 0
    viewer = cp.keys["viewer"]
    with http.stream(
        "GET", "/controller/logs/echo/follow?tail=1", headers=cp.auth("viewer")
    ) as answer:
        lines = answer.iter_lines()
        assert _frames(lines, 1) == [("line", {"line": "12:00:01.000 DEBUG app noise"})]
        assert cp.plane.store.revoke_api_key(agent=PLATFORM, key_id=viewer.split("_")[1])
        runtime_log.new.put("12:00:02.000 ERROR app written after the revocation")
        assert _frames(lines, 1) == []  # the stream ended without sending it
    runtime_log.new.put("12:00:03.000 INFO app next")  # a plain iterator's thread ends here
    _until(lambda: cp.plane.followers.taken == 0)
