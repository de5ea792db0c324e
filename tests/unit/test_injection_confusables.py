"""The stored confusables table (``injection_confusables``) and its fallback."""

from __future__ import annotations

from collections.abc import Iterator

import confusable_homoglyphs
import pytest
from agentdock_plugins.policies import injection_confusables
from agentdock_plugins.policies import injection_normal as normal
from confusable_homoglyphs.utils import PACKAGE_DIR


@pytest.fixture
def fresh_table() -> Iterator[None]:
    normal.confusable_table.cache_clear()
    yield
    normal.confusable_table.cache_clear()


def test_stored_table_is_the_installed_packages() -> None:
    # Written for the version uv.lock installs: a new version of the package fails here
    # until the table is written again (python -m agentdock_plugins.policies.injection_normal).
    assert confusable_homoglyphs.__version__ == injection_confusables.SOURCE_VERSION
    computed = normal.computed_confusable_table()
    assert normal.confusable_table() == computed
    assert computed == normal._CONFUSABLE
    # Cyrillic and Greek look-alikes, a mathematical letter, a digit's.
    assert computed[ord("\u0430")] == "a"
    assert computed[ord("\u03bf")] == "o"
    assert computed[0x1D41A] == "a"
    assert computed[ord("\u0417")] == "3"


def test_another_version_computes_the_table(
    fresh_table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(injection_confusables, "SOURCE_VERSION", "0.0.0")
    monkeypatch.setattr(injection_confusables, "CONFUSABLES", "")
    assert normal.confusable_table() == normal.computed_confusable_table()
    assert normal.confusable_table()


def test_another_data_directory_computes_the_table(
    fresh_table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(injection_confusables, "CONFUSABLES", "")
    monkeypatch.setenv("CONFUSABLE_DATA", PACKAGE_DIR)
    assert normal.confusable_table() == normal.computed_confusable_table()
    assert normal.confusable_table()
