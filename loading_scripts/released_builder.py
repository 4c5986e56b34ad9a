"""Builders for datasets users already hold, whose rows carry their own split (the released
Quilt-1M lookup, ARCH). ``_split_generators`` runs the importer into resumable work shards; the
rows of each split are then streamed out of them as Arrow tables, in file order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loading_scripts.sharded_builder import CITATION
from quilt_hf.errors import QuiltError
from quilt_hf.schema import FEATURES, SPLITS
from quilt_hf.shards import read_selected_row_groups


@dataclass
class ReleasedBuilderConfig(datasets.BuilderConfig):
    options: Any = None  # the importer's options dataclass
    work_root: str = ""
    report: dict[str, Any] = field(default_factory=dict)


class ReleasedDatasetBuilder(datasets.ArrowBasedBuilder):
    BUILDER_CONFIG_CLASS = ReleasedBuilderConfig
    LICENSE = "other"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=self.__doc__ or "",
            features=FEATURES,
            citation=CITATION,
            license=self.LICENSE,
        )

    def import_into(self, work_dir: Path) -> dict[str, Any]:
        """Write work shards (resumable) and return a report dict for the build summary."""
        raise NotImplementedError

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        if self.config.options is None or not self.config.work_root:
            raise QuiltError("this builder is run by `quilt import`, which gives it its options")
        work_dir = Path(self.config.work_root)
        self.config.report.update(self.import_into(work_dir))
        paths = [str(p) for p in sorted(work_dir.glob("*.parquet"))]
        per_split: dict[str, Counter] = {}
        for path in paths:
            table = pq.read_table(path, columns=["subset", "split"])
            for subset, split in zip(
                table.column("subset").to_pylist(), table.column("split").to_pylist(), strict=True
            ):
                per_split.setdefault(subset, Counter())[split] += 1
        self.config.report["per_split"] = {s: dict(c) for s, c in per_split.items()}
        splits = [s for s in SPLITS if any(c.get(s) for c in per_split.values())]
        if not splits:
            raise QuiltError(
                "no rows were imported: see the skip reasons in the work shards' stats"
            )
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "paths": paths})
            for split in splits
        ]

    def _generate_tables(self, split: str, paths: list[str]):
        def keep(shard, group, first, rows):
            column = shard.read_row_group(group, columns=["split"]).column(0)
            return np.asarray(pc.equal(column, split))

        for file_index, path in enumerate(paths):
            for group, table in read_selected_row_groups(path, keep):
                yield datasets.builder.Key(file_index, group), table
