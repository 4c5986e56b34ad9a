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
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq

from quilt_hf.build_config import BuildConfig
from quilt_hf.dataset_card import DatasetSummary, write_dataset_card
from quilt_hf.errors import QuiltError
from quilt_hf.schema import SPLITS
from quilt_hf.shards import read_all_stats, write_json_atomic

log = logging.getLogger(__name__)
WORK_DIRNAME = ".quilt_work"


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
    work_root = out_dir / WORK_DIRNAME
    prepared = work_root / f"prepared-{uuid.uuid4().hex[:8]}"
    report: dict[str, Any] = {}
    with sample_server(config):
        builder = BUILDERS[builder_name](
            config_name="default",
            build=config,
            work_root=str(work_root / "shards"),
            executor=executor,
            report=report,
            cache_dir=str(work_root / "hf_cache"),
        )
        builder.download_and_prepare(
            output_dir=str(prepared),
            file_format="parquet",
            max_shard_size=config.max_shard_bytes,
            download_mode=datasets.DownloadMode.FORCE_REDOWNLOAD,
        )
    files = install_parquet(prepared, out_dir / "data", builder.name)
    shutil.rmtree(prepared, ignore_errors=True)
    shutil.rmtree(work_root / "hf_cache", ignore_errors=True)

    counts = {s: c for s, c in report.get("per_split", {}).items()}
    skipped = Counter()
    for subset in counts:
        for stats in read_all_stats(work_root / "shards" / subset):
            skipped.update(stats.skipped)
    skipped.update({f"{k}": v for k, v in report.get("dedup", {}).items()})
    summary = DatasetSummary(
        counts=counts,
        # the writer's uncompressed Arrow sizes: what dataset_info's num_bytes means on the Hub
        split_bytes={name: info.num_bytes for name, info in (builder.info.splits or {}).items()},
        unique_images=count_unique_images(files),
        skipped=dict(skipped),
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
    from quilt_hf.sample.server import serve_sample

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


def install_parquet(prepared: Path, data_dir: Path, builder_name: str) -> list[Path]:
    """Move the builder's parquet files to ``data/{split}-XXXXX-of-NNNNN.parquet``, replacing the
    previous build's files only once the new ones are complete."""
    staged = data_dir.with_name(data_dir.name + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for split in SPLITS:
        sources = sorted(prepared.glob(f"{builder_name}-{split}*.parquet"))
        for index, source in enumerate(sources):
            os.replace(source, staged / f"{split}-{index:05d}-of-{len(sources):05d}.parquet")
    if data_dir.exists():
        old = data_dir.with_name(data_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(data_dir, old)
        os.replace(staged, data_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, data_dir)
    return sorted(data_dir.glob("*.parquet"))


def count_unique_images(files: list[Path]) -> int:
    seen: set[str] = set()
    for path in files:
        seen.update(pq.read_table(path, columns=["image_sha256"]).column(0).to_pylist())
    return len(seen)


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


def dump_json(result: BuildResult) -> str:
    return json.dumps({"counts": result.counts, "skipped": result.skipped}, indent=2)
