"""``quilt build``: run a builder from ``build.yaml`` and lay out the dataset folder.

Output (everything stays inside ``out``)::

    out/data/{split}-XXXXX-of-NNNNN.parquet   images embedded; what load_dataset reads
    out/README.md                             dataset card with configs: and dataset_info
    out/build_stats.json                      counts, skips by reason, failed tasks, seconds
    out/webdataset/{split}-XXXXX.tar          with --format webdataset (jpg, txt, json)
    out/.quilt_work/                          resumable work shards (a rerun skips finished ones)
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.build_config import BuildConfig
from quilt_hf.dataset_card import write_dataset_card
from quilt_hf.dataset_folder import (
    builder_cache_dir,
    prepare_folder,
    skipped_by_reason,
    summarize_folder,
    work_shards_dir,
)
from quilt_hf.errors import QuiltError
from quilt_hf.schema import SPLITS
from quilt_hf.shards import write_json_atomic

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    out_dir: Path
    counts: dict[str, dict[str, int]]
    skipped: dict[str, int]
    dedup: dict[str, int]
    failed_tasks: list[tuple[str, str]]
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
) -> BuildResult:
    from loading_scripts.quilt_1m import BUILDERS

    if builder_name not in BUILDERS:
        raise QuiltError(f"unknown builder {builder_name!r}; choose one of {sorted(BUILDERS)}")
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    shards_root = work_shards_dir(
        out_dir,
        {
            "image": vars(config.image),
            "filters": vars(config.filters),
            "sources": config.sources,
            "shard_size": config.shard_size,
            "base_dir": str(config.base_dir),
        },
    )
    report: dict[str, Any] = {}
    with sample_server(config):
        builder = BUILDERS[builder_name](
            config_name="default",
            build=config,
            work_root=str(shards_root),
            executor=executor,
            report=report,
            cache_dir=builder_cache_dir(out_dir),
        )
        files, split_bytes = prepare_folder(builder, out_dir, config.max_shard_bytes)
    counts = dict(report.get("per_split", {}))
    skipped = skipped_by_reason([shards_root / subset for subset in counts])
    skipped.update(report.get("dedup", {}))
    summary = summarize_folder(
        files,
        split_bytes,
        counts,
        skipped,
        seed=config.seed,
        val_fraction=config.val_fraction,
        license=config.license,
    )
    write_dataset_card(out_dir, summary, repo_id=config.name, gated=gated)
    if "webdataset" in formats:
        from quilt_hf.webdataset import write_webdataset

        write_webdataset(files, out_dir / "webdataset")
    result = BuildResult(
        out_dir=out_dir,
        counts=counts,
        skipped=dict(skipped),
        dedup=report.get("dedup", {}),
        failed_tasks=report.get("failed_tasks", []),
        files=files,
        seconds=round(time.perf_counter() - started, 2),
    )
    write_json_atomic(
        out_dir / "build_stats.json",
        {
            "counts": result.counts,
            "skipped": result.skipped,
            "dedup": result.dedup,
            "failed_tasks": result.failed_tasks,
            "rows": result.total_rows,
            "seconds": result.seconds,
            "config": config.to_dict(),
        },
    )
    return result


@contextlib.contextmanager
def sample_server(config: BuildConfig):
    """Serve the sample corpus' web files on loopback for the duration of the build, if asked."""
    if not config.sample_server:
        yield None
        return
    from quilt_hf.synthetic.sample.server import serve_sample

    root = (config.base_dir / config.sample_server.get("root", "web")).resolve()
    if not root.is_relative_to(config.base_dir):
        raise QuiltError(
            f"sample_server.root {root} is outside the corpus folder {config.base_dir}"
        )
    try:
        with serve_sample(root, port=int(config.sample_server.get("port", 0))) as base_url:
            log.info("serving the sample corpus at %s", base_url)
            yield base_url
    except OSError as error:
        raise QuiltError(
            f"could not start the sample server on port {config.sample_server.get('port')}: {error}. "
            "Regenerate the corpus with `quilt sample --port FREE_PORT`."
        ) from error


def format_summary(result: BuildResult) -> str:
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
