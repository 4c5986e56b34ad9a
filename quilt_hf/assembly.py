"""Assemble a dataset from its sources, as three plain steps::

    run_source_shards(build, work_root, subsets)   sources -> filtered records -> work shards
    select_rows(build, work_root, subsets)          cross-source dedup + split of every row
    write_dataset_folder(out_dir, selection.tables_by_split(), ...)   (quilt_hf.dataset_folder)

``quilt build`` (``quilt_hf.build.build_dataset``) calls them in that order; the datasets builders
in ``loading_scripts/`` call the same functions from ``_split_generators`` / ``_generate_tables``
so that ``download_and_prepare`` gives the same rows. Nothing here imports ``loading_scripts``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.build_config import BuildConfig
from quilt_hf.errors import QuiltError
from quilt_hf.executors import LocalExecutor, RunReport
from quilt_hf.schema import BUILD_TARGETS
from quilt_hf.shards import read_all_stats, read_selected_row_groups, shard_path
from quilt_hf.splits import group_id
from quilt_hf.tasks import ShardSettings, run_shard_task, source_module, work_dir

log = logging.getLogger(__name__)

SPLIT_CODES = {"train": 0, "val": 1}
DROPPED = -1


def target_subsets(build: BuildConfig, target: str) -> list[str]:
    """The subsets of build target ``target`` that ``build`` configures, in ``SUBSETS`` order."""
    if target not in BUILD_TARGETS:
        raise QuiltError(f"unknown builder {target!r}; choose one of {sorted(BUILD_TARGETS)}")
    return [s for s in BUILD_TARGETS[target] if s in build.sources]


def run_source_shards(
    build: BuildConfig, work_root: Path, subsets: list[str], executor: Any = None
) -> RunReport:
    """Plan every subset's shard tasks and run those not done yet (finished shards are reused)."""
    tasks = []
    for subset in subsets:
        plan = source_module(subset).plan_shards(
            build.sources[subset],
            build.base_dir,
            build.shard_size,
            # a folder inside the build's output for sources' intermediate files
            {"download": build.download, "work_dir": str(Path(work_root).parent / "sources")},
        )
        tasks.extend(plan)
    executor = executor or LocalExecutor(workers=1)
    return executor.run(
        run_shard_task, tasks, str(work_root), ShardSettings.of(build), desc="source shards"
    )


@dataclass
class Selection:
    """Which rows of which work shard are kept, and in which split (a code per row)."""

    shards: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (path, split codes)
    dedup: Counter = field(default_factory=Counter)  # dropped rows by reason
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)  # subset -> split -> rows

    def tables(self, split: str) -> Iterator[pa.Table]:
        """The kept rows of ``split`` in the final schema, one table per work-shard row group."""
        code = SPLIT_CODES[split]
        for path, codes in self.shards:

            def keep(shard, group, first, rows, codes=codes):
                return codes[first : first + rows] == code

            for _, table in read_selected_row_groups(path, keep):
                table = table.drop_columns(["phash", "histology_prob"])
                yield table.set_column(
                    table.schema.get_field_index("split"),
                    "split",
                    pa.array([split] * table.num_rows, pa.string()),
                )

    def tables_by_split(self) -> dict[str, Iterator[pa.Table]]:
        return {split: self.tables(split) for split in SPLIT_CODES}


def select_rows(build: BuildConfig, work_root: Path, subsets: list[str]) -> Selection:
    """Decide, in a fixed order, which rows are kept and which split each lands in.

    Dedup is decided per distinct image of a source item (``group, sha256``): the rows of one
    YouTube image (one image, several texts) are kept together; the same image met again in another
    item or source is a duplicate (``duplicate_exact`` / ``duplicate_near``), and so is a row that
    repeats a kept row's image and caption in the same item (``duplicate_row``). Order is subsets
    in ``SUBSETS`` order, then shard id, so the result is deterministic whatever order the shards
    finished in.
    """
    from quilt_hf.filters.dedup import Deduplicator

    options = build.filters.dedup
    dedup = Deduplicator(options.phash_max_distance) if options.exact else None
    verdicts: dict[tuple[str, str], str | None] = {}
    pairs: set[tuple[str, str, bytes]] = set()  # (group, image, caption digest) of kept rows
    selection = Selection(per_split={s: Counter() for s in subsets})
    for subset in subsets:
        directory = work_dir(work_root, subset)
        for stats in read_all_stats(directory):
            path = shard_path(directory, stats.shard_id)
            columns = pq.read_table(
                path, columns=["source_id", "image_sha256", "phash", "caption", "split"]
            ).to_pydict()
            codes = np.empty(len(columns["source_id"]), dtype=np.int8)
            for i, (source_id, sha, phash, caption, split) in enumerate(
                zip(*columns.values(), strict=True)
            ):
                key = (f"{subset}:{group_id(subset, source_id)}", sha)
                if key not in verdicts:
                    near = phash if options.near else None
                    verdicts[key] = None if dedup is None else dedup.check_and_add(sha, near)
                reason = verdicts[key]
                if not reason:
                    # the same pair listed twice in one item (a url + alt text repeated in a
                    # web parquet): one row, not two identical ones
                    row = (*key, hashlib.blake2b(caption.encode(), digest_size=8).digest())
                    reason = "duplicate_row" if row in pairs else None
                    pairs.add(row)
                if reason:
                    selection.dedup[reason] += 1
                    codes[i] = DROPPED
                    continue
                # decided once, by the shard task (tasks.ShardSettings): the work shards are keyed
                # by seed and val_fraction too (build.build_work_root), so it is never stale
                codes[i] = SPLIT_CODES[split]
                selection.per_split[subset][split] += 1
            selection.shards.append((str(path), codes))
    selection.per_split = {s: dict(c) for s, c in selection.per_split.items()}
    return selection
