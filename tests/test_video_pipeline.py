"""process_video end to end on a short generated lecture, and its bad inputs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.videos import (
    SlideSpec,
    VideoSpec,
    narration_for,
    render_video,
    score_pairs,
)
from quilt_hf.video.pipeline import check_video_id, process_video

REQUIRED = {
    "video_id",
    "image_path",
    "image_time",
    "start_time",
    "end_time",
    "noisy_text",
    "corrected_text",
    "asr_correction",
    "med_umls_ids",
    "roi_text",
    "magnification",
    "pathology",
    "text_source",
    "histology_prob",
}


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    slides = [
        SlideSpec("title", 5.0),
        SlideSpec("histology", 7.0, motion="cursor", magnification=2, stain="H&E"),
        SlideSpec("histology", 6.0, transition="fade", magnification=0, stain="H&E"),
        SlideSpec("chart", 5.0, transition="fade"),
        SlideSpec("histology", 14.0, magnification=1, stain="IHC"),
    ]
    spec = VideoSpec("lecA", 4, slides, width=480, height=270, fps=12, caption_style="rolling")
    rng = np.random.default_rng(1)
    for slide in slides:
        slide.narration = narration_for(slide, spec, rng)
    truth = render_video(spec, out)
    return out, truth


@pytest.fixture(scope="module")
def processed(lecture, tmp_path_factory):
    out, _ = lecture
    target = tmp_path_factory.mktemp("processed")
    stats = process_video(out / "lecA.mp4", target, captions=out / "lecA.vtt")
    return target, stats


def test_pairs_images_and_stats(processed, lecture):
    target, stats = processed
    _, truth = lecture
    pairs = [json.loads(line) for line in (target / "pairs.jsonl").read_text().splitlines()]
    assert pairs and stats["pairs"] == len(pairs)
    for pair in pairs:
        assert set(pair) >= REQUIRED
        assert (target / pair["image_path"]).is_file()
        assert pair["image_path"].startswith("images/lecA_image_")
        # the image is on screen during the text window
        assert pair["image_time"] < pair["end_time"] and pair["start_time"] < pair["image_end_time"]
        assert pair["noisy_text"] and pair["text_source"] == "youtube_captions"
        assert pair["magnification"] in (0, 1, 2)
        assert pair["histology_prob"] >= 0.5
    score = score_pairs(pairs, truth)
    assert score["correct"] == len(pairs)
    assert score["slides_with_correct_pair"] == score["histology_slides"] == 3
    for key in ("frames_decoded", "windows", "keyframes", "histology_keyframes", "chunks", "pairs"):
        assert isinstance(stats[key], int)
    assert stats["windows"] == 5 and stats["histology_keyframes"] == 3
    # reference frames only (fewer than all 12 per second), at least one per sample (4 per second)
    assert truth["duration"] * 4 <= stats["frames_decoded"] < round(truth["duration"] * 12)
    assert set(stats["seconds"]) >= {
        "transcribe",
        "frames",
        "keyframes",
        "align",
        "text_stage",
        "write",
    }
    assert json.loads((target / "stats.json").read_text()) == stats
    # the 14 s IHC slide is longer than the chunk time: one image, several texts
    ihc = [p for p in pairs if p["image_time"] >= truth["slides"][4]["start"] - 0.1]
    assert len(ihc) >= 2 and len({p["image_path"] for p in ihc}) == 1
    assert len({p["noisy_text"] for p in ihc}) == len(ihc)


def test_rerun_gives_the_same_names(processed, lecture, tmp_path):
    target, _ = processed
    out, _ = lecture
    process_video(out / "lecA.mp4", tmp_path, captions=out / "lecA.plain.vtt", video_id="lecA")
    first = sorted(p.name for p in (target / "images").iterdir())
    again = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert first == again


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "", "x y", "a\\b", ".hidden"])
def test_bad_video_ids_are_rejected(bad, lecture, tmp_path):
    out, _ = lecture
    with pytest.raises(QuiltError, match="invalid video id"):
        process_video(out / "lecA.mp4", tmp_path / "o", captions=out / "lecA.vtt", video_id=bad)
    assert not (tmp_path / "o").exists()
    assert check_video_id("dQw4w9WgXcQ") == "dQw4w9WgXcQ"


def test_whisper_on_a_video_without_audio_is_a_clear_error(tmp_path):
    spec = VideoSpec(
        "mute",
        0,
        [SlideSpec("title", 3.0, narration="hello")],
        width=160,
        height=90,
        fps=5,
        audio=False,
    )
    render_video(spec, tmp_path)
    with pytest.raises(QuiltError, match="no audio track"):
        process_video(tmp_path / "mute.mp4", tmp_path / "o", asr="whisper")
    assert not (tmp_path / "o").exists()


def test_empty_malformed_or_missing_captions_are_clear_errors(lecture, tmp_path):
    out, _ = lecture
    empty = tmp_path / "empty.vtt"
    empty.write_text("")
    malformed = tmp_path / "bad.vtt"
    malformed.write_text("this is not webvtt at all\n")
    for captions in (empty, malformed, tmp_path / "missing.vtt"):
        with pytest.raises(QuiltError):
            process_video(out / "lecA.mp4", tmp_path / "o", captions=captions)
    with pytest.raises(QuiltError, match="captions"):
        process_video(out / "lecA.mp4", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_truncated_video_is_a_clear_error(lecture, tmp_path):
    out, _ = lecture
    data = (out / "lecA.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(QuiltError):
        process_video(cut, tmp_path / "o", captions=out / "lecA.vtt")
    assert not (tmp_path / "o" / "stats.json").exists()


def test_unpunctuated_auto_captions_give_whole_restored_sentences(lecture, tmp_path, caplog):
    """YouTube auto-captions have no punctuation or capitals: the texts are restored sentences
    (offline: the pauses method), the raw words stay in noisy_text."""
    import re

    out, truth = lecture
    raw = (out / "lecA.vtt").read_text()
    lines = [
        line
        if "-->" in line or line.startswith(("WEBVTT", "Kind:", "Language:"))
        else re.sub(r"[.,?!;:]", "", line.lower())
        for line in raw.splitlines()
    ]
    auto = tmp_path / "auto.vtt"
    auto.write_text("\n".join(lines) + "\n")
    # through the command a user runs: `quilt youtube process --sentences pauses`
    from quilt_hf.cli import main

    args = ["youtube", "process", "--video", str(out / "lecA.mp4"), "--captions", str(auto)]
    assert main([*args, "--out", str(tmp_path / "o"), "--sentences", "pauses"]) == 0
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert stats["sentence_method"] == "pauses" and stats["sentences"] >= 3
    # the sample's plain cues carry cue times only: some ends are guessed, counted, and the
    # user is told what would place them
    assert 0 < stats["sentence_ends_guessed"] < stats["sentences"]
    # cue-timed pauses are not measured: no sentence is split at a change of picture
    assert (
        stats["sentences_split_at_changes"] == 0 and "change of picture" in stats["straddle_rule"]
    )
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        f"{stats['sentence_ends_guessed']} of {stats['sentences']} sentence ends were guessed"
        in message
        and "--sentences model" in message
        for message in warned
    ), warned
    pairs = [json.loads(line) for line in (tmp_path / "o" / "pairs.jsonl").read_text().splitlines()]
    assert pairs
    for pair in pairs:
        assert pair["noisy_text"] == pair["noisy_text"].lower() and "." not in pair["noisy_text"]
        assert pair["corrected_text"][0].isupper() and pair["corrected_text"].endswith(".")
        assert pair["sentence_method"] == "pauses"
    assert score_pairs(pairs, truth)["slides_with_correct_pair"] == 3
    kinds = stats["still_keyframes"] + stats["moving_keyframes"]
    assert kinds == stats["keyframes"]


def test_sentence_options_are_checked_before_any_video_is_touched(lecture, tmp_path, capsys):
    from quilt_hf.cli import main

    out, _ = lecture
    args = ["youtube", "process", "--video", str(out / "lecA.mp4"), "--captions"]
    args += [str(out / "lecA.vtt"), "--out", str(tmp_path / "o")]
    assert main([*args, "--sentences", "llm"]) == 1
    assert "--sentences llm needs --corrector" in capsys.readouterr().err
    assert main([*args, "--sentences", "pauses", "--sentence-model", "x/y"]) == 1
    assert "--sentence-model needs --sentences model" in capsys.readouterr().err
    assert main([*args, "--sentences", "model", "--sentence-model", str(tmp_path / "none")]) == 1
    assert "cannot load punctuation model" in capsys.readouterr().err
    assert not (tmp_path / "o" / "stats.json").exists()


def test_word_timed_captions_restored_from_pauses_are_said_once(lecture, tmp_path, caplog):
    """Auto-captions with word times and no punctuation, no punctuation model to be had (the
    suite runs with HF_HUB_OFFLINE=1 and an empty cache): the user is told once per run that
    pauses restored the sentences, and why, not once per video."""
    from quilt_hf.video import pipeline

    out, truth = lecture
    auto = _unpunctuated_word_timed_captions(truth, tmp_path / "auto.vtt")
    pipeline._say_pauses_are_the_fallback.cache_clear()
    for run in ("a", "b"):
        stats = process_video(out / "lecA.mp4", tmp_path / run, captions=auto)
        assert stats["sentence_method"] == "pauses" and stats["sentence_ends_guessed"] == 0
    said = [
        r.getMessage()
        for r in caplog.records
        if "restored into sentences from pauses" in r.getMessage()
    ]
    assert len(said) == 1 and "--sentences model" in said[0] and "HF_HUB_OFFLINE" in said[0]


def _unpunctuated_word_timed_captions(truth: dict, path):
    """YouTube's usual auto-captions: inline word times, lowercase, no punctuation."""
    from quilt_hf.synthetic.autocaptions import CaptionWord, inline_vtt
    from quilt_hf.text.sentences import bare_word

    words = [
        CaptionWord(bare_word(w["text"]), w["start"], w["end"])
        for slide in truth["slides"]
        for w in slide["words"]
    ]
    path.write_text(inline_vtt([w for w in words if w.text]))
    return path


