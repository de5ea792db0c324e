"""Fixtures of the kubernetes target's tests: the stand-in API server (``cluster``: its
state and address) and a kubeconfig pointing at it (``kubeconfig``, set as ``KUBECONFIG``).
Load them with ``pytest_plugins = ("kube_fixtures",)``; the stand-in is
tests/kubeapiserver.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubeapiserver import FakeCluster, kubeconfig_file, standin_server


@pytest.fixture
def cluster() -> Iterator[tuple[FakeCluster, str]]:
    with standin_server() as served:
        yield served


@pytest.fixture
def kubeconfig(
    cluster: tuple[FakeCluster, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = kubeconfig_file(tmp_path / "kubeconfig", cluster[1])
    monkeypatch.setenv("KUBECONFIG", str(path))
    for name in ("AGENTDOCK_KUBE_CONTEXT", "AGENTDOCK_KUBE_NAMESPACE", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    return path
