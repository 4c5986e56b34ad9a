"""`quilt build` on the sample corpus: the folder load_dataset reads, splits, skips, resume."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from PIL import Image

from quilt_hf.build import build_dataset
from quilt_hf.build_config import BuildConfig
from quilt_hf.cli import main
from quilt_hf.dataset_folder import WORK_DIRNAME
from quilt_hf.errors import QuiltError
from quilt_hf.schema import COLUMNS


def rows_of(folder: Path) -> list[tuple]:
    table = pq.read_table(sorted((folder / "data").glob("*.parquet")), columns=["split", "source_id", "image_sha256", "caption"])  # fmt: skip
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def test_load_dataset_round_trip(built_sample: Path, monkeypatch):
    monkeypatch.chdir(built_sample.parent)
    ds = load_dataset("quilt_1m")
    assert set(ds) == {"train", "val"}
    assert list(ds["train"].features) == list(COLUMNS)
    subsets = {row["subset"] for split in ds for row in ds[split].select_columns(["subset"])}
    assert subsets == {"openpath", "pubmed", "laion"}
    first = ds["train"][0]
    assert isinstance(first["image"], Image.Image) and first["caption"]
    streamed = next(iter(load_dataset("quilt_1m", streaming=True)["val"]))
    assert isinstance(streamed["image"], Image.Image)
    card = (built_sample / "README.md").read_text()
    for column in COLUMNS:
        assert f"`{column}`" in card  # every column documented


def test_no_split_leakage(built_sample: Path):
    """An article's figures and panels, a thread's photos: one unit, one split. The units are read
    from the documented source ids (PMCID/figure[/panel], conversation id), not by the code."""
    unit_of = {
        "pubmed": lambda source_id: re.fullmatch(r"(PMC\d+)/[^/]+(/[A-Z])?", source_id)[1],
        "openpath": lambda source_id: source_id,
        "laion": lambda source_id: source_id,
    }
    groups: dict[tuple[str, str], list[str]] = {}
    table = pq.read_table(sorted((built_sample / "data").glob("*.parquet")), columns=["subset", "source_id", "split"])  # fmt: skip
    for subset, source_id, split in zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True):  # fmt: skip
        groups.setdefault((subset, unit_of[subset](source_id)), []).append(split)
    assert groups and all(len(set(splits)) == 1 for splits in groups.values())
    assert {s for splits in groups.values() for s in splits} == {"train", "val"}
    # the check has teeth: articles with several rows exist in both splits
    shared = {
        splits[0]
        for (subset, _), splits in groups.items()
        if subset == "pubmed" and len(splits) > 1
    }
    assert shared == {"train", "val"}


def test_bad_inputs_are_counted_not_fatal(built_sample: Path):
    stats = json.loads((built_sample / "build_stats.json").read_text())
    skipped = stats["skipped"]
    # the corpus' deliberate bad inputs, each a counted reason (see the corpus README)
    for reason in ("tweet_not_hydrated", "malformed_json", "hostile_xml", "unsafe_path", "http_500",
                   "timeout", "x_robots_noai", "not_an_image", "decompression_bomb", "corrupt_image"):  # fmt: skip
        assert skipped.get(reason, 0) >= 1, (reason, skipped)
    assert skipped.get("not_histology", 0) >= 1
    assert stats["failed_tasks"] == []
    # nothing written outside the output folder: only the dataset's own entries
    assert {p.name for p in built_sample.iterdir()} <= {
        "data",
        "README.md",
        "build_stats.json",
        WORK_DIRNAME,
    }


def test_resume_after_interruption_equals_full_build(
    sample_corpus: Path, built_sample: Path, tmp_path: Path
):
    config = BuildConfig.load(sample_corpus / "build.yaml")
    out = tmp_path / "quilt_1m"
    shutil.copytree(built_sample / WORK_DIRNAME, out / WORK_DIRNAME)
    # an interrupted build: some shards never finished (no stats json, a half-written tmp file)
    shards = sorted((out / WORK_DIRNAME).glob("shards-*/*/*.stats.json"))
    assert len(shards) >= 4
    for stats in shards[::2]:
        stats.unlink()
        parquet = stats.with_name(stats.name.replace(".stats.json", ".parquet"))
        parquet.rename(parquet.with_suffix(".parquet.tmp"))
    kept = {p: p.stat().st_mtime for p in shards[1::2]}
    result = build_dataset(config, out)
    assert not result.failed_tasks
    assert all(p.stat().st_mtime == mtime for p, mtime in kept.items())  # finished shards skipped
    assert rows_of(out) == rows_of(built_sample)


def test_webdataset_format(sample_corpus: Path, built_sample: Path, tmp_path: Path):
    out = tmp_path / "wds"
    shutil.copytree(built_sample / WORK_DIRNAME, out / WORK_DIRNAME)  # reuse the finished shards
    build_dataset(
        BuildConfig.load(sample_corpus / "build.yaml"), out, formats=("parquet", "webdataset")
    )
    tars = sorted((out / "webdataset").glob("*.tar"))
    assert [t.name.split("-")[0] for t in tars] == ["train", "val"]
    ds = load_dataset("webdataset", data_files={"train": str(tars[0])}, split="train")
    assert ds.num_rows == load_dataset(str(out), split="train").num_rows
    assert isinstance(ds[0]["jpg"], Image.Image) and ds[0]["txt"] == ds[0]["json"]["caption"]


def test_config_errors_are_clear(tmp_path: Path, capsys):
    config = tmp_path / "build.yaml"
    config.write_text("sources: {laion: {metadata: []}}\nshard_sise: 3\n")
    assert main(["build", "--config", str(config), "--out", str(tmp_path / "o")]) == 1
    assert "unknown key(s) ['shard_sise']" in capsys.readouterr().err
    config.write_text("sources: {tiktok: {}}\n")
    with pytest.raises(QuiltError, match="unknown source"):
        BuildConfig.load(config)


def test_datasets_builder_gives_the_build_rows(sample_corpus: Path, built_sample: Path, tmp_path):
    """A user's ``download_and_prepare`` of the loading_scripts builder runs the same library
    steps as ``quilt build``: same rows, same image bytes, per split (here resuming from the
    build's finished work shards, which both share)."""
    from loading_scripts.quilt_1m import Quilt1MBuilder
    from quilt_hf.build import build_work_root

    config = BuildConfig.load(sample_corpus / "build.yaml")
    builder = Quilt1MBuilder(
        config_name="quilt_1m",
        build=config,
        work_root=str(build_work_root(config, built_sample)),
        cache_dir=str(tmp_path / "hf_cache"),
    )
    builder.download_and_prepare()
    prepared = builder.as_dataset()
    columns = ["split", "source_id", "image_sha256", "caption"]
    built = pq.read_table(sorted((built_sample / "data").glob("*.parquet")))
    for split in ("train", "val"):
        expected = built.filter(pc.equal(built["split"], split))
        got = prepared[split].with_format("arrow")[:]
        assert got.select(columns).to_pylist() == expected.select(columns).to_pylist()
        assert [i["bytes"] for i in got["image"].to_pylist()] == [
            i["bytes"] for i in expected["image"].to_pylist()
        ]


def test_the_build_starts_no_server_the_sample_is_served_around_it(tmp_path: Path):
    """Unserved, the sample's urls refuse connections and the build counts them; served, it builds."""
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus
    from quilt_hf.synthetic.sample.server import free_port, serve_corpus

    corpus = tmp_path / "corpus"
    write_sample_corpus(corpus, seed=0, port=free_port(), videos=False)
    config = BuildConfig.load(corpus / "build.yaml")
    config.sources = {"laion": config.sources["laion"]}  # urls only: enough to tell
    unserved = build_dataset(config, tmp_path / "unserved")
    assert unserved.skipped.get("connection_error", 0) >= 10
    assert unserved.total_rows == 0
    with serve_corpus(corpus):
        served = build_dataset(config, tmp_path / "served")
    assert "connection_error" not in served.skipped and served.total_rows >= 10
