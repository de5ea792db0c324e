"""``/docs`` in a real browser (headless Chromium driven by Selenium).

The scaffolded agent (``examples/chat`` is what ``agentdock init`` writes) is served by a
real uvicorn with its API-key authentication on; its only role, ``developer``, has no
``read_docs``. The page must load without credentials, ``/docs/`` too, and "Authorize" with
a developer key must carry it to "Try it out" on ``POST /invoke``: the response is read off
the page. Screenshots are saved in the test's temporary directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import chrome
from served import served_chat

WAIT = 30


@pytest.fixture
def browser() -> Iterator[Any]:
    with chrome() as driver:
        yield driver


@pytest.fixture
def chat_served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The chat example served on a real socket, auth on: its base URL and a key."""
    with served_chat(tmp_path) as served:
        yield served


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
