"""Lay out a dataset folder from a builder: ``data/{split}-XXXXX-of-NNNNN.parquet`` + card.

Shared by ``quilt build`` and ``quilt import``. Everything is written inside ``out_dir``; the
builder's own cache lives in ``out_dir/.quilt_work`` and is removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from quilt_hf.schema import SPLITS
from quilt_hf.shards import read_all_stats

WORK_DIRNAME = ".quilt_work"


def prepare_folder(
    builder: datasets.DatasetBuilder, out_dir: Path, max_shard_bytes: int | None = None
) -> tuple[list[Path], dict[str, int]]:
    """Run ``builder`` and install its parquet files; return them and each split's Arrow bytes."""
    prepared = out_dir / WORK_DIRNAME / f"prepared-{uuid.uuid4().hex[:8]}"
    try:
        builder.download_and_prepare(
            output_dir=str(prepared),
            file_format="parquet",
            max_shard_size=max_shard_bytes,
            download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD,
        )
        files = install_parquet(prepared, out_dir / "data", builder.name)
    finally:
        for leftover in prepared.parent.glob(f"{prepared.name}*"):  # folder, locks, info files
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()
        shutil.rmtree(out_dir / WORK_DIRNAME / "hf_cache", ignore_errors=True)
    # the writer's uncompressed Arrow sizes: what dataset_info's num_bytes means on the Hub
    split_bytes = {name: info.num_bytes for name, info in (builder.info.splits or {}).items()}
    return files, split_bytes


def builder_cache_dir(out_dir: Path) -> str:
    return str(out_dir / WORK_DIRNAME / "hf_cache")


def install_parquet(prepared: Path, data_dir: Path, builder_name: str) -> list[Path]:
    """Move the builder's parquet files to ``data/{split}-XXXXX-of-NNNNN.parquet``, replacing the
    previous build's files only once the new ones are complete."""
    staged = data_dir.with_name(data_dir.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for split in SPLITS:
        sources = sorted(prepared.glob(f"{builder_name}-{split}*.parquet"))
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
