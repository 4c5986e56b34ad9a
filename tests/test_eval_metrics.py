"""The local evaluate modules load offline by path and agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, top_k_accuracy_score

from quilt_hf.errors import QuiltError
from quilt_hf.eval.metrics import load_metric, metric_path


@pytest.mark.parametrize("seed", range(5))
def test_classification_module_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 6, 200)
    predicted = np.where(rng.random(200) < 0.6, true, rng.integers(0, 7, 200))  # class 6 never true
    got = load_metric("classification").compute(
        predictions=predicted.tolist(), references=true.tolist()
    )
    assert got["accuracy"] == pytest.approx(accuracy_score(true, predicted), abs=1e-12)
    with pytest.warns(UserWarning):  # sklearn warns about the predicted-only class
        expected_balanced = balanced_accuracy_score(true, predicted)
    assert got["balanced_accuracy"] == pytest.approx(expected_balanced, abs=1e-12)
    expected_f1 = f1_score(true, predicted, average="weighted", zero_division=0)
    assert got["weighted_f1"] == pytest.approx(expected_f1, abs=1e-12)


def test_topk_module_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(300, 9))
    true = rng.integers(0, 9, 300)
    for k in (1, 3, 5):
        got = load_metric("topk_accuracy").compute(
            predictions=scores.tolist(), references=true.tolist(), k=k
        )
        expected = top_k_accuracy_score(true, scores, k=k, labels=list(range(9)))
        assert got[f"top{k}_accuracy"] == pytest.approx(expected, abs=1e-12)


def test_metric_modules_are_local_files() -> None:
    assert (metric_path("classification") / "classification.py").is_file()
    with pytest.raises(QuiltError, match="unknown metric"):
        metric_path("bleu")
