"""The agent page's Policies, Audit, Logs and Traces tabs and the platform keys page in a
real browser (headless Chromium, Selenium), against a control plane on a real socket with
the echo example deployed to the fake target (no runtime to build: these views read the
registry, the runtime's log and the telemetry store).

The Policies tab shows the running version's policies, a plugin's among them (named in its
``plugins`` block), with placeholders as written; the Audit tab shows hostile audit text as
text; a line appended to the runtime's log appears in the Logs tab without a reload; a run's
trace id links into LangFuse; an admin rotates a platform key and revokes ticked ones.
axe-core checks each page (WCAG 2 A and AA) and a screenshot of each view goes to
``$AGENTDOCK_TEST_ARTIFACTS/controlplane`` (else ``tests/.artifacts/``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from browser_support import accessibility_violations, artifacts_dir, chrome
from controlplane_support import DEADLINE, record_events, run_event
from policy_plugin import PLUGINS_BLOCK, with_policy_plugin
from served import serving

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

WAIT = 30
#: The text of the first element a selector finds ("" when none), read in one step.
READ = "var e = document.querySelector(arguments[0]); return e ? e.textContent : '';"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PLANTED = "planted-word-never-shown-7d2e"
POLICIES = (
    "policies:\n"
    "  safety:\n"
    "    pii: [email, api_key]\n"
    '    compliance_keywords: ["${SECRET_WORD}"]\n'
    "    max_output_chars: 2000\n"
)
LANGFUSE = (
    "observability:\n  langfuse:\n"
    "    public_key: ${LANGFUSE_PUBLIC_KEY}\n    secret_key: ${LANGFUSE_SECRET_KEY}\n"
    "    host: https://langfuse.example.com\n"
)


class _RuntimeLog:
    """A log file the fake target follows as the local target follows its runtime's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("12:00:00.000 INFO  agentdock.app started\n")
        self.closed = threading.Event()

    def logs(self, handle: Any, tail: int | None, follow: bool) -> Iterator[str]:
        with self.path.open(encoding="utf-8") as fh:
            lines = fh.readlines()
            for line in lines[-tail:] if tail else lines:
                yield line.rstrip("\n")
            while follow and not self.closed.is_set():
                line = fh.readline()
                if line:
                    yield line.rstrip("\n")
                else:
                    time.sleep(0.05)

    def append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


