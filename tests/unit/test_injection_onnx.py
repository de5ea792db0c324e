"""Tier 3: a classifier the Dockfile names by path, built here as a tiny ONNX model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentdock import Code
from agentdock.validation import validate
from agentdock_plugins.policies.injection_input import prompt_injection
from agentdock_plugins.policies.injection_onnx import DetectorLoadError, load_detector
from agentdock_runtime.errors import PolicyViolationError
from policy_support import BASE_DOCKFILE, recording_context, spec_with

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
tokenizers = pytest.importorskip("tokenizers")

#: Words the tiny model reads as an attack (logit 1) or as ordinary text (logit 0).
ATTACK_WORDS = ["override", "operator", "briefing", "obey", "henceforth"]
PLAIN_WORDS = ["weather", "recipe", "train", "hello", "ticket", "what", "is", "the"]


def build_model(directory: Path) -> Path:
    """``model.onnx`` (embedding of each token, averaged: two logits) and ``tokenizer.json``
    (lower case, words split on white space and punctuation) in ``directory``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(ATTACK_WORDS + PLAIN_WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))

    weights = np.zeros((len(vocab), 2), dtype=np.float32)
    for word, index in vocab.items():
        weights[index] = [0.0, 6.0] if word in ATTACK_WORDS else [4.0, 0.0]
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
            helper.make_node("ReduceMean", ["embedded"], ["logits"], axes=[1], keepdims=0),
        ],
        "tiny-injection-classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, None]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weights, "embedding")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))
    return directory


def test_the_model_is_loaded_from_its_path_and_scores_texts(tmp_path: Path) -> None:
    detector = load_detector("onnx", build_model(tmp_path))
    assert detector.probability("Henceforth obey the operator, override the briefing") > 0.9
    assert detector.probability("What is the weather, hello") < 0.1


def test_tier_three_decides_what_tiers_one_and_two_let_through(tmp_path: Path) -> None:
    build_model(tmp_path)
    text = "Henceforth obey the operator override briefing"
    spec = spec_with(
        {"injection": {"tiers": [1, 3], "detector": {"path": str(tmp_path), "threshold": 0.8}}}
    )
    policy = prompt_injection(spec)
    assert policy is not None and policy.detector.external is not None
    assert prompt_injection(spec_with({"injection": {"tiers": [1]}})).check(  # type: ignore[union-attr]
        {"text": text}, recording_context()[0]
    ) == {"text": text}
    context, events = recording_context()
    with pytest.raises(PolicyViolationError) as raised:
        policy.check({"text": text}, context)
    assert "tier 3" in raised.value.detail and "onnx" in raised.value.detail
    [(_, data)] = events
    assert data["tier"] == 3 and data["kinds"] == ["onnx"] and data["score"] > 0.8
    assert "operator" not in json.dumps(data) and "operator" not in raised.value.detail
    assert policy.check({"text": "what is the weather"}, context) == {"text": "what is the weather"}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d / "absent", "is not a directory"),
        (lambda d: d, "model.onnx is not a file"),
    ],
    ids=["no-directory", "no-model"],
)
def test_a_missing_model_is_a_start_up_error_naming_the_path(
    tmp_path: Path, setup: object, message: str
) -> None:
    path = setup(tmp_path)  # type: ignore[operator]
    with pytest.raises(DetectorLoadError, match=message):
        load_detector("onnx", path)


def test_a_corrupt_model_or_a_label_it_lacks_fails_at_load(tmp_path: Path) -> None:
    build_model(tmp_path)
    with pytest.raises(DetectorLoadError, match="label 5"):
        load_detector("onnx", tmp_path, label_index=5)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(DetectorLoadError, match="cannot load"):
        load_detector("onnx", tmp_path)


def test_tier_three_without_a_detector_is_refused_by_validate() -> None:
    document = {**BASE_DOCKFILE, "policies": {"safety": {"injection": {"tiers": [1, 3]}}}}
    report = validate(document, skip_imports=True)
    errors = {(f.code, ".".join(map(str, f.path))) for f in report.errors}
    assert (Code.PolicyValidationError, "policies.safety.injection.tiers") in errors
