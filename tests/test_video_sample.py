"""The sample lecture generator: truth, captions, audio, the yt-dlp page and labelled frames."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from quilt_hf.synthetic.sample.videos import (
    SlideSpec,
    VideoSpec,
    random_spec,
    render_video,
    score_pairs,
    video_page,
)
from quilt_hf.video.decode import probe


def test_random_spec_is_parametric_and_reproducible():
    a = random_spec(np.random.default_rng(5), "x", n_slides=7, transitions=("fade",))
    b = random_spec(np.random.default_rng(5), "x", n_slides=7, transitions=("fade",))
    assert a == b and len(a.slides) == 7
    assert a.slides[0].kind == "title"
    assert all(s.transition == "fade" for s in a.slides[1:])
    c = random_spec(
        np.random.default_rng(6), "x", n_slides=7, motions=("pan",), histology_share=1.0
    )
    assert all(s.kind == "histology" and s.motion == "pan" for s in c.slides[1:])
    assert all(s.duration >= 10.0 for s in c.slides[1:])  # room for two still holds and the pan


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    out = tmp_path_factory.mktemp("lecture")
    slides = [
        SlideSpec("title", 4.0),
        SlideSpec(
            "histology", 5.0, transition="fade", motion="cursor", magnification=1, stain="H&E"
        ),
        SlideSpec("chart", 4.0),
    ]
    spec = VideoSpec("lec", 1, slides, width=320, height=180, fps=10, caption_style="rolling")
    rng = np.random.default_rng(0)
    from quilt_hf.synthetic.sample.videos import narration_for

    for slide in slides:
        slide.narration = narration_for(slide, spec, rng)
    truth = render_video(spec, out, frames_dir=out / "frames")
    return out, truth


def test_truth_matches_the_video(lecture):
    out, truth = lecture
    info = probe(out / "lec.mp4")
    assert info.duration == pytest.approx(truth["duration"], abs=0.3)
    assert [s["histology"] for s in truth["slides"]] == [False, True, False]
    assert json.loads((out / "lec.truth.json").read_text()) == truth
    for slide in truth["slides"]:
        assert slide["words"], slide
        assert [w["text"] for w in slide["words"]] == slide["narration"].split()
        # narration stays inside its slide (and off the cross-fade)
        assert (
            slide["start"] < slide["words"][0]["start"] < slide["words"][-1]["end"] < slide["end"]
        )


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_narration_is_spoken_into_the_mp4(lecture):
    import av

    out, truth = lecture
    assert truth["has_audio"] and probe(out / "lec.mp4").has_audio
    with av.open(str(out / "lec.mp4")) as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    rate = 22050
    for slide in truth["slides"]:  # speech during the narration, silence around it
        a, b = slide["words"][0]["start"], slide["words"][-1]["end"]
        speech = np.abs(samples[int(a * rate) : int(b * rate)]).mean()
        assert speech > 0.01


def test_captions_parse_back_to_the_truth_words(lecture):
    from quilt_hf.text.captions import read_captions

    out, truth = lecture
    words = [w for s in truth["slides"] for w in s["words"]]
    for name in ("lec.vtt", "lec.plain.vtt", "lec.rolling.vtt"):
        transcript = read_captions(out / name)
        assert [w.text for w in transcript.words] == [w["text"] for w in words], name
    rolling = read_captions(out / "lec.rolling.vtt")
    for parsed, true in zip(rolling.words, words, strict=True):  # inline word timings survive
        assert parsed.start == pytest.approx(true["start"], abs=0.01)
    assert "<c>" in (out / "lec.vtt").read_text()


def test_labelled_frames_and_page(lecture):
    out, _ = lecture
    assert len(list((out / "frames" / "histology").glob("*.jpg"))) == 3
    assert len(list((out / "frames" / "not_histology").glob("*.jpg"))) == 6
    page = video_page("lec", "A <b> title")
    assert '<video controls src="lec.mp4">' in page
    assert '<track kind="captions" srclang="en"' in page and 'src="lec.vtt"' in page
    assert "&lt;b&gt;" in page


def test_score_pairs_against_truth(lecture):
    _, truth = lecture
    slide = truth["slides"][1]
    good = {
        "image_time": slide["start"] + 0.6,
        "image_end_time": slide["end"] - 0.5,
        "start_time": slide["start"],
        "end_time": slide["end"],
        "magnification": 1,
    }
    wrong_text = dict(good, start_time=0.0, end_time=slide["start"] + 0.5)
    chart = dict(
        good,
        image_time=truth["slides"][2]["start"] + 0.2,
        image_end_time=truth["slides"][2]["end"] - 0.1,
    )
    score = score_pairs([good, wrong_text, chart], truth)
    assert score["correct"] == 1 and score["non_histology_pairs"] == 1
    assert score["slides_with_correct_pair"] == score["histology_slides"] == 1
    assert score["magnification_hits"] == score["magnification_total"] == 1


# write_sample_videos (the 4 lectures and labelled frames of `quilt sample`) is checked on what the
# documented `quilt sample --out sample` wrote: tests/test_docs_commands.py, which renders them once
