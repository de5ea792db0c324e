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

__all__ = ["CHROMEDRIVER", "CHROMIUM", "artifacts_dir", "chrome"]

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
