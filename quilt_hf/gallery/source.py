"""Rows of a built dataset as pyarrow batches, without decoding images.

A local folder (``quilt build`` output: ``data/{split}-XXXXX-of-NNNNN.parquet``) is read with
pyarrow directly: it streams a 1M-row dataset in small batches with flat memory. Anything else is
taken as a Hub id (or a folder ``load_dataset`` understands) and read through ``datasets`` with the
image column left undecoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.dataset_loading import load_dataset
from quilt_hf.errors import QuiltError

# What the gallery reads; columns a dataset lacks are filled with nulls.
COLUMNS = (
    "image",
    "image_path",
    "caption",
    "subset",
    "split",
    "pathology",
    "med_umls_ids",
    "magnification",
    "source_id",
    "image_url",
    "image_time",
    "start_time",
    "end_time",
    "image_sha256",
)
BATCH_ROWS = 1000


def parquet_files(folder: Path) -> list[Path]:
    """The folder's parquet shards, train before val (the order the gallery shows)."""
    files = sorted(folder.glob("data/*.parquet")) or sorted(folder.glob("*.parquet"))
    return sorted(files, key=lambda p: (0 if p.name.startswith("train") else 1, p.name))


def iter_batches(dataset: str | Path, max_rows: int | None = None) -> Iterator[pa.Table]:
    """Yield tables of at most ``BATCH_ROWS`` rows with ``COLUMNS`` (in that order)."""
    path = Path(dataset)
    if path.is_dir() and parquet_files(path):
        batches = _parquet_batches(parquet_files(path))
    elif path.exists():
        raise QuiltError(f"{path} holds no parquet files (expected {path}/data/*.parquet)")
    else:
        batches = _datasets_batches(str(dataset))
    remaining = max_rows
    for table in batches:
        if remaining is not None:
            if remaining <= 0:
                return
            table = table.slice(0, remaining)
            remaining -= table.num_rows
        yield _with_columns(table)


def _parquet_batches(files: list[Path]) -> Iterator[pa.Table]:
    for file in files:
        try:
            handle = pq.ParquetFile(file)
        except (pa.ArrowInvalid, OSError) as error:
            raise QuiltError(f"cannot read {file}: {error}") from error
        columns = [c for c in COLUMNS if c in handle.schema_arrow.names]
        if "caption" not in columns:
            raise QuiltError(f"{file} has no caption column: not a quilt_1m-schema dataset")
        for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            yield pa.Table.from_batches([batch])


def _datasets_batches(name: str) -> Iterator[pa.Table]:
    import datasets

    try:
        splits = load_dataset(name)
    except Exception as error:  # noqa: BLE001 - any loading failure is the user's input
        raise QuiltError(f"cannot load dataset {name!r}: {error}") from error
    if isinstance(splits, datasets.Dataset):
        splits = {"train": splits}
    for split_name in sorted(splits, key=lambda s: (s != "train", s)):
        split = splits[split_name]
        if "image" in split.column_names:
            split = split.cast_column("image", datasets.Image(decode=False))
        columns = [c for c in COLUMNS if c in split.column_names]
        yield from split.select_columns(columns).with_format("arrow").iter(batch_size=BATCH_ROWS)


def _with_columns(table: pa.Table) -> pa.Table:
    """Missing columns become nulls so every batch has the same shape."""
    arrays = []
    for name in COLUMNS:
        if name in table.column_names:
            arrays.append(table.column(name))
        else:
            arrays.append(pa.nulls(table.num_rows))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))
