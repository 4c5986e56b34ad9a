"""Import the released Quilt-1M (``quilt_1M_lookup.csv`` + images) into the unified schema.

The lookup is streamed with pyarrow's CSV reader (quoted fields, embedded newlines, an unnamed
leading index column) and cut into fixed row ranges; each range is a work shard with a stats json
written last, so a killed import resumes at the first unfinished shard. List-valued columns are
stored in the CSV as Python literals and are parsed with ``ast.literal_eval`` (never ``eval``).
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from PIL import Image

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import load_image, sha256_hex
from quilt_hf.importers.image_store import ImageStore, base_name
from quilt_hf.schema import SUBSETS, make_record
from quilt_hf.shards import ShardStats, ShardWriter, is_done

RELEASED_COLUMNS = (
    "caption", "image_path", "subset", "split", "pathology", "roi_text", "noisy_text",
    "corrected_text", "med_umls_ids", "magnification", "height", "width", "single_wsi",
    "not_histology",
)  # fmt: skip
LIST_COLUMNS = ("pathology", "roi_text", "med_umls_ids")
TEXT_COLUMNS = ("caption", "roi_text", "corrected_text", "noisy_text")
REQUIRED_COLUMNS = ("caption", "image_path", "subset", "split")


@dataclass
class ImportFilters:
    """What users ask to keep (all optional)."""

    subsets: tuple[str, ...] = ()
    histology_only: bool = False  # keep rows with not_histology == 0
    single_wsi: bool = False  # keep rows with single_wsi == 1
    magnifications: tuple[int, ...] = ()
    min_caption_chars: int = 0

    def reason_to_drop(self, record: dict[str, Any]) -> str | None:
        if self.subsets and record["subset"] not in self.subsets:
            return "filtered_subset"
        if self.histology_only and record["not_histology"] != 0:
            return "filtered_not_histology"
        if self.single_wsi and record["single_wsi"] != 1:
            return "filtered_single_wsi"
        if self.magnifications and record["magnification"] not in self.magnifications:
            return "filtered_magnification"
        if len(record["caption"]) < self.min_caption_chars:
            return "filtered_caption_length"
        return None


@dataclass
class ImportOptions:
    lookup: Path
    images: list[Path]
    text_column: str = "caption"
    filters: ImportFilters = field(default_factory=ImportFilters)
    shard_rows: int = 10_000
    verify_images: bool = False  # full decode of every image (slow); default reads headers only

    def __post_init__(self) -> None:
        if self.text_column not in TEXT_COLUMNS:
            raise QuiltError(
                f"--text-column must be one of {TEXT_COLUMNS}, got {self.text_column!r}"
            )


def parse_list(value: Any, stats: ShardStats | None = None) -> list[str]:
    """A list cell: a Python literal like ``['a', 'b']``, a bare string, or empty."""
    if value is None:
        return []
    text = str(value).strip()
    if text in ("", "nan", "None", "[]"):
        return []
    if text[0] in "[(":
        parsed = _literal_list(text)
        if parsed is None:
            if stats is not None:
                stats.counts["malformed_list_literal"] += 1
            return [text]
        return list(parsed)
    return [text]


@functools.lru_cache(maxsize=1 << 16)
def _literal_list(text: str) -> tuple[str, ...] | None:
    """Parse a list literal once: the same few values (pathologies, entity lists) repeat a lot."""
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(parsed, (list, tuple)):
        return tuple(str(v) for v in parsed if v is not None and str(v) != "")
    return (text,)


def parse_int(value: Any, default: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else int(number)


def parse_text(value: Any) -> str:
    """``noisy_text``/``corrected_text`` are strings in some releases and list literals in others."""
    items = parse_list(value)
    return " ".join(items)


def source_id_for(subset: str, image_path: str) -> str:
    """Released names look like ``{video_id}_image_{uuid}.jpg`` for YouTube frames."""
    name = base_name(image_path)
    if subset == "quilt" and "_image_" in name:
        return name.split("_image_", 1)[0]
    return name.rsplit(".", 1)[0]


def lookup_batches(path: Path, block_rows_hint: int = 1 << 22) -> Iterator[pa.RecordBatch]:
    """Stream the lookup CSV as string columns, whatever columns it has."""
    if not path.is_file():
        raise QuiltError(f"lookup file {path} does not exist")
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        columns = next(csv.reader(handle), None)
    if not columns:
        raise QuiltError(f"{path} has no header row")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise QuiltError(f"{path} lacks released column(s) {missing}; it has {columns}")
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_rows_hint),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False
        ),
    )
    yield from reader


def to_record(
    row: dict[str, Any],
    data: bytes,
    image_info: tuple[str, int, int],
    options: ImportOptions,
    stats: ShardStats,
) -> dict[str, Any]:
    subset = row["subset"].strip()
    if subset not in SUBSETS:
        raise SkipRecord("unknown_subset", subset)
    split = row["split"].strip()
    if split not in ("train", "val"):
        raise SkipRecord("unknown_split", split)
    roi_text = parse_list(row.get("roi_text"), stats)
    fields = {
        "caption": row["caption"],
        "roi_text": " ".join(roi_text),
        "corrected_text": parse_text(row.get("corrected_text")),
        "noisy_text": parse_text(row.get("noisy_text")),
    }
    sha, width, height = image_info
    name = base_name(row["image_path"])
    parsed = dict(
        image={"bytes": data, "path": name},
        image_path=name,
        caption=fields[options.text_column].strip(),
        subset=subset,
        split=split,
        pathology=parse_list(row.get("pathology"), stats),
        roi_text=roi_text,
        noisy_text=fields["noisy_text"],
        corrected_text=fields["corrected_text"],
        med_umls_ids=parse_list(row.get("med_umls_ids"), stats),
        magnification=max(-1, min(2, parse_int(row.get("magnification"), -1))),
        height=parse_int(row.get("height"), height) or height,
        width=parse_int(row.get("width"), width) or width,
        single_wsi=parse_int(row.get("single_wsi"), -1),
        not_histology=parse_int(row.get("not_histology"), 0),
        source_id=source_id_for(subset, name),
        image_sha256=sha,
        text_source="released_lookup",
    )
    reason = options.filters.reason_to_drop(parsed)
    if reason:
        raise SkipRecord(reason)
    if not parsed["caption"]:
        raise SkipRecord("empty_text", f"{name}: empty {options.text_column}")
    return make_record(**parsed)


class ImageInfoCache:
    """Hash and measure each released image once, however many rows share it (many-to-many)."""

    def __init__(self, store: ImageStore, verify: bool) -> None:
        self.store = store
        self.verify = verify
        self._cache: dict[str, tuple[str, int, int] | str] = {}

    def get(self, name: str) -> tuple[bytes, tuple[str, int, int]]:
        data = self.store.read(name)
        if data is None:
            raise SkipRecord("missing_image", name)
        cached = self._cache.get(name)
        if isinstance(cached, str):
            raise SkipRecord(cached, name)
        if cached is None:
            try:
                if self.verify:
                    stored = load_image(data, max_side=1 << 16, min_side=1)
                    size = (stored.width, stored.height)
                else:
                    with Image.open(io.BytesIO(data)) as probe:  # header only: fast
                        size = probe.size
            except SkipRecord as skip:
                self._cache[name] = skip.reason
                raise
            except Exception as error:
                self._cache[name] = "corrupt_image"
                raise SkipRecord("corrupt_image", f"{name}: {error}") from error
            cached = self._cache[name] = (sha256_hex(data), size[0], size[1])
        return data, cached


@dataclass
class ImportReport:
    shards_written: list[ShardStats] = field(default_factory=list)
    missing_images: set[str] = field(default_factory=set)
    duplicate_members: dict[str, int] = field(default_factory=dict)


def run_import(options: ImportOptions, work_dir: Path) -> ImportReport:
    """Stream the lookup into work shards of ``shard_rows`` rows; finished shards are skipped."""
    from tqdm.auto import tqdm

    store = ImageStore(options.images)
    cache = ImageInfoCache(store, options.verify_images)
    report = ImportReport(duplicate_members=dict(store.duplicates))
    all_stats = report.shards_written
    writer: ShardWriter | None = None
    row_index = 0
    shard_id, shard_done = "", False
    with tqdm(desc="import lookup", unit="row") as bar:
        for batch in lookup_batches(options.lookup):
            bar.update(batch.num_rows)
            for row in batch.to_pylist():
                shard = row_index // options.shard_rows
                row_index += 1
                if f"quilt1m-{shard:05d}" != shard_id:  # a new shard starts at this row
                    shard_id = f"quilt1m-{shard:05d}"
                    shard_done = is_done(work_dir, shard_id)
                    if writer is not None:
                        all_stats.append(writer.close())
                    # rows grouped by split: each split reads only its own row groups
                    writer = (
                        None if shard_done else ShardWriter(work_dir, shard_id, group_by="split")
                    )
                if shard_done:
                    continue
                try:
                    data, info = cache.get(row["image_path"])
                    record = to_record(row, data, info, options, writer.stats)
                except SkipRecord as skip:
                    writer.stats.skip(skip.reason, skip.detail)
                    if skip.reason == "missing_image":
                        report.missing_images.add(skip.detail)
                    continue
                writer.write(record)
    if writer is not None:
        all_stats.append(writer.close())
    return report
