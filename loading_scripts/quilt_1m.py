"""The ``quilt_1m`` dataset builder: what ``download_and_prepare`` runs to build Quilt from sources.

A thin datasets-facing face of ``quilt_hf.assembly``: ``_split_generators`` runs the source shard
tasks (resumable) and the row selection, ``_generate_tables`` streams the kept rows of each split.
``quilt build`` calls the same library functions directly and gives the same rows. One builder
config per build target (``quilt_1m``: every source; ``quilt``, ``openpath``, ``pubmed``,
``laion``: one source alone)::

    builder = Quilt1MBuilder(
        config_name="pubmed", build=BuildConfig.load("build.yaml"), work_root="work/shards"
    )
    builder.download_and_prepare()

Why ``ArrowBasedBuilder`` and not ``GeneratorBasedBuilder``: the rows already sit in parquet in the
final schema, so yielding Arrow tables avoids re-encoding every example in Python.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import datasets

from quilt_hf.assembly import Selection, run_source_shards, select_rows, target_subsets
from quilt_hf.build_config import BuildConfig
from quilt_hf.dataset_card import CITATION
from quilt_hf.errors import QuiltError
from quilt_hf.schema import BUILD_TARGETS, FEATURES

log = logging.getLogger(__name__)


@dataclass
class QuiltBuilderConfig(datasets.BuilderConfig):
    build: BuildConfig | None = None
    work_root: str = ""  # where the resumable work shards live
    executor: Any = None  # an executor with .run(fn, tasks, *args); LocalExecutor by default


class Quilt1MBuilder(datasets.ArrowBasedBuilder):
    """All subsets (``quilt``, ``openpath``, ``pubmed``, ``laion``) in one dataset, or one alone."""

    BUILDER_CONFIG_CLASS = QuiltBuilderConfig
    BUILDER_CONFIGS = [QuiltBuilderConfig(name=name) for name in BUILD_TARGETS]
    DEFAULT_CONFIG_NAME = "quilt_1m"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="Histopathology image-text pairs in the unified Quilt schema.",
            features=FEATURES,
            homepage="https://quilt1m.github.io/",
            citation=CITATION,
            license=self.config.build.license if self.config.build else "other",
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        build, work_root = self.config.build, self.config.work_root
        if build is None or not work_root:
            raise QuiltError("this builder needs build=BuildConfig and work_root=FOLDER")
        subsets = target_subsets(build, self.config.name)
        run = run_source_shards(build, work_root, subsets, self.config.executor)
        for outcome in run.failed:
            log.warning(
                "shard %s failed (rerun to retry): %s", outcome.task.shard_id, outcome.error
            )
        selection = select_rows(build, work_root, subsets)
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "selection": selection})
            for split in selection.tables_by_split()
        ]

    def _generate_tables(self, split: str, selection: Selection):
        for index, table in enumerate(selection.tables(split)):
            yield datasets.builder.Key(0, index), table
