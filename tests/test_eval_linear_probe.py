"""Linear probe: C chosen on validation, seeds, k-shot sampling, against a direct sklearn run."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from quilt_hf.eval.linear_probe import linear_probe, probe_once, sample_k_per_class


def blobs(n_per_class: int, seed: int, classes: int = 3, dim: int = 8, spread: float = 1.5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(classes, dim))
    y = np.repeat(np.arange(classes), n_per_class)
    x = centres[y] + spread * rng.normal(size=(y.size, dim))
    return x, y


def test_k_shot_sampling_takes_k_of_each_class() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    picked = sample_k_per_class(labels, 4, np.random.default_rng(0))
    assert np.bincount(labels[picked]).tolist() == [4, 3, 4]


def test_probe_picks_c_on_validation_and_scores_the_test_set() -> None:
    train_x, train_y = blobs(40, 0)
    val_x, val_y = blobs(15, 0)
    test_x, test_y = blobs(30, 0)
    grid = (1e-4, 1e-2, 1.0)
    got = probe_once(
        train_x, train_y, test_x, test_y, seed=0, val_x=val_x, val_y=val_y, c_grid=grid
    )
    # independent: the same selection done directly with sklearn
    scores = [
        balanced_accuracy_score(
            val_y,
            LogisticRegression(C=c, max_iter=1000, random_state=0)
            .fit(train_x, train_y)
            .predict(val_x),
        )
        for c in grid
    ]
    best = grid[int(np.argmax(scores))]
    final = LogisticRegression(C=best, max_iter=1000, random_state=0).fit(
        np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y])
    )
    assert got["C"] == best
    assert got["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(test_y, final.predict(test_x))
    )
    assert got["accuracy"] > 0.6


def test_seeds_give_mean_and_std_and_few_shot_is_worse_than_full() -> None:
    train_x, train_y = blobs(60, 1, spread=2.5)
    test_x, test_y = blobs(60, 1, spread=2.5)
    full = linear_probe(train_x, train_y, test_x, test_y, seeds=(0, 1, 2))
    one_shot = linear_probe(train_x, train_y, test_x, test_y, seeds=(0, 1, 2, 3), shots=1)
    assert len(one_shot["runs"]) == 4 and all(r["num_train"] == 3 for r in one_shot["runs"])
    accs = [r["accuracy"] for r in one_shot["runs"]]
    assert one_shot["metrics"]["accuracy"] == pytest.approx(np.mean(accs))
    assert one_shot["metrics"]["accuracy_std"] == pytest.approx(np.std(accs))
    assert one_shot["metrics"]["accuracy_std"] > 0
    assert full["metrics"]["accuracy"] > one_shot["metrics"]["accuracy"]
