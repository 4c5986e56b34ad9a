"""Web (LAION-style) pairs: parquet metadata rows (url, alt-text caption, similarity...) + downloads.

Shards are row ranges of one parquet file (``shard_size`` rows), read with pyarrow one row group at
a time, so memory does not grow with the file. Column names follow img2dataset/LAION in either case:
``url``/``URL``, ``caption``/``TEXT``, ``similarity``, ``width``, ``height``, ``license``/``LICENSE``.
Rows under ``min_similarity`` are ``low_similarity`` skips (a row with no similarity is kept only
when ``min_similarity <= 0``); rows without a url or caption are skipped with a reason; images
come through ``quilt_hf.download`` whose failures (``http_500``, ``timeout``, ``x_robots_noai``,
``not_an_image``...) become skips with the url as detail. ``source_id`` is the url.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.download import DownloadOptions, download_many
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import expand_patterns
from quilt_hf.sources.licenses import license_name

SUBSET = "laion"
COLUMN_ALIASES = {
    "url": ("url",),
    "caption": ("caption", "text", "alt", "alt_text"),
    "similarity": ("similarity",),
    "license": ("license",),
}


def _columns(schema: pa.Schema) -> dict[str, str]:
    """Our column name -> the file's column name, for the columns present."""
    by_lower = {name.lower(): name for name in schema.names}
    found = {}
    for ours, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in by_lower:
                found[ours] = by_lower[alias]
                break
    return found


def plan_shards(
    config: dict, base_dir: Path, shard_size: int, options: dict | None = None
) -> list[ShardTask]:
    if shard_size < 1:
        raise QuiltError("shard_size must be >= 1")
    try:
        min_similarity = float(config.get("min_similarity", 0.0))
    except (TypeError, ValueError) as error:
        raise QuiltError(f"laion min_similarity must be a number: {error}") from error
    task_options = {
        "download": DownloadOptions.of((options or {}).get("download")),
        "min_similarity": min_similarity,
    }
    tasks = []
    for path in expand_patterns(config.get("metadata"), base_dir, what="laion metadata"):
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise QuiltError(
                f"laion metadata {path} is not a readable parquet file: {error}"
            ) from error
        if "url" not in _columns(parquet.schema_arrow):
            raise QuiltError(
                f"laion metadata {path} has no url column ({parquet.schema_arrow.names})"
            )
        rows = parquet.metadata.num_rows
        for start in range(0, rows, shard_size):
            item = {"path": str(path), "start": start, "stop": min(rows, start + shard_size)}
            tasks.append((item, task_options))
    return [
        ShardTask(subset=SUBSET, shard_id=f"{SUBSET}-{number:05d}", items=(item,), options=opts)
        for number, (item, opts) in enumerate(tasks)
    ]


def read_rows(path: str, start: int, stop: int) -> Iterator[dict[str, Any]]:
    """Rows ``start <= i < stop`` of a parquet file with our column names, one row group at a time."""
    parquet = pq.ParquetFile(path)
    columns = _columns(parquet.schema_arrow)
    offset = 0
    for group in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        if offset + size > start and offset < stop:
            table = parquet.read_row_group(group, columns=list(columns.values()))
            table = table.slice(
                max(0, start - offset), min(stop, offset + size) - max(start, offset)
            )
            for number, row in enumerate(table.to_pylist(), start=max(start, offset)):
                yield {"row": number, **{ours: row.get(theirs) for ours, theirs in columns.items()}}
        offset += size
        if offset >= stop:
            break


def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    min_similarity = float(task.options.get("min_similarity", 0.0))
    wanted: list[dict[str, Any]] = []
    for item in task.items:
        for row in read_rows(item["path"], item["start"], item["stop"]):
            where = f"{Path(item['path']).name} row {row['row']}"
            url = (row.get("url") or "").strip()
            caption = " ".join(str(row.get("caption") or "").split())
            similarity = row.get("similarity")
            if not url:
                yield SkipRecord("missing_url", where)
            elif not caption:
                yield SkipRecord("empty_caption", f"{where}: {url}")
            elif (similarity is None and min_similarity > 0) or (
                similarity is not None and similarity < min_similarity
            ):
                yield SkipRecord("low_similarity", f"{url}: {similarity} < {min_similarity}")
            else:
                wanted.append({"url": url, "caption": caption, "license": row.get("license")})

    results = download_many((row["url"] for row in wanted), task.options["download"])
    for row, result in zip(wanted, results, strict=True):
        if not result.ok:
            yield SkipRecord(result.reason, row["url"])
            continue
        yield Candidate(
            subset=SUBSET,
            source_id=row["url"],
            caption=row["caption"],
            image_bytes=result.data,
            fields={
                "noisy_text": row["caption"],
                "text_source": "alt_text",
                "license": license_name(row["license"]),
                "image_url": row["url"],
            },
        )
