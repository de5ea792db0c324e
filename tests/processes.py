"""Helpers for tests that run servers and tools as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import NoReturn

import httpx
import pytest


def unavailable(reason: str) -> NoReturn:
    """Skip the test for want of a server or tool; fail instead in CI.

    ``.ci/run`` installs what the tests drive and sets ``AGENTDOCK_REQUIRE_SERVERS=1``, so
    a missing one there is a failure, never a silent skip.
    """
    if os.environ.get("AGENTDOCK_REQUIRE_SERVERS") == "1":
        pytest.fail(f"required (AGENTDOCK_REQUIRE_SERVERS=1): {reason}")
    pytest.skip(reason)


def require_binary(name: str, install_hint: str) -> str:
    """The path of ``name``; without it, :func:`unavailable`."""
    found = shutil.which(name)
    if found is not None:
        return found
    unavailable(f"{name} is not installed ({install_hint})")


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
    """Wait until ``base``/ready answers 200; fail with the process's stderr if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the server exited: {proc.communicate()[1].decode()}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)
