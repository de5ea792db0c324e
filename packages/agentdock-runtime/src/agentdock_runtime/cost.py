"""Token cost: the price of the spec's model, resolved once at start-up.

Prices are USD per 1,000,000 tokens, input and output. Three sources, the later winning:

1. the table shipped with the runtime (``pricing.json``, dated; list prices of common hosted
   models keyed ``provider/model``, plus ``provider/*`` entries such as ``ollama/*`` = free);
2. the ``agentdock_model_pricing`` plugin hook (later plugins override earlier ones);
3. the Dockfile's ``model.extra.pricing``: ``{input_per_1m: 0.15, output_per_1m: 0.6}``.

A model the Dockfile marks offline (``model.extra.offline: true``: a fake or local model that
calls no provider, like the ``agentdock init`` template's) costs nothing and is looked up
nowhere; a model the table prices at zero (``ollama/*``) is free too. Neither is warned about.

Any other model found in none of them has no price: :meth:`Pricing.cost_usd` returns
``None`` (the run's ``cost_usd`` is omitted) and one warning is logged when the pricing is
compiled. No
cost is ever guessed from a similar model name; only a dated snapshot suffix
(``gpt-4o-mini-2024-07-18``, ``claude-3-5-haiku@20241022``) falls back to the undated name,
and an ``azure`` deployment falls back to the OpenAI model of the same name.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "ModelPrice",
    "Pricing",
    "PricingError",
    "compile_pricing",
    "shipped_prices",
]

log = logging.getLogger("agentdock.runtime.cost")

_PER_MILLION = 1_000_000.0
_DATED = re.compile(r"(?:[-@](?:\d{4}-\d{2}-\d{2}|\d{8}))$")
_FALLBACK_PROVIDER = {"azure": "openai"}
_KNOWN_PROVIDERS = frozenset({"openai", "azure", "anthropic", "google", "ollama", "custom"})


class PricingError(ValueError):
    """A price given by the Dockfile or a plugin is not usable (start-up only)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1,000,000 input and output tokens."""

    input_per_1m: float
    output_per_1m: float


@dataclass(frozen=True, slots=True)
class Pricing:
    """The price of one model; ``price`` is ``None`` when it is unknown."""

    provider: str
    model: str
    price: ModelPrice | None
    #: Where the price came from: ``"table"``, ``"plugin:<name>"``, ``"model.extra"``,
    #: ``"model.extra.offline"`` or ``None``.
    source: str | None = None

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float | None:
        """The run's cost in USD, or ``None`` when the model has no price."""
        price = self.price
        if price is None:
            return None
        return (
            input_tokens * price.input_per_1m + output_tokens * price.output_per_1m
        ) / _PER_MILLION


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PricingError(f"{where}: expected a number of USD, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise PricingError(f"{where}: expected a finite number >= 0, got {value!r}")
    return number


def _price(entry: Any, where: str) -> ModelPrice:
    """A :class:`ModelPrice` from ``{input_per_1m, output_per_1m}`` (or the ``_per_1k`` keys)."""
    if not isinstance(entry, Mapping):
        raise PricingError(f"{where}: expected a mapping, got {type(entry).__name__}")
    prices: dict[str, float] = {}
    for side in ("input", "output"):
        per_1m, per_1k = f"{side}_per_1m", f"{side}_per_1k"
        if per_1m in entry:
            prices[side] = _number(entry[per_1m], f"{where}.{per_1m}")
        elif per_1k in entry:
            prices[side] = _number(entry[per_1k], f"{where}.{per_1k}") * 1000.0
        else:
            raise PricingError(f"{where}: missing {per_1m}")
    unknown = sorted(
        set(entry) - {"input_per_1m", "output_per_1m", "input_per_1k", "output_per_1k"}
    )
    if unknown:
        raise PricingError(f"{where}: unknown key {unknown[0]!r}")
    return ModelPrice(prices["input"], prices["output"])


@cache
def shipped_prices() -> Mapping[str, ModelPrice]:
    """The table shipped with the runtime, keyed ``provider/model`` (read once)."""
    raw = json.loads(
        resources.files("agentdock_runtime").joinpath("pricing.json").read_text("utf-8")
    )
    return {key: _price(entry, f"pricing.json:{key}") for key, entry in raw["models"].items()}


def _lookup(table: Mapping[str, Any], provider: str, model: str) -> tuple[str, Any] | None:
    candidates = [provider]
    if provider in _FALLBACK_PROVIDER:
        candidates.append(_FALLBACK_PROVIDER[provider])
    undated = _DATED.sub("", model)
    for prov in candidates:
        for name in dict.fromkeys((model, undated)):
            key = f"{prov}/{name}"
            if key in table:
                return key, table[key]
        if f"{prov}/*" in table:
            return f"{prov}/*", table[f"{prov}/*"]
    return None


def compile_pricing(spec: DockSpec, plugins: Any | None = None) -> Pricing:
    """The price of ``spec.model``, from the table, plugins and ``model.extra.pricing``.

    :param spec: the resolved ``DockSpec``.
    :param plugins: an ``agentdock.plugins.PluginManager`` (its ``agentdock_model_pricing``
        hooks are called once), or ``None``.
    :raises PricingError: ``model.extra.pricing`` or a plugin's entry is malformed.
    """
    provider, model = spec.model.provider, spec.model.name
    table: dict[str, Any] = dict(shipped_prices())
    sources = dict.fromkeys(table, "table")
    if plugins is not None:
        for plugin_name, result in plugins.call_each("agentdock_model_pricing"):
            if result is None:
                continue
            if not isinstance(result, Mapping):
                raise PricingError(
                    f"plugin {plugin_name}: agentdock_model_pricing returned "
                    f"{type(result).__name__}, not a mapping"
                )
            for key, entry in result.items():
                if not isinstance(key, str) or "/" not in key:
                    raise PricingError(
                        f"plugin {plugin_name}: price keys are 'provider/model', got {key!r}"
                    )
                price = _price(entry, f"plugin {plugin_name}: {key}")
                # Plugins come in pluggy's call order: the first one to price a model wins.
                if not sources.get(key, "").startswith("plugin:"):
                    table[key] = price
                    sources[key] = f"plugin:{plugin_name}"

    extra = spec.model.extra or {}
    if "pricing" in extra:
        price = _price(extra["pricing"], "model.extra.pricing")
        return Pricing(provider, model, price, "model.extra")
    if extra.get("offline") is True:
        return Pricing(provider, model, ModelPrice(0.0, 0.0), "model.extra.offline")
    found = _lookup(table, provider, model)
    if found is None:
        # The name is not repeated: a Dockfile may fill it from a ${VAR} kept out of logs.
        log.warning(
            "no price for the model named in model.name (provider %s): cost_usd is omitted "
            "from telemetry (set model.extra.pricing {input_per_1m, output_per_1m} to price "
            "it, or model.extra.offline: true for a model that calls no provider)",
            provider if provider in _KNOWN_PROVIDERS else "custom",
        )
        return Pricing(provider, model, None, None)
    key, price = found
    return Pricing(provider, model, price, sources[key])
