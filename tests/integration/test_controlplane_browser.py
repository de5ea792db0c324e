"""The dashboard in a real browser (headless Chromium, Selenium), against a control plane on
a real socket deploying the chat example with the local builder and target.

An admin signs in, sees the agents table, deploys the chat example from the deploy view
and watches it become healthy, creates an agent key, calls the agent from the playground
with it, revokes it, deploys a second version and rolls back to the first, and checks the
validator escapes hostile Dockfile text; then a viewer sees no deploy or key controls and
is refused when it tries anyway. axe-core checks the main views (WCAG 2 A and AA).
Screenshots of each view go to ``$AGENTDOCK_TEST_ARTIFACTS/controlplane`` (else
``tests/.artifacts/``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentdock.registry import open_store
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.principals import create_platform_key
from agentdock_plugins.controlplane.state import ControlPlane
from browser_support import accessibility_violations, artifacts_dir, chrome
from served import serving

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"
#: Building the chat bundle (a virtual environment) and its health gate take a while.
DEPLOY_WAIT = 240
WAIT = 30
#: The text of an element by id ("" when there is none), read in one step (htmx swaps
#: replace elements, so a reference found earlier may be gone).
READ = "var e = document.getElementById(arguments[0]); return e ? e.textContent : '';"


@contextlib.contextmanager
def _shot_on_failure(browser: Any, shots: Path) -> Iterator[None]:
    """Keep a screenshot of the page a failure left, beside the others."""
    try:
        yield
    except BaseException:
        browser.save_screenshot(str(shots / "failed.png"))
        console = "\n".join(str(entry) for entry in browser.get_log("browser"))
        resources = browser.execute_script(
            "return [typeof htmx].concat(performance.getEntriesByType('resource')"
            ".map(function (e) { return e.name + ' ' + e.responseStatus + ' ' + e.duration; }))"
        )
        browser.set_script_timeout(10)
        try:
            probe = browser.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                "fetch('/ui/agents').then(function (r) { done('fetch ' + r.status); })"
                ".catch(function (e) { done('fetch failed ' + e); });"
                "setTimeout(function () { done('fetch pending after 8 s'); }, 8000);"
            )
        except Exception as exc:
            probe = repr(exc)
        resources.append(probe)
        (shots / "failed-console.txt").write_text(console + "\n" + "\n".join(map(str, resources)))
        raise


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The control plane on a real socket with a copy of the chat example to deploy."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    projects = tmp_path / "projects"
    shutil.copytree(
        CHAT, projects / "chat", ignore=shutil.ignore_patterns("__pycache__", ".agentdock")
    )
    dockfile = projects / "chat" / "Dockfile.yaml"
    # Its own port, so that nothing else serving the example's 8080 is in the way.
    dockfile.write_text(dockfile.read_text().replace("port: 8080", f"port: {_free_port()}"))
    store = open_store()
    keys = {r: create_platform_key(store, r, created_by="test")[0].key for r in ("admin", "viewer")}
    plane = ControlPlane(store=store, projects=projects, health_interval=0.5)
    try:
        with serving(controlplane_app(plane)) as port:
            yield {
                "base": f"http://127.0.0.1:{port}",
                "keys": keys,
                "store": store,
                "project": projects / "chat",
            }
    finally:
        from agentdock.deployment import remove

        with contextlib.suppress(Exception):
            remove("chat", store=store)
        store.close()


def test_the_dashboard_deploys_calls_and_guards(dashboard: dict[str, Any]) -> None:
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    base, keys = dashboard["base"], dashboard["keys"]
    shots = artifacts_dir("controlplane")
    with chrome() as browser, _shot_on_failure(browser, shots):
        wait = WebDriverWait(browser, WAIT)

        def shown(css: str, timeout: float = WAIT) -> Any:
            return WebDriverWait(browser, timeout).until(
                ready.visibility_of_element_located((By.CSS_SELECTOR, css))
            )

        def click(css: str) -> None:
            wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

        def text_is(css: str, text: str, timeout: float = WAIT) -> None:
            WebDriverWait(browser, timeout).until(
                ready.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
            )

        def resend_until(send: Any, condition: Any) -> None:
            """Send, and send again when nothing came back. On this shared machine Chromium
            sometimes holds a request until it fails with ERR_NETWORK_CHANGED (other work
            creates and removes network interfaces); the dashboard then shows a banner
            (htmx times out after 20 s) and the user sends again, as this does."""
            for attempt in range(3):
                send()
                try:
                    WebDriverWait(browser, 25).until(condition)
                    return
                except TimeoutException:
                    if attempt == 2:
                        raise

        def sign_in(role: str) -> None:
            browser.get(f"{base}/login")
            field = shown("#key")
            assert browser.switch_to.active_element == field  # focus starts on the key
            field.send_keys(keys[role])
            click("#sign-in")
            shown("#agents-table")

        # The login page, then the (empty) agents table.
        browser.get(f"{base}/")
        assert browser.current_url == f"{base}/login"
        label = browser.find_element(By.CSS_SELECTOR, "label[for=key]")
        assert label.text == "Platform key"
        browser.save_screenshot(str(shots / "01-login.png"))
        assert accessibility_violations(browser) == []
        sign_in("admin")
        assert "No agent deployed yet" in shown("#agents-table").text
        browser.save_screenshot(str(shots / "02-home-empty.png"))

        # Deploy the chat example and watch the steps until healthy.
        click("#quick-deploy")
        shown("#dockfile").send_keys("chat/Dockfile.yaml")
        click("#deploy-button")
        WebDriverWait(browser, WAIT).until(ready.url_contains("/operations/op-"))
        browser.save_screenshot(str(shots / "03-deploy-running.png"))
        text_is("#op-status", "succeeded", DEPLOY_WAIT)
        steps = browser.execute_script(
            "return Array.from(document.querySelectorAll('ol.steps li'))"
            ".map(function (e) { return e.className; })"
        )
        assert steps == ["done"] * 4, steps
        assert "[health]" in browser.execute_script(READ, "op-log")
        click("#show-first-key")  # the key the first deploy created, shown once
        first = shown("#new-key-value").text.strip()
        assert first.startswith("adk_")
        browser.save_screenshot(str(shots / "04-deploy-done.png"))
        assert accessibility_violations(browser) == []

        browser.get(f"{base}/")
        text_is("#agents-table tr[data-agent=chat] .state", "active")
        browser.save_screenshot(str(shots / "05-home-active.png"))
        assert accessibility_violations(browser) == []

        # An agent key: created, shown once, used from the playground, revoked.
        browser.get(f"{base}/agents/chat")
        click("#create-key")
        key = shown("#new-key-value").text.strip()
        assert key.startswith("adk_")
        browser.save_screenshot(str(shots / "06-agent-key.png"))
        field = shown("#pg-key")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
        field.send_keys(key)
        deadline = time.monotonic() + WAIT
        while True:  # the runtime learns of the new key from its key view
            browser.execute_script("document.getElementById('invoke-result').textContent = ''")
            click("#pg-send")
            wait.until(lambda d: d.execute_script(READ, "invoke-result").strip() != "")
            status = browser.execute_script(READ, "invoke-status")
            if status == "200" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == "200", shown("#invoke-body").text
        assert "You asked: hello" in shown("#invoke-body").text
        browser.save_screenshot(str(shots / "07-playground.png"))
        assert accessibility_violations(browser) == []
        key_id = key.split("_")[1]
        click(f"#keys-table tr[data-key='{key_id}'] button.danger")
        WebDriverWait(browser, WAIT).until(ready.alert_is_present()).accept()
        text_is(f"#keys-table tr[data-key='{key_id}'] .state", "revoked")

        # The playground's run reached the local telemetry collector: the Metrics tab
        # counts it and uPlot draws its five charts (from dashboard.js, no inline script).
        deadline = time.monotonic() + WAIT
        while True:
            browser.get(f"{base}/agents/chat")
            counted = shown("#metrics-totals [data-total=requests]").text.strip()
            if counted not in ("", "0") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert int(counted) >= 1
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#metrics-charts canvas")) == 5)
        browser.execute_script("document.getElementById('metrics').scrollIntoView();")
        browser.save_screenshot(str(shots / "07b-metrics.png"))
        assert accessibility_violations(browser) == []

        # A second version, then a rollback to the first from the versions table.
        graph = dashboard["project"] / "agent" / "graph.py"
        graph.write_text(graph.read_text() + "\n# version two\n")
        browser.get(f"{base}/deploy")
        shown("#dockfile").send_keys("chat/Dockfile.yaml")
        resend_until(lambda: click("#deploy-button"), ready.url_contains("/operations/op-"))
        text_is("#op-status", "succeeded", DEPLOY_WAIT)
        assert "0.1.1" in browser.execute_script(READ, "op-result")
        browser.get(f"{base}/agents/chat")
        click("#versions button")  # the only version not active: 0.1.0
        WebDriverWait(browser, WAIT).until(ready.alert_is_present()).accept()
        WebDriverWait(browser, WAIT).until(ready.url_contains("/operations/op-"))
        text_is("#op-status", "succeeded", DEPLOY_WAIT)
        browser.get(f"{base}/")
        text_is("#agents-table tr[data-agent=chat] td:nth-child(3)", "0.1.0")
        browser.save_screenshot(str(shots / "08-rolled-back.png"))

        # The validator shows hostile text as text.
        browser.get(f"{base}/validator")
        editor = shown("#dockfile-text")
        editor.send_keys("version: '1.1'\nagent:\n  name: \"<img src=x onerror=alert(1)>\"\n")
        resend_until(
            lambda: click("#validate-button"),
            ready.text_to_be_present_in_element((By.CSS_SELECTOR, "#verdict"), "error"),
        )
        assert "<img src=x" in shown("#findings").text  # shown as text, not made an element
        assert not browser.find_elements(By.CSS_SELECTOR, "#findings img")
        with contextlib.suppress(NoAlertPresentException):
            browser.switch_to.alert.dismiss()
            pytest.fail("a script from the Dockfile text ran")
        browser.save_screenshot(str(shots / "09-validator.png"))
        assert accessibility_violations(browser) == []

        # A viewer: no deploy or key controls, and the server refuses it anyway.
        browser.get(f"{base}/audit-log")
        assert "controlplane.deploy" in shown("#audit-table").text
        browser.save_screenshot(str(shots / "10-audit.png"))
        assert accessibility_violations(browser) == []
        resend_until(lambda: click("header button.link"), ready.url_contains("/login"))
        sign_in("viewer")
        assert not browser.find_elements(By.CSS_SELECTOR, "#quick-deploy")
        assert not browser.find_elements(By.CSS_SELECTOR, "#agents-table button")
        browser.get(f"{base}/agents/chat")
        assert not browser.find_elements(By.CSS_SELECTOR, "#keys, #create-key")
        browser.save_screenshot(str(shots / "11-viewer-agent.png"))
        status = browser.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch('/ui/deploy', {method: 'POST', headers: {"
            "'X-CSRF-Token': document.body.dataset.csrf,"
            "'Content-Type': 'application/x-www-form-urlencoded'},"
            "body: 'dockfile=chat/Dockfile.yaml'}).then(function (r) { done(r.status); });"
        )
        assert status == 403
        browser.get(f"{base}/deploy")
        assert "may not deploy" in shown("main").text
        browser.save_screenshot(str(shots / "12-viewer-refused.png"))
