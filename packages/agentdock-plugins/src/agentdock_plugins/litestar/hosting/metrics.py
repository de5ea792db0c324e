"""The metrics of several agents as one exposition, each series labelled with its agent.

Every agent's Prometheus sink has its own registry (its series carry no agent label but
``agentdock_agent_info``'s); the host parses each exposition with prometheus-client's
parser and writes them out as one, the families merged by name. The process-wide families
(``process_*``, ``python_*``) are the same process seen from each agent: kept once,
unlabelled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["merge_expositions"]

_PROCESS_WIDE = ("process_", "python_")


class _Merged:
    """A collector that yields already merged families (for ``generate_latest``)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def merge_expositions(expositions: Mapping[str, str]) -> tuple[bytes, str]:
    """One exposition (and its content type) from ``{agent: exposition text}``."""
    families: dict[str, Metric] = {}
    for agent, text in expositions.items():
        for family in text_string_to_metric_families(text):
            shared = family.name.startswith(_PROCESS_WIDE)
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            elif shared:
                continue
            for sample in family.samples:
                labels: dict[str, Any] = (
                    sample.labels if shared else {"agent": agent, **sample.labels}
                )
                merged.samples.append(sample._replace(labels=labels))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(list(families.values())))
    return generate_latest(registry), CONTENT_TYPE_LATEST
