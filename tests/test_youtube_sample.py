"""Discover + fetch on the sample corpus' lecture pages, served by the sample server (with its
scripted faults), downloaded through yt-dlp from loopback."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from quilt_hf.sources.youtube.discover import discover, list_sources
from quilt_hf.sources.youtube.fetch import FetchOptions, fetch_video
from quilt_hf.sources.youtube.relevance import FilterConfig
from quilt_hf.synthetic.sample.server import serve_sample
from quilt_hf.synthetic.sample.videos import random_spec, render_video, video_page


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    web = tmp_path_factory.mktemp("sample_web")
    videos = web / "videos"
    videos.mkdir()
    rng = np.random.default_rng(3)
    truths = {}
    for video_id in ("lecture00", "lecture01", "lecture02"):
        spec = random_spec(
            rng,
            video_id,
            n_slides=3,
            seconds_per_slide=(5.0, 6.0),
            histology_share=1.0,  # a title slide, then two histology slides held >= 3 s
            width=480,
            height=270,
            fps=10,
        )
        truths[video_id] = render_video(spec, videos)
        (videos / f"{video_id}.html").write_text(video_page(video_id, f"Pathology {video_id}"))
    (web / "_faults.json").write_text(
        json.dumps(
            {
                "/videos/lecture01.mp4": {"status": 500},
                "/videos/lecture02.mp4": {"truncate": 2000},
            }
        )
    )
    return web, truths


def test_sample_lecture_pages_are_discovered_and_fetched(corpus, tmp_path):
    web, truths = corpus
    with serve_sample(web) as base:
        pages = [f"{base}/videos/{vid}.html" for vid in truths]
        result = discover(list_sources([], 1, pages=pages), FilterConfig(min_duration=0))
        assert len(result.kept) == 3 and not result.rejected
        assert all(row["manual_captions"] for row in result.kept)
        options = FetchOptions(retries=1, fragment_retries=1)
        results = {
            row["id"]: fetch_video({**row, "id": row["id"]}, tmp_path, options)
            for row in result.kept
        }
    good = next(r for vid, r in results.items() if vid.startswith("lecture00"))
    assert good["status"] == "fetched" and good["captions_kind"] == "manual"
    with av.open(str(tmp_path / good["video"])) as container:
        seconds = float(container.duration) / av.time_base
    assert seconds == pytest.approx(truths["lecture00"]["duration"], abs=0.5)
    assert (tmp_path / good["captions"]).read_text() == (web / "videos/lecture00.vtt").read_text()

    server_error = next(r for vid, r in results.items() if vid.startswith("lecture01"))
    assert server_error["status"] == "failed" and server_error["reason"] == "server_error"
    cut = next(r for vid, r in results.items() if vid.startswith("lecture02"))
    assert cut["status"] == "failed" and cut["reason"] == "incomplete", cut


@pytest.mark.slow
def test_run_and_build_source_end_to_end_on_sample_lectures(corpus, tmp_path):
    """discover -> run (fetch + the real process_video) -> the ``quilt`` build source."""
    from quilt_hf.cli import main
    from quilt_hf.records import Candidate
    from quilt_hf.sources import quilt

    web, truths = corpus
    videos, out = tmp_path / "videos.jsonl", tmp_path / "youtube"
    with serve_sample(web) as base:
        pages = [arg for vid in truths for arg in ("--url", f"{base}/videos/{vid}.html")]
        assert (
            main(
                [
                    "youtube",
                    "discover",
                    "--no-search",
                    *pages,
                    "--min-duration",
                    "0",
                    "--out",
                    str(videos),
                ]
            )
            == 0
        )
        assert (
            main(
                [
                    "youtube",
                    "run",
                    "--videos",
                    str(videos),
                    "--out",
                    str(out),
                    "--workers",
                    "2",
                    "--retries",
                    "1",
                ]
            )
            == 0
        )
    summary = json.loads((out / "run_summary.json").read_text())
    by_id = {r["id"][: len("lecture00")]: r for r in summary["results"]}
    assert by_id["lecture00"]["status"] == "processed", by_id["lecture00"]
    assert by_id["lecture01"]["reason"] == "server_error"
    assert by_id["lecture02"]["reason"] == "incomplete"
    tasks = quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, tmp_path, 100, {})
    candidates = [c for t in tasks for c in quilt.iter_candidates(t) if isinstance(c, Candidate)]
    assert candidates, "the processed lecture yields pairs"
    assert all(c.source_id.startswith("lecture00") and c.caption for c in candidates)


@pytest.mark.slow
def test_run_bad_inputs_are_reasoned_and_the_good_video_survives(corpus, tmp_path):
    """Real process_video on: a good lecture, a corrupt mp4, empty and malformed captions."""
    from quilt_hf.sources.youtube.run import run_videos

    web, _ = corpus
    bad = tmp_path / "web"
    bad.mkdir()
    good = (web / "videos" / "lecture00.mp4").read_bytes()
    captions = (web / "videos" / "lecture00.vtt").read_text()
    pages = {
        "good": (good, captions),
        "corrupt": (good[: len(good) // 2] + bytes(4096), captions),  # fetched whole, decodes badly
        "empty": (good, ""),
        "malformed": (good, "this is not WEBVTT\n\n00:00 --> soon\nhello\n"),
    }
    for name, (data, text) in pages.items():
        (bad / f"{name}.mp4").write_bytes(data)
        (bad / f"{name}.vtt").write_text(text)
        (bad / f"{name}.html").write_text(video_page(name, name))
    with serve_sample(bad) as base:
        rows = [{"id": name, "webpage_url": f"{base}/{name}.html"} for name in pages]
        summary = run_videos(rows, tmp_path / "out", workers=2)
    by_id = {r["id"]: r for r in summary["results"]}
    assert by_id["good"]["status"] == "processed" and by_id["good"]["pairs"] > 0
    for name in ("corrupt", "empty", "malformed"):
        assert by_id[name]["status"] == "failed" and by_id[name]["stage"] == "process", by_id[name]
        assert by_id[name]["detail"], by_id[name]
        assert not (tmp_path / "out" / name / "stats.json").exists()


@pytest.mark.slow
def test_build_source_processes_local_sample_videos(corpus, tmp_path):
    """``sources.quilt: {videos: [...], captions: vtt}`` as the sample's build.yaml writes it."""
    import shutil

    from quilt_hf.records import Candidate
    from quilt_hf.sources import quilt

    web, truths = corpus
    videos = tmp_path / "web" / "videos"
    videos.mkdir(parents=True)
    for name in ("lecture00.mp4", "lecture00.vtt"):
        shutil.copy(web / "videos" / name, videos / name)
    config = {"videos": ["web/videos/*.mp4"], "captions": "vtt", "asr": "captions"}
    [task] = quilt.plan_shards(config, tmp_path, 100, {})
    items = list(quilt.iter_candidates(task))
    candidates = [c for c in items if isinstance(c, Candidate)]
    assert candidates, items
    assert (tmp_path / "youtube_work" / "lecture00" / "stats.json").is_file()
    assert all(c.source_id == "lecture00" for c in candidates)
    assert all(c.fields["image_path"].startswith("lecture00_image_") for c in candidates)


