"""build.yaml: every documented key works, unknown keys anywhere are errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quilt_hf.assembly import select_rows
from quilt_hf.build_config import BuildConfig, DedupOptions
from quilt_hf.download import DEFAULT_MAX_BYTES, DEFAULT_USER_AGENT, Downloader
from quilt_hf.errors import QuiltError
from quilt_hf.shards import ShardWriter
from quilt_hf.tasks import WORK_SCHEMA


def load(tmp_path: Path, text: str) -> BuildConfig:
    path = tmp_path / "build.yaml"
    path.write_text("sources: {laion: {metadata: [m.parquet]}}\n" + text)
    return BuildConfig.load(path)


def test_download_block_reaches_the_downloader(tmp_path):
    config = load(
        tmp_path,
        "download: {timeout: 2, retries: 0, threads: 3, deadline: 7.5, respect_robots: false}\n",
    )
    with Downloader(config.download) as downloader:
        assert (downloader.timeout, downloader.retries, downloader.threads) == (2, 0, 3)
        assert downloader.deadline == 7.5 and downloader.respect_robots is False
        assert downloader.max_bytes == DEFAULT_MAX_BYTES == 20_000_000
        assert downloader.pool.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert load(tmp_path, "").download.deadline is None  # 3 x timeout in the downloader


@pytest.mark.parametrize(
    "text, message",
    [
        ("download: {timout: 3}\n", r"download: unknown key\(s\) \['timout'\]"),
        (
            "filters: {dedup: {phash_max_distanse: 4}}\n",
            r"unknown key\(s\) \['phash_max_distanse'\]",
        ),
        ("filters: {histology: {backend: stain, treshold: 0.4}}\n", r"\['treshold'\]"),
        ("filters: {histology: {backend: ensemble, members: [{backnd: hf}]}}\n", r"members\[0\]"),
        ("filters: {dedup: true}\n", "filters:dedup must be a mapping"),
        ("filters: {dedup: {exact: false}}\n", "near: true needs exact: true"),
        ("image: {max_sid: 3}\n", r"\['max_sid'\]"),
        ("sample_server: {root: web}\n", r"no longer a build key.*quilt serve-sample DIR --"),
    ],
)
def test_unknown_or_inconsistent_keys_are_errors(tmp_path, text, message):
    with pytest.raises(QuiltError, match=message):
        load(tmp_path, text)


def test_a_dedup_block_keeps_the_defaults_it_does_not_set(tmp_path):
    assert load(tmp_path, "filters: {dedup: {exact: true}}\n").filters.dedup == DedupOptions()
    assert DedupOptions().phash_max_distance == 6  # not 0, as an untyped dict block gave


def _work_shard(root: Path, shas: list[str]) -> None:
    with ShardWriter(root / "laion", "laion-00000", schema=WORK_SCHEMA, group_by="split") as w:
        for i, sha in enumerate(shas):
            w.write(
                {
                    "image": {"bytes": b"x", "path": f"{i}.jpg"}, "image_path": f"{i}.jpg",
                    "caption": f"caption {i}", "subset": "laion", "split": "train",
                    "source_id": f"http://h/{i}.jpg", "height": 64, "width": 64,
                    "image_sha256": sha, "not_histology": 0, "noisy_text": "",
                    "corrected_text": "", "phash": 0x0F0F, "histology_prob": 1.0,
                }
            )  # fmt: skip


@pytest.mark.parametrize(
    "dedup, kept, reasons",
    [
        ("{exact: true, near: true}", 1, {"duplicate_exact": 1, "duplicate_near": 1}),
        ("{exact: true, near: false}", 2, {"duplicate_exact": 1}),
        ("{exact: false, near: false}", 3, {}),
    ],
)
def test_dedup_exact_and_near_are_honoured(tmp_path, dedup, kept, reasons):
    # three rows of one pHash: two share an image (sha a), the third is another image (sha b)
    a, b = "a" * 64, "b" * 64
    _work_shard(tmp_path / "work", [a, a, b])
    config = load(tmp_path, f"filters: {{dedup: {dedup}}}\n")
    selection = select_rows(config, tmp_path / "work", ["laion"])
    assert sum(selection.per_split["laion"].values()) == kept
    assert dict(selection.dedup) == reasons


def test_youtube_source_options_are_the_run_commands_dataclass(tmp_path):
    from quilt_hf.cli import build_parser
    from quilt_hf.sources import quilt
    from quilt_hf.sources.youtube.run import ProcessOptions

    (task,) = quilt.plan_shards(
        {"pages": ["http://127.0.0.1/v/abc.html"], "corrector": "none", "asr_fallback": "whisper"},
        tmp_path,
        1,
    )
    assert task.options["process"] == ProcessOptions(corrector="none", asr_fallback="whisper")
    with pytest.raises(QuiltError, match=r"sources.quilt: unknown key\(s\) \['corector'\]"):
        quilt.plan_shards({"pages": ["http://h/a.html"], "corector": "none"}, tmp_path, 1)
    with pytest.raises(QuiltError, match=r"sources.quilt.asr: 'wisper' is not one of"):
        quilt.plan_shards({"pages": ["http://h/a.html"], "asr": "wisper"}, tmp_path, 1)
    # the CLI offers the pipeline's own registry, "none" included
    argv = ["youtube", "process", "--video", "v.mp4", "--out", "o", "--corrector", "none"]
    args = build_parser().parse_args(argv)
    assert args.corrector == "none"


def test_the_documented_build_yaml_loads_with_its_values(tmp_path):
    """docs/architecture.md lists every build.yaml key: each must be accepted and land typed."""
    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    block = doc.split("### build.yaml keys", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "web" / "videos").mkdir(parents=True)
    (tmp_path / "build.yaml").write_text(block)
    config = BuildConfig.load(tmp_path / "build.yaml")
    assert config.filters.dedup == DedupOptions(exact=True, near=True, phash_max_distance=6)
    assert config.download.deadline is None and config.download.respect_robots is True
    assert config.image.quality == 90 and config.max_shard_bytes == 500_000_000
    assert config.sources["quilt"]["asr_fallback"] == "whisper"


def test_work_shards_are_keyed_by_what_shapes_their_rows(tmp_path):
    from quilt_hf.build import build_work_root

    base = load(tmp_path, "")
    root = build_work_root(base, tmp_path / "out")
    # dedup is decided at assembly from finished shards: they are reused
    assert (
        build_work_root(load(tmp_path, "filters: {dedup: {near: false}}\n"), tmp_path / "out")
        == root
    )
    # the split is decided by the shard task: another split means fresh shards, never stale ones
    for text in ("val_fraction: 0.5\n", "seed: 3\n", "image: {max_side: 256}\n"):
        assert build_work_root(load(tmp_path, text), tmp_path / "out") != root


@pytest.mark.parametrize(
    "subset, good, typo",
    [
        ("openpath", "tweets", "tweet"),
        ("pubmed", "packages", "package"),
        ("laion", "caption_column", "caption_colum"),
    ],
)
def test_a_typo_in_a_source_block_stops_quilt_build_naming_the_key(
    sample_corpus, tmp_path, capsys, subset, good, typo
):
    """Through the CLI: the misspelt key fails before any output; the right spelling builds."""
    import yaml

    from quilt_hf.cli import main

    config = yaml.safe_load((sample_corpus / "build.yaml").read_text())
    block = dict(config["sources"][subset])
    config["sources"] = {subset: block}
    if good == "caption_column":
        block[good] = "caption"  # the sample's web parquet names its caption column so
    right = sample_corpus / f"right_{subset}.yaml"
    right.write_text(yaml.safe_dump(config))
    block[typo] = block.pop(good)
    wrong = sample_corpus / f"typo_{subset}.yaml"
    wrong.write_text(yaml.safe_dump(config))

    out = tmp_path / "typo"
    assert main(["build", "--config", str(wrong), "--out", str(out)]) != 0
    message = capsys.readouterr().err
    assert f"sources.{subset}: unknown key(s) ['{typo}']" in message
    assert not (out / "data").exists()
    assert main(["build", "--config", str(right), "--out", str(tmp_path / "right")]) == 0
    assert any((tmp_path / "right" / "data").glob("train-*.parquet"))
