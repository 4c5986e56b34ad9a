"""Linear probing on frozen image features with scikit-learn logistic regression.

For each seed: draw the training subset (all of it, a fraction, or k examples per class), hold
out a validation split from the remaining training data (or use the given one), choose the
inverse regularisation ``C`` on it by balanced accuracy, refit on train + validation, and score
the test set. The report gives the mean and standard deviation over seeds, as the paper does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quilt_hf.errors import QuiltError
from quilt_hf.eval.metrics import load_metric

DEFAULT_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def sample_k_per_class(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` examples of every class (all of a class when it has fewer)."""
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(rng.choice(members, size=min(k, members.size), replace=False))
    return np.sort(np.concatenate(chosen))


def stratified_split(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so ``fraction`` of each class (at least one, when it has two) is held out."""
    held, kept = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_held = int(round(members.size * fraction))
        n_held = max(1, n_held) if members.size > 1 else 0
        held.append(members[:n_held])
        kept.append(members[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def _fit(features: np.ndarray, labels: np.ndarray, c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(features, labels)


def probe_once(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    seed: int,
    shots: int | None = None,
    fraction: float | None = None,
    val_x: np.ndarray | None = None,
    val_y: np.ndarray | None = None,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    val_fraction: float = 0.2,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    if val_x is None:
        train_idx, val_idx = stratified_split(train_y, val_fraction, rng)
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
    if shots is not None:
        pick = sample_k_per_class(train_y, shots, rng)
        train_x, train_y = train_x[pick], train_y[pick]
    elif fraction is not None and fraction < 1.0:
        pick, _ = stratified_split(train_y, 1.0 - fraction, rng)
        train_x, train_y = train_x[pick], train_y[pick]
    if np.unique(train_y).size < 2:
        raise QuiltError("linear probing needs at least two classes in the training split")
    metric = load_metric("classification")
    best_c, best_score = c_grid[0], -1.0
    for c in c_grid:
        predicted = _fit(train_x, train_y, c, seed).predict(val_x)
        score = metric.compute(predictions=predicted.tolist(), references=val_y.tolist())
        if score["balanced_accuracy"] > best_score:
            best_c, best_score = c, score["balanced_accuracy"]
    final = _fit(np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y]), best_c, seed)
    test_metrics = metric.compute(
        predictions=final.predict(test_x).tolist(), references=test_y.tolist()
    )
    return {"seed": seed, "C": best_c, "num_train": int(train_y.size), **test_metrics}


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    seeds: Sequence[int] = (0, 1, 2),
    shots: int | None = None,
    fraction: float | None = None,
    val_x: np.ndarray | None = None,
    val_y: np.ndarray | None = None,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
) -> dict[str, Any]:
    """Probe once per seed and summarise each metric as mean and std (population, ddof=0)."""
    runs = [
        probe_once(train_x, train_y, test_x, test_y, seed, shots, fraction, val_x, val_y, c_grid)
        for seed in seeds
    ]
    metrics = {}
    for name in ("accuracy", "balanced_accuracy", "weighted_f1"):
        values = np.array([run[name] for run in runs])
        metrics[name] = float(values.mean())
        metrics[f"{name}_std"] = float(values.std())
    return {"metrics": metrics, "runs": runs, "shots": shots, "fraction": fraction}
