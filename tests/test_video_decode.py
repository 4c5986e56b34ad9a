"""Decoding: probing, sampled grey thumbnails, and clear errors for broken files."""

from __future__ import annotations

import numpy as np
import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.videos import SlideSpec, VideoSpec, render_video
from quilt_hf.video.decode import decode_only, iter_samples, probe


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    out = tmp_path_factory.mktemp("decode")
    slides = [
        SlideSpec("title", 4.0, narration="hello there"),
        SlideSpec("chart", 4.0, narration="a chart"),
    ]
    spec = VideoSpec("d", 0, slides, width=320, height=180, fps=10, audio=False)
    render_video(spec, out)
    return out / "d.mp4"


def test_probe_reads_duration_size_and_audio(video):
    info = probe(video)
    assert info.width == 320 and info.height == 180
    assert info.duration == pytest.approx(8.0, abs=0.3)
    assert info.fps == pytest.approx(10.0)
    assert info.has_audio is False


def test_samples_are_grey_thumbnails_at_the_requested_rate(video):
    counts: dict[str, int] = {}
    samples = list(iter_samples(video, sample_fps=2.0, thumb_width=80, counts=counts))
    # non-reference frames are skipped by the decoder; every sample still lands on its time
    assert 16 <= counts["frames_decoded"] < decode_only(video) == 80
    times = [s.time for s in samples]
    assert len(samples) == pytest.approx(16, abs=1)
    assert np.allclose(np.diff(times), 0.5, atol=0.11)
    assert samples[0].thumb.shape == (45, 80) and samples[0].thumb.dtype == np.float32
    # the title slide is dark, the chart white: the grey thumbnails say so
    assert samples[0].thumb.mean() < 120 < samples[-1].thumb.mean()
    assert samples[0].yuv().shape == (270, 320)


def test_the_frame_stage_opens_a_video_once(video, monkeypatch):
    """Probing and decoding share one open container (a remote or slow disk pays once)."""
    import av

    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    assert len(list(iter_samples(video, sample_fps=1.0, thumb_width=80))) == 8
    assert opened == [str(video)]


def test_truncated_video_is_a_clear_error(video, tmp_path):
    data = video.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(QuiltError, match="broken.mp4"):
        list(iter_samples(broken))


def test_not_a_video_and_missing_file_are_clear_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video")
    with pytest.raises(QuiltError, match="cannot open video"):
        probe(text)
    with pytest.raises(QuiltError, match="not found"):
        probe(tmp_path / "missing.mp4")


def test_rgb_image_is_pyav_to_image_pixel_for_pixel(video):
    from quilt_hf.video.decode import rgb_image

    samples = list(iter_samples(video, sample_fps=1.0, thumb_width=80))
    for sample in samples[::3]:
        ours, theirs = rgb_image(sample.frame), sample.frame.to_image()
        assert ours.mode == theirs.mode == "RGB" and ours.size == theirs.size == (320, 180)
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))
