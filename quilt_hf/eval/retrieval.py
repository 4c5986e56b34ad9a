"""Cross-modal retrieval Recall@K with many-to-many positives, computed in chunks.

Images are de-duplicated (same ``image_sha256`` = same image) so an image's positives are all of
its texts; each text has exactly one positive image. Recall@K counts a query as a hit when *any*
positive is in its top K (CLIP_benchmark's definition). Similarities are computed one block of
queries at a time, so memory is ``chunk_size x N`` rather than ``N x N``.

``recall_at_k`` is the one Recall@K of the project: the trainer's periodic evaluation calls it too,
so training-time recall, ``quilt eval retrieval`` and the model card share the metric and its
names (``image_to_text_R@K``, ``text_to_image_R@K``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quilt_hf.image_groups import image_codes

DEFAULT_KS = (1, 5, 10, 50, 200)  # the paper's retrieval table reports up to R@200 on ARCH


@dataclass
class RetrievalPairs:
    """Unique images and all texts, with ``text_image[i]`` the image index of text ``i``."""

    images: list[Any]
    texts: list[str]
    text_image: np.ndarray


def pairs_from_rows(rows: Sequence[dict[str, Any]], key: str = "image_sha256") -> RetrievalPairs:
    """Group rows by image key (``image_groups.image_codes``: a row without one is its own image)."""
    codes = image_codes([row.get(key) for row in rows])
    _, first_rows = np.unique(codes, return_index=True)  # codes are dense: one per image, in order
    images = [rows[int(row_number)]["image"] for row_number in first_rows]
    return RetrievalPairs(images, [row["caption"] for row in rows], codes)


def recall_at_k(
    image_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    text_image: np.ndarray,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Image->text and text->image Recall@K (percent-free fractions in [0, 1])."""
    import torch

    images = torch.from_numpy(np.ascontiguousarray(image_embeddings, dtype=np.float32))
    texts = torch.from_numpy(np.ascontiguousarray(text_embeddings, dtype=np.float32))
    owner = torch.from_numpy(np.asarray(text_image, dtype=np.int64))
    ks = sorted(set(int(k) for k in ks))
    results: dict[str, float] = {}

    # text -> image: the single positive is owner[t]
    k_max = min(ks[-1], images.shape[0])
    hits_t2i = {k: 0 for k in ks}
    for start in range(0, texts.shape[0], chunk_size):
        scores = texts[start : start + chunk_size] @ images.T
        top = scores.topk(k_max, dim=1).indices
        match = top == owner[start : start + chunk_size, None]
        for k in ks:
            hits_t2i[k] += int(match[:, :k].any(dim=1).sum())

    # image -> text: positives are every text whose owner is this image
    k_max = min(ks[-1], texts.shape[0])
    hits_i2t = {k: 0 for k in ks}
    for start in range(0, images.shape[0], chunk_size):
        scores = images[start : start + chunk_size] @ texts.T
        top = scores.topk(k_max, dim=1).indices
        query_ids = torch.arange(start, start + scores.shape[0])[:, None]
        match = owner[top] == query_ids
        for k in ks:
            hits_i2t[k] += int(match[:, :k].any(dim=1).sum())

    for k in ks:
        results[f"image_to_text_R@{k}"] = hits_i2t[k] / images.shape[0]
        results[f"text_to_image_R@{k}"] = hits_t2i[k] / texts.shape[0]
    return results


def evaluate_retrieval(
    encoder: Any,
    pairs: RetrievalPairs,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int = 1024,
    batch_size: int = 64,
) -> dict[str, Any]:
    image_embeddings = encoder.encode_images(pairs.images, batch_size=batch_size, progress=True)
    text_embeddings = encoder.encode_texts(pairs.texts, progress=True)
    metrics = recall_at_k(image_embeddings, text_embeddings, pairs.text_image, ks, chunk_size)
    return {
        "metrics": metrics,
        "num_images": len(pairs.images),
        "num_texts": len(pairs.texts),
    }


def load_pairs(data: str, split: str = "val", limit: int | None = None) -> RetrievalPairs:
    """Read a quilt_1m-schema dataset (folder or Hub id) into retrieval pairs."""
    import datasets

    from quilt_hf.dataset_loading import load_dataset
    from quilt_hf.errors import QuiltError

    try:
        table = load_dataset(data, split=split)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as error:
        raise QuiltError(f"cannot load split {split!r} of {data!r}: {error}") from error
    missing = [c for c in ("image", "caption") if c not in table.column_names]
    if missing:
        raise QuiltError(f"{data!r} lacks column(s) {missing} needed for retrieval")
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    columns = ["image", "caption"] + (
        ["image_sha256"] if "image_sha256" in table.column_names else []
    )
    rows = table.select_columns(columns)
    return pairs_from_rows(list(rows))
