"""Core reaches the runtime only through ``agentdock._runtime``: without the runtime
installed, ``agentdock.app`` and ``agentdock.testing`` say which package to install."""

from __future__ import annotations

import sys

import agentdock
import pytest
from agentdock import testing


@pytest.fixture
def no_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes an import of the package fail as missing; its modules that earlier
    # tests imported get one too, or ``from agentdock_runtime.app import ...`` finds them.
    loaded = [name for name in sys.modules if name.startswith("agentdock_runtime.")]
    for name in ["agentdock_runtime", *loaded]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("no_runtime")
def test_app_without_the_runtime_names_the_package_to_install() -> None:
    with pytest.raises(ModuleNotFoundError, match="pip install agentdock-runtime") as caught:
        agentdock.app("Dockfile.yaml")
    assert (caught.value.name or "").startswith("agentdock_runtime")


@pytest.mark.usefixtures("no_runtime")
@pytest.mark.parametrize("make_client", [testing.client, testing.async_client])
def test_test_clients_without_the_runtime_name_the_package_to_install(make_client: object) -> None:
    with pytest.raises(ModuleNotFoundError, match="needs the agentdock-runtime package"):
        make_client("Dockfile.yaml")  # type: ignore[operator]
