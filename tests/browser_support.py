"""Headless Chromium driven by Selenium, for the tests of web pages (DESIGN §9).

Debian's ``chromium`` and ``chromium-driver``; without them the test is skipped, or fails
under ``AGENTDOCK_REQUIRE_SERVERS=1`` as in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from processes import unavailable

__all__ = ["CHROMEDRIVER", "CHROMIUM", "accessibility_violations", "artifacts_dir", "chrome"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextlib.contextmanager
def chrome(width: int = 1280, height: int = 1400) -> Iterator[Any]:
    """A headless Chromium session, quit when the block ends."""
    if shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None:
        unavailable("chromium and chromium-driver are not installed (apt-get install both)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def artifacts_dir(name: str) -> Path:
    """Where a test keeps its screenshots: ``$AGENTDOCK_TEST_ARTIFACTS/<name>``, else
    ``tests/.artifacts/<name>`` (ignored by git)."""
    root = os.environ.get("AGENTDOCK_TEST_ARTIFACTS")
    base = Path(root) if root else Path(__file__).resolve().parent / ".artifacts"
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


def accessibility_violations(
    driver: Any, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[str]:
    """axe-core's WCAG 2 A/AA violations of the page shown, of the given impacts, one line
    each (rule, impact, the first offending element)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
        ".then(function (r) { done(r.violations.map(function (v) {"
        "  return [v.id, v.impact, v.nodes.length ? v.nodes[0].target.join(' ') : ''];"
        "})); }, function (e) { done([['axe failed', String(e), '']]); });"
    )
    return [f"{rule} ({impact}): {where}" for rule, impact, where in found if impact in impacts]
