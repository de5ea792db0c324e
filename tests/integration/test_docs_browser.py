"""``/docs`` in a real browser (headless Chromium driven by Selenium).

The scaffolded agent (``examples/chat`` is what ``agentdock init`` writes) is served by a
real uvicorn with its API-key authentication on; its only role, ``developer``, has no
``read_docs``. The page must load without credentials, ``/docs/`` too, and "Authorize" with
a developer key must carry it to "Try it out" on ``POST /invoke``: the response is read off
the page. Screenshots are saved in the test's temporary directory.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentdock
import agentdock_plugins.auth
import agentdock_plugins.langgraph
import agentdock_plugins.litestar
import pytest
from agentdock import make_plugin_manager
from agentdock.registry import open_store
from auth_support import add_key
from browser_support import chrome
from served import serving

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat"
WAIT = 30


@pytest.fixture
def browser() -> Iterator[Any]:
    with chrome() as driver:
        yield driver


@pytest.fixture
def chat_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The chat example on a real socket, auth on; yields its base URL and a developer key."""
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_REDIS_URL", raising=False)
    with open_store() as store:
        key = add_key(store, "chat")
    project = tmp_path / "chat"
    shutil.copytree(CHAT, project, ignore=shutil.ignore_patterns("__pycache__", ".agentdock"))
    for name in [n for n in sys.modules if n.split(".")[0] == "agent"]:
        del sys.modules[name]
    manager = make_plugin_manager(
        plugins=[agentdock_plugins.langgraph, agentdock_plugins.litestar, agentdock_plugins.auth]
    )
    app = agentdock.app(project / "Dockfile.yaml", plugins=manager)
    try:
        with serving(app) as port:
            yield f"http://127.0.0.1:{port}", key.key
    finally:
        while str(project) in sys.path:
            sys.path.remove(str(project))
        for name in [n for n in sys.modules if n.split(".")[0] == "agent"]:
            del sys.modules[name]


def test_docs_authorize_and_try_out_invoke(
    browser: Any, chat_served: tuple[str, str], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    base, key = chat_served
    wait = WebDriverWait(browser, WAIT)

    def shown(css: str) -> Any:
        return wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def click(css: str) -> None:
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    # The trailing slash used to give a blank page: it must render the same page.
    browser.get(f"{base}/docs/")
    assert "chat" in shown(".swagger-ui .info .title").text
    assert browser.current_url == f"{base}/docs"
    browser.save_screenshot(str(tmp_path / "docs.png"))

    # Authorize with the developer's key (a role without read_docs).
    click(".swagger-ui .auth-wrapper .authorize")
    field = shown(".modal-ux input[type=text], .modal-ux input[type=password]")
    field.send_keys(key)
    click(".modal-ux .auth-btn-wrapper .authorize")
    click(".modal-ux .btn-done")

    # Try it out: POST /invoke.
    click("#operations-AgentDock_Runtime-invoke .opblock-summary")
    click("#operations-AgentDock_Runtime-invoke .try-out__btn")
    body = shown("#operations-AgentDock_Runtime-invoke textarea.body-param__text")
    body.clear()
    body.send_keys(json.dumps({"question": "Does the browser get through?"}))
    click("#operations-AgentDock_Runtime-invoke .execute")
    response = "#operations-AgentDock_Runtime-invoke .live-responses-table tbody .response"
    status = shown(f"{response} .response-col_status")
    answer = shown(f"{response} .response-col_description pre")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", answer)
    browser.save_screenshot(str(tmp_path / "try-it-out.png"))
    assert status.text.strip() == "200", answer.text
    assert json.loads(answer.text) == {"answer": "You asked: Does the browser get through?"}
    # The key went as x-api-key: the curl Swagger UI shows says so.
    curl = browser.find_element(By.CSS_SELECTOR, "#operations-AgentDock_Runtime-invoke .curl")
    assert "x-api-key" in curl.text