def written_files(folder: Path) -> dict[str, str]:
    """Every file a run wrote, by path, as a sha256; not the ones that hold timings or dates
    (run_summary.json, stats.json, yt-dlp's info json with its ``epoch``)."""
    import hashlib

    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and path.name not in ("run_summary.json", "stats.json")
        and not path.name.endswith(".info.json")
    }


@pytest.mark.slow
def test_run_gives_the_same_outputs_on_the_local_and_the_ray_executor(corpus, tmp_path, capsys):
    """`quilt youtube run --executor local|ray` (a local Ray, 2 CPUs): one per-video task on both
    executors, the same pairs and images, the same failures (HTTP 500, a truncated download)."""
    import ray

    from quilt_hf.cli import main

    web, truths = corpus
    videos = tmp_path / "videos.jsonl"
    with serve_sample(web) as base:
        rows = [{"id": vid, "webpage_url": f"{base}/videos/{vid}.html"} for vid in truths]
        videos.write_text("".join(json.dumps(row) + "\n" for row in rows))
        run = ["youtube", "run", "--videos", str(videos), "--retries", "1", "--backoff", "0"]
        assert main([*run, "--out", str(tmp_path / "local"), "--workers", "2"]) == 0
        try:
            code = main(
                [*run, "--out", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2",
                 "--ray-resources", "quilt=num_cpus:1"]
            )  # fmt: skip
            assert code == 0, capsys.readouterr().err
            assert ray.cluster_resources().get("CPU") == 2  # the local Ray the CLI started
        finally:
            ray.shutdown()
    local = json.loads((tmp_path / "local" / "run_summary.json").read_text())
    remote = json.loads((tmp_path / "ray" / "run_summary.json").read_text())
    assert local["status"] == remote["status"] == {"processed": 1, "failed": 2}
    assert local["failures"] == remote["failures"]
    assert local["pairs"] == remote["pairs"] > 0
    files = written_files(tmp_path / "local")
    assert any(name.startswith("lecture00/images/") for name in files)
    assert written_files(tmp_path / "ray") == files
