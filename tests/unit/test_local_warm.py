"""The warm process's side of the local supervisor, without processes: what its
environment keeps, what it imports, and when warm starts are off."""

from __future__ import annotations

import importlib

import pytest
from agentdock_plugins.local.warm import PLUGIN_MODULES, warm_wanted, zygote_env

SECRET = "planted-warm-secret-7d1e"


def test_the_warm_process_keeps_the_machine_s_variables_and_nothing_of_the_agent() -> None:
    env = {
        "PATH": "/usr/bin",
        "HOME": "/home/ann",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/state/tmp",
        "AGENTDOCK_LOAD_PLUGINS": "litestar,langgraph",
        "OPENAI_API_KEY": SECRET,
        "AGENTDOCK_JWT_SECRET": SECRET,
        "AGENTDOCK_SECRET_NAMES": "OPENAI_API_KEY",
        "AGENTDOCK_HOME": "/home/ann/.agentdock",
        "AGENTDOCK_SPEC": "/bundle/app/spec.yaml",
    }
    kept = zygote_env(env)
    assert SECRET not in "".join(kept.values())
    assert set(kept) == {
        "PATH",
        "HOME",
        "LC_ALL",
        "TMPDIR",
        "AGENTDOCK_LOAD_PLUGINS",
        "PYTHONUNBUFFERED",
    }


@pytest.mark.parametrize("module", PLUGIN_MODULES)
def test_every_module_the_warm_process_imports_exists(module: str) -> None:
    importlib.import_module(module)  # a renamed module would silently stay cold


def test_warm_starts_can_be_turned_off() -> None:
    assert warm_wanted({}) is None
    assert warm_wanted({"AGENTDOCK_WARM_START": "off"}) == "AGENTDOCK_WARM_START=off"
