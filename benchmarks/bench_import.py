"""Import benchmark: `quilt import quilt1m` beside a pyarrow floor on the same synthetic release.

Makes a released-format lookup CSV of N rows (default 200,000; pandas-written, with an index column
and list literals) over M small JPEGs (default 50,000) in a zip, then times, each in its own process
(so peak RSS is its own):
  floor   pyarrow streaming the CSV + zipfile reads + a streamed ParquetWriter of the same rows
          (no parsing of list literals, no checks): the least any importer must do
  ours    quilt import quilt1m (literal parsing, per-image hashing once, resumable shards, final
          dataset folder with card)
and prints rows/s, seconds and peak RSS of each and their ratio.

    python benchmarks/bench_import.py [--rows 200000] [--images 50000]
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from child_process import measure


def make_release(folder: Path, rows: int, images: int) -> tuple[Path, Path]:
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    archive = folder / "quilt_1m_images.zip"
    names = [f"vid{i % 997:04d}_image_{i:08d}.jpg" for i in range(images)]
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        tiles = []
        for _ in range(64):
            buffer = io.BytesIO()
            Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(buffer, "JPEG")
            tiles.append(buffer.getvalue())
        for i, name in enumerate(names):
            zf.writestr(f"quilt_1m/{name}", tiles[i % 64] + i.to_bytes(4, "big"))
    pick = rng.integers(0, images, rows)
    frame = pd.DataFrame(
        {
            "caption": [
                f"H&E section {i}: glands with mild atypia, see the nuclei" for i in range(rows)
            ],
            "image_path": [names[j] for j in pick],
            "subset": "quilt",
            "split": np.where(rng.random(rows) < 0.02, "val", "train"),
            "pathology": "['Gastrointestinal']",
            "roi_text": "['glands here', 'nuclei']",
            "noisy_text": "hemotoxin lin and eosin",
            "corrected_text": "hematoxylin and eosin",
            "med_umls_ids": "['C0017667', 'C0026682']",
            "magnification": rng.integers(0, 3, rows),
            "height": 32,
            "width": 32,
            "single_wsi": 1,
            "not_histology": 0,
        }
    )
    lookup = folder / "quilt_1M_lookup.csv"
    frame.to_csv(lookup)
    return lookup, archive


def floor(lookup: Path, archive: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from quilt_hf.shards import ARROW_SCHEMA

    zf = zipfile.ZipFile(archive)
    members = {Path(i.filename).name: i.filename for i in zf.infolist()}
    with pq.ParquetWriter(out / "floor.parquet", ARROW_SCHEMA) as writer:
        for batch in pacsv.open_csv(lookup):
            columns = batch.to_pydict()
            rows = [
                {
                    "image": {"bytes": zf.read(members[name]), "path": name},
                    "image_path": name,
                    "caption": caption,
                    "subset": "quilt",
                    "split": split,
                }
                for name, caption, split in zip(
                    columns["image_path"], columns["caption"], columns["split"], strict=True
                )
            ]
            writer.write_table(pa.Table.from_pylist(rows, schema=ARROW_SCHEMA))


def ours(lookup: Path, archive: Path, out: Path) -> None:
    from quilt_hf.cli import main

    assert main(["import", "quilt1m", "--lookup", str(lookup), "--images", str(archive), "--out", str(out / "quilt_1m")]) == 0  # fmt: skip


def run(name: str, lookup: Path, archive: Path, out: Path) -> tuple[float, float]:
    target = {"floor": floor, "ours": ours}[name]
    return measure(target, lookup, archive, out, warm_imports=("quilt_hf.cli", "quilt_hf.shards"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--images", type=int, default=50_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="quilt-bench-import-"))
    try:
        started = time.perf_counter()
        lookup, archive = make_release(folder, args.rows, args.images)
        print(
            f"synthetic release: {args.rows:,} rows, {args.images:,} images "
            f"({archive.stat().st_size / 2**20:.0f} MiB zip) in {time.perf_counter() - started:.1f}s"
        )
        results = {}
        for name in ("floor", "ours"):
            out = folder / name
            out.mkdir()
            results[name] = run(name, lookup, archive, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'':8s} {'rows/s':>10s} {'seconds':>8s} {'peak RSS MiB':>13s}")
    for name, (seconds, rss) in results.items():
        print(f"{name:8s} {args.rows / seconds:10,.0f} {seconds:8.1f} {rss:13.0f}")
    ratio = results["ours"][0] / results["floor"][0]
    print(f"ours takes {ratio:.2f}x the floor's time (target <= 2x); peak RSS target < 1024 MiB")


if __name__ == "__main__":
    main()
