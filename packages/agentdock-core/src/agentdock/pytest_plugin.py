"""AgentDock's pytest plugin, loaded by pytest through the ``pytest11`` entry point of
``agentdock-core``: a fixture that serves an agent in-process for one test.

::

    def test_my_policy_refuses_secrets(agentdock_client):
        http = agentdock_client("Dockfile.yaml", my_plugin, insecure_no_auth=True)
        assert http.post("/invoke", json={"text": "sk-..."}).status_code == 403

``agentdock_client(spec_or_path, *plugins, entry_points=False, replaces=(), **kwargs)``
serves ``spec_or_path`` with AgentDock's built-ins and ``plugins`` (the plugins under test,
registered in process: :func:`agentdock.testing.plugin_manager`), opens an ``httpx``
client on it (:func:`agentdock.testing.client`; ``insecure_no_auth``, ``headers``... go
there) and closes it after the test. Importing this module costs nothing more than pytest:
the runtime loads when the fixture is first called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

__all__ = ["agentdock_client"]


@pytest.fixture
def agentdock_client() -> Iterator[Callable[..., Any]]:
    from agentdock.testing import client, plugin_manager

    opened: list[Any] = []

    def make(
        spec_or_path: Any,
        *plugins: object | tuple[str, object],
        entry_points: bool = False,
        replaces: Iterable[str] = (),
        **kwargs: Any,
    ) -> Any:
        manager = plugin_manager(*plugins, entry_points=entry_points, replaces=replaces)
        http = client(spec_or_path, plugins=manager, **kwargs)
        http.__enter__()
        opened.append(http)
        return http

    yield make
    for http in reversed(opened):
        http.__exit__(None, None, None)
