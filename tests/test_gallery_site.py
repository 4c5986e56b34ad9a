"""quilt inspect: the site files (chunks, facet index, search index, thumbnails, timelines)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quilt_hf.cli import main
from quilt_hf.errors import QuiltError
from quilt_hf.gallery.links import clock, source_link
from quilt_hf.gallery.search_index import shard_name, tokenize
from quilt_hf.gallery.site import build_site
from quilt_hf.gallery.source import iter_batches
from quilt_hf.synthetic.gallery_dataset import write_synthetic_dataset


def read_js(path: Path, function: str) -> list:
    """The JSON arguments of a ``Quilt.fn(...)`` data file."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"Quilt.{function}(") and text.rstrip().endswith(");")
    return json.loads("[" + text[len(f"Quilt.{function}(") : text.rstrip().rindex(")")] + "]")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("syn"), 650, images=120, videos=3)


@pytest.fixture(scope="module")
def site(dataset, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("site") / "site"
    return out, build_site(dataset, out, chunk_size=100, progress=False)


def all_rows(dataset: Path) -> list[dict]:
    rows = []
    for split in ("train", "val"):
        rows += pq.read_table(dataset / "data" / f"{split}-00000-of-00001.parquet").to_pylist()
    return rows


def test_tokenize_and_shards():
    assert tokenize("Signet-ring cells, H&E x40; Größe") == [
        "signet",
        "ring",
        "cells",
        "x40",
        "größe",
    ]
    assert shard_name("carcinoma") == "ca"
    assert shard_name("größe") == "gr"
    assert shard_name("élan") == "ue9_6c"


def test_source_links():
    assert source_link("quilt", "abc_DEF-12", "", 83.9) == (
        "https://www.youtube.com/watch?v=abc_DEF-12&t=83s",
        "YouTube 1:23",
    )
    assert source_link("openpath", "1234567890123", "", None)[0].endswith("/status/1234567890123")
    assert source_link("pubmed", "PMC123/F1/a", "pmc://PMC123/x.jpg", None) == (
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC123/",
        "PMC123",
    )
    assert source_link("laion", "x", "https://example.org/a.jpg", None)[1] == "example.org"
    assert source_link("laion", "javascript:alert(1)", "javascript:alert(1)", None)[0] == ""
    assert clock(3725) == "1:02:05"


def test_chunks_hold_every_row_in_order(site, dataset):
    out, result = site
    rows = all_rows(dataset)
    assert result.rows == len(rows) == 650 and result.chunks == 7
    chunk_rows = []
    for number in range(result.chunks):
        chunk_id, chunk = read_js(out / "data" / "chunks" / f"{number:05d}.js", "chunk")
        assert chunk_id == number
        chunk_rows += chunk
    assert [r[0] for r in chunk_rows] == [r["caption"] for r in rows]
    (index,) = read_js(out / "data" / "index.js", "index")
    assert index["total"] == 650 and [c["n"] for c in index["chunks"]] == [100] * 6 + [50]
    # Facet counts per chunk are exact.
    subsets = index["facets"]["subset"]
    for number, chunk in enumerate(index["chunks"]):
        expected = [0] * len(subsets)
        for row in rows[number * 100 : (number + 1) * 100]:
            expected[subsets.index(row["subset"])] += 1
        assert chunk["f"]["subset"] + [0] * (len(subsets) - len(chunk["f"]["subset"])) == expected


def test_search_index_finds_every_chunk_with_the_token(site, dataset):
    out, _ = site
    rows = all_rows(dataset)
    for token in ("psammoma", "adenocarcinoma", "nuclei"):
        _, postings = read_js(out / "data" / "search" / f"{shard_name(token)}.js", "tokens")
        # whole-word, case-insensitive matches, found here without the code's tokenizer
        word = re.compile(rf"(?<![^\W_]){token}(?![^\W_])", re.IGNORECASE)
        expected = sorted({i // 100 for i, r in enumerate(rows) if word.search(r["caption"])})
        assert expected and postings[token] == expected


def test_thumbnails_are_made_once(site, dataset, tmp_path):
    out, result = site
    made = result.counts["thumbs_made"]
    assert made == len({r["image_sha256"] for r in all_rows(dataset)})
    thumbs = sorted(out.glob("thumbs/*/*.jpg"))
    assert len(thumbs) == made
    before = {p: p.stat().st_mtime_ns for p in thumbs}
    again = build_site(dataset, out, chunk_size=100, progress=False)
    assert again.counts.get("thumbs_made", 0) == 0 and again.counts["thumbs_existing"] == made
    assert {p: p.stat().st_mtime_ns for p in thumbs} == before


def test_bad_image_is_counted_and_shown_without_thumbnail(tmp_path):
    import pyarrow as pa

    dataset = write_synthetic_dataset(tmp_path / "d", 20, images=5)
    path = dataset / "data" / "train-00000-of-00001.parquet"
    table = pq.read_table(path)
    images = table.column("image").to_pylist()
    images[0] = {"bytes": b"not an image", "path": None}
    images[1] = None  # metadata-only row
    hashes = table.column("image_sha256").to_pylist()
    hashes[0] = hashes[1] = ""
    table = table.set_column(
        table.schema.get_field_index("image"),
        "image",
        pa.array(images, table.schema.field("image").type),
    )
    table = table.set_column(
        table.schema.get_field_index("image_sha256"), "image_sha256", pa.array(hashes)
    )
    pq.write_table(table, path)
    result = build_site(dataset, tmp_path / "site", progress=False)
    assert result.counts["thumbs_failed"] == 1 and result.rows == 20
    _, chunk = read_js(tmp_path / "site" / "data" / "chunks" / "00000.js", "chunk")
    assert chunk[0][8] == "" and chunk[1][8] == "" and chunk[2][8].startswith("thumbs/")


def test_max_rows_and_bad_inputs(dataset, tmp_path):
    assert build_site(dataset, tmp_path / "s", max_rows=7, progress=False).rows == 7
    (tmp_path / "empty").mkdir()
    with pytest.raises(QuiltError, match="no parquet"):
        build_site(tmp_path / "empty", tmp_path / "s2", progress=False)
    with pytest.raises(QuiltError, match="--videos"):
        build_site(dataset, tmp_path / "s3", video_dirs=[tmp_path / "empty"], progress=False)


def test_datasets_path_reads_the_same_rows(dataset):
    """The Hub-id path (load_dataset) yields the same rows as the pyarrow folder path."""
    from quilt_hf.gallery.source import _datasets_batches, _with_columns

    via_datasets = [
        r["caption"] for t in _datasets_batches(str(dataset)) for r in _with_columns(t).to_pylist()
    ]
    via_parquet = [r["caption"] for t in iter_batches(dataset) for r in t.to_pylist()]
    assert sorted(via_datasets) == sorted(via_parquet) and len(via_parquet) == 650


def test_video_timeline_from_dataset_rows(site, dataset):
    out, result = site
    rows = [r for r in all_rows(dataset) if r["subset"] == "quilt"]
    videos = {r["source_id"] for r in rows}
    assert result.videos == len(videos)
    video = sorted(videos)[0]
    html = (out / "videos" / f"{video}.html").read_text(encoding="utf-8")
    images = {r["image_sha256"] for r in rows if r["source_id"] == video}
    windows = {(r["start_time"], r["end_time"]) for r in rows if r["source_id"] == video}
    assert html.count('class="keyframe"') == len(images)
    assert html.count('class="text-window"') == len(windows)
    assert "pass its folder with --videos" in html


def test_cli_inspect(dataset, tmp_path, capsys):
    assert main(["inspect", str(dataset), "--out", str(tmp_path / "site"), "--max-rows", "30"]) == 0
    assert re.search(r"wrote 30 rows in 1 chunks", capsys.readouterr().out)
    assert main(["inspect", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 1
