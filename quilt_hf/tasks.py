"""Run one ``ShardTask``: source candidates -> normalised, filtered records -> a work shard.

This is the unit every executor (local process pool, Ray) runs. It is idempotent: a task whose
stats json exists returns it without work, and a killed task leaves no stats json, so a rerun redoes
it from scratch. One bad record is a counted skip; an exception that escapes the source fails the
task (no stats json: the next run retries it).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import imagehash
import pyarrow as pa

from quilt_hf.build_config import BuildConfig, FilterOptions, ImageOptions
from quilt_hf.errors import SkipRecord
from quilt_hf.filters.histology import DEFAULT_CLASSIFIER
from quilt_hf.images import load_image
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.schema import SUBSETS, SchemaError, make_record
from quilt_hf.shards import ARROW_SCHEMA, ShardStats, ShardWriter, is_done, read_all_stats
from quilt_hf.splits import assign_split

log = logging.getLogger(__name__)

# Work shards carry two columns the final dataset drops: the perceptual hash for cross-source
# near-duplicate removal at assembly, and the classifier's probability for auditing.
WORK_SCHEMA = ARROW_SCHEMA.append(pa.field("phash", pa.uint64())).append(
    pa.field("histology_prob", pa.float32())
)
CLASSIFY_BATCH = 16


def source_module(subset: str) -> ModuleType:
    """The build source of a subset: ``quilt_hf/sources/<subset>.py`` (plan_shards, iter_candidates)."""
    if subset not in SUBSETS:
        raise KeyError(f"no build source for subset {subset!r}; subsets: {', '.join(SUBSETS)}")
    return importlib.import_module(f"quilt_hf.sources.{subset}")


@lru_cache(maxsize=4)
def _classifier(config_key: tuple) -> Any:
    from quilt_hf.filters.histology import load_classifier

    return load_classifier(dict(config_key))


def classifier_for(config: dict[str, Any]) -> Any:
    # cached per process: a Hub model is loaded once, not once per shard
    return _classifier(tuple(sorted((k, _freeze(v)) for k, v in config.items())))


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def work_dir(root: Path, subset: str) -> Path:
    return Path(root) / subset


@dataclass(frozen=True)
class ShardSettings:
    """The part of the build config every shard task runs under (pickles to process pools and
    Ray workers). The split is decided here, once, and read back at assembly."""

    image: ImageOptions
    filters: FilterOptions
    val_fraction: float
    seed: int

    @classmethod
    def of(cls, build: BuildConfig) -> ShardSettings:
        return cls(build.image, build.filters, build.val_fraction, build.seed)


def run_shard_task(task: ShardTask, work_root: Path, settings: ShardSettings) -> ShardStats:
    """Write ``task``'s work shard (and then its stats json) under ``work_root/subset``."""
    directory = work_dir(work_root, task.subset)
    if is_done(directory, task.shard_id):
        return next(s for s in read_all_stats(directory) if s.shard_id == task.shard_id)
    image, filters = settings.image, settings.filters
    threshold = float(filters.histology.get("threshold", DEFAULT_CLASSIFIER["threshold"]))
    classifier = classifier_for(filters.histology)

    # rows grouped by split: at assembly each split reads only its own row groups
    with ShardWriter(directory, task.shard_id, schema=WORK_SCHEMA, group_by="split") as writer:
        stats = writer.stats
        pending: list[tuple[Candidate, Any]] = []

        def flush() -> None:
            if not pending:
                return
            started = time.perf_counter()
            probs = classifier.predict_proba([stored.image for _, stored in pending])
            stats.counts["classify_seconds_x1000"] += int(1000 * (time.perf_counter() - started))
            for (candidate, stored), prob in zip(pending, probs, strict=True):
                is_histology = float(prob) >= threshold
                if not is_histology and not filters.keep_non_histology:
                    stats.skip("not_histology", candidate.source_id)
                    continue
                try:
                    record = to_record(candidate, stored, not_histology=not is_histology)
                except SchemaError as error:
                    stats.skip("schema_error", f"{candidate.source_id}: {error}")
                    continue
                record["split"] = assign_split(
                    task.subset, candidate.source_id, settings.val_fraction, settings.seed
                )
                record["phash"] = int(str(imagehash.phash(stored.image)), 16)
                record["histology_prob"] = float(prob)
                writer.write(record)
            pending.clear()

        for item in _candidates(task, stats):
            candidate = item
            if len(candidate.caption.strip()) < filters.min_caption_chars:
                stats.skip("caption_too_short", candidate.source_id)
                continue
            try:
                stored = load_image(
                    candidate.image_bytes,
                    max_side=image.max_side,
                    min_side=image.min_side,
                    max_pixels=image.max_pixels,
                    quality=image.quality,
                )
            except SkipRecord as skip:
                stats.skip(skip.reason, f"{candidate.source_id}: {skip.detail}")
                continue
            pending.append((candidate, stored))
            if len(pending) >= CLASSIFY_BATCH:
                flush()
        flush()
        stats.counts["candidates"] = stats.rows + sum(stats.skipped.values())
    return stats


def _candidates(task: ShardTask, stats: ShardStats) -> Iterator[Candidate]:
    for item in source_module(task.subset).iter_candidates(task):
        if isinstance(item, SkipRecord):
            stats.skip(item.reason, item.detail)
        else:
            yield item


def to_record(candidate: Candidate, stored: Any, *, not_histology: bool) -> dict[str, Any]:
    fields = dict(candidate.fields)
    image_path = fields.pop("image_path", "") or f"{candidate.subset}_{stored.sha256[:16]}.jpg"
    fields.setdefault("noisy_text", candidate.caption)
    fields.setdefault("corrected_text", candidate.caption)
    return make_record(
        image=stored.as_feature(image_path),
        image_path=image_path,
        caption=candidate.caption,
        subset=candidate.subset,
        source_id=candidate.source_id,
        height=stored.height,
        width=stored.width,
        image_sha256=stored.sha256,
        not_histology=int(not_histology),
        **fields,
    )
