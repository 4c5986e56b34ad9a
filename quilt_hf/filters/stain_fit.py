"""Fit the stain classifier's logistic model and write the JSON that ships in ``quilt_hf/resources``.

    python -m quilt_hf.filters.stain_fit --out quilt_hf/resources/stain_classifier.json

Fitting images: crops from the ``fit`` region of the real slides + synthetic non-histology drawn
with ``--seed``; evaluation images: crops from the disjoint ``eval`` region + synthetic images
drawn with ``--eval_seed``. Both accuracies are written into the JSON, so the shipped model says
how it was made. scikit-learn is needed only here; prediction needs numpy alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from quilt_hf.filters.stain_features import FEATURE_NAMES, stain_feature_matrix
from quilt_hf.synthetic.labelled_images import PHOTOS_HELD_OUT, labelled_images

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "resources" / "stain_classifier.json"


def _scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": int(len(labels)),
        "accuracy": float(np.mean(predicted == labels)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def fit_stain_model(
    n_fit: int = 1200, n_eval: int = 600, seed: int = 0, eval_seed: int = 1, c: float = 1.0
) -> dict[str, Any]:
    """Fit on generated images and return the model as a JSON-ready dict (with both scores)."""
    from PIL import Image
    from skimage import data
    from sklearn.linear_model import LogisticRegression

    fit_images, fit_labels, _ = labelled_images("fit", n_fit, seed)
    eval_images, eval_labels, eval_kinds = labelled_images("eval", n_eval, eval_seed)
    fit_x = stain_feature_matrix(fit_images)
    eval_x = stain_feature_matrix(eval_images)
    mean = fit_x.mean(axis=0)
    scale = fit_x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((fit_x - mean) / scale, fit_labels)
    fit_pred = model.predict((fit_x - mean) / scale)
    eval_pred = model.predict((eval_x - mean) / scale)
    # whole real photographs that were never fitted on (crops of them are in the held-out set)
    photos = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in PHOTOS_HELD_OUT]
    photo_p = model.predict_proba((stain_feature_matrix(photos) - mean) / scale)[:, 1]
    errors_by_kind: dict[str, int] = {}
    for kind, label, pred in zip(eval_kinds, eval_labels, eval_pred, strict=True):
        if label != pred:
            errors_by_kind[kind] = errors_by_kind.get(kind, 0) + 1
    return {
        "model": "logistic regression on standardised stain/texture features",
        "feature_names": list(FEATURE_NAMES),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
        "threshold": 0.5,
        "fitting": {"part": "fit", "seed": seed, "C": c, **_scores(fit_labels, fit_pred)},
        "held_out": {
            "part": "eval",
            "seed": eval_seed,
            **_scores(eval_labels, eval_pred),
            "errors_by_kind": errors_by_kind,
        },
        "held_out_whole_photos_p_histology": {
            name: round(float(p), 4) for name, p in zip(PHOTOS_HELD_OUT, photo_p, strict=True)
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--n_fit", type=int, default=1200)
    parser.add_argument("--n_eval", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval_seed", type=int, default=1)
    parser.add_argument("--C", type=float, default=1.0, dest="c")
    args = parser.parse_args(argv)
    result = fit_stain_model(args.n_fit, args.n_eval, args.seed, args.eval_seed, args.c)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    report = ("fitting", "held_out", "held_out_whole_photos_p_histology")
    print(json.dumps({key: result[key] for key in report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
