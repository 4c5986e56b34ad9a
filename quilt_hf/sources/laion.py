"""Web (LAION-style) pairs: parquet metadata rows (url, alt-text caption, similarity...) + downloads.

Shards are row ranges of one parquet file (``shard_size`` rows), read with pyarrow one row group at
a time, so memory does not grow with the file. Column names are found in any case among the
spellings of LAION, img2dataset, DataComp and COYO (``COLUMN_ALIASES``: ``url``/``URL``/``link``,
``caption``/``TEXT``/``txt``/``text``/``alt``, ``similarity``, ``license``/``LICENSE``), or set in
build.yaml with ``url_column``, ``caption_column``, ``similarity_column`` and ``license_column``. A
file without a url or caption column is a clear error, naming the columns it has, before any work
starts. Captions go through the shared caption cleaner (HTML entities and tags, mojibake, urls,
placeholder alt texts such as "image not found" or a file name): ``placeholder_text`` and
``emptied_by_cleaning`` skips; a caption holding bytes that are not UTF-8 (a binary column, or a
string column written without validation) is ``caption_not_utf8``, a url ``url_not_utf8``.
Rows under ``min_similarity`` are ``low_similarity`` skips (a row with no similarity, or NaN, is kept
only when ``min_similarity <= 0``); rows without a url or caption are skipped with a reason; images
come through ``quilt_hf.download`` whose failures (``http_500``, ``timeout``, ``x_robots_noai``,
``not_an_image``...) become skips with the url as detail. ``source_id`` is the url.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.download import DownloadOptions, download_many
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import check_source_keys, expand_patterns
from quilt_hf.sources.licenses import license_name
from quilt_hf.text.clean import clean_caption

SUBSET = "laion"
COLUMN_ALIASES = {
    "url": ("url", "link", "image_url"),
    "caption": ("caption", "text", "txt", "alt", "alt_text"),
    # LAION's, DataComp's and COYO's OpenAI CLIP ViT-B/32 cosine similarity (one scale)
    "similarity": ("similarity", "clip_b32_similarity_score", "clip_similarity_vitb32"),
    "license": ("license",),
}
COLUMN_SETTINGS = {f"{ours}_column": ours for ours in COLUMN_ALIASES}  # build.yaml keys


def _columns(schema: pa.Schema, chosen: dict[str, str] | None = None) -> dict[str, str]:
    """Our column name -> the file's column name, for the columns present; ``chosen`` (from
    build.yaml) names a column exactly and wins over the aliases."""
    by_lower = {name.lower(): name for name in schema.names}
    found = {}
    for ours, aliases in COLUMN_ALIASES.items():
        if chosen and ours in chosen:
            if chosen[ours] in schema.names:
                found[ours] = chosen[ours]
            continue
        for alias in aliases:
            if alias in by_lower:
                found[ours] = by_lower[alias]
                break
    return found


def _chosen_columns(config: dict) -> dict[str, str]:
    """``url_column`` ... ``license_column`` from the source's build.yaml settings."""
    chosen = {}
    for key, ours in COLUMN_SETTINGS.items():
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise QuiltError(f"laion {key} must be a column name, got {value!r}")
        chosen[ours] = value
    return chosen


def plan_shards(
    config: dict, base_dir: Path, shard_size: int, options: dict | None = None
) -> list[ShardTask]:
    check_source_keys("laion", config, ("metadata", "min_similarity", *COLUMN_SETTINGS))
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
    chosen = _chosen_columns(config)
    tasks = []
    for path in expand_patterns(config.get("metadata"), base_dir, what="laion metadata"):
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise QuiltError(
                f"laion metadata {path} is not a readable parquet file: {error}"
            ) from error
        names = parquet.schema_arrow.names
        columns = _columns(parquet.schema_arrow, chosen)
        for ours in ("url", "caption"):
            if ours not in columns:
                wanted = repr(chosen[ours]) if ours in chosen else f"any of {COLUMN_ALIASES[ours]}"
                raise QuiltError(
                    f"laion metadata {path} has no {ours} column ({wanted}); its columns are "
                    f"{names}: set {ours}_column in build.yaml"
                )
        rows = parquet.metadata.num_rows
        for start in range(0, rows, shard_size):
            item = {
                "path": str(path),
                "start": start,
                "stop": min(rows, start + shard_size),
                "columns": columns,
            }
            tasks.append((item, task_options))
    return [
        ShardTask(subset=SUBSET, shard_id=f"{SUBSET}-{number:05d}", items=(item,), options=opts)
        for number, (item, opts) in enumerate(tasks)
    ]


