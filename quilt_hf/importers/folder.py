"""Run an importer into a dataset folder with its card (``quilt import ...``).

An importer (``quilt_hf.importers.quilt1m.run_import``, ``...arch.run_arch_import``) writes
resumable work shards whose rows carry their own split; ``import_folder`` then writes them out with
the same folder writer as ``quilt build``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from quilt_hf.atomic import write_json_atomic
from quilt_hf.dataset_folder import skipped_by_reason, work_shards_dir, write_dataset_folder
from quilt_hf.errors import QuiltError
from quilt_hf.schema import SPLITS
from quilt_hf.shards import ShardStats, read_selected_row_groups

QUILT1M_ORIGIN = (
    (
        "Origin",
        "Imported with `quilt import quilt1m` from the released Quilt-1M lookup "
        "(`quilt_1M_lookup.csv`) and its image archive (Ikezogwo et al., NeurIPS 2023; "
        "https://quilt1m.github.io/). Released columns and splits are kept; list columns stored as "
        "Python literals in the CSV are parsed into lists; `source_id` is the video id taken from "
        "YouTube image names (`{video_id}_image_{uuid}.jpg`). Rows whose image is missing from the "
        "archive are counted under `missing_image` and listed in `missing_images.txt`.",
    ),
)
QUILT1M_TERMS = (
    "The released Quilt-1M is licensed for non-commercial research use only; its images and texts "
    "must not be redistributed outside the terms of the original release, which users must accept "
    "to obtain it. Publish this folder only as a private or gated repository (`quilt push dataset "
    "--private`, card rendered with `--gated`)."
)
ARCH_ORIGIN = (
    (
        "Origin",
        "Imported with `quilt import arch` from ARCH (Gamper & Rajpoot, *Multiple Instance "
        "Captioning: Learning Representations from Histopathology Textbooks and Articles*, CVPR "
        "2021): `books_set` and `pubmed_set` captions with their images. ARCH is an evaluation set "
        "for cross-modal retrieval; every row is in `val`.",
    ),
)
ARCH_TERMS = "ARCH is released for research under its authors' terms (CC BY-NC-SA 4.0 at release)."


@dataclass
class ImportReport:
    """What an importer's ``run(options, work_dir)`` wrote and met."""

    shards_written: list[ShardStats] = field(default_factory=list)
    missing_images: set[str] = field(default_factory=set)
    duplicate_members: dict[str, int] = field(default_factory=dict)


Importer = Callable[[Any, Path], ImportReport]  # (options, work dir) -> report; resumable


def import_folder(
    importer: Importer,
    options: Any,
    out_dir: str | Path,
    *,
    pretty_name: str,
    origin: tuple[tuple[str, str], ...],
    terms: str,
    gated: bool = False,
) -> dict[str, Any]:
    """Run ``importer`` into resumable work shards, then write the dataset folder and its card."""
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = (
        work_shards_dir(out_dir, {"importer": importer.__name__, "options": options}) / "import"
    )
    report = importer(options, work_dir)
    paths, counts = imported_shards(work_dir)
    skipped = skipped_by_reason([work_dir])
    splits = [s for s in SPLITS if any(c.get(s) for c in counts.values())]
    if not splits:
        raise QuiltError("no rows were imported: see the skip reasons in the work shards' stats")
    write_dataset_folder(
        out_dir,
        {split: imported_tables(paths, split) for split in splits},
        counts=counts,
        skipped=skipped,
        repo_id=out_dir.name,
        gated=gated,
        pretty_name=pretty_name,
        origin=origin,
        terms=terms,
    )
    missing = sorted(report.missing_images)
    if missing:
        (out_dir / "missing_images.txt").write_text("\n".join(missing) + "\n")
    result = {
        "counts": counts,
        "skipped": dict(skipped),
        "rows": sum(sum(c.values()) for c in counts.values()),
        "missing_images": len(missing),
        "duplicate_archive_members": report.duplicate_members,
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json_atomic(out_dir / "import_stats.json", result)
    return result


def imported_shards(work_dir: Path) -> tuple[list[str], dict[str, dict[str, int]]]:
    """The work shards of an import, and their rows per subset and split (the rows carry their
    own split: the release's)."""
    paths = [str(p) for p in sorted(work_dir.glob("*.parquet"))]
    per_split: dict[str, Counter] = {}
    for path in paths:
        table = pq.read_table(path, columns=["subset", "split"])
        for subset, split in zip(
            table.column("subset").to_pylist(), table.column("split").to_pylist(), strict=True
        ):
            per_split.setdefault(subset, Counter())[split] += 1
    return paths, {s: dict(c) for s, c in per_split.items()}


def imported_tables(paths: list[str], split: str) -> Iterator[pa.Table]:
    """The rows of ``split``, in file order (shards written grouped by split read only theirs)."""

    def keep(shard, group, first, rows):
        column = shard.read_row_group(group, columns=["split"]).column(0)
        return np.asarray(pc.equal(column, split))

    for path in paths:
        for _, table in read_selected_row_groups(path, keep):
            yield table
