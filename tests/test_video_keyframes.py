"""Keyframes: near-duplicate merging, reproducible names, histology labels, magnification."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from quilt_hf.synthetic.histology import make_tile
from quilt_hf.synthetic.sample.videos import chart_picture, draw_cursor, speaker_picture
from quilt_hf.video.keyframes import build_keyframes, canonical_indices, image_name
from quilt_hf.video.magnification import estimate_magnification, magnification_bin, nuclear_scale
from quilt_hf.video.static_windows import StaticWindow

SIZE = (640, 360)


def histology_frame(seed: int, magnification: int) -> Image.Image:
    tile = make_tile(
        np.random.default_rng(seed), stain="H&E", magnification=magnification, side=640
    )
    return tile.image.crop((0, 140, 640, 500))


def test_image_names_are_released_style_and_reproducible():
    name = image_name("abc_XYZ-1", 12.25)
    assert re.fullmatch(r"abc_XYZ-1_image_[0-9a-f-]{36}\.jpg", name)
    assert image_name("abc_XYZ-1", 12.25) == name
    assert image_name("abc_XYZ-1", 12.5) != name
    assert image_name("other", 12.25) != name


def test_near_duplicates_share_the_first_image():
    slide = histology_frame(0, 1)
    with_cursor = Image.fromarray(draw_cursor(np.asarray(slide), (200, 100)))
    other = histology_frame(1, 1)
    chart = chart_picture(SIZE, np.random.default_rng(0))
    jpeg_again = slide.copy()
    jpeg_again.save("/dev/null", format="JPEG")  # same pixels
    assert canonical_indices([slide, chart, with_cursor, other, jpeg_again]) == [0, 1, 0, 3, 0]


def test_the_phash_is_computed_only_for_pairs_the_thumbnail_test_lets_through(monkeypatch):
    import imagehash

    calls = []
    real = imagehash.phash
    monkeypatch.setattr(imagehash, "phash", lambda image: calls.append(1) or real(image))
    different = [histology_frame(s, 1) for s in (1, 2)] + [
        chart_picture(SIZE, np.random.default_rng(0))
    ]
    assert canonical_indices(different) == [0, 1, 2]
    assert calls == []  # no pair came near on the 32x32 thumbnail: no pHash at all
    slide = histology_frame(3, 1)
    # the same thumbnail but a different pHash is still two images: both tests must pass
    flipped = slide.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert canonical_indices([slide, slide.copy()]) == [0, 0]
    assert len(calls) == 2
    assert canonical_indices([slide, flipped], max_pixel_diff=255.0) == [0, 1]


def test_magnification_orders_low_medium_high():
    truth, scales = [], []
    for m in (0, 1, 2):
        for seed in range(6):
            truth.append(m)
            scales.append(nuclear_scale(histology_frame(100 + seed, m)))
    truth, scales = np.array(truth), np.array(scales)
    medians = [np.median(scales[truth == m]) for m in (0, 1, 2)]
    assert medians[0] < medians[1] < medians[2]
    agreement = np.mean([magnification_bin(v) == m for v, m in zip(scales, truth, strict=True)])
    assert agreement >= 0.75, agreement
    # measured at a fixed frame width: the same view at half size gives the same answer
    frame = histology_frame(7, 2)
    half = frame.resize((320, 180), Image.Resampling.LANCZOS)
    assert estimate_magnification(half) == estimate_magnification(frame)


@pytest.fixture(scope="module")
def classifier():
    from quilt_hf.filters.histology import load_classifier

    return load_classifier({"backend": "stain", "threshold": 0.5})


def test_build_keyframes_labels_and_merges(classifier):
    rng = np.random.default_rng(3)
    histo = histology_frame(2, 2)
    pictures = [speaker_picture(SIZE, rng), histo, chart_picture(SIZE, rng), histo.copy()]
    windows = [StaticWindow(4.0 * i, 4.0 * i + 3.5, p, 10) for i, p in enumerate(pictures)]
    keyframes = build_keyframes(windows, "vid", classifier)
    assert [k.is_histology for k in keyframes] == [False, True, False, True]
    assert keyframes[3].image_name == keyframes[1].image_name == image_name("vid", 4.0)
    assert keyframes[3].canonical == 1 and keyframes[3].start == 12.0  # own time, shared image
    assert keyframes[1].magnification in (0, 1, 2) and keyframes[0].magnification == -1
    # the stain classifier is sure both ways; the shared image keeps its probability
    probs = [k.histology_prob for k in keyframes]
    assert probs[1] == probs[3] > 0.99 and max(probs[0], probs[2]) < 0.01, probs
    # the threshold decides: above every probability nothing is histology
    assert not any(
        k.is_histology for k in build_keyframes(windows, "vid", classifier, threshold=1.01)
    )


def test_draw_helpers_make_distinct_pictures():
    a = np.asarray(speaker_picture(SIZE, np.random.default_rng(0)))
    b = np.asarray(chart_picture(SIZE, np.random.default_rng(0)))
    assert a.shape == b.shape == (360, 640, 3) and np.abs(a.astype(int) - b).mean() > 20


def test_background_analyser_gives_the_batch_answers(classifier):
    from quilt_hf.video.keyframes import WindowAnalyser

    rng = np.random.default_rng(4)
    pictures = [chart_picture(SIZE, rng), histology_frame(5, 0), histology_frame(6, 2)]
    windows = [StaticWindow(4.0 * i, 4.0 * i + 3.5, p, 10) for i, p in enumerate(pictures)]
    batch = build_keyframes(windows, "vid", classifier)
    with WindowAnalyser(classifier) as analyser:
        for window in windows:
            analyser.submit(window)
        background = build_keyframes(windows, "vid", classifier, analyser=analyser)
    key = [
        (k.image_name, round(k.histology_prob, 6), k.is_histology, k.magnification) for k in batch
    ]
    assert key == [
        (k.image_name, round(k.histology_prob, 6), k.is_histology, k.magnification)
        for k in background
    ]
    assert [k.is_histology for k in batch] == [False, True, True]


def test_background_analyser_classifies_a_returning_slide_once(classifier):
    from quilt_hf.video.keyframes import WindowAnalyser

    class Counting:
        threshold = classifier.threshold

        def __init__(self) -> None:
            self.seen = 0

        def predict_proba(self, images):
            self.seen += len(images)
            return classifier.predict_proba(images)

    slide = histology_frame(8, 1)
    chart = chart_picture(SIZE, np.random.default_rng(5))
    pictures = [slide, chart, slide.copy(), histology_frame(9, 1)]
    windows = [StaticWindow(4.0 * i, 4.0 * i + 3.5, p, 10) for i, p in enumerate(pictures)]
    counting = Counting()
    with WindowAnalyser(counting) as analyser:
        for window in windows:
            analyser.submit(window)
        keyframes = build_keyframes(windows, "vid", counting, analyser=analyser)
    assert counting.seen == 3  # the returning slide reused its first answer
    assert keyframes[2].canonical == 0
    assert keyframes[2].is_histology and keyframes[2].histology_prob == keyframes[0].histology_prob


def test_percentile_rows_is_numpy_percentile_bit_for_bit():
    from quilt_hf.video.magnification import percentile_rows

    rng = np.random.default_rng(12)
    for trial in range(300):
        n, rows = int(rng.integers(2, 2000)), int(rng.integers(1, 8))
        values = rng.standard_normal((rows, n)) * rng.uniform(0.1, 100)
        values = values.astype(np.float32 if trial % 2 else np.float64)
        if trial % 3 == 0:
            values = np.round(values)  # ties
        q = (99, 50, 1, 75.5, 100, 0, 99.9)[trial % 7]
        expected = np.percentile(values, q, axis=1)
        got = percentile_rows(values, q)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), (n, q)


def test_analyser_shortens_the_switch_interval_only_while_open(classifier):
    import sys

    from quilt_hf.video.keyframes import ANALYSIS_SWITCH_INTERVAL, WindowAnalyser

    before = sys.getswitchinterval()
    short = min(before, ANALYSIS_SWITCH_INTERVAL)
    assert short < before  # the default 5 ms is shortened
    with WindowAnalyser(classifier):
        with WindowAnalyser(classifier) as inner:
            # CPython keeps the interval in whole microseconds
            assert sys.getswitchinterval() == pytest.approx(short, abs=1e-6)
            inner.close()  # closing twice (close, then the with block) restores once
        assert sys.getswitchinterval() == pytest.approx(short, abs=1e-6)
    assert sys.getswitchinterval() == pytest.approx(before, abs=1e-6)


def test_haematoxylin_density_is_skimages_rgb2hed_haematoxylin():
    """The table lookups give rgb2hed's haematoxylin channel of the 8-bit frame, every value."""
    from skimage.color import rgb2hed

    from quilt_hf.video.magnification import haematoxylin_density

    rng = np.random.default_rng(3)
    every_value = np.stack(np.meshgrid(*[np.arange(256)] * 2, indexing="ij"), -1).reshape(-1, 2)
    rgb = np.concatenate(
        [
            np.stack([every_value[:, 0], every_value[:, 1], every_value[:, 0][::-1]], -1),
            rng.integers(0, 256, (4096, 3)),
        ]
    ).astype(np.uint8)[None]
    got = haematoxylin_density(rgb)
    expected = rgb2hed(rgb / 255.0)[..., 0]
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
