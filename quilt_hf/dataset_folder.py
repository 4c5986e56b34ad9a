"""Lay out a dataset folder: ``data/{split}-XXXXX-of-NNNNN.parquet`` + ``README.md`` (card).

Shared by ``quilt build`` and ``quilt import``. Everything is written inside ``out_dir``; work
files live in ``out_dir/.quilt_work``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.dataset_card import DatasetSummary, write_dataset_card
from quilt_hf.schema import FEATURES, SPLITS
from quilt_hf.shards import open_parquet_writer, read_all_stats

WORK_DIRNAME = ".quilt_work"
DEFAULT_MAX_SHARD_BYTES = 500_000_000


@dataclass
class WrittenFolder:
    files: list[Path]  # data/{split}-XXXXX-of-NNNNN.parquet
    split_bytes: dict[str, int]  # Arrow bytes per split (the card's num_bytes)
    summary: DatasetSummary  # what the card says


def write_dataset_folder(
    out_dir: Path,
    splits: Mapping[str, Iterable[pa.Table]],
    *,
    counts: dict[str, dict[str, int]],
    skipped: Mapping[str, int],
    repo_id: str,
    gated: bool = False,
    max_shard_bytes: int | None = None,
    **card_fields: Any,
) -> WrittenFolder:
    """Write ``splits`` (split name -> tables in the final schema) as the dataset folder's parquet
    shards, replacing the previous ones only once all are written, and its card.

    The one folder writer of ``quilt build`` and ``quilt import``. Tables are written with pyarrow:
    datasets' parquet writer re-embeds every image row by row in Python
    (``embed_table_storage``), which made assembly 3.5x slower than a plain pyarrow write
    (benchmarks/bench_build.py), and our tables already carry the image bytes in the final schema.
    """
    staged = out_dir / WORK_DIRNAME / f"prepared-{uuid.uuid4().hex[:8]}"
    staged.mkdir(parents=True)
    split_bytes: dict[str, int] = {}
    try:
        for split, tables in splits.items():
            split_bytes[split] = write_split(
                tables, staged, split, max_shard_bytes or DEFAULT_MAX_SHARD_BYTES
            )
        files = install_parquet(staged, out_dir / "data")
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    summary = summarize_folder(files, split_bytes, counts, skipped, **card_fields)
    write_dataset_card(out_dir, summary, repo_id=repo_id, gated=gated)
    return WrittenFolder(files=files, split_bytes=split_bytes, summary=summary)


def write_split(tables: Iterable[pa.Table], folder: Path, split: str, max_bytes: int) -> int:
    """Stream ``tables`` into ``folder/{split}-XXXXX.parquet`` files of at most ~``max_bytes``
    (uncompressed Arrow bytes); return the split's total Arrow bytes."""
    schema = FEATURES.arrow_schema  # carries the HF features metadata: Image decodes on load
    total, shard_bytes, shard, writer = 0, 0, 0, None
    try:
        for table in tables:
            if writer is None or shard_bytes >= max_bytes:
                if writer is not None:
                    writer.close()
                    shard += 1
                writer = open_parquet_writer(folder / f"{split}-{shard:05d}.parquet", schema)
                shard_bytes = 0
            table = table.cast(schema)
            writer.write_table(table)
            shard_bytes += table.nbytes
            total += table.nbytes
    finally:
        if writer is not None:
            writer.close()
    return total


def work_shards_dir(out_dir: Path, settings: dict[str, Any]) -> Path:
    """Where finished work shards live, keyed by everything that shapes their rows.

    A rerun with the same settings resumes from the finished shards; a rerun with other filters,
    image options or sources starts from fresh shards instead of silently reusing rows made under
    the old settings.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    return out_dir / WORK_DIRNAME / f"shards-{digest[:12]}"


def install_parquet(prepared: Path, data_dir: Path) -> list[Path]:
    """Move the builder's parquet files to ``data/{split}-XXXXX-of-NNNNN.parquet``, replacing the
    previous build's files only once the new ones are complete."""
    staged = data_dir.with_name(data_dir.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for split in SPLITS:
        sources = sorted(prepared.glob(f"{split}-*.parquet"))
        for index, source in enumerate(sources):
            os.replace(source, staged / f"{split}-{index:05d}-of-{len(sources):05d}.parquet")
    if data_dir.exists():
        old = data_dir.with_name(data_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(data_dir, old)
        os.replace(staged, data_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, data_dir)
    return sorted(data_dir.glob("*.parquet"))


def summarize_folder(
    files: list[Path],
    split_bytes: dict[str, int],
    counts: dict[str, dict[str, int]],
    skipped: Mapping[str, int],
    **card_fields: Any,
) -> DatasetSummary:
    """What the dataset card says about a freshly written folder (sizes and image count measured
    from its files)."""
    return DatasetSummary(
        counts=counts,
        split_bytes=split_bytes,
        unique_images=count_unique_images(files),
        download_size=sum(f.stat().st_size for f in files),
        skipped=dict(skipped),
        **card_fields,
    )


def count_unique_images(files: list[Path]) -> int:
    seen: set[str] = set()
    for path in files:
        seen.update(pq.read_table(path, columns=["image_sha256"]).column(0).to_pylist())
    return len(seen)


def skipped_by_reason(directories: list[Path]) -> Counter:
    skipped: Counter = Counter()
    for directory in directories:
        for stats in read_all_stats(directory):
            skipped.update(stats.skipped)
    return skipped
