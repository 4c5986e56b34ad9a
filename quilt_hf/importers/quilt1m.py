"""Import the released Quilt-1M (``quilt_1M_lookup.csv`` + images) into the unified schema.

The lookup is streamed with pyarrow's CSV reader (quoted fields, embedded newlines, an unnamed
leading index column) and cut into fixed row ranges; each range is a work shard with a stats json
written last, so a killed import resumes at the first unfinished shard. List-valued columns are
stored in the CSV as Python literals and are parsed with ``ast.literal_eval`` (never ``eval``).

Rows are converted column by column (``convert_rows``): each distinct value of a column is parsed
once and the output columns are built as Arrow arrays, so per row there is only the image read.
``benchmarks/bench_import.py`` compares the import with a bare pyarrow copy of the same rows.

Released layouts: the first release has the twelve columns ``caption`` ... ``width`` (13 with the
pandas index column), later ones add ``single_wsi`` and ``not_histology`` (14, or 15 with the
index). A filter on a column the lookup lacks (``--histology-only`` without ``not_histology``,
``--single-wsi`` without ``single_wsi``) is refused before any work starts, naming the missing
column; without the filter, a missing ``not_histology`` is warned about (every row then reads 0,
"histology", which the release did not say).
"""

from __future__ import annotations

import ast
import csv
import functools
import hashlib
import io
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from PIL import Image

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import load_image
from quilt_hf.importers.folder import ImportReport
from quilt_hf.importers.image_store import ImageStore, base_name
from quilt_hf.schema import DEFAULTS, SPLITS, SUBSETS
from quilt_hf.shards import (
    ARROW_SCHEMA,
    MAX_EXAMPLES_PER_REASON,
    ShardStats,
    ShardWriter,
    is_done,
)

RELEASED_COLUMNS = (
    "caption", "image_path", "subset", "split", "pathology", "roi_text", "noisy_text",
    "corrected_text", "med_umls_ids", "magnification", "height", "width", "single_wsi",
    "not_histology",
)  # fmt: skip
LIST_COLUMNS = ("pathology", "roi_text", "med_umls_ids")
TEXT_COLUMNS = ("caption", "roi_text", "corrected_text", "noisy_text")
REQUIRED_COLUMNS = ("caption", "image_path", "subset", "split")
log = logging.getLogger(__name__)
SHARD_BATCH_ROWS = 1024  # rows per parquet row group: ~40 MiB of released 512 px JPEGs


@dataclass
class ImportFilters:
    """What users ask to keep (all optional)."""

    subsets: tuple[str, ...] = ()
    histology_only: bool = False  # keep rows with not_histology == 0
    single_wsi: bool = False  # keep rows with single_wsi == 1
    magnifications: tuple[int, ...] = ()
    min_caption_chars: int = 0


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


def parse_list(value: Any) -> list[str]:
    """A list cell: a Python literal like ``['a', 'b']``, a bare string, or empty."""
    return parse_list_flagged(value)[0]


def parse_list_flagged(value: Any) -> tuple[list[str], bool]:
    """``parse_list`` and whether the cell was a malformed literal (kept as text, to be counted)."""
    if value is None:
        return [], False
    text = str(value).strip()
    if text in ("", "nan", "None", "[]"):
        return [], False
    if text[0] in "[(":
        parsed = _literal_list(text)
        if parsed is None:
            return [text], True
        return list(parsed), False
    return [text], False


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


def lookup_columns(path: Path) -> list[str]:
    """The lookup's header; QuiltError when the file or a required column is missing."""
    if not path.is_file():
        raise QuiltError(f"lookup file {path} does not exist")
    # utf-8-sig: a lookup re-saved by a spreadsheet starts with a byte-order mark
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        columns = next(csv.reader(handle), None)
    if not columns:
        raise QuiltError(f"{path} has no header row")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise QuiltError(f"{path} lacks released column(s) {missing}; it has {columns}")
    return columns


# filter -> the lookup column it reads
FILTER_COLUMNS = {
    "histology_only": ("not_histology", "--histology-only"),
    "single_wsi": ("single_wsi", "--single-wsi"),
    "magnifications": ("magnification", "--magnification"),
}


