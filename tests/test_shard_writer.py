"""ShardWriter: rows given as records or as tables land in one parquet shard, grouped by split,
in the order given, with the stats json written last."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quilt_hf.schema import make_record
from quilt_hf.shards import ARROW_SCHEMA, ShardWriter, is_done, shard_path, stats_path


def record(i: int, split: str) -> dict:
    return make_record(
        image={"bytes": bytes([i]), "path": f"{i}.jpg"},
        caption=f"caption {i}",
        subset="quilt",
        split=split,
        source_id=f"video{i}",
    )


def test_tables_and_records_group_by_split_in_order(tmp_path):
    splits = ["train", "val", "train", "train", "val", "train", "val", "train"]
    rows = [record(i, split) for i, split in enumerate(splits)]
    with ShardWriter(tmp_path, "s-00000", batch_rows=2, group_by="split") as writer:
        writer.write_table(pa.Table.from_pylist(rows[:5], schema=ARROW_SCHEMA))
        writer.write(rows[5])
        writer.write_table(pa.Table.from_pylist(rows[6:], schema=ARROW_SCHEMA))
        writer.stats.skip("missing_image", "x.jpg")
    assert is_done(tmp_path, "s-00000")
    assert json.loads(stats_path(tmp_path, "s-00000").read_text())["rows"] == 8
    shard = pq.ParquetFile(shard_path(tmp_path, "s-00000"))
    groups = [shard.read_row_group(g).to_pylist() for g in range(shard.num_row_groups)]
    assert all(len({row["split"] for row in group}) == 1 for group in groups)  # one split each
    by_split = {}
    for group in groups:
        for row in group:
            by_split.setdefault(row["split"], []).append(row["caption"])
    for split in ("train", "val"):
        wanted = [f"caption {i}" for i, s in enumerate(splits) if s == split]
        assert by_split[split] == wanted


def test_a_table_in_another_schema_is_refused(tmp_path):
    writer = ShardWriter(tmp_path, "s-00001")
    with pytest.raises(ValueError, match="schema"):
        writer.write_table(pa.table({"caption": ["x"]}))
    writer.abort()
    assert not shard_path(tmp_path, "s-00001").exists()
