"""Zero-shot classification the CLIP_benchmark way.

For each class, every (synonym x template) prompt is embedded and L2-normalised; the class
embedding is their mean, normalised again. An image is scored against every class by cosine
similarity. Metrics: accuracy, balanced accuracy (mean per-class recall), weighted F1 and, with
more than five classes, top-5 accuracy, computed by the project's local ``evaluate`` modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quilt_hf.eval.embeddings import ClipEncoder
from quilt_hf.eval.metrics import load_metric


def prompts_for(classnames: Sequence[Sequence[str]], templates: Sequence[str]) -> list[list[str]]:
    """The prompts of each class: every synonym in every template (``{c}`` is the name)."""
    return [[t.format(c=name) for name in synonyms for t in templates] for synonyms in classnames]


def class_embeddings(
    encoder: ClipEncoder, classnames: Sequence[Sequence[str]], templates: Sequence[str]
) -> np.ndarray:
    """One normalised embedding per class, ``[num_classes, dim]``."""
    per_class = prompts_for(classnames, templates)
    flat = [prompt for prompts in per_class for prompt in prompts]
    text = encoder.encode_texts(flat)
    return average_class_embeddings(text, [len(p) for p in per_class])


def average_class_embeddings(text_embeddings: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """Mean of each class's consecutive (already normalised) prompt embeddings, renormalised."""
    if sum(counts) != len(text_embeddings):
        raise ValueError("counts must cover every prompt embedding")
    bounds = np.cumsum([0, *counts])
    means = np.stack(
        [text_embeddings[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    )
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def zeroshot_scores(image_embeddings: np.ndarray, classifier: np.ndarray) -> np.ndarray:
    """Cosine similarity of every image to every class (both inputs are normalised)."""
    return image_embeddings @ classifier.T


def zeroshot_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predictions = scores.argmax(axis=1)
    metrics = load_metric("classification").compute(
        predictions=predictions.tolist(), references=labels.tolist()
    )
    if scores.shape[1] > 5:
        metrics.update(
            load_metric("topk_accuracy").compute(
                predictions=scores.tolist(), references=labels.tolist(), k=5
            )
        )
    return metrics


def evaluate_zeroshot(
    encoder: ClipEncoder,
    images: Sequence[Any],
    labels: np.ndarray,
    classnames: Sequence[Sequence[str]],
    templates: Sequence[str],
    batch_size: int = 64,
) -> dict[str, Any]:
    classifier = class_embeddings(encoder, classnames, templates)
    image_embeddings = encoder.encode_images(images, batch_size=batch_size, progress=True)
    scores = zeroshot_scores(image_embeddings, classifier)
    return {
        "metrics": zeroshot_metrics(scores, labels),
        "num_images": int(len(labels)),
        "num_classes": int(len(classnames)),
        "num_templates": int(len(templates)),
    }