def check_lookup(options: ImportOptions, *, warn: bool = True) -> list[str]:
    """Refuse, before any work, a filter or text column on a column the lookup does not have;
    warn (``warn``) when ``not_histology`` is absent. Returns the lookup's columns."""
    columns = lookup_columns(options.lookup)
    for name, (column, flag) in FILTER_COLUMNS.items():
        if getattr(options.filters, name) and column not in columns:
            raise QuiltError(
                f"{flag} filters on the {column!r} column, which {options.lookup.name} does not "
                f"have (an earlier release layout); its columns are {columns}. Drop {flag}."
            )
    if options.text_column in ("corrected_text", "noisy_text", "roi_text") and (
        options.text_column not in columns
    ):
        raise QuiltError(
            f"--text-column {options.text_column} is not a column of {options.lookup.name}; "
            f"its columns are {columns}"
        )
    if warn and "not_histology" not in columns:
        log.warning(
            "%s has no not_histology column: every row is imported with not_histology = 0",
            options.lookup.name,
        )
    return columns


def lookup_batches(path: Path, block_rows_hint: int = 1 << 22) -> Iterator[pa.RecordBatch]:
    """Stream the lookup CSV as string columns, whatever columns it has."""
    columns = lookup_columns(path)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_rows_hint),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False
        ),
    )
    yield from reader


def _per_unique(column: pa.Array, parse: Callable[[str], Any]) -> tuple[list[Any], np.ndarray]:
    """``parse`` each distinct value of a string column once: (parsed values, row -> value index).

    Released list columns repeat a handful of values (pathologies, entity lists) over a million
    rows, and the integer columns a few hundred."""
    encoded = column.dictionary_encode()
    values = [parse(value) for value in encoded.dictionary.to_pylist()]
    return values, encoded.indices.to_numpy(zero_copy_only=False)


def _list_column(column: pa.Array | None, n: int) -> tuple[pa.Array, np.ndarray]:
    """A list-literal column as ``list<string>`` and which rows held a malformed literal (kept
    as text, and counted by the caller)."""
    if column is None:
        return pa.array([[]] * n, type=pa.list_(pa.string())), np.zeros(n, dtype=bool)
    values, rows = _per_unique(column, parse_list_flagged)
    malformed = np.array([bad for _, bad in values], dtype=bool)
    lists = pa.array([items for items, _ in values], type=pa.list_(pa.string()))
    return lists.take(pa.array(rows)), malformed[rows]


def _int_column(column: pa.Array | None, n: int, default: int) -> np.ndarray:
    if column is None:
        return np.full(n, default, dtype=np.int64)
    values, rows = _per_unique(column, lambda text: parse_int(text, default))
    return np.asarray(values, dtype=np.int64)[rows]


def _text_column(column: pa.Array | None, n: int) -> pa.Array:
    """``noisy_text``/``corrected_text``: a string, or a list literal joined with spaces."""
    if column is None:
        return pa.array([""] * n, type=pa.string())
    return pa.array([parse_text(text) for text in column.to_pylist()], type=pa.string())


def _drop(
    alive: np.ndarray,
    mask: np.ndarray,
    reason: str,
    stats: ShardStats,
    details: pa.Array | None = None,
) -> None:
    """Skip the rows of ``mask`` that are still alive, for ``reason`` (a few ``details`` kept)."""
    dropped = np.flatnonzero(alive & mask)
    if len(dropped):
        examples = (
            []
            if details is None
            else details.take(pa.array(dropped[:MAX_EXAMPLES_PER_REASON])).to_pylist()
        )
        stats.skip_many(reason, len(dropped), examples)
        alive[dropped] = False


