"""The released-dataset builders in loading_scripts/ (a user's ``download_and_prepare``) give the
rows ``quilt import`` writes: both run the same importer through the library's public API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from quilt_hf.cli import main


def test_arch_builder_equals_quilt_import(tmp_path: Path):
    from loading_scripts.released import ArchBuilder
    from quilt_hf.importers.arch import ArchOptions

    images = tmp_path / "pubmed_set" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(1)
    entries = {}
    for i in range(4):
        uuid = f"9f8e7d6c-{i:04d}"
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(
            images / f"{uuid}.png"
        )
        entries[str(i)] = {
            "caption": f"Figure {i}: lymph node with metastatic carcinoma",
            "uuid": uuid,
        }
    captions = tmp_path / "pubmed_set" / "captions.json"
    captions.write_text(json.dumps(entries))

    out = tmp_path / "imported"
    assert main(["import", "arch", "--captions", str(captions), "--images", str(images),
                 "--out", str(out)]) == 0  # fmt: skip
    imported = pq.read_table(sorted((out / "data").glob("*.parquet")))

    builder = ArchBuilder(
        options=ArchOptions(captions=captions, images=images),  # as the CLI passes them
        work_root=str(tmp_path / "work"),
        cache_dir=str(tmp_path / "hf_cache"),
    )
    builder.download_and_prepare()
    prepared = builder.as_dataset()
    assert list(prepared) == ["val"]
    got = prepared["val"].with_format("arrow")[:]
    assert got.num_rows == imported.num_rows == 4
    columns = ["subset", "split", "source_id", "caption", "image_sha256"]
    assert got.select(columns).to_pylist() == imported.select(columns).to_pylist()
    assert [i["bytes"] for i in got["image"].to_pylist()] == [
        i["bytes"] for i in imported["image"].to_pylist()
    ]
