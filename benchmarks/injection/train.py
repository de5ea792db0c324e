"""Train the tier-2 injection classifier shipped in agentdock-plugins.

    uv run --frozen python benchmarks/injection/train.py [--c 1.0]

Reads the train split of ``corpus.jsonl.gz`` (``build_corpus.py``), puts every text in
canonical form the way the detector will (each text's first canonical view: decoded texts
are tier 1's business, and tier 2 reads the same views), fits an L2 logistic regression
(scikit-learn, liblinear: deterministic) over the features of
``agentdock_plugins.policies.injection_model.features`` as an L2-normalised binary vector,
picks the probability threshold on the dev split, drops weights too small to matter and
writes ``injection_model.json.gz`` next to the module.

The threshold is the one that maximises, on the dev split, the mean block rate over the
attack families less twice the false-positive rate (:data:`FP_COST`): a refused benign
request costs every user who sends one, so a false positive weighs as two missed attacks.
The dev split's benign texts are mostly near-misses written to be hard, so its
false-positive rate runs well above what ordinary traffic sees.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from pathlib import Path

import numpy as np
from agentdock_plugins.policies import injection_model
from agentdock_plugins.policies.injection_model import LinearModel, features
from agentdock_plugins.policies.injection_rules import canonical_views
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.jsonl.gz"
OUT = Path(injection_model.__file__).with_name(injection_model.MODEL_FILE)
#: Weights smaller than this are dropped (they move no decision; they cost file size).
PRUNE = 0.02
#: How many missed attacks one false positive weighs when the threshold is chosen.
FP_COST = 2.0


def load(split: str) -> list[dict]:
    """The split's texts as written: disguises and encodings are the layers' business (the
    classifier reads the canonical, decoded views they give)."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r["split"] == split and r["transform"] == "none"]


def canonical_text(text: str) -> str:
    return next(iter(canonical_views(text))).text


def _matrix(rows: list[set[str]], vocab: dict[str, int]) -> csr_matrix:
    data, indices, indptr = [], [], [0]
    for feats in rows:
        cols = sorted(vocab[f] for f in feats if f in vocab)
        scale = 1.0 / math.sqrt(len(feats)) if feats else 0.0
        indices.extend(cols)
        data.extend([scale] * len(cols))
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), len(vocab)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args()

    train, dev = load("train"), load("dev")
    train_feats = [features(canonical_text(r["text"])) for r in train]
    vocab: dict[str, int] = {}
    for feats in train_feats:
        for f in sorted(feats):
            vocab.setdefault(f, len(vocab))
    x = _matrix(train_feats, vocab)
    y = np.array([r["label"] for r in train])
    # Classes weighted to the same total: the corpus holds more attacks than benign texts.
    clf = LogisticRegression(C=args.c, solver="liblinear", class_weight="balanced")
    clf.fit(x, y)
    names = sorted(vocab, key=vocab.__getitem__)
    weights = {
        name: round(float(w), 4)
        for name, w in zip(names, clf.coef_[0], strict=True)
        if abs(w) >= PRUNE
    }
    model = LinearModel(round(float(clf.intercept_[0]), 4), weights, 0.5, {})

    probs = [model.probability(canonical_text(r["text"])) for r in dev]
    families = sorted({r["family"] for r in dev if r["label"]})
    best = (-math.inf, 0.5, 0.0, 1.0)
    for step in range(5, 100):
        threshold = step / 100
        hits = [p >= threshold for p in probs]
        rates = []
        for family in families:
            found = [h for h, r in zip(hits, dev, strict=True) if r["family"] == family]
            rates.append(sum(found) / len(found))
        benign = [h for h, r in zip(hits, dev, strict=True) if not r["label"]]
        recall = sum(rates) / len(rates)
        fp = sum(benign) / max(1, len(benign))
        gain = round(recall - FP_COST * fp, 9)
        if gain > best[0]:
            best = (gain, threshold, recall, fp)
    _, threshold, recall, fp = best
    meta = {
        "corpus": "benchmarks/injection/corpus.jsonl.gz (train split)",
        "trainer": "scikit-learn LogisticRegression(liblinear, L2, class_weight=balanced)",
        "c": args.c,
        "train_texts": len(train),
        "features_kept": len(weights),
        "dev_block_rate": round(recall, 4),  # the mean over the attack families
        "dev_false_positive_rate": round(fp, 4),
    }
    data = {"bias": model.bias, "threshold": threshold, "weights": weights, "meta": meta}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:
        out.write(blob.encode())
    print(json.dumps({**meta, "threshold": threshold, "bytes": OUT.stat().st_size}, indent=1))


if __name__ == "__main__":
    main()
