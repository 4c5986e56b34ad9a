"""Metadata-only release then rehydration from loopback HTTP and a PMC folder, sha256 verified."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quilt_hf.cli import main
from quilt_hf.images import load_image
from quilt_hf.rehydrate import make_metadata_only
from quilt_hf.synthetic.tiny_clip import solid_jpeg, write_quilt_folder


@pytest.fixture()
def web(tmp_path: Path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_metadata_only_then_rehydrate(tmp_path: Path, web) -> None:
    root, base = web
    originals = [solid_jpeg(i, size=48) for i in range(4)]
    stored = [load_image(b) for b in originals]
    (root / "a.jpg").write_bytes(originals[0])
    (root / "changed.jpg").write_bytes(originals[3])  # the source changed since the build
    (tmp_path / "pmc" / "PMC123" / "figs").mkdir(parents=True)
    (tmp_path / "pmc" / "PMC123" / "figs" / "f1.jpg").write_bytes(originals[1])
    rows = [
        {
            "image": s.as_feature(f"{i}.jpg"),
            "caption": f"caption {i}",
            "subset": subset,
            "source_id": f"src{i}",
            "image_sha256": s.sha256,
            "image_url": url,
        }
        for i, (s, subset, url) in enumerate(
            zip(
                stored,
                ["laion", "pubmed", "quilt", "openpath"],
                [
                    f"{base}/a.jpg",
                    "pmc://PMC123/figs/f1.jpg",
                    "https://www.youtube.com/watch?v=abc",
                    f"{base}/changed.jpg",
                ],
                strict=True,
            )
        )
    ]
    rows[3]["image_sha256"] = stored[2].sha256  # recorded hash no longer matches the url's bytes
    rows.append({**rows[0], "caption": "second caption of image 0"})
    built = write_quilt_folder(tmp_path / "quilt_1m", {"train": rows})

    meta = make_metadata_only(built, tmp_path / "meta")
    table = pq.read_table(meta / "data" / "train-00000-of-00001.parquet")
    assert "image" not in table.column_names and table.num_rows == 5
    assert {"image_url", "image_sha256", "caption", "image_time"} <= set(table.column_names)
    assert "metadata-only" in (meta / "README.md").read_text()

    out = tmp_path / "rehydrated"
    assert (
        main(["rehydrate", str(meta), "--out", str(out), "--pmc-dir", str(tmp_path / "pmc")]) == 0
    )
    stats = json.loads((out / "rehydrate_stats.json").read_text())
    assert stats["rows_written"] == 3  # web image twice (two captions) + PMC figure
    assert stats["skipped_by_reason"] == {"youtube_not_rehydratable": 1, "sha256_mismatch": 1}
    from datasets import load_dataset

    ds = load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert sorted(ds["caption"]) == ["caption 0", "caption 1", "second caption of image 0"]
    hashes = {r["image_sha256"] for r in ds}
    assert hashes == {stored[0].sha256, stored[1].sha256}
    raw = pq.read_table(out / "data" / "train-00000-of-00001.parquet").column("image").to_pylist()
    from quilt_hf.images import sha256_hex

    assert {sha256_hex(r["bytes"]) for r in raw} == hashes
