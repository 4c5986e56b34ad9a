"""Row selection: a pair listed twice in one item is one row; one image with several texts stays."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
from sources_fixtures import ImageServer, make_jpeg

from quilt_hf.build import build_dataset
from quilt_hf.build_config import BuildConfig


def test_a_web_pair_listed_twice_is_one_row(tmp_path):
    with ImageServer() as server:
        a = server.add("/a.jpg", body=make_jpeg(1, size=(96, 96)))
        b = server.add("/b.jpg", body=make_jpeg(2, size=(96, 96)))
        mirror_of_a = server.add("/mirror/a.jpg", body=make_jpeg(1, size=(96, 96)))
        pairs = [
            (a, "an H&E section of a colon adenoma"),
            (a, "an H&E section of a colon adenoma"),  # the same url + caption again
            (b, "a renal biopsy, PAS stain"),
            (a, "the same image, a different alt text"),  # one image, another text: kept
            (a, "an H&E section of a colon adenoma"),  # and a third time
            (mirror_of_a, "a mirror of the first image"),  # same bytes, another item
        ]
        metadata = tmp_path / "laion.parquet"
        pq.write_table(
            pa.table({"url": [u for u, _ in pairs], "caption": [c for _, c in pairs]}), metadata
        )
        config = BuildConfig(
            sources={"laion": {"metadata": [str(metadata)]}},
            shard_size=2,  # the repeats land in other shards than the first listing
            val_fraction=0.0,
            base_dir=tmp_path,
        )
        config.filters.keep_non_histology = True  # noise images: the classifier is not tested here
        result = build_dataset(config, tmp_path / "out")
    rows = pq.read_table(sorted((tmp_path / "out" / "data").glob("*.parquet"))).to_pylist()
    assert Counter((r["source_id"], r["caption"]) for r in rows) == Counter(
        {
            (a, "an H&E section of a colon adenoma"): 1,
            (a, "the same image, a different alt text"): 1,
            (b, "a renal biopsy, PAS stain"): 1,
        }
    )
    assert result.skipped["duplicate_row"] == 2
    assert result.skipped["duplicate_exact"] == 1  # the mirror: same image in another item
    stats = json.loads((tmp_path / "out" / "build_stats.json").read_text())
    assert stats["dedup"] == {"duplicate_row": 2, "duplicate_exact": 1}