def convert_rows(
    batch: pa.RecordBatch, images: ImageInfoCache, options: ImportOptions, stats: ShardStats
) -> tuple[pa.Table, set[str]]:
    """Released lookup rows -> unified-schema rows, column by column.

    Returns the kept rows (lookup order) and the names of images missing from the archive.
    Skipped rows are counted in ``stats`` with the first failing reason, checked in this order:
    unknown subset or split, the user's filters, empty text, then the image (so a filtered-out
    row never costs an image read). Only the image reads and ``source_id`` loop over rows in
    Python; the other columns are parsed once per distinct value.
    """
    n = batch.num_rows
    names = set(batch.schema.names)

    def column(name: str) -> pa.Array | None:
        return batch.column(name) if name in names else None

    subset = pc.utf8_trim_whitespace(column("subset"))
    split = pc.utf8_trim_whitespace(column("split"))
    alive = np.ones(n, dtype=bool)
    bad_subset = ~np.asarray(pc.is_in(subset, pa.array(SUBSETS)))
    _drop(alive, bad_subset, "unknown_subset", stats, details=subset)
    _drop(alive, ~np.asarray(pc.is_in(split, pa.array(SPLITS))), "unknown_split", stats, split)

    lists = {name: _list_column(column(name), n) for name in LIST_COLUMNS}
    roi_lists = lists["roi_text"][0]
    texts = {
        "caption": column("caption"),
        "roi_text": pc.binary_join(roi_lists, " "),
        "corrected_text": _text_column(column("corrected_text"), n),
        "noisy_text": _text_column(column("noisy_text"), n),
    }
    caption = pc.utf8_trim_whitespace(texts[options.text_column])
    magnification = np.clip(_int_column(column("magnification"), n, -1), -1, 2)
    single_wsi = _int_column(column("single_wsi"), n, -1)
    not_histology = _int_column(column("not_histology"), n, 0)

    wanted = options.filters
    if wanted.subsets:
        _drop(
            alive, ~np.asarray(pc.is_in(subset, pa.array(wanted.subsets))), "filtered_subset", stats
        )
    if wanted.histology_only:
        _drop(alive, not_histology != 0, "filtered_not_histology", stats)
    if wanted.single_wsi:
        _drop(alive, single_wsi != 1, "filtered_single_wsi", stats)
    if wanted.magnifications:
        _drop(
            alive, ~np.isin(magnification, wanted.magnifications), "filtered_magnification", stats
        )
    caption_chars = np.asarray(pc.utf8_length(caption))
    if wanted.min_caption_chars:
        _drop(alive, caption_chars < wanted.min_caption_chars, "filtered_caption_length", stats)
    empty = caption_chars == 0
    _drop(
        alive,
        empty,
        "empty_text",
        stats,
        pc.binary_join_element_wise(column("image_path"), f": empty {options.text_column}", ""),
    )

    # The images: one read per kept row, one hash and header probe per distinct image.
    paths = column("image_path").to_pylist()
    subsets = subset.to_pylist()
    data: list[bytes] = []
    infos: list[tuple[str, int, int]] = []
    kept_names: list[str] = []
    source_ids: list[str] = []
    missing: set[str] = set()
    for row in np.flatnonzero(alive):
        name = base_name(paths[row])
        try:
            image, info = images.get(name)
        except SkipRecord as skip:
            stats.skip(skip.reason, skip.detail)
            if skip.reason == "missing_image":
                missing.add(skip.detail)
            alive[row] = False
            continue
        data.append(image)
        infos.append(info)
        kept_names.append(name)
        source_ids.append(source_id_for(subsets[row], name))
    keep = pa.array(np.flatnonzero(alive))
    kept = len(data)
    malformed = sum(int(bad[alive].sum()) for _, bad in lists.values())
    if malformed:
        stats.counts["malformed_list_literal"] += malformed

    probed = np.array([(w, h) for _, w, h in infos], dtype=np.int64).reshape(-1, 2)
    sizes = {}
    for name, probe in (("width", probed[:, 0]), ("height", probed[:, 1])):
        declared = _int_column(column(name), n, 0)[alive]
        sizes[name] = np.where(declared != 0, declared, probe)  # as `int(cell) or probed`
    arrays = {
        "image": pa.StructArray.from_arrays(
            [pa.array(data, type=pa.binary()), pa.array(kept_names, type=pa.string())],
            names=["bytes", "path"],
        ),
        "image_path": pa.array(kept_names, type=pa.string()),
        "caption": caption.take(keep),
        "subset": subset.take(keep),
        "split": split.take(keep),
        "pathology": lists["pathology"][0].take(keep),
        "roi_text": roi_lists.take(keep),
        "noisy_text": texts["noisy_text"].take(keep),
        "corrected_text": texts["corrected_text"].take(keep),
        "med_umls_ids": lists["med_umls_ids"][0].take(keep),
        "magnification": magnification[alive],
        "height": sizes["height"],
        "width": sizes["width"],
        "single_wsi": single_wsi[alive],
        "not_histology": not_histology[alive],
        "source_id": pa.array(source_ids, type=pa.string()),
        "image_sha256": pa.array([sha for sha, _, _ in infos], type=pa.string()),
        "text_source": pa.array(["released_lookup"] * kept, type=pa.string()),
    }
    columns = []
    for schema_field in ARROW_SCHEMA:
        name, arrow_type = schema_field.name, schema_field.type
        value = arrays.get(name)
        if isinstance(value, pa.Array):
            columns.append(value if value.type == arrow_type else value.cast(arrow_type))
        elif value is not None:
            columns.append(pa.array(value, type=arrow_type))
        else:  # provenance the release does not have: the schema's default
            columns.append(pa.array([DEFAULTS[name]] * kept, type=arrow_type))
    return pa.Table.from_arrays(columns, schema=ARROW_SCHEMA), missing


