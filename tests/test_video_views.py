"""Moving views on synthetic frame sequences: pans that never stop, cuts between pans, blur, fades."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from quilt_hf.video.decode import Sample, luma_thumbnail, thumb_step
from quilt_hf.video.static_windows import find_windows
from quilt_hf.video.views import MOVING_KEYFRAME_RULE, ViewParams, measure_drift, sharpness

H, W = 180, 320
FPS = 4.0


def texture(seed: int, h: int, w: int) -> np.ndarray:
    """Tissue-like RGB texture: blobs at several scales (smoothed noise), not a flat colour."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w), np.float32)
    for cells, weight in ((8, 1.0), (24, 0.6), (70, 0.4)):
        noise = rng.uniform(0, 1, (h // cells + 2, w // cells + 2)).astype(np.float32)
        out += (
            weight
            * np.asarray(
                Image.fromarray(noise).resize(
                    (w + 2 * cells, h + 2 * cells), Image.Resampling.BICUBIC
                )
            )[cells : cells + h, cells : cells + w]
        )
    out = (out - out.min()) / (out.max() - out.min())
    tint = np.array([0.85, 0.45, 0.75], np.float32)  # pink / purple like H&E
    return (255 * (0.25 + 0.75 * out[..., None] * tint)).clip(0, 255).astype(np.uint8)


def pan(canvas: np.ndarray, seconds: float, dx: float, dy: float = 0.0, x0=0, y0=0):
    """Frames of a view sliding over ``canvas`` by (dx, dy) pixels per sample, never still."""
    return [
        canvas[int(y0 + k * dy) : int(y0 + k * dy) + H, int(x0 + k * dx) : int(x0 + k * dx) + W]
        for k in range(int(seconds * FPS))
    ]


def samples_of(frames, start: float = 0.0):
    import av

    out = []
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        out.append(Sample(start + i / FPS, luma_thumbnail(frame, thumb_step(W, 160)), frame))
    return out


def where_in(canvas: np.ndarray, picture: Image.Image) -> tuple[int, int, float]:
    """Best (x, y) of ``picture`` in ``canvas`` on a coarse grid, with its correlation."""
    small = np.asarray(picture.convert("L"), np.float32)[::4, ::4]
    grey = np.asarray(Image.fromarray(canvas).convert("L"), np.float32)
    best = (0, 0, -1.0)
    for y in range(0, grey.shape[0] - H + 1, 2):
        for x in range(0, grey.shape[1] - W + 1, 2):
            c = np.corrcoef(grey[y : y + H : 4, x : x + W : 4].ravel(), small.ravel())[0, 1]
            if c > best[2]:
                best = (x, y, float(c))
    return best


def test_drift_measures_a_known_shift_and_rejects_other_content():
    canvas = texture(0, H + 40, W + 80)
    a = np.asarray(Image.fromarray(canvas[:H, :W]).convert("L").reduce(2), np.float32)
    b = np.asarray(
        Image.fromarray(canvas[10 : 10 + H, 30 : 30 + W]).convert("L").reduce(2), np.float32
    )
    drift = measure_drift(a, b)
    assert drift.shift == (-5, -15)  # the view moved right/down by (30, 10) px = (15, 5) thumb px
    assert drift.correlation > 0.95 and drift.overlap == pytest.approx((85 * 145) / (90 * 160))
    other = np.asarray(Image.fromarray(texture(1, H, W)).convert("L").reduce(2), np.float32)
    assert measure_drift(a, other).correlation < 0.3


def test_a_pan_that_never_stops_yields_moving_keyframes_along_it():
    canvas = texture(2, H, W + 600)
    frames = pan(canvas, seconds=14.0, dx=10.0)  # 40 px/s: the view is never still
    windows, stats = find_windows(samples_of(frames))
    assert all(w.kind == "moving" for w in windows) and stats.windows == 0
    assert len(windows) >= 3  # ~560 px travelled, a new keyframe each ~107 px (1/3 of 320)
    for window in windows:
        x, _, match = where_in(canvas, window.image)
        assert match > 0.9  # the picture is a real view of the slide ...
        assert abs(x - 10.0 * window.frame_time * FPS) <= 4  # ... at the time it says
        assert window.start <= window.frame_time <= window.end
    # views follow one another with no overlap, and cover most of the pan
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.end < b.start
    assert sum(w.end - w.start + 1 / FPS for w in windows) >= 0.8 * 14.0


def test_a_cut_between_two_pans_splits_views_with_no_static_window_on_either_side():
    left, right = texture(3, H, W + 300), texture(4, H + 200, W)
    frames = pan(left, 6.0, dx=8.0) + pan(right, 6.0, dx=0.0, dy=6.0)
    cut = 6.0
    windows, stats = find_windows(samples_of(frames))
    assert stats.windows == 0 and windows
    assert not any(w.start < cut <= w.end for w in windows)  # no view straddles the cut
    assert any(w.end < cut for w in windows) and any(w.start >= cut for w in windows)


def test_the_keyframe_is_a_sharp_frame_not_a_blurred_one():
    canvas = texture(5, H, W + 200)
    frames = pan(canvas, 3.0, dx=6.0)
    blurred = {k for k in range(len(frames)) if k % 3 != 1}  # motion blur on 2 of 3 frames
    frames = [
        np.asarray(Image.fromarray(f).filter(ImageFilter.BoxBlur(4))) if k in blurred else f
        for k, f in enumerate(frames)
    ]
    windows, _ = find_windows(samples_of(frames))
    assert windows
    for window in windows:
        k = round(window.frame_time * FPS)
        assert k not in blurred
        assert sharpness(np.asarray(window.image.convert("L"), np.float32)) > 0


def test_still_slides_keep_the_static_rule_and_a_fade_makes_no_keyframe():
    a, b = texture(6, H, W), texture(7, H, W)
    fade = [(a * (1 - t) + b * t).astype(np.uint8) for t in np.linspace(0.2, 0.8, 4)]
    frames = [a] * 20 + fade + [b] * 20
    windows, stats = find_windows(samples_of(frames))
    assert [w.kind for w in windows] == ["still", "still"]  # the 1 s fade yields nothing
    assert windows[0].end < 5.0 <= windows[1].start


def test_a_still_hold_then_a_pan_gives_a_still_window_and_moving_views_after_it():
    canvas = texture(8, H, W + 400)
    frames = [canvas[:H, :W]] * 16 + pan(canvas, 8.0, dx=12.0)
    windows, _ = find_windows(samples_of(frames))
    assert windows[0].kind == "still" and windows[0].end <= 4.0  # the pan starts from this view
    moving = [w for w in windows if w.kind == "moving"]
    assert moving and all(w.start > windows[0].end for w in moving)


def test_views_can_be_switched_off_and_the_rule_is_documented():
    canvas = texture(9, H, W + 400)
    windows, _ = find_windows(samples_of(pan(canvas, 6.0, dx=12.0)), _no_views())
    assert windows == []
    assert "phase correlation" in MOVING_KEYFRAME_RULE and "sharpest" in MOVING_KEYFRAME_RULE
    assert f"{ViewParams.min_view:g} s" in MOVING_KEYFRAME_RULE


def _no_views():
    from quilt_hf.video.static_windows import WindowParams

    return WindowParams(views=None)


def test_a_still_window_starts_once_a_fades_eased_tail_has_settled():
    from quilt_hf.video.static_windows import WindowParams

    a, b = texture(10, H, W), texture(11, H, W)
    tail = [0.35, 0.7, 0.9, 0.97, 0.99]  # an eased fade: the last steps barely change
    frames = [a] * 16 + [(a * (1 - t) + b * t).astype(np.uint8) for t in tail] + [b] * 16
    settled = (16 + len(tail)) / FPS  # the first frame that is b itself
    windows, _ = find_windows(samples_of(frames))
    still = [w for w in windows if w.kind == "still"]
    assert len(still) == 2 and settled - 0.3 <= still[1].start <= settled
    # without the settle rule the window would open inside the fade
    loose, _ = find_windows(samples_of(frames), WindowParams(settle_difference=float("inf")))
    assert [w for w in loose if w.kind == "still"][1].start < settled - 0.3


def test_a_burst_of_fast_motion_inside_one_pan_leaves_no_gap_in_the_slides_time():
    canvas = texture(12, H, W + 900)
    slow1 = pan(canvas, 3.0, dx=8.0)  # 0-3 s
    x = 8.0 * len(slow1)
    fast = pan(canvas, 1.5, dx=45.0, x0=x)  # views of under 1 s: too short for a keyframe
    x += 45.0 * len(fast)
    slow2 = pan(canvas, 3.0, dx=8.0, x0=x)
    windows, stats = find_windows(samples_of(slow1 + fast + slow2))
    moving = [w for w in windows if w.kind == "moving"]
    assert stats.windows == 0 and len(moving) >= 2
    assert moving[0].start == 0.0 and moving[-1].end == pytest.approx(7.25)
    for a, b in zip(moving, moving[1:], strict=False):
        assert b.start - a.end <= 1 / FPS + 1e-6  # the fast part's time went to a keyframe view


def test_views_of_one_motion_are_classified_once_and_a_cut_starts_anew():
    from quilt_hf.filters.histology import load_classifier
    from quilt_hf.video.keyframes import WindowAnalyser
    from quilt_hf.video.static_windows import StaticWindow

    stain = load_classifier({"backend": "stain", "threshold": 0.5})
    calls: list[int] = []

    class Counting:
        threshold = stain.threshold

        def predict_proba(self, images):
            calls.append(len(images))
            return stain.predict_proba(images)

    canvas = texture(13, H, W * 4)
    crops = [Image.fromarray(canvas[:, k * W : (k + 1) * W]) for k in range(4)]
    windows = [
        StaticWindow(k, k + 0.9, crop, 4, "moving", k + 0.5, chain=1 if k < 3 else 2)
        for k, crop in enumerate(crops)
    ]
    with WindowAnalyser(Counting()) as analyser:
        for window in windows:
            analyser.submit(window)
        labels = [analyser.result(window) for window in windows]
    assert len(calls) == 2  # once for chain 1, once for chain 2
    assert labels[0][:2] == labels[1][:2] == labels[2][:2]


def test_sharpness_is_the_variance_of_the_4_neighbour_laplacian():
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 255, (45, 80)).astype(np.float32)
    lap = 4 * t[1:-1, 1:-1] - t[:-2, 1:-1] - t[2:, 1:-1] - t[1:-1, :-2] - t[1:-1, 2:]
    assert sharpness(t) == float(lap.var())  # bit for bit: the same operations in order
    blurred = 0.25 * (t[:-1, :-1] + t[1:, :-1] + t[:-1, 1:] + t[1:, 1:])
    assert sharpness(blurred) < 0.5 * sharpness(t)


def test_a_fast_motion_whose_only_long_view_is_out_of_focus_keeps_a_sharp_picture():
    """A fast zoom or pan splits into views too short for a keyframe; their time joins the first
    view that lasts (here the out-of-focus stretch at the end), and so do their sharp frames:
    the keyframe's picture is the sharpest of all of them, not of the blurred view alone."""
    canvas = texture(13, H, W + 900)
    fast = pan(canvas, 2.5, dx=45.0)  # 0-2.5 s: views of under 1 s each
    x = 45.0 * len(fast)
    frames = fast + pan(canvas, 1.5, dx=8.0, x0=x)  # 2.5-4 s: one view long enough
    sharp = 8  # from 2 s on out of focus, so the view that lasts is all out of focus
    frames = frames[:sharp] + [
        np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(3))) for f in frames[sharp:]
    ]
    windows, stats = find_windows(samples_of(frames))
    moving = [w for w in windows if w.kind == "moving"]
    assert stats.windows == 0 and len(moving) == 1
    assert moving[0].start == 0.0  # the short views' time joined it
    assert moving[0].frame_time < 2.0  # and its picture is one of their sharp frames


