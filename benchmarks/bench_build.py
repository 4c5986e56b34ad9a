"""Build benchmark: our write path beside the pyarrow floor on identical synthetic rows.

Prints, for N rows (default 100,000) of ~2 KB image bytes + captions:
  floor      pyarrow ParquetWriter streaming batches built from the same row dicts
  shards     our ShardWriter writing resumable work shards (1,000 rows each) from the row dicts
  assemble   select_rows + write_dataset_folder: kept rows from the work shards into the final dataset
             (dedup + split selection + streamed parquet write): `quilt build` minus the sources
rows/s, wall seconds and peak RSS of each (every stage runs in its own process so peak RSS is its
own), the ratio to the floor, and the dedup stage (sha256 + perceptual hash) in images/s per core.

    python benchmarks/bench_build.py [--rows 100000] [--dedup-images 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from child_process import measure

SHARD_ROWS = 1000
VAL_FRACTION = 0.02
BATCH = 512


def synthetic_rows(start: int, stop: int):
    """Deterministic rows in the unified schema; image bytes are ~2 KB of pseudo-random data."""
    from quilt_hf.schema import make_record

    for i in range(start, stop):
        blob = hashlib.sha256(str(i).encode()).digest() * 64  # 2,048 bytes
        yield make_record(
            image={"bytes": blob, "path": f"laion_{i:08d}.jpg"},
            image_path=f"laion_{i:08d}.jpg",
            caption=f"H&E section number {i} showing glandular architecture with mild atypia",
            subset="laion",
            source_id=f"http://127.0.0.1/img/{i}.jpg",
            image_sha256=hashlib.sha256(blob).hexdigest(),
            height=64,
            width=64,
        )


def stage_floor(rows: int, out: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from quilt_hf.shards import ARROW_SCHEMA

    with pq.ParquetWriter(Path(out) / "floor.parquet", ARROW_SCHEMA) as writer:
        for start in range(0, rows, BATCH):
            batch = list(synthetic_rows(start, min(rows, start + BATCH)))
            writer.write_table(pa.Table.from_pylist(batch, schema=ARROW_SCHEMA))


def stage_shards(rows: int, out: str) -> None:
    from quilt_hf.shards import ShardWriter
    from quilt_hf.splits import assign_split
    from quilt_hf.tasks import WORK_SCHEMA

    directory = Path(out) / "work" / "shards" / "laion"
    for shard, start in enumerate(range(0, rows, SHARD_ROWS)):
        # as run_shard_task does: split assigned by source group, rows grouped by split
        with ShardWriter(
            directory, f"laion-{shard:05d}", schema=WORK_SCHEMA, group_by="split"
        ) as writer:
            for i, record in enumerate(synthetic_rows(start, min(rows, start + SHARD_ROWS))):
                record["split"] = assign_split("laion", record["source_id"], VAL_FRACTION)
                record["phash"] = (start + i) * 0x9E3779B97F4A7C15 % 2**64  # distinct hashes
                record["histology_prob"] = 1.0
                writer.write(record)


def stage_assemble(rows: int, out: str) -> None:
    from quilt_hf.assembly import select_rows
    from quilt_hf.build_config import BuildConfig, DedupOptions
    from quilt_hf.dataset_folder import write_dataset_folder

    # The shards already exist and are done: assembly alone is measured (row selection, cross-source
    # dedup + splits, timed apart from the write it feeds).
    config = BuildConfig(sources={"laion": {}}, val_fraction=VAL_FRACTION)
    config.filters.dedup = DedupOptions(phash_max_distance=0)
    started = time.perf_counter()
    selection = select_rows(config, Path(out) / "work" / "shards", ["laion"])
    spent = time.perf_counter() - started
    write_dataset_folder(
        Path(out) / "quilt_1m",
        selection.tables_by_split(),
        counts=selection.per_split,
        skipped=selection.dedup,
        repo_id="quilt_1m",
    )
    (Path(out) / "select.json").write_text(json.dumps({"seconds": spent}))


def stage_dedup(images: int, out: str) -> None:
    from PIL import Image

    from quilt_hf.filters.dedup import Deduplicator, phash_int

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(images):
        array = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).resize((512, 512)).save(buffer, "JPEG", quality=85)
        blobs.append(buffer.getvalue())
    started = time.perf_counter()
    dedup = Deduplicator(phash_max_distance=6)
    for blob in blobs:
        image = Image.open(io.BytesIO(blob))
        dedup.check_and_add(hashlib.sha256(blob).hexdigest(), phash_int(image))
    (Path(out) / "dedup.json").write_text(json.dumps({"seconds": time.perf_counter() - started}))


STAGES = {"floor": stage_floor, "shards": stage_shards, "assemble": stage_assemble}


WARM_IMPORTS = (
    "datasets",
    "imagehash",
    "quilt_hf.assembly",
    "quilt_hf.shards",
    "quilt_hf.tasks",
)


def run_stage(name: str, n: int, out: str) -> tuple[float, float]:
    return measure((STAGES | {"dedup": stage_dedup})[name], n, out, warm_imports=WARM_IMPORTS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dedup-images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in STAGES}
    selection: list[float] = []
    for _ in range(args.repeats):
        out = tempfile.mkdtemp(prefix="quilt-bench-build-")
        try:
            for name in STAGES:  # order matters: assemble reads the shards
                results[name].append(run_stage(name, args.rows, out))
            selection.append(json.loads((Path(out) / "select.json").read_text())["seconds"])
        finally:
            shutil.rmtree(out, ignore_errors=True)
    print(f"build benchmark: {args.rows:,} rows, median of {args.repeats}")
    print(
        f"{'stage':10s} {'rows/s':>10s} {'seconds':>8s} {'peak RSS MiB':>13s} {'floor/stage':>12s}"
    )
    floor_seconds = float(np.median([s for s, _ in results["floor"]]))
    for name, runs in results.items():
        seconds = float(np.median([s for s, _ in runs]))
        rss = float(np.median([r for _, r in runs]))
        print(
            f"{name:10s} {args.rows / seconds:10,.0f} {seconds:8.2f} {rss:13.0f} {floor_seconds / seconds:12.2f}"
        )
    select_seconds = float(np.median(selection))
    assemble_seconds = float(np.median([seconds for seconds, _ in results["assemble"]]))
    write_seconds = assemble_seconds - select_seconds
    print(
        f"  assemble = row selection (dedup + splits, Python per row) {select_seconds:.2f}s "
        f"+ streaming the kept rows to data/ {write_seconds:.2f}s "
        f"({args.rows / write_seconds:,.0f} rows/s, floor/write {floor_seconds / write_seconds:.2f})"
    )
    out = tempfile.mkdtemp(prefix="quilt-bench-dedup-")
    try:
        seconds, _ = run_stage("dedup", args.dedup_images, out)
        inner = json.loads((Path(out) / "dedup.json").read_text())["seconds"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(
        f"dedup (sha256 + phash of 512px JPEGs, 1 process = 1 core): "
        f"{args.dedup_images / inner:,.0f} images/s per core"
    )


if __name__ == "__main__":
    main()
