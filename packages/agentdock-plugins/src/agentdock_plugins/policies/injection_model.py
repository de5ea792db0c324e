"""Tier 2 of the prompt-injection defence: a linear classifier shipped with AgentDock.

Rules (tier 1) catch the phrases they name; an attack worded another way ("set aside what
you were told", a role-play preamble of a kind never seen) needs a model of how attacks are
written. This one is a logistic regression over the words and word pairs of a text's
canonical form (:func:`~agentdock_plugins.policies.injection_normal.canonical`; in scripts
written without spaces, pairs of characters), each present feature counting once and the
sum divided by the square root of their number (an L2-normalised binary vector, so long
benign documents are not pushed either way by their length).

Its weights (``injection_model.json.gz``, beside this module) are trained by
``benchmarks/injection/train.py`` on the train split of the corpus that
``benchmarks/injection/build_corpus.py`` builds (its sources and licences in
``benchmarks/injection/SOURCES.md``). Only features with a weight are kept, as a plain
``dict``: scoring is a split, a set, its intersection with the weighted features and one
look-up per feature found there, in pure Python, loaded once (:func:`default_model`),
never per request.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import pairwise

__all__ = [
    "MIN_WORDS",
    "MODEL_FILE",
    "Key",
    "LinearModel",
    "default_model",
    "features",
    "keys",
    "words",
]

MODEL_FILE = "injection_model.json.gz"
#: Words, as canonical form leaves them (letters and digits of any script, and ``'``).
_WORD = re.compile(r"[^\W_][\w']*")
#: Characters of scripts written without spaces (CJK ideographs, kana, Hangul syllables).
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
#: Features read per text at most: beyond this, more of a long document adds nothing.
MAX_FEATURES = 4096


#: Texts of fewer words are not read (probability 0): a field of one or two words (a role,
#: a name, an enum value) holds no instruction to hijack anything, and a linear model over
#: so few features says more about the words than about the text.
MIN_WORDS = 4


#: ASCII bytes a word holds (letters, digits, ``_`` and ``'``) kept, every other a space.
_ASCII_WORD_BYTES = bytes(
    i if (48 <= i <= 57 or 65 <= i <= 90 or 97 <= i <= 122 or i in (39, 95)) else 32
    for i in range(256)
)


#: A space and the ``_`` and ``'`` after it: no word starts with them.
_LEADING = re.compile(r" ['_]+")


def words(text: str) -> list[str]:
    """The words of ``text`` as :data:`_WORD` finds them. ASCII text, the common case, is
    split in C: every run of word bytes is one match, from its first letter or digit (the
    ``_`` and ``'`` that open a run are blanked first, where a run has them, so no word is
    touched in Python)."""
    if not text.isascii():
        return _WORD.findall(text)
    shaped = " " + text.encode("ascii").translate(_ASCII_WORD_BYTES).decode("ascii")
    if " '" in shaped or " _" in shaped:
        shaped = _LEADING.sub(" ", shaped)
    return shaped.split()


#: A feature as the model looks it up: a word or a pair of characters (``str``), or a pair
#: of words (``tuple``).
Key = str | tuple[str, str]


def keys(text: str) -> set[Key]:
    """:func:`features` of canonical ``text`` with each word pair a tuple ``(a, b)``, not the
    string ``"a b"``: a tuple of two words is made and hashed in C from their hashes, where
    joining each pair made a new string (4 KB of prose: some 90 µs for its 600 pairs
    joined, 40 as tuples)."""
    found_words = words(text[: MAX_FEATURES * 8])
    found: set[Key] = set(found_words)
    found.update(pairwise(found_words))
    if not text.isascii():
        for run in _UNSPACED.findall(text):
            found.update(map(str.__add__, run, run[1:]))
    return found


def features(text: str) -> set[str]:
    """The features of canonical ``text``: its words, its adjacent word pairs (``a b``), and
    in runs of unspaced scripts each pair of characters (the names the weights are stored
    by). A word holds no space, so each pair's name is one pair's alone: :func:`keys` has
    as many features."""
    return {key if type(key) is str else " ".join(key) for key in keys(text)}


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A bias, a weight per feature, and the probability above which a text is an attack."""

    bias: float
    weights: dict[str, float]
    threshold: float
    #: What the model was trained on, as the training script recorded it.
    meta: dict[str, object]
    #: The weights by :func:`keys`' features (a word pair's name ``"a b"`` as ``(a, b)``).
    _scored: dict[Key, float] = field(init=False, repr=False, compare=False)
    #: The features with a weight: a text's features meet them in one C-level intersection.
    _weighted: frozenset[Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scored: dict[Key, float] = {}
        for name, weight in self.weights.items():
            first, space, second = name.partition(" ")
            # A name of more than two words is no feature of a text: kept as it is, unmet.
            scored[(first, second) if space and " " not in second else name] = weight
        object.__setattr__(self, "_scored", scored)
        object.__setattr__(self, "_weighted", frozenset(scored))

    def probability(self, text: str) -> float:
        """The probability that canonical ``text`` is an injection."""
        found = keys(text)
        if len(found) < MIN_WORDS * 2 - 1:  # n words give n words and n - 1 pairs
            return 0.0
        # Only the features with a weight are looked up: a long text's thousands of unseen
        # words and pairs cost one hash lookup each, in C (the sum's order, like the set's,
        # is arbitrary either way).
        total = sum(map(self._scored.__getitem__, found & self._weighted))
        z = self.bias + total / math.sqrt(len(found))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LinearModel:
        weights = data["weights"]
        if not isinstance(weights, dict):
            raise ValueError("injection model: 'weights' is not an object")
        return cls(
            bias=float(data["bias"]),  # type: ignore[arg-type]
            weights={str(k): float(v) for k, v in weights.items()},
            threshold=float(data["threshold"]),  # type: ignore[arg-type]
            meta=dict(data.get("meta") or {}),  # type: ignore[call-overload]
        )


@lru_cache(maxsize=1)
def default_model() -> LinearModel:
    """The shipped model, read once per process."""
    raw = resources.files(__package__).joinpath(MODEL_FILE).read_bytes()
    return LinearModel.from_json(json.loads(gzip.decompress(raw)))