def test_a_keyframe_view_out_of_focus_takes_a_sharp_frame_from_the_short_views_after_it():
    """The other way round: the view that lasts is the out-of-focus start of a motion and the
    motion then speeds up into views too short for a keyframe, whose time it takes (its tail):
    their sharp frames compete for its picture before it is handed on."""
    canvas = texture(14, H, W + 1200)
    frames = pan(canvas, 1.5, dx=8.0)  # 0-1.5 s: one view long enough
    x = 8.0 * len(frames)
    frames += pan(canvas, 2.5, dx=45.0, x0=x)  # 1.5-4 s: views of under 1 s each
    blurred = 8  # out of focus up to 2 s, so the view that lasts is all out of focus
    frames = [
        np.asarray(Image.fromarray(f).filter(ImageFilter.GaussianBlur(3))) for f in frames[:blurred]
    ] + frames[blurred:]
    windows, stats = find_windows(samples_of(frames))
    moving = [w for w in windows if w.kind == "moving"]
    assert stats.windows == 0 and len(moving) == 1
    assert moving[0].end == pytest.approx(3.75)  # the short views' time joined it
    assert moving[0].frame_time >= blurred / FPS  # and its picture is one of their sharp frames


def zoom(canvas: np.ndarray, seconds: float, rate: float) -> list[np.ndarray]:
    """Frames zooming into the centre of ``canvas`` (the crop shrinks by ``rate`` per sample),
    never still: each frame is a smaller crop resized to the frame size."""
    ch, cw = canvas.shape[:2]
    frames = []
    for k in range(int(seconds * FPS)):
        scale = rate**k
        h, w = int(ch * scale), int(cw * scale)
        y, x = (ch - h) // 2, (cw - w) // 2
        crop = Image.fromarray(canvas[y : y + h, x : x + w]).resize(
            (W, H), Image.Resampling.BILINEAR
        )
        frames.append(np.asarray(crop))
    return frames