@pytest.fixture
def views(
    home: Path,
    tmp_path: Path,
    fakes: tuple[Any, Any],
    echo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The control plane serving echo (policies, LangFuse, a followed log) and its keys."""
    import deploy_fakes

    monkeypatch.setenv("SECRET_WORD", PLANTED)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-browser")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-browser-planted")
    for name in ("LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    text = echo.read_text()
    text = text[: text.index("policies:")] + POLICIES + text[text.index("\nauth:") :]
    echo.write_text(text + LANGFUSE + PLUGINS_BLOCK)
    log = _RuntimeLog(tmp_path / "runtime.log")
    monkeypatch.setattr(
        deploy_fakes.FakeTarget, "logs", lambda self, h, tail, follow: log.logs(h, tail, follow)
    )
    manager = with_policy_plugin(fakes[1])
    store = open_store()
    keys = {
        r: create_platform_key(store, r, created_by="test")[0].key
        for r in ("admin", "developer", "viewer")
    }
    plane = ControlPlane(store=store, projects=tmp_path, plugins=manager, health_interval=0.5)
    try:
        with serving(controlplane_app(plane)) as port:
            base = f"http://127.0.0.1:{port}"
            bearer = {"authorization": f"Bearer {keys['developer']}"}
            with httpx.Client(base_url=base, headers=bearer, timeout=DEADLINE) as client:
                started = client.post("/controller/deploy", json={"dockfile": str(echo)})
                assert started.status_code == 202, started.text
                op = started.json()["operation_id"]
                deadline = time.monotonic() + DEADLINE
                while client.get(f"/controller/operations/{op}").json()["status"] != "succeeded":
                    assert time.monotonic() < deadline, "the deploy did not succeed"
                    time.sleep(0.05)
            record_events(plane, [{**run_event(12.0, ago=5.0), "trace_id": TRACE}])
            store.append_audit(
                "test.hostile",
                actor="<script>alert('actor')</script>",
                agent="echo",
                target="<b>target</b>",
                details={"note": "<img src=x onerror=alert('details')>"},
            )
            yield {"base": base, "keys": keys, "log": log, "store": store}
    finally:
        log.closed.set()
        store.close()


def test_the_agent_pages_new_tabs_and_the_platform_keys_page(views: dict[str, Any]) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    base, keys, log = views["base"], views["keys"], views["log"]
    shots = artifacts_dir("controlplane")
    with chrome() as browser:
        wait = WebDriverWait(browser, WAIT)

        def shown(css: str) -> Any:
            return wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, css)))

        def click(css: str) -> None:
            wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

        def section_shot(css: str, name: str) -> None:
            element = shown(css)
            browser.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
            element.screenshot(str(shots / name))

        def no_alert() -> None:
            with contextlib.suppress(NoAlertPresentException):
                browser.switch_to.alert.dismiss()
                pytest.fail("a script from the page's data ran")

        browser.get(f"{base}/login")
        shown("#key").send_keys(keys["admin"])
        click("#sign-in")
        shown("#agents-table")
        browser.get(f"{base}/agents/echo")

        # Policies: the running version's, placeholders as written, never their values.
        table = shown("#policies-table")
        row = table.find_element(By.CSS_SELECTOR, "tr[data-policy=compliance_keywords]")
        assert "post" in row.text and "on" in row.text
        assert '["${SECRET_WORD}"]' in row.text
        assert "pii" in table.find_element(By.CSS_SELECTOR, "tr[data-policy=redact_input]").text
        # A plugin's policies, named in the plugins block, with their settings as written.
        plugin_row = shown("#plugin-policies-table tr[data-plugin-policy=no-shouting]")
        assert "shout-plugin" in plugin_row.text and "pre" in plugin_row.text
        assert '["${SECRET_WORD}","<b>LOUD</b>"]' in plugin_row.text.replace(", ", ",")
        assert not browser.find_elements(By.CSS_SELECTOR, "#policies b")  # markup is text
        assert PLANTED not in browser.page_source
        wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#policies [data-chart=policy] canvas")
        )
        section_shot("#policies", "13-policies.png")

        # Audit: this agent's entries, newest first, hostile text shown as text.
        audit = shown("#agent-audit")
        first = audit.find_element(By.CSS_SELECTOR, "tbody tr")
        assert "test.hostile" in first.text
        assert "<script>alert('actor')</script>" in first.text
        assert "<img src=x onerror=alert('details')>" in first.text
        assert not audit.find_elements(By.CSS_SELECTOR, "img, script, b")
        assert "controlplane.deploy" in audit.text
        no_alert()
        section_shot("#audit", "14-agent-audit.png")

        # Traces: the run's trace id opens it in LangFuse.
        link = shown(f"#runs-table a[href='https://langfuse.example.com/trace/{TRACE}']")
        assert link.text == TRACE and link.get_attribute("rel") == "noopener noreferrer"
        section_shot("#traces", "15-traces-langfuse.png")

        # Logs: a line written to the runtime's log appears without a reload.
        lines = shown("#log-lines")
        wait.until(lambda d: "started" in lines.text)
        browser.execute_script("window.agentdockNotReloaded = true;")
        log.append("12:00:05.000 ERROR agentdock.app <b>appended</b> after the page loaded")
        wait.until(lambda d: "<b>appended</b> after the page loaded" in lines.text)
        assert browser.execute_script("return window.agentdockNotReloaded === true;")
        assert not lines.find_elements(By.CSS_SELECTOR, "b")
        # The level filter is kept: at error, the info line goes and a new error comes.
        browser.find_element(By.CSS_SELECTOR, "#log-level option[value=error]").click()
        wait.until(lambda d: "started" not in lines.text and "appended" in lines.text)
        log.append("12:00:06.000 INFO  agentdock.app quiet")
        log.append("12:00:07.000 ERROR agentdock.app second error")
        wait.until(lambda d: "second error" in lines.text)
        assert "quiet" not in lines.text
        section_shot("#logs", "16-logs-follow.png")
        # The followed log holds a connection; the page's other requests still go through.
        click("#create-key")
        assert shown("#new-key-value").text.strip().startswith("adk_")
        assert accessibility_violations(browser) == []
        browser.save_screenshot(str(shots / "17-agent-page.png"))

        # Coming back to the page follows the log again, from its tail; the streams of the
        # pages left behind are closed (pagehide), so the next page's requests still get
        # one of the browser's six connections to this host.
        for _ in range(4):
            browser.get(f"{base}/agents/echo")
            wait.until(lambda d: "second error" in d.execute_script(READ, "#log-lines"))

        # Platform keys: rotate the viewer's key, then revoke the developer's ticked.
        browser.get(f"{base}/platform-keys")
        viewer_id = keys["viewer"].split("_")[1]
        developer_id = keys["developer"].split("_")[1]
        click(f"#platform-keys tr[data-key='{viewer_id}'] button.rotate")
        wait.until(ready.alert_is_present()).accept()
        new_key = shown("#new-key-value").text.strip()
        assert new_key.startswith("adk_")
        new_id = new_key.split("_")[1]
        shown(f"#platform-keys tr[data-key='{new_id}']")  # the table refreshed in place
        assert "rotated" in shown(f"#platform-keys tr[data-key='{viewer_id}'] .state").text
        browser.save_screenshot(str(shots / "18-platform-keys-rotated.png"))
        click(f"#pick-{developer_id}")
        click(f"#pick-{new_id}")
        click("#revoke-selected")
        wait.until(ready.alert_is_present()).accept()

        # The page reloads after a revocation: each state is read afresh, in one step.
        def state(key_id: str) -> str:
            text: str = browser.execute_script(
                READ, f"#platform-keys tr[data-key='{key_id}'] .state"
            )
            return text

        wait.until(lambda d: state(developer_id) == "revoked")
        wait.until(lambda d: state(new_id) == "revoked")
        assert state(keys["admin"].split("_")[1]) == "active"
        browser.save_screenshot(str(shots / "19-platform-keys-revoked.png"))
        assert accessibility_violations(browser) == []
