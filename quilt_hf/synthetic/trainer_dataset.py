"""A tiny quilt_1m-layout dataset for the trainer tests and benchmark.

``write_tiny_dataset`` writes ``data/{split}-XXXXX-of-XXXXX.parquet`` + ``README.md`` with YAML
``configs:`` (as ``quilt build`` does), from real IHC crops (``quilt_hf.synthetic.histology``):
some images have several rows (same ``image_sha256``), one row has an ``roi_text`` list, one row has
corrupt image bytes and one caption is longer than 77 tokens. ``write_tiny_webdataset`` writes the
same train/val rows as ``webdataset/{split}-XXXXX.tar`` with ``jpg``/``txt``/``json`` members.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from quilt_hf.synthetic.histology import slide_jpegs
from quilt_hf.synthetic.quilt_folder import write_quilt_rows

WORDS = [
    "hematoxylin",
    "eosin",
    "stained",
    "section",
    "showing",
    "glandular",
    "epithelium",
    "with",
    "nuclear",
    "atypia",
    "mitotic",
    "figures",
    "stroma",
    "lymphocytes",
    "necrosis",
    "fibrosis",
    "carcinoma",
    "adenoma",
    "immunostain",
    "positive",
    "membranous",
    "cytoplasmic",
    "brown",
    "chromogen",
    "high",
    "power",
    "low",
    "power",
    "field",
]
LONG_CAPTION = " ".join(["this lecture slide shows an immunohistochemistry stain"] * 12)
CORRUPT_BYTES = b"\xff\xd8\xff\xe0 this is not really a jpeg"


def ihc_crops(count: int, size: int, seed: int) -> list[bytes]:
    """``count`` JPEG tiles (``size`` px) of the real IHC slide."""
    return slide_jpegs("IHC", count, size, seed, quality=90)


def _row(
    image: bytes, caption: str, split: str, index: int, roi: list[str] | None = None
) -> dict[str, Any]:
    sha = hashlib.sha256(image).hexdigest()
    return {
        "image": {"bytes": image, "path": f"quilt_{sha[:16]}.jpg"},
        "image_path": f"quilt_{sha[:16]}.jpg",
        "caption": caption,
        "subset": "quilt",
        "split": split,
        "pathology": ["general"],
        "roi_text": roi if roi is not None else [caption.split(" ")[0]],
        "noisy_text": caption.lower(),
        "corrected_text": caption,
        "med_umls_ids": [],
        "magnification": 1,
        "height": 96,
        "width": 96,
        "single_wsi": 1,
        "not_histology": 0,
        "source_id": f"video{index % 5}",
        "start_time": float(index),
        "end_time": float(index) + 5.0,
        "image_sha256": sha,
        "image_url": f"https://www.youtube.com/watch?v=video{index % 5}",
        "image_time": float(index),
        "text_source": "asr_corrected",
        "license": "cc-by-4.0",
    }


def tiny_rows(split: str, num_images: int, seed: int, image_size: int = 96) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    images = ihc_crops(num_images, image_size, seed)
    rows = []
    for i, image in enumerate(images):
        caption = " ".join(rng.choice(WORDS, size=int(rng.integers(4, 12))))
        rows.append(_row(image, caption, split, i))
        if i % 4 == 0:  # many-to-many: a second row (another text) for the same image
            rows.append(_row(image, "another description: " + caption, split, i))
    rows[1]["roi_text"] = ["glands with atypia", "brown membranous stain", "dense stroma"]
    if split == "train":
        rows[2]["caption"] = LONG_CAPTION
        corrupt = _row(CORRUPT_BYTES, "a row whose image bytes are corrupt", split, len(rows))
        rows.append(corrupt)
    return rows


def write_tiny_dataset(
    root: Path,
    num_train: int = 48,
    num_val: int = 12,
    seed: int = 0,
    image_size: int = 96,
    shards: int = 2,
) -> Path:
    """Write a quilt_1m-layout folder at ``root`` (``shards`` train shards) and return it."""
    splits = {
        "train": tiny_rows("train", num_train, seed, image_size),
        "val": tiny_rows("val", num_val, seed + 1, image_size),
    }
    return write_quilt_rows(root, splits, train_shards=shards)


def write_tiny_webdataset(root: Path, num_train: int = 24, num_val: int = 8, seed: int = 0) -> Path:
    """The same kind of rows as ``webdataset/{split}-00000.tar`` (jpg, txt, json members)."""
    (root / "webdataset").mkdir(parents=True, exist_ok=True)
    for split, count in (("train", num_train), ("val", num_val)):
        rows = tiny_rows(split, count, seed)
        with tarfile.open(root / "webdataset" / f"{split}-00000.tar", "w") as tar:
            for i, row in enumerate(rows):
                meta = {
                    k: row[k] for k in ("image_sha256", "corrected_text", "roi_text", "source_id")
                }
                members = {
                    "jpg": row["image"]["bytes"],
                    "txt": row["caption"].encode(),
                    "json": json.dumps(meta).encode(),
                }
                for ext, payload in members.items():
                    info = tarfile.TarInfo(f"{i:06d}.{ext}")
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
    return root
