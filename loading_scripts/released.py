"""Builders for datasets users already hold, whose rows carry their own split: the released
Quilt-1M lookup (``quilt import quilt1m``) and ARCH (``quilt import arch``).

Thin datasets-facing faces of ``quilt_hf.importers``: ``_split_generators`` runs the importer into
resumable work shards, ``_generate_tables`` streams each split's rows out of them::

    ReleasedQuilt1MBuilder(options=ImportOptions(...), work_root="work").download_and_prepare()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import datasets

from quilt_hf.dataset_card import CITATION
from quilt_hf.errors import QuiltError
from quilt_hf.importers.arch import run_arch_import
from quilt_hf.importers.folder import ImportReport, imported_shards, imported_tables
from quilt_hf.importers.quilt1m import run_import
from quilt_hf.schema import FEATURES, SPLITS


@dataclass
class ReleasedBuilderConfig(datasets.BuilderConfig):
    options: Any = None  # the importer's options dataclass
    work_root: str = ""


class ReleasedDatasetBuilder(datasets.ArrowBasedBuilder):
    BUILDER_CONFIG_CLASS = ReleasedBuilderConfig
    LICENSE = "other"
    IMPORTER: ClassVar[Callable[[Any, Path], ImportReport]]

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=self.__doc__ or "",
            features=FEATURES,
            citation=CITATION,
            license=self.LICENSE,
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        if self.config.options is None or not self.config.work_root:
            raise QuiltError("this builder needs options=IMPORT_OPTIONS and work_root=FOLDER")
        work_dir = Path(self.config.work_root)
        type(self).IMPORTER(self.config.options, work_dir)
        paths, counts = imported_shards(work_dir)
        splits = [s for s in SPLITS if any(c.get(s) for c in counts.values())]
        if not splits:
            raise QuiltError(
                "no rows were imported: see the skip reasons in the work shards' stats"
            )
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "paths": paths})
            for split in splits
        ]

    def _generate_tables(self, split: str, paths: list[str]):
        for index, table in enumerate(imported_tables(paths, split)):
            yield datasets.builder.Key(0, index), table


class ReleasedQuilt1MBuilder(ReleasedDatasetBuilder):
    """The released Quilt-1M, imported into the unified schema (released splits kept)."""

    LICENSE = "other"  # the release's terms: non-commercial research, no redistribution
    IMPORTER = staticmethod(run_import)


class ArchBuilder(ReleasedDatasetBuilder):
    """ARCH (books and PubMed sets) in the unified schema; every row in ``val``."""

    IMPORTER = staticmethod(run_arch_import)
