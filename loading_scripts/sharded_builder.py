"""The dataset builder every Quilt source builder shares.

Each source (``openpath``, ``pubmed``, ``laion``, ``quilt``) has its own builder in this folder and
``quilt_1m`` combines them all. A builder's ``_split_generators`` is its "download" step: it runs the
source's shard tasks (resumable: finished shards are skipped) through an executor, then decides for
every row whether it is kept (cross-source dedup) and which split it lands in. ``_generate_tables``
then streams the kept rows of each split out of the work shards.

Why ``ArrowBasedBuilder`` and not ``GeneratorBasedBuilder``: the rows already sit in parquet in the
final schema, so yielding Arrow tables avoids re-encoding every example in Python. That is what
keeps the build close to a raw pyarrow write (see benchmarks/bench_build.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quilt_hf.build_config import BuildConfig
from quilt_hf.errors import QuiltError
from quilt_hf.executors import LocalExecutor, RunReport
from quilt_hf.schema import FEATURES, SUBSETS
from quilt_hf.shards import read_all_stats, read_selected_row_groups, shard_path
from quilt_hf.splits import assign_split, group_id
from quilt_hf.tasks import run_shard_task, source_module, work_dir

log = logging.getLogger(__name__)

CITATION = """@inproceedings{ikezogwo2023quilt,
  title={Quilt-1M: One Million Image-Text Pairs for Histopathology},
  author={Ikezogwo, Wisdom Oluchi and Seyfioglu, Mehmet Saygin and Ghezloo, Fatemeh and
          Geva, Dylan Stefan Chan and Mohammed, Fatwir Sheikh and Anand, Pavan Kumar and
          Krishna, Ranjay and Shapiro, Linda},
  booktitle={Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year={2023}
}"""
SPLIT_CODES = {"train": 0, "val": 1}
DROPPED = -1


@dataclass
class QuiltBuilderConfig(datasets.BuilderConfig):
    build: BuildConfig | None = None
    work_root: str = ""
    executor: Any = None  # an executor with .run(fn, tasks, *args); LocalExecutor by default
    subsets: tuple[str, ...] = SUBSETS
    report: dict[str, Any] = field(default_factory=dict)  # filled in during the build


class ShardedQuiltBuilder(datasets.ArrowBasedBuilder):
    """Builds the subsets named by the config from their sources' shard tasks."""

    BUILDER_CONFIG_CLASS = QuiltBuilderConfig
    SUBSETS: tuple[str, ...] = SUBSETS

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="Histopathology image-text pairs in the unified Quilt schema.",
            features=FEATURES,
            homepage="https://quilt1m.github.io/",
            citation=CITATION,
            license=self.config.build.license if self.config.build else "other",
        )

    @property
    def _subsets(self) -> list[str]:
        build = self.config.build
        return [s for s in self.SUBSETS if s in self.config.subsets and s in build.sources]

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        build = self.config.build
        if build is None or not self.config.work_root:
            raise QuiltError(
                "this builder needs a build config and a work folder: run `quilt build`"
            )
        work_root = Path(self.config.work_root)
        run = run_source_shards(build, work_root, self._subsets, self.config.executor)
        selection, dedup_counts, per_split = select_rows(build, work_root, self._subsets)
        self.config.report.update(
            failed_tasks=[(o.task.shard_id, o.error) for o in run.failed],
            dedup=dict(dedup_counts),
            per_split=per_split,
        )
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "selection": selection})
            for split in SPLIT_CODES
        ]

    def _generate_tables(self, split: str, selection: list[tuple[str, np.ndarray]]):
        code = SPLIT_CODES[split]
        for shard_index, (path, codes) in enumerate(selection):

            def keep(shard, group, first, rows, codes=codes):
                return codes[first : first + rows] == code

            for group, table in read_selected_row_groups(path, keep):
                table = table.drop_columns(["phash", "histology_prob"])
                table = table.set_column(
                    table.schema.get_field_index("split"),
                    "split",
                    pa.array([split] * table.num_rows, pa.string()),
                )
                yield datasets.builder.Key(shard_index, group), table


def run_source_shards(
    build: BuildConfig, work_root: Path, subsets: list[str], executor: Any = None
) -> RunReport:
    """Plan every subset's shard tasks and run those not done yet."""
    settings = {
        "image": vars(build.image),
        "filters": vars(build.filters),
        "split": {"val_fraction": build.val_fraction, "seed": build.seed},
    }
    tasks = []
    for subset in subsets:
        plan = source_module(subset).plan_shards(
            build.sources[subset],
            build.base_dir,
            build.shard_size,
            # a folder inside the build's output for sources' intermediate files
            {"download": vars(build.download), "work_dir": str(work_root.parent / "sources")},
        )
        tasks.extend(plan)
    executor = executor or LocalExecutor(workers=1)
    return executor.run(run_shard_task, tasks, str(work_root), settings, desc="source shards")


def select_rows(
    build: BuildConfig, work_root: Path, subsets: list[str]
) -> tuple[list[tuple[str, np.ndarray]], Counter, dict[str, dict[str, int]]]:
    """Decide, in a fixed order, which rows are kept and which split each lands in.

    Dedup is decided per distinct image of a source item (``group, sha256``): the rows of one
    YouTube image (one image, several texts) are kept together; the same image met again in another
    item or source is a duplicate. Order is subsets in ``SUBSETS`` order, then shard id, so the
    result is deterministic whatever order the shards finished in.
    """
    from quilt_hf.filters.dedup import Deduplicator

    dedup_options = build.filters.dedup
    dedup = Deduplicator(phash_max_distance=int(dedup_options.get("phash_max_distance", 0)))
    exact_only = not dedup_options.get("near", True)
    verdicts: dict[tuple[str, str], str | None] = {}
    counts: Counter = Counter()
    per_split: dict[str, dict[str, int]] = {s: Counter() for s in subsets}
    selection: list[tuple[str, np.ndarray]] = []
    for subset in subsets:
        directory = work_dir(work_root, subset)
        for stats in read_all_stats(directory):
            path = shard_path(directory, stats.shard_id)
            columns = pq.read_table(
                path, columns=["source_id", "image_sha256", "phash"]
            ).to_pydict()
            codes = np.empty(len(columns["source_id"]), dtype=np.int8)
            for i, (source_id, sha, phash) in enumerate(
                zip(columns["source_id"], columns["image_sha256"], columns["phash"], strict=True)
            ):
                key = (f"{subset}:{group_id(subset, source_id)}", sha)
                if key not in verdicts:
                    verdicts[key] = dedup.check_and_add(sha, None if exact_only else phash)
                reason = verdicts[key]
                if reason:
                    counts[reason] += 1
                    codes[i] = DROPPED
                    continue
                # recomputed, not read from the shard: finished shards are reused when only
                # val_fraction or seed changed, and their split column is then stale
                split = assign_split(subset, source_id, build.val_fraction, build.seed)
                codes[i] = SPLIT_CODES[split]
                per_split[subset][split] += 1
            selection.append((str(path), codes))
    return selection, counts, {s: dict(c) for s, c in per_split.items()}
