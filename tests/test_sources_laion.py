"""The laion source (LAION parquet): row-range shards, similarity filter, loopback downloads."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sources_fixtures import ImageServer, make_jpeg

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate
from quilt_hf.sources import laion

DOWNLOAD = {"download": {"timeout": 0.5, "retries": 1, "threads": 4}}


def write_metadata(path, rows, row_group_size=4, upper=False):
    names = ["url", "caption", "similarity", "width", "height", "license"]
    if upper:  # LAION's own spelling
        names = ["URL", "TEXT", "similarity", "WIDTH", "HEIGHT", "LICENSE"]
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            names[0]: pa.array(columns[0], pa.string()),
            names[1]: pa.array(columns[1], pa.string()),
            names[2]: pa.array(columns[2], pa.float32()),
            names[3]: pa.array(columns[3], pa.int64()),
            names[4]: pa.array(columns[4], pa.int64()),
            names[5]: pa.array(columns[5], pa.string()),
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


@pytest.fixture()
def server():
    with ImageServer() as running:
        yield running


def run(tasks):
    out = []
    for task in tasks:
        json.dumps(list(task.items))
        out.extend(laion.iter_candidates(task))
    return out


def test_rows_to_pairs_with_every_failure_counted(tmp_path, server):
    good = [server.add(f"/img/{i}.jpg", body=make_jpeg(i)) for i in range(6)]
    bad = {
        "http_500": server.add("/e.jpg", status=500, content_type="text/plain"),
        "http_404": server.base + "/gone.jpg",
        "x_robots_noai": server.add("/n.jpg", body=make_jpeg(9), headers={"X-Robots-Tag": "noai"}),
        "not_an_image": server.add("/p.jpg", body=b"<html/>", content_type="text/html"),
        "truncated": server.add("/t.jpg", body=make_jpeg(8), behaviour="truncated"),
        "timeout": server.add("/slow.jpg", body=b"\xff" * 100, behaviour="slow_drip"),
    }
    rows = [(url, f"Micrograph {i}", 0.35, 64, 48, "?") for i, url in enumerate(good)]
    rows[0] = (
        good[0],
        "  Spaced   caption ",
        0.4,
        64,
        48,
        "https://creativecommons.org/licenses/by-sa/3.0/",
    )
    rows += [(url, "bad", 0.35, None, None, "?") for url in bad.values()]
    rows += [
        (server.add("/low.jpg", body=make_jpeg(7)), "low", 0.1, 64, 48, "?"),
        (None, "no url", 0.5, None, None, "?"),
        (good[1], "", 0.5, None, None, "?"),
    ]
    write_metadata(tmp_path / "meta.parquet", rows)
    config = {"metadata": ["*.parquet"], "min_similarity": 0.3}
    tasks = laion.plan_shards(config, tmp_path, shard_size=5, options=DOWNLOAD)
    assert [(t.items[0]["start"], t.items[0]["stop"]) for t in tasks] == [(0, 5), (5, 10), (10, 15)]
    out = run(tasks)
    candidates = [c for c in out if isinstance(c, Candidate)]
    assert [c.source_id for c in candidates] == good
    assert candidates[0].caption == "Spaced caption"
    assert candidates[0].fields["license"] == "CC BY-SA 3.0"
    assert candidates[1].fields["license"] == ""
    assert candidates[2].fields == {
        "noisy_text": "Micrograph 2",
        "text_source": "alt_text",
        "license": "",
        "image_url": good[2],
    }
    assert candidates[3].image_bytes == make_jpeg(3)
    skips = [s for s in out if isinstance(s, SkipRecord)]
    assert Counter(s.reason for s in skips) == {
        **dict.fromkeys(bad, 1),
        "low_similarity": 1,
        "missing_url": 1,
        "empty_caption": 1,
    }
    assert {s.detail for s in skips if s.reason in bad} == set(bad.values())
    assert server.hits["/low.jpg"] == 0  # filtered rows are never downloaded


def test_laion_column_names_and_row_ranges_across_row_groups(tmp_path, server):
    urls = [server.add(f"/u/{i}.jpg", body=make_jpeg(i)) for i in range(11)]
    write_metadata(
        tmp_path / "laion.parquet",
        [(u, f"cap {i}", None, 1, 1, None) for i, u in enumerate(urls)],
        row_group_size=3,
        upper=True,
    )
    for size in (1, 4, 20):
        tasks = laion.plan_shards({"metadata": "laion.parquet"}, tmp_path, size, DOWNLOAD)
        rows = [r["caption"] for t in tasks for i in t.items for r in laion.read_rows(**i)]
        assert rows == [f"cap {i}" for i in range(11)]
    out = run(laion.plan_shards({"metadata": "laion.parquet"}, tmp_path, 4, DOWNLOAD))
    assert [c.source_id for c in out] == urls  # no similarity column value: kept at min 0


def test_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(QuiltError, match="not a readable parquet"):
        laion.plan_shards({"metadata": ["broken.parquet"]}, tmp_path, 10, {})
    pq.write_table(pa.table({"foo": [1]}), tmp_path / "nourl.parquet")
    with pytest.raises(QuiltError, match="no url column"):
        laion.plan_shards({"metadata": ["nourl.parquet"]}, tmp_path, 10, {})
    with pytest.raises(QuiltError, match="min_similarity"):
        laion.plan_shards(
            {"metadata": ["nourl.parquet"], "min_similarity": "high"}, tmp_path, 10, {}
        )
