"""Tier 3 of the prompt-injection defence: a classifier the user names by path.

Heavier models than the shipped one (a Prompt Guard or DeBERTa injection classifier, say)
catch what a linear model cannot, at the cost of milliseconds per text. The Dockfile names a
directory (``policies.safety.injection.detector.path``) holding the model exported to ONNX
(``model.onnx``) and its Hugging Face tokenizer (``tokenizer.json``): the ``onnx`` kind, run
with ``onnxruntime`` and ``tokenizers`` (``pip install agentdock-plugins[onnx]``). The model
takes ``input_ids`` and ``attention_mask`` (and ``token_type_ids`` when it declares them), of
shape ``[1, tokens]``, int64, and returns logits ``[1, labels]``; the probability of label
``label`` (softmax) is the score. Both files are loaded once, when the policy is built; a
missing file or library is a clear start-up error naming the path, never a failure per
request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DetectorLoadError", "OnnxDetector", "load_detector"]

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


class DetectorLoadError(RuntimeError):
    """The tier-3 model named by the Dockfile could not be loaded (the message says why)."""


@dataclass
class OnnxDetector:
    """A text classifier exported to ONNX, with its tokenizer, loaded once."""

    path: Path
    label_index: int = 1
    max_tokens: int = 512
    label: str = "onnx"
    _session: Any = field(init=False, repr=False)
    _tokenizer: Any = field(init=False, repr=False)
    _inputs: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        model, tokenizer = self.path / MODEL_FILE, self.path / TOKENIZER_FILE
        for needed in (model, tokenizer):
            if not needed.is_file():
                raise DetectorLoadError(f"injection detector: {needed} is not a file")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise DetectorLoadError(
                "injection detector: the onnx kind needs onnxruntime and tokenizers "
                "(pip install 'agentdock-plugins[onnx]')"
            ) from exc
        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer))
            self._tokenizer.enable_truncation(self.max_tokens)
            self._tokenizer.no_padding()
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a corrupt file: one line naming it, at start-up
            raise DetectorLoadError(
                f"injection detector: cannot load {self.path} ({type(exc).__name__})"
            ) from exc
        self._inputs = frozenset(i.name for i in self._session.get_inputs())
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing:
            raise DetectorLoadError(
                f"injection detector: {model} has no input {', '.join(sorted(missing))}"
            )

    def probability(self, text: str) -> float:
        """Softmax probability of ``label_index`` for ``text``."""
        import numpy as np

        encoding = self._tokenizer.encode(text)
        if not encoding.ids:
            return 0.0
        feed = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        }
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.array([encoding.type_ids], dtype=np.int64)
        logits = [float(x) for x in self._session.run(None, feed)[0][0]]
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        return exps[self.label_index] / sum(exps)


def load_detector(kind: str, path: str | Path, *, label_index: int = 1) -> OnnxDetector:
    """The tier-3 detector of ``kind`` (``onnx``) at ``path``, loaded now."""
    if kind != "onnx":
        raise DetectorLoadError(f"injection detector: unknown kind {kind!r} (known: onnx)")
    directory = Path(path)
    if not directory.is_dir():
        raise DetectorLoadError(f"injection detector: {directory} is not a directory")
    detector = OnnxDetector(directory, label_index=label_index)
    try:  # one call now: a label the model does not have fails here, not per request
        detector.probability("hello")
    except Exception as exc:
        raise DetectorLoadError(
            f"injection detector: {directory} cannot score a text with label {label_index} "
            f"({type(exc).__name__})"
        ) from exc
    return detector