def test_a_zoom_made_only_of_short_views_yields_one_keyframe_from_its_sharpest_frame():
    """A fast zoom splits into views each under ``min_view`` (dev lecture unseen_100_0 lost 12 s
    of a zoom this way): the run of them, one continuous motion, gives one keyframe for its
    whole time, from its sharpest frame, and the cut after it still bounds it."""
    frames = zoom(texture(15, 4 * H, 4 * W), seconds=6.0, rate=0.92)
    frames += pan(texture(16, H, W + 300), 3.0, dx=8.0)  # a cut to another moving slide at 6 s
    samples = samples_of(frames)
    windows, stats = find_windows(samples)
    moving = [w for w in windows if w.kind == "moving"]
    zoomed = [w for w in moving if w.end < 6.0]
    assert stats.windows == 0 and len(zoomed) == 1
    assert zoomed[0].start == 0.0 and zoomed[0].end >= 5.5  # the whole zoom, not a gap
    sharpest = max(samples[:24], key=lambda s: sharpness(s.thumb))
    assert zoomed[0].frame_time == sharpest.time
    assert not any(w.start < 6.0 <= w.end for w in moving)  # the cut is not crossed


def test_a_slow_dissolve_between_still_slides_is_not_a_run_of_short_views_keyframe():
    """A 1.25 s cross-dissolve also splits into short views of one chain (each blend correlates
    with the one before); it is a blend of the pictures on either side, not a motion: no
    keyframe, where a zoom's short views give one."""
    from quilt_hf.video.static_windows import WindowParams

    a, b = texture(17, H, W), texture(18, H, W)
    fade = [(a * (1 - t) + b * t).astype(np.uint8) for t in np.linspace(0.15, 0.85, 5)]
    samples = samples_of([a] * 20 + fade + [b] * 20)
    windows, _ = find_windows(samples)
    assert [w.kind for w in windows] == ["still", "still"]
    # it is the blend test that rejects it: without it the run would give a keyframe
    unguarded = WindowParams(views=ViewParams(min_blend_fit=2.0))
    assert [w.kind for w in find_windows(samples, unguarded)[0]] == ["still", "moving", "still"]


