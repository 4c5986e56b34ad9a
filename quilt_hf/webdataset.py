"""Write a built dataset's parquet shards as WebDataset tar shards (``jpg``, ``txt``, ``json``) for
streaming training. Keys are the row index within the split, so a sample's three members sit together.

The ``json`` member holds every other column with types that never change from row to row, because
``load_dataset("webdataset")`` infers its features from the first samples: list columns are joined
with `` | `` (an empty list would otherwise infer a ``null`` element type) and missing video times
are ``-1.0``. The parquet shards stay the source of truth.
"""

from __future__ import annotations

import io
import itertools
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

ROWS_PER_TAR = 10_000
LIST_SEPARATOR = " | "
TIME_COLUMNS = ("start_time", "end_time", "image_time")


def write_webdataset(
    parquet_files: list[Path], out_dir: Path, rows_per_tar: int = ROWS_PER_TAR
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.tar"):
        old.unlink()
    written: list[Path] = []
    for split, files in itertools.groupby(parquet_files, key=lambda p: p.name.split("-", 1)[0]):
        rows = enumerate(_rows(list(files)))
        for shard in itertools.count():
            chunk = list(itertools.islice(rows, rows_per_tar))
            if not chunk:
                break
            target = out_dir / f"{split}-{shard:05d}.tar"
            with tarfile.open(target, "w") as tar:
                for index, row in chunk:
                    key = f"{index:09d}"
                    image = row.pop("image")
                    _add(tar, f"{key}.jpg", image["bytes"])
                    _add(tar, f"{key}.txt", row["caption"].encode())
                    _add(tar, f"{key}.json", json.dumps(stable_metadata(row)).encode())
            written.append(target)
    return written


def stable_metadata(row: dict[str, Any]) -> dict[str, Any]:
    metadata = {}
    for name, value in row.items():
        if isinstance(value, list):
            value = LIST_SEPARATOR.join(value)
        elif value is None and name in TIME_COLUMNS:
            value = -1.0
        metadata[name] = value
    return metadata


def _rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256):
            yield from batch.to_pylist()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible tars
    tar.addfile(info, io.BytesIO(data))