def _quilt_process(env: dict, video, captions, out) -> subprocess.CompletedProcess:
    """`quilt youtube process` with its default --sentences auto, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "quilt_hf", "youtube", "process"]
        + ["--video", str(video), "--captions", str(captions), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_auto_fetches_the_default_punctuation_model_from_the_hub(lecture, tmp_path):
    """Unpunctuated captions, an empty Hugging Face cache, the Hub reachable: ``auto`` fetches the
    default model (here a tiny random one the Hub double serves under its id) into the cache and
    restores sentences with it; the next run, offline, reads it from the cache."""
    from hub_double import HubDouble, Repo
    from test_text_sentences import _tiny_xlmr_punctuation_model

    from quilt_hf.text.sentences import DEFAULT_PUNCTUATION_MODEL

    out, truth = lecture
    captions = _unpunctuated_word_timed_captions(truth, tmp_path / "auto.vtt")
    saved = tmp_path / "tiny"
    # a model that ends a sentence after every word: the pauses could never say that
    model, tokenizer = _tiny_xlmr_punctuation_model([0.0, 9.0, 0.0, 0.0, 0.0, 0.0])
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    hub = HubDouble().start()
    try:
        repo = Repo("model", DEFAULT_PUNCTUATION_MODEL, private=False)
        hub.state.repos[("model", DEFAULT_PUNCTUATION_MODEL)] = repo
        files = {p.name: p.read_bytes() for p in saved.iterdir()}
        hub.state.new_commit(repo, "main", files, "tiny random stand-in")
        repo.lfs["model.safetensors"] = hashlib.sha256(files["model.safetensors"]).hexdigest()
        env = hub.client_env(tmp_path)
        fetched = _quilt_process(env, out / "lecA.mp4", captions, tmp_path / "online")
        assert fetched.returncode == 0, fetched.stderr
        assert f"fetching {DEFAULT_PUNCTUATION_MODEL}" in fetched.stderr
        fetched_files = {r.rsplit("/", 1)[-1] for r in hub.state.requests if "/resolve/" in r}
    finally:
        hub.stop()
    assert {"config.json", "model.safetensors"} <= fetched_files
    snapshot = (
        tmp_path / "hf_home" / "hub" / "models--oliverguhr--fullstop-punctuation-multilang-large"
    )
    assert list(snapshot.glob("snapshots/*/model.safetensors"))
    # the Hub is gone now; offline, the cached model is used without asking for it
    offline = _quilt_process(
        {**env, "HF_HUB_OFFLINE": "1"}, out / "lecA.mp4", captions, tmp_path / "offline"
    )
    assert offline.returncode == 0, offline.stderr
    assert "fetching" not in offline.stderr and "from pauses" not in offline.stderr
    for run in ("online", "offline"):
        stats = json.loads((tmp_path / run / "stats.json").read_text())
        assert stats["sentence_method"] == "model" and stats["sentence_model_unavailable"] == ""
        assert stats["sentences"] == stats["words"]  # the tiny model's "." after every word
        pairs = (tmp_path / run / "pairs.jsonl").read_text().splitlines()
        assert pairs and all(json.loads(p)["sentence_method"] == "model" for p in pairs)


def test_auto_without_a_reachable_hub_falls_back_to_pauses_and_says_why(lecture, tmp_path):
    """No cached model and a Hub that refuses the connection: the pauses method, at once (no
    download retried for half a minute), the reason in stats.json and one warning."""
    from quilt_hf.synthetic.sample.server import free_port

    out, truth = lecture
    captions = _unpunctuated_word_timed_captions(truth, tmp_path / "auto.vtt")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
    env.update(HF_ENDPOINT=endpoint, HF_HUB_OFFLINE="0", HF_HOME=str(tmp_path / "hf_home"))
    done = _quilt_process(env, out / "lecA.mp4", captions, tmp_path / "o")
    assert done.returncode == 0, done.stderr
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert stats["sentence_method"] == "pauses" and stats["pairs"] > 0
    assert endpoint in stats["sentence_model_unavailable"]
    said = [
        line for line in done.stderr.splitlines() if "restored into sentences from pauses" in line
    ]
    assert len(said) == 1 and endpoint in said[0]
    assert "Retrying" not in done.stderr


def test_punctuated_captions_never_ask_for_the_punctuation_model(lecture, tmp_path, monkeypatch):
    from quilt_hf.video import pipeline

    asked: list[str] = []

    def default_model():
        asked.append("default")
        return None, "not here"

    monkeypatch.setattr(pipeline, "_default_punctuation_model", default_model)
    out, truth = lecture
    stats = process_video(out / "lecA.mp4", tmp_path / "p", captions=out / "lecA.vtt")
    assert stats["sentence_method"] == "captions" and asked == []
    captions = _unpunctuated_word_timed_captions(truth, tmp_path / "auto.vtt")
    stats = process_video(out / "lecA.mp4", tmp_path / "u", captions=captions)
    assert stats["sentence_method"] == "pauses" and asked == ["default"]
    assert stats["sentence_model_unavailable"] == "not here"