def test_blend_fit_tells_a_dissolve_frame_from_a_zoom_frame():
    from quilt_hf.video.views import blend_fit, coarse

    def grey(rgb):
        return coarse(np.asarray(Image.fromarray(rgb).convert("L"), np.float32))

    a, b = texture(19, H, W), texture(20, H, W)
    wa, wb, r2 = blend_fit(grey(a), grey(b), grey((0.6 * a + 0.4 * b).astype(np.uint8)))
    assert r2 > 0.98 and wa == pytest.approx(0.6, abs=0.05) and wb == pytest.approx(0.4, abs=0.05)
    frames = [grey(f) for f in zoom(texture(21, 4 * H, 4 * W), 3.0, 0.8)]
    wa, wb, r2 = blend_fit(frames[0], frames[-1], frames[len(frames) // 2])
    assert r2 < 0.9 or min(wa, wb) < 0.15


def test_a_views_opening_sample_after_a_change_is_not_its_picture():
    """A fade into a moving slide: the sample where the picture changed is still the slide before
    (sharp), the next a blend that splits off as the same motion; the view's picture must be one
    of the new slide's frames, not that sharper opening sample (dev lecture unseen_15_0 paired a
    still slide's last frame with the pan's narration this way)."""

    def soft(frames):  # a moving slide's frames: a little motion blur
        return [np.asarray(Image.fromarray(f).filter(ImageFilter.BoxBlur(2))) for f in frames]

    before = soft(pan(texture(31, H, W + 300), 2.0, dx=9.0))
    last_of_previous = texture(32, H, W)
    new_slide = texture(33, H, W + 300)
    after = soft(pan(new_slide, 3.0, dx=9.0))
    blend = (0.3 * last_of_previous + 0.7 * after[0]).astype(np.uint8)
    frames = before + [last_of_previous, blend] + after
    windows, _ = find_windows(samples_of(frames))
    change = len(before) / FPS
    view = next(w for w in windows if w.start <= change <= w.end)
    assert view.kind == "moving" and view.start == change  # its time is still the view's
    assert view.frame_time > change + 1 / FPS  # a frame of the new slide: after the blend
    on_new_slide = where_in(new_slide, view.image)[2]
    assert on_new_slide > 0.8 and on_new_slide > where_in(last_of_previous, view.image)[2]


def test_a_motion_that_fades_into_a_still_slide_keeps_a_picture_of_its_own():
    """The mirror of the test above: a pan fades into a still slide. The fade's later blends are
    mostly that still slide, sharper than the moving one (a little motion blur), and stay in the
    pan's views while they still correlate with them; the pan's picture must still be a frame of
    the pan, not one of those blends (dev lectures unseen_12_1 and unseen_12_3 paired a zoom's
    narration with a blend of the still slide after it this way)."""

    def soft(frames):
        return [np.asarray(Image.fromarray(f).filter(ImageFilter.BoxBlur(2))) for f in frames]

    moving_slide = texture(41, H, W + 300)
    moving = soft(pan(moving_slide, 3.0, dx=9.0))
    still = texture(42, H, W)
    going_on = soft(pan(moving_slide, 1.0, dx=9.0, x0=9 * len(moving)))
    fade = [
        (w * s + (1 - w) * f.astype(np.float32)).astype(np.uint8)
        for w, s, f in zip((0.3, 0.55, 0.8), (still,) * 3, going_on, strict=False)
    ]
    frames = moving + fade + [still] * int(4 * FPS)
    windows, stats = find_windows(samples_of(frames))
    change = (len(moving) + len(fade)) / FPS
    views = [w for w in windows if w.kind == "moving"]
    assert views and any(w.kind == "still" and w.start >= change - 1 / FPS for w in windows)
    for view in views:
        assert view.frame_time < len(moving) / FPS  # a frame of the pan, before the fade
        x, _, on_moving = where_in(moving_slide, view.image)
        assert on_moving > 0.8 and on_moving > where_in(still, view.image)[2]