def _as_binary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_large_string(column.type):
        return column.cast(pa.large_binary())
    return column.cast(pa.binary()) if pa.types.is_string(column.type) else column


def _text_as_bytes(table: pa.Table) -> pa.Table:
    """String columns as binary: a parquet string column may hold bytes that are not UTF-8 (seen
    in LAION), which ``to_pylist`` would raise on for the whole row group; each cell is decoded
    on its own instead (``_decoded``)."""
    return pa.table([_as_binary(c) for c in table.columns], names=table.column_names)


def _decoded(value: Any) -> Any:
    """UTF-8 bytes as text; bytes that are not UTF-8 stay bytes (``_as_text`` skips them)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def read_rows(
    path: str, start: int, stop: int, columns: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Rows ``start <= i < stop`` of a parquet file with our column names (``columns``: ours ->
    theirs, found from the file's schema when not given), one row group at a time."""
    parquet = pq.ParquetFile(path)
    columns = columns or _columns(parquet.schema_arrow)
    offset = 0
    for group in range(parquet.metadata.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        if offset + size > start and offset < stop:
            table = parquet.read_row_group(group, columns=list(columns.values()))
            table = _text_as_bytes(
                table.slice(max(0, start - offset), min(stop, offset + size) - max(start, offset))
            )
            for number, row in enumerate(table.to_pylist(), start=max(start, offset)):
                cells = {ours: _decoded(row.get(theirs)) for ours, theirs in columns.items()}
                yield {"row": number, **cells}
        offset += size
        if offset >= stop:
            break


def _as_text(value: Any) -> str | None:
    """A cell of ``read_rows`` as text: None for bytes (``read_rows`` decodes every UTF-8 cell, so
    these are not UTF-8); a missing or NaN cell is ""."""
    if isinstance(value, bytes):
        return None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _as_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _row_caption(row: dict[str, Any], where: str, min_similarity: float) -> SkipRecord | str:
    """The cleaned caption of a row, or why the row is skipped."""
    url = _as_text(row.get("url"))
    if url is None:
        return SkipRecord("url_not_utf8", where)
    url = url.strip()
    if not url:
        return SkipRecord("missing_url", where)
    raw = _as_text(row.get("caption"))
    if raw is None:
        return SkipRecord("caption_not_utf8", f"{where}: {url}")
    cleaned = clean_caption(raw, handles=False, citations=False)
    if not cleaned.ok:
        return SkipRecord(cleaned.reason, f"{where}: {url}")
    similarity = _as_number(row.get("similarity"))
    if (similarity is None and min_similarity > 0) or (
        similarity is not None and similarity < min_similarity
    ):
        return SkipRecord("low_similarity", f"{url}: {similarity} < {min_similarity}")
    return cleaned.text


def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    min_similarity = float(task.options.get("min_similarity", 0.0))
    wanted: list[dict[str, Any]] = []
    for item in task.items:
        for row in read_rows(item["path"], item["start"], item["stop"], item.get("columns")):
            where = f"{Path(item['path']).name} row {row['row']}"
            outcome = _row_caption(row, where, min_similarity)
            if isinstance(outcome, SkipRecord):
                yield outcome
                continue
            wanted.append(
                {
                    "url": _as_text(row["url"]).strip(),
                    "caption": outcome,
                    "raw": _as_text(row.get("caption")),
                    "license": _as_text(row.get("license")),
                }
            )

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
                "noisy_text": row["raw"],
                "text_source": "alt_text",
                "license": license_name(row["license"]),
                "image_url": row["url"],
            },
        )
