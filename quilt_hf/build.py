"""``quilt build``: build a dataset folder from ``build.yaml`` (see ``quilt_hf.assembly``).

Output (everything stays inside ``out``)::

    out/data/{split}-XXXXX-of-NNNNN.parquet   images embedded; what load_dataset reads
    out/README.md                             dataset card with configs: and dataset_info
    out/build_stats.json                      counts, skips by reason, failed tasks, seconds
    out/webdataset/{split}-XXXXX.tar          with --format webdataset (jpg, txt, json)
    out/.quilt_work/                          resumable work shards (a rerun skips finished ones)
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.assembly import run_source_shards, select_rows, target_subsets
from quilt_hf.atomic import write_json_atomic
from quilt_hf.build_config import BuildConfig
from quilt_hf.dataset_folder import skipped_by_reason, work_shards_dir, write_dataset_folder
from quilt_hf.schema import SPLITS

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What one ``quilt build`` did (also written to ``out/build_stats.json``)."""

    out_dir: Path
    counts: dict[str, dict[str, int]]  # subset -> split -> rows
    skipped: dict[str, int]  # rows skipped or dropped, by reason (dedup included)
    dedup: dict[str, int]  # rows dropped as duplicates across items and sources, by reason
    failed_tasks: list[tuple[str, str]]  # (shard id, error) of tasks a rerun retries
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


def build_dataset(
    config: BuildConfig,
    out_dir: str | Path,
    *,
    builder_name: str = "quilt_1m",
    executor: Any = None,
    formats: tuple[str, ...] = ("parquet",),
    gated: bool = False,
) -> BuildReport:
    """Build ``out_dir`` from ``config``: run_source_shards -> select_rows -> write_dataset_folder."""
    started = time.perf_counter()
    subsets = target_subsets(config, builder_name)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    shards_root = build_work_root(config, out_dir)
    run = run_source_shards(config, shards_root, subsets, executor)
    selection = select_rows(config, shards_root, subsets)
    skipped = skipped_by_reason([shards_root / subset for subset in selection.per_split])
    skipped.update(selection.dedup)
    written = write_dataset_folder(
        out_dir,
        selection.tables_by_split(),
        counts=selection.per_split,
        skipped=skipped,
        repo_id=config.name,
        gated=gated,
        max_shard_bytes=config.max_shard_bytes,
        seed=config.seed,
        val_fraction=config.val_fraction,
        license=config.license,
    )
    if "webdataset" in formats:
        from quilt_hf.webdataset import write_webdataset

        write_webdataset(written.files, out_dir / "webdataset")
    report = BuildReport(
        out_dir=out_dir,
        counts=selection.per_split,
        skipped=dict(skipped),
        dedup=dict(selection.dedup),
        failed_tasks=[(o.task.shard_id, o.error) for o in run.failed],
        files=written.files,
        seconds=round(time.perf_counter() - started, 2),
    )
    write_json_atomic(
        out_dir / "build_stats.json",
        {
            "counts": report.counts,
            "skipped": report.skipped,
            "dedup": report.dedup,
            "failed_tasks": report.failed_tasks,
            "rows": report.total_rows,
            "seconds": report.seconds,
            "config": config.to_dict(),
        },
    )
    return report


def build_work_root(config: BuildConfig, out_dir: Path) -> Path:
    """The work-shard folder of ``config``'s build into ``out_dir`` (a rerun resumes from it)."""
    # everything that shapes a work shard's rows, the split included (decided by the shard task)
    return work_shards_dir(
        Path(out_dir).resolve(),
        {
            "image": asdict(config.image),
            # not filters.dedup: duplicates are decided at assembly, from finished shards
            "filters": {k: v for k, v in asdict(config.filters).items() if k != "dedup"},
            "sources": config.sources,
            "shard_size": config.shard_size,
            "base_dir": str(config.base_dir),
            "split": {"val_fraction": config.val_fraction, "seed": config.seed},
        },
    )


def format_summary(result: BuildReport) -> str:
    lines = [f"built {result.total_rows} rows into {result.out_dir} in {result.seconds:.1f}s"]
    for subset, by_split in result.counts.items():
        parts = ", ".join(f"{s} {by_split.get(s, 0)}" for s in SPLITS)
        lines.append(f"  {subset:9s} {parts}")
    if result.skipped:
        lines.append("  skipped (by reason):")
        for reason, count in sorted(result.skipped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {reason:24s} {count}")
    if result.failed_tasks:
        lines.append(
            f"  FAILED shard tasks ({len(result.failed_tasks)}); rerun the build to retry them:"
        )
        for shard_id, error in result.failed_tasks:
            lines.append(f"    {shard_id}: {error}")
    return "\n".join(lines)
