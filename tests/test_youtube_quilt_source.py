"""The ``quilt`` build source: processed per-video folders (pairs.jsonl + images) -> candidates."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_youtube_media import youtube_info

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import load_image
from quilt_hf.records import Candidate
from quilt_hf.sources import quilt
from quilt_hf.tasks import to_record


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def pair(video_id: str, image: str, t: float, text: str, **extra) -> dict:
    row = {
        "video_id": video_id,
        "image_path": image,
        "image_time": t,
        "start_time": max(0.0, t - 2),
        "end_time": t + 5,
        "noisy_text": text.replace("hepatocytes", "hepato sites"),
        "corrected_text": text,
        "asr_correction": {"hepato sites": "hepatocytes"},
        "med_umls_ids": ["C0227525"],
        "roi_text": [text],
        "magnification": 1,
        "pathology": ["gastrointestinal"],
        "text_source": "youtube_captions",
        "histology_prob": 0.97,
    }
    row.update(extra)
    return row


def video_folder(root: Path, video_id: str, rows: list[dict], info: dict | None = None) -> Path:
    folder = root / "youtube" / video_id
    (folder / "images").mkdir(parents=True)
    for n in range(3):
        (folder / "images" / f"{n:04d}.jpg").write_bytes(jpeg(n + len(video_id)))
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if info is not None:
        (folder / f"{video_id}.info.json").write_text(json.dumps(info))
    (folder / "stats.json").write_text(json.dumps({"pairs": len(rows)}))
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    a = "dQw4w9WgXcQ"
    video_folder(
        tmp_path,
        a,
        [
            pair(a, "images/0000.jpg", 12.7, "these hepatocytes show steatosis"),
            pair(a, "images/0000.jpg", 12.7, "and a portal tract"),  # one image, two texts
            pair(a, "images/0001.jpg", 40.2, "high power shows ballooning"),
        ],
        youtube_info(a, license="Creative Commons Attribution license (reuse allowed)"),
    )
    b = "xyzXYZ-1234"
    video_folder(
        tmp_path,
        b,
        [
            pair(b, "images/0002.jpg", 3.0, "a colon biopsy", pathology="gastrointestinal"),
            pair(b, "../../outside.jpg", 5.0, "escapes the folder"),
            pair(b, "/etc/passwd", 5.0, "absolute path"),
            pair("../evil", "images/0000.jpg", 5.0, "bad id"),
            pair(b, "images/missing.jpg", 5.0, "no file"),
            pair(b, "images/0001.jpg", 5.0, "", noisy_text=""),
        ],
        youtube_info(b, license=None),
    )
    (tmp_path / "outside.jpg").write_bytes(jpeg(99))
    with (tmp_path / "youtube" / b / "pairs.jsonl").open("a") as handle:
        handle.write("{not json\n")
        handle.write('["a list"]\n')
    return tmp_path


def all_items(tasks) -> list:
    return [item for task in tasks for item in quilt.iter_candidates(task)]


def test_pairs_become_candidates_with_released_names_and_provenance(corpus):
    tasks = quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, corpus, 1000, {})
    assert len(tasks) == 1 and tasks[0].subset == "quilt"
    items = all_items(tasks)
    candidates = [c for c in items if isinstance(c, Candidate)]
    assert len(candidates) == 4
    first, second, third = candidates[:3]
    assert first.source_id == "dQw4w9WgXcQ"
    assert first.caption == "these hepatocytes show steatosis"
    assert first.fields["noisy_text"] == "these hepato sites show steatosis"
    assert first.fields["image_path"].startswith("dQw4w9WgXcQ_image_")
    assert first.fields["image_path"].endswith(".jpg")
    # one image shared by two texts keeps one name; another image gets another
    assert first.fields["image_path"] == second.fields["image_path"] != third.fields["image_path"]
    assert first.fields["image_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=12s"
    assert first.fields["license"] == "Creative Commons Attribution license (reuse allowed)"
    assert candidates[3].fields["license"] == "Standard YouTube License"
    assert candidates[3].fields["pathology"] == ["gastrointestinal"]  # a bare string, normalised
    assert first.fields["magnification"] == 1 and first.fields["start_time"] == pytest.approx(10.7)
    assert first.image_bytes == (corpus / "youtube/dQw4w9WgXcQ/images/0000.jpg").read_bytes()
    # a rerun names the images the same way
    again = [c for c in all_items(tasks) if isinstance(c, Candidate)]
    assert [c.fields["image_path"] for c in again] == [c.fields["image_path"] for c in candidates]


def test_bad_rows_are_reasoned_skips(corpus):
    items = all_items(quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, corpus, 1000, {}))
    reasons = sorted(s.reason for s in items if isinstance(s, SkipRecord))
    assert reasons == sorted(
        [
            "unsafe_path",
            "unsafe_path",
            "unsafe_id",
            "missing_image",
            "empty_text",
            "bad_pair_row",
            "bad_pair_row",
        ]
    )


def test_candidates_make_valid_schema_records(corpus):
    items = all_items(quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, corpus, 1000, {}))
    for candidate in (c for c in items if isinstance(c, Candidate)):
        record = to_record(candidate, load_image(candidate.image_bytes), not_histology=False)
        assert (
            record["subset"] == "quilt" and record["image_path"] == candidate.fields["image_path"]
        )
        assert record["image_time"] == candidate.fields["image_time"]


def test_pairs_are_packed_into_shards_with_stable_ids(corpus):
    small = quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, corpus, 2, {})
    assert [len(t.items) for t in small] == [1, 1]
    again = quilt.plan_shards({"pairs": ["youtube/*/pairs.jsonl"]}, corpus, 2, {})
    assert [t.shard_id for t in small] == [t.shard_id for t in again]
    with pytest.raises(QuiltError, match="nothing matches"):
        quilt.plan_shards({"pairs": ["nowhere/*.jsonl"]}, corpus, 2, {})
    with pytest.raises(QuiltError, match="needs"):
        quilt.plan_shards({}, corpus, 2, {})


def test_video_mode_plans_one_task_per_video_and_skips_uncaptioned(tmp_path):
    videos = tmp_path / "web" / "videos"
    videos.mkdir(parents=True)
    (videos / "lecture00.mp4").write_bytes(b"not really a video")
    tasks = quilt.plan_shards(
        {"videos": ["web/videos/*.mp4"], "captions": "vtt", "asr": "captions"}, tmp_path, 100, {}
    )
    assert len(tasks) == 1 and tasks[0].items == (("video", str(videos / "lecture00.mp4")),)
    assert tasks[0].options["work_dir"] == str(tmp_path / "youtube_work")
    [skip] = all_items(tasks)  # no lecture00.vtt next to it: a reasoned skip, not a crash
    assert isinstance(skip, SkipRecord) and skip.reason == "no_captions"


def test_video_mode_reuses_a_processed_work_folder(corpus):
    videos = corpus / "web"
    videos.mkdir()
    (videos / "dQw4w9WgXcQ.mp4").write_bytes(b"x")
    # a finished work folder (stats.json present) is read, not processed again
    tasks = quilt.plan_shards({"videos": ["web/*.mp4"], "work_dir": "youtube"}, corpus, 100, {})
    candidates = [c for c in all_items(tasks) if isinstance(c, Candidate)]
    assert len(candidates) == 3 and candidates[0].source_id == "dQw4w9WgXcQ"
