"""The agent page's Policies and Audit tabs, the Traces tab's LangFuse links and the log
follow stream, against the control plane on the fake target."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from controlplane_support import Plane, record_events, telemetry_event

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

PLANTED = "planted-compliance-word-3f9a"


def _deploy(cp: Plane, echo: Path) -> dict[str, Any]:
    answer = cp.client.post(
        "/controller/deploy", json={"dockfile": str(echo)}, headers=cp.auth("developer")
    )
    assert answer.status_code == 202, answer.text
    done = cp.wait(answer.json()["operation_id"])
    assert done["status"] == "succeeded", done
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
