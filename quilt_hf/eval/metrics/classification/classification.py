"""Classification metrics as reported for zero-shot and linear probing (CLIP_benchmark / CONCH).

accuracy: share of correct predictions.
balanced_accuracy: mean per-class recall over the classes present in the references
  (CLIP_benchmark's ``mean_per_class_recall``).
weighted_f1: per-class F1 averaged with weights = class support in the references.
Written with numpy only so tests can check it against scikit-learn independently.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy, balanced accuracy (mean per-class recall) and support-weighted F1."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
Returns:
    accuracy (float), balanced_accuracy (float), weighted_f1 (float)
"""
_CITATION = "Ikezogwo et al., Quilt-1M, NeurIPS 2023 Datasets and Benchmarks (arXiv 2306.11207)."


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Classification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references):
        predicted = np.asarray(predictions, dtype=np.int64)
        true = np.asarray(references, dtype=np.int64)
        if true.size == 0:
            raise ValueError("no references to score")
        correct = predicted == true
        present = np.unique(true)
        recalls = [correct[true == label].mean() for label in present]
        f1_sum = 0.0
        for label in np.union1d(present, np.unique(predicted)):
            true_positive = np.sum(correct & (true == label))
            predicted_count = np.sum(predicted == label)
            support = np.sum(true == label)
            denominator = predicted_count + support
            f1 = 2.0 * true_positive / denominator if denominator else 0.0
            f1_sum += f1 * support
        return {
            "accuracy": float(correct.mean()),
            "balanced_accuracy": float(np.mean(recalls)),
            "weighted_f1": float(f1_sum / true.size),
        }
