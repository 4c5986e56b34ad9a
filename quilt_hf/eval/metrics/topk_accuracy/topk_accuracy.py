"""Top-k accuracy: a sample counts when its true class is among the k highest scores.

Ties are broken by class index, as ``torch.topk`` on CPU and CLIP_benchmark's ``accuracy`` do in
practice for distinct scores (cosine scores of real models are distinct).
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Top-k accuracy from per-class scores (e.g. zero-shot cosine logits)."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of float): one score per class for each sample.
    references (list of int): true class ids.
    k (int): how many top classes count as a hit (default 5).
Returns:
    top{k}_accuracy (float)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TopkAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, k=5):
        scores = np.asarray(predictions, dtype=np.float64)
        true = np.asarray(references, dtype=np.int64)
        if scores.ndim != 2 or scores.shape[0] != true.size:
            raise ValueError("predictions must be one row of class scores per reference")
        k = min(int(k), scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        hits = (top == true[:, None]).any(axis=1)
        return {f"top{k}_accuracy": float(hits.mean())}
