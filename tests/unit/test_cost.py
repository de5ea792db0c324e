"""Token cost: the shipped table, plugin prices, ``model.extra.pricing`` and unknown models."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

import pytest
from agentdock import hookimpl, make_plugin_manager
from agentdock.spec.models import DockSpec11
from agentdock_runtime.cost import PricingError, compile_pricing, shipped_prices
from hypothesis import given
from hypothesis import strategies as st


def spec(provider: str = "openai", name: str = "gpt-4o-mini", **extra: Any) -> Any:
    return DockSpec11.model_validate(
        {
            "version": "1.1",
            "agent": {"name": "priced", "entrypoint": "app:graph", "framework": "langgraph"},
            "model": {"provider": provider, "name": name, "extra": extra},
            "io_schema": {
                "input": {"type": "object", "properties": {"q": {"type": "string"}}},
                "output": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "auth": {"mode": "api_key"},
            "expose": {"rest": True},
        }
    )


class Prices:
    def __init__(self, table: Any) -> None:
        self.table = table

    @hookimpl
    def agentdock_model_pricing(self) -> Any:
        return self.table


def test_shipped_table_is_dated_and_priced_per_million() -> None:
    raw = json.loads(
        resources.files("agentdock_runtime").joinpath("pricing.json").read_text("utf-8")
    )
    assert raw["as_of"] and raw["unit"] == "per_1m_tokens"
    prices = shipped_prices()
    providers = {key.split("/")[0] for key in prices}
    assert {"openai", "anthropic", "google", "mistral"} <= providers
    for key, price in prices.items():
        assert "/" in key
        assert price.input_per_1m >= 0 and price.output_per_1m >= 0


def test_known_model_costs_from_the_table() -> None:
    pricing = compile_pricing(spec("openai", "gpt-4o-mini"))
    assert pricing.source == "table"
    # 0.15 USD per 1M input, 0.60 per 1M output.
    assert pricing.cost_usd(1_000_000, 0) == pytest.approx(0.15)
    assert pricing.cost_usd(1000, 500) == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1e6)
    assert pricing.cost_usd(0, 0) == 0.0


def test_dated_snapshot_and_azure_deployment_fall_back_to_the_base_model() -> None:
    assert compile_pricing(spec("openai", "gpt-4o-mini-2024-07-18")).price is not None
    assert compile_pricing(spec("azure", "gpt-4o")).price == shipped_prices()["openai/gpt-4o"]
    assert compile_pricing(spec("ollama", "llama3.1:8b")).cost_usd(10, 10) == 0.0


def test_unknown_model_has_no_cost_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agentdock.runtime.cost"):
        pricing = compile_pricing(spec("custom", "my-finetune"))
    assert pricing.price is None
    assert pricing.cost_usd(100, 100) is None
    warnings = [r for r in caplog.records if "no price" in r.getMessage()]
    assert len(warnings) == 1 and "provider custom" in warnings[0].getMessage()
    # The model name may come from a ${VAR}: it is never logged.
    assert "my-finetune" not in caplog.text
    # No guess from a similar name either.
    assert compile_pricing(spec("openai", "gpt-4o-mini-custom")).price is None


def test_an_offline_model_costs_nothing_and_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="agentdock.runtime.cost"):
        pricing = compile_pricing(spec("custom", "offline-fake", offline=True))
        free = compile_pricing(spec("ollama", "llama3"))  # the table prices it at zero
    assert pricing.source == "model.extra.offline" and pricing.cost_usd(1000, 1000) == 0.0
    assert free.cost_usd(1000, 1000) == 0.0
    assert "no price" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="agentdock.runtime.cost"):
        compile_pricing(spec("custom", "offline-fake", offline="yes"))  # only true marks it
    assert "no price" in caplog.text


@pytest.mark.parametrize("example", ["chat", "echo", "react-tools"])
def test_the_offline_examples_and_template_start_without_a_price_warning(
    example: str, caplog: pytest.LogCaptureFixture
) -> None:
    from pathlib import Path

    from agentdock.validation import load

    root = Path(__file__).resolve().parents[2]
    loaded = load(root / "examples" / example / "Dockfile.yaml")
    with caplog.at_level(logging.WARNING, logger="agentdock.runtime.cost"):
        pricing = compile_pricing(loaded)
    assert "no price" not in caplog.text and pricing.cost_usd(10, 10) == 0.0


def test_model_extra_overrides_everything() -> None:
    manager = make_plugin_manager(
        plugins=[("p", Prices({"openai/gpt-4o-mini": {"input_per_1m": 9, "output_per_1m": 9}}))]
    )
    pricing = compile_pricing(spec(pricing={"input_per_1m": 1.0, "output_per_1m": 2.0}), manager)
    assert pricing.source == "model.extra"
    assert pricing.cost_usd(1_000_000, 1_000_000) == pytest.approx(3.0)


def test_plugins_override_the_table_and_later_plugins_win() -> None:
    first = Prices({"custom/echo": {"input_per_1m": 1, "output_per_1m": 1}})
    second = Prices({"custom/echo": {"input_per_1k": 0.002, "output_per_1k": 0.004}})
    manager = make_plugin_manager(plugins=[("first", first), ("second", second)])
    pricing = compile_pricing(spec("custom", "echo"), manager)
    assert pricing.source == "plugin:second"
    assert pricing.price is not None
    assert pricing.price.input_per_1m == pytest.approx(2.0)
    assert pricing.price.output_per_1m == pytest.approx(4.0)
    none = make_plugin_manager(plugins=[("none", Prices(None))])
    assert compile_pricing(spec(), none).source == "table"


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({"input_per_1m": -1, "output_per_1m": 1}, "model.extra.pricing.input_per_1m"),
        ({"input_per_1m": "1", "output_per_1m": 1}, "expected a number"),
        ({"input_per_1m": 1}, "missing output_per_1m"),
        ({"input_per_1m": 1, "output_per_1m": 1, "currency": "EUR"}, "unknown key 'currency'"),
        ({"input_per_1m": float("inf"), "output_per_1m": 1}, "finite"),
        ({"input_per_1m": True, "output_per_1m": 1}, "expected a number"),
        ("cheap", "expected a mapping"),
    ],
)
def test_malformed_prices_are_refused_with_their_path(pricing: Any, message: str) -> None:
    with pytest.raises(PricingError, match=message.replace(".", r"\.").replace("(", r"\(")):
        compile_pricing(spec(pricing=pricing))


def test_malformed_plugin_prices_name_the_plugin() -> None:
    for table, message in (
        (["not", "a", "mapping"], "plugin bad: agentdock_model_pricing returned list"),
        ({"gpt-4o": {"input_per_1m": 1, "output_per_1m": 1}}, "'provider/model'"),
        ({"openai/x": {"input_per_1m": -2, "output_per_1m": 1}}, "plugin bad: openai/x"),
    ):
        manager = make_plugin_manager(plugins=[("bad", Prices(table))])
        with pytest.raises(PricingError, match=message):
            compile_pricing(spec(), manager)


@given(
    price_in=st.floats(min_value=0, max_value=1000),
    price_out=st.floats(min_value=0, max_value=1000),
    tokens_in=st.integers(min_value=0, max_value=10**9),
    tokens_out=st.integers(min_value=0, max_value=10**9),
)
def test_cost_is_linear_and_never_negative(
    price_in: float, price_out: float, tokens_in: int, tokens_out: int
) -> None:
    pricing = compile_pricing(spec(pricing={"input_per_1m": price_in, "output_per_1m": price_out}))
    cost = pricing.cost_usd(tokens_in, tokens_out)
    assert cost is not None and cost >= 0
    expected = pricing.cost_usd(tokens_in, 0) + pricing.cost_usd(0, tokens_out)  # type: ignore[operator]
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_first_plugin_called_prices_a_model_and_tryfirst_comes_first() -> None:
    price = {"input_per_1m": 1.0, "output_per_1m": 1.0}
    cheap = {"openai/gpt-4o-mini": {"input_per_1m": 0.5, "output_per_1m": 0.5}}

    class FirstPrices(Prices):
        @hookimpl(tryfirst=True)
        def agentdock_model_pricing(self) -> Any:
            return self.table

    manager = make_plugin_manager(
        plugins=[("first", FirstPrices(cheap)), ("plain", Prices({"openai/gpt-4o-mini": price}))]
    )
    pricing = compile_pricing(spec("openai", "gpt-4o-mini"), manager)
    assert pricing.source == "plugin:first"
    assert pricing.cost_usd(1_000_000, 0) == pytest.approx(0.5)