class ImageInfoCache:
    """Hash and measure each released image once, however many rows share it (many-to-many).

    The facts live in arrays indexed by the store's image id (42 bytes per image) rather than in
    a dict of tuples keyed by name (~400 bytes): a million images fit in ~40 MiB.
    """

    _NEW, _OK = 0, 1  # states; a skipped image stores 2 + the index of its reason

    def __init__(self, store: ImageStore, verify: bool) -> None:
        self.store = store
        self.verify = verify
        self._sha = np.zeros((len(store), 32), dtype=np.uint8)
        self._size = np.zeros((len(store), 2), dtype=np.int32)
        self._state = np.zeros(len(store), dtype=np.int8)
        self._reasons: list[str] = []

    def get(self, name: str) -> tuple[bytes, tuple[str, int, int]]:
        image_id = self.store.image_id(name)
        if image_id is None:
            raise SkipRecord("missing_image", name)
        data = self.store.read_id(image_id, name)
        state = int(self._state[image_id])
        if state >= 2:
            raise SkipRecord(self._reasons[state - 2], name)
        if state == self._NEW:
            try:
                if self.verify:
                    stored = load_image(data, max_side=1 << 16, min_side=1)
                    size = (stored.width, stored.height)
                else:
                    with Image.open(io.BytesIO(data)) as probe:  # header only: fast
                        size = probe.size
            except SkipRecord as skip:
                self._remember_skip(image_id, skip.reason)
                raise
            except Exception as error:
                self._remember_skip(image_id, "corrupt_image")
                raise SkipRecord("corrupt_image", f"{name}: {error}") from error
            self._sha[image_id] = np.frombuffer(hashlib.sha256(data).digest(), dtype=np.uint8)
            self._size[image_id] = size
            self._state[image_id] = self._OK
        width, height = (int(v) for v in self._size[image_id])
        return data, (self._sha[image_id].tobytes().hex(), width, height)

    def _remember_skip(self, image_id: int, reason: str) -> None:
        if reason not in self._reasons:
            self._reasons.append(reason)
        self._state[image_id] = 2 + self._reasons.index(reason)


def run_import(options: ImportOptions, work_dir: Path) -> ImportReport:
    """Stream the lookup into work shards of ``shard_rows`` rows; finished shards are skipped."""
    from tqdm.auto import tqdm

    check_lookup(options, warn=False)  # filters re-checked for library callers; the CLI warned
    with ImageStore(options.images) as store:
        cache = ImageInfoCache(store, options.verify_images)
        report = ImportReport(duplicate_members=dict(store.duplicates))
        writer: ShardWriter | None = None
        first_row = 0  # of the current batch, in the lookup
        with tqdm(desc="import lookup", unit="row") as bar:
            for batch in lookup_batches(options.lookup):
                # cut the batch where shards start: shard k holds lookup rows [k, k+1) * shard_rows
                offset = 0
                while offset < batch.num_rows:
                    row = first_row + offset
                    shard = row // options.shard_rows
                    length = min(batch.num_rows - offset, (shard + 1) * options.shard_rows - row)
                    shard_id = f"quilt1m-{shard:05d}"
                    if writer is None or writer.shard_id != shard_id:
                        if writer is not None:
                            report.shards_written.append(writer.close())
                            writer = None
                        if not is_done(work_dir, shard_id):
                            # rows grouped by split: each split reads only its own row groups
                            writer = ShardWriter(
                                work_dir, shard_id, batch_rows=SHARD_BATCH_ROWS, group_by="split"
                            )
                    if writer is not None:
                        table, missing = convert_rows(
                            batch.slice(offset, length), cache, options, writer.stats
                        )
                        writer.write_table(table)
                        report.missing_images |= missing
                    offset += length
                    bar.update(length)
                first_row += batch.num_rows
        if writer is not None:
            report.shards_written.append(writer.close())
    return report
