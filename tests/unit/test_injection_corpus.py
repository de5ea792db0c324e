"""The injection corpus and the classifier shipped from it: splits by source, a dev split
that holds its own sources, and weights trained on the corpus as it is."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

from agentdock_plugins.policies.injection_model import default_model

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "injection" / "corpus.jsonl.gz"


def _records() -> list[dict[str, object]]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_source_lies_in_one_split() -> None:
    splits: dict[object, set[object]] = defaultdict(set)
    for record in _records():
        splits[record["source"]].add(record["split"])
    spread = {source: found for source, found in splits.items() if len(found) > 1}
    assert not spread


def test_dev_holds_role_play_attacks_and_near_misses_of_sources_of_its_own() -> None:
    by_split: dict[tuple[object, object], set[object]] = defaultdict(set)
    for record in _records():
        by_split[record["split"], record["family"]].add(record["source"])
    dev_roleplay = by_split["dev", "dan_roleplay"]
    assert "written:dan_roleplay:dev" in dev_roleplay
    assert "pyrit:templates:multi_parameter" in dev_roleplay
    assert "written:benign:dev" in by_split["dev", "benign"]
    for family in ("dan_roleplay", "benign", "goal_hijack", "extraction"):
        assert not by_split["dev", family] & by_split["train", family]


def test_the_shipped_model_was_trained_on_this_corpus() -> None:
    train = [r for r in _records() if r["split"] == "train" and r["transform"] == "none"]
    meta = default_model().meta
    assert meta["train_texts"] == len(train)
