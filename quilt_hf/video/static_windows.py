"""Static windows: stretches of a lecture where the picture holds still, and their median frame.

The paper's rule: SSIM between consecutive frames on a random 64x64 crop; frames with SSIM > 0.98
are kept; a window of >= 3 s is represented by the pixel-wise median of its kept frames. Ours keeps
the threshold and the 3 s, and changes what is compared, so that it is fast and robust:

- **What we look at.** About ``sample_fps`` (4) frames per second, as grey thumbnails ~160 px wide
  (block means of the Y plane; see ``decode.py``). Comparing frames 0.25 s apart is stricter than
  comparing neighbours 0.04 s apart, so slow pans and zooms read as motion, not as stillness.
- **Where SSIM is computed.** The thumbnail is cut into ``block`` x ``block`` tiles and SSIM is
  computed per tile, vectorised (means, variances, covariance per tile; the constants of Wang et
  al. 2004 for 8-bit data). Every tile is a candidate crop, instead of one random 64x64 crop that
  may land on glass or on the cursor. SSIM runs only where a cheap difference leaves the answer
  open: identical thumbnails (a still H.264 scene decodes to the same pixels) are the same, and a
  mean grey-level change over ``cut_difference`` is a cut.
- **Robust to a cursor.** Two frames are "the same" when at most ``max_changed_fraction`` of the
  tiles fall below the threshold: a moving mouse pointer changes a few tiles, a cut, a fade, a pan
  or a zoom changes most tiles of textured content.
- **No drift.** Each frame is also compared with the first frame of its window (the anchor) with a
  looser threshold, so a very slow pan or fade, each step of which looks still, cannot chain into
  one long "static" window.
- **Moving views.** Every sample also goes to a ``views.ViewTracker``, paused while a window of
  >= 3 s holds: stretches that pan, zoom or drift without holding still yield "moving" windows
  (one sharp frame each, see ``views.py``) from the same decode.
- **Median.** The window holds (by reference, no copy) up to ``2 * median_frames`` of its decoded
  frames, spread over the window by stride doubling; when it closes, ``median_frames`` of them are
  read as YUV planes and their per-pixel median (which also erases a moving cursor) is converted
  to RGB once. Runs that end before 3 s cost nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from quilt_hf.video.decode import Sample, iter_samples, rgb_image
from quilt_hf.video.views import MovingView, ViewParams, ViewTracker

# Wang et al. (2004) constants for 8-bit images: (0.01 * 255)^2 and (0.03 * 255)^2.
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


@dataclass(frozen=True)
class WindowParams:
    sample_fps: float = 4.0
    thumb_width: int = 160
    block: int = 8  # thumbnail pixels per SSIM tile side
    ssim_threshold: float = 0.98  # paper: consecutive frames kept when SSIM > 0.98
    anchor_threshold: float = 0.90  # against the window's first frame: catches slow drift
    max_changed_fraction: float = 0.05  # tiles allowed to change (a cursor) between "same" frames
    min_window: float = 3.0  # paper: windows of >= 3 s
    median_frames: int = 5
    cut_difference: float = 25.0  # mean grey-level change that is a cut without asking SSIM
    views: ViewParams | None = field(default_factory=ViewParams)  # None: still windows only
    # A run's first ``settle_time`` s may still be a fade's tail, each step nearly the same
    # picture; a step that changes the mean grey level by over ``settle_difference`` there
    # moves the window's start after it (its image is the settled picture, its time too).
    settle_time: float = 1.5
    settle_difference: float = 0.3


@dataclass
class StaticWindow:
    """A stretch of the timeline with one picture: a still window (the paper's rule: the median
    of its frames) or a moving view (``views.py``: its sharpest frame, at ``frame_time``)."""

    start: float  # time of the window's first frame, seconds
    end: float  # time of its last frame
    image: Image.Image  # RGB, per-pixel median of the kept frames (still) or one frame (moving)
    frames: int  # sampled frames in the window
    kind: str = "still"  # "still" | "moving"
    frame_time: float | None = None  # when the picture was on screen (moving views)
    chain: int | None = None  # moving views of one continuous motion share it (views.py)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def picture_time(self) -> float:
        """When the picture was on screen: the window start (still), the frame's time (moving)."""
        return self.start if self.frame_time is None else self.frame_time


@dataclass
class WindowStats:
    samples: int = 0
    ssim_computed: int = 0
    identical_skips: int = 0
    cut_skips: int = 0
    windows: int = 0
    short_runs: int = 0
    moving_windows: int = 0


@functools.lru_cache(maxsize=8)
def _pooling(h: int, w: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices L (h/b x h) and R (w x w/b) such that L @ X @ R sums X over b x b tiles."""
    left = np.kron(np.eye(h // block, dtype=np.float32), np.ones((1, block), np.float32))
    right = np.kron(np.eye(w // block, dtype=np.float32), np.ones((block, 1), np.float32))
    return left, right


def block_ssim(a: np.ndarray, b: np.ndarray, block: int) -> np.ndarray:
    """SSIM per ``block`` x ``block`` tile of two same-size grey images (uniform window).

    The five moments (x, y, x^2, y^2, xy) are pooled per tile by two small matrix products
    (~5x faster than a strided mean), giving every tile's means, variances and covariance at once.
    """
    h, w = (a.shape[0] // block) * block, (a.shape[1] // block) * block
    x = a[:h, :w].astype(np.float32, copy=False)
    y = b[:h, :w].astype(np.float32, copy=False)
    left, right = _pooling(h, w, block)
    moments = np.empty((5, h, w), np.float32)  # x, y, x^2, y^2, xy, written in place
    moments[0], moments[1] = x, y
    np.multiply(x, x, out=moments[2])
    np.multiply(y, y, out=moments[3])
    np.multiply(x, y, out=moments[4])
    mx, my, xx, yy, xy = (left @ moments @ right) * (1.0 / (block * block))
    vx, vy, cov = xx - mx * mx, yy - my * my, xy - mx * my
    return ((2 * mx * my + _C1) * (2 * cov + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))


def changed_fraction(a: np.ndarray, b: np.ndarray, block: int, threshold: float) -> float:
    """Share of tiles whose SSIM is at or below ``threshold``."""
    return float((block_ssim(a, b, block) <= threshold).mean())


@dataclass
class _Run:
    anchor: np.ndarray
    start: float
    end: float
    count: int = 1
    kept: list[Sample] = field(default_factory=list)
    stride: int = 1
    confirmed: bool = False  # long enough to be a window: the view tracker is held
    settled: float | None = None  # last time the young run still changed (a transition's tail)


class StaticWindowFinder:
    """Feed ``Sample``s in time order; collect ``windows``. One object per video."""

    def __init__(
        self,
        params: WindowParams | None = None,
        on_window: Callable[[StaticWindow], None] | None = None,
    ) -> None:
        self.params = params or WindowParams()
        self.on_window = on_window  # called as each window closes (e.g. to start classifying it)
        self.windows: list[StaticWindow] = []
        self.stats = WindowStats()
        self._run: _Run | None = None
        self._previous: np.ndarray | None = None
        views = self.params.views
        self._views: list[tuple[MovingView, StaticWindow]] = []
        self.tracker = ViewTracker(views, self._moving) if views is not None else None

    def _moving(self, view: MovingView) -> None:
        window = StaticWindow(
            view.start,
            view.end,
            view.sample.rgb(),
            view.samples,
            "moving",
            view.frame_time,
            view.chain,
        )
        self._views.append((view, window))
        self.windows.append(window)
        self.stats.moving_windows += 1
        if self.on_window is not None:
            self.on_window(window)

    def _same(self, a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
        if a is b or np.array_equal(a, b):
            self.stats.identical_skips += 1
            return True
        if float(np.abs(a - b).mean()) > self.params.cut_difference:
            self.stats.cut_skips += 1  # a cut: no need for SSIM to say so
            return False
        self.stats.ssim_computed += 1
        p = self.params
        return changed_fraction(a, b, p.block, threshold) <= p.max_changed_fraction

    def add(self, sample: Sample) -> None:
        self.stats.samples += 1
        p = self.params
        run = self._run
        if run is not None and self._previous is not None:
            if np.array_equal(sample.thumb, self._previous):
                # The previous frame passed both tests (or is the anchor): so does its copy.
                self.stats.identical_skips += 1
                still = True
            else:
                still = self._same(sample.thumb, self._previous, p.ssim_threshold) and self._same(
                    sample.thumb, run.anchor, p.anchor_threshold
                )
        else:
            still = False
        if still:
            if sample.time - run.start <= p.settle_time and (
                float(np.abs(sample.thumb - self._previous).mean()) > p.settle_difference
            ):
                run.settled = sample.time  # still easing in (the tail of a fade): not yet
            run.end = sample.time
            run.count += 1
            if run.count % run.stride == 0:
                self._keep(run, sample)
        else:
            self._close()
            run = self._run = _Run(anchor=sample.thumb, start=sample.time, end=sample.time)
            self._keep(run, sample)
        self._previous = sample.thumb
        if self.tracker is not None and not run.confirmed:
            if run.end - run.start >= p.min_window:
                run.confirmed = True  # a window from run.start on: no moving view inside it
                self.tracker.hold(run.start, sample.thumb)
            else:
                self.tracker.add(sample, still_step=still)

    def _keep(self, run: _Run, sample: Sample) -> None:
        run.kept.append(sample)
        if len(run.kept) >= 2 * self.params.median_frames:  # thin out: keep every other frame
            run.kept = run.kept[::2]
            run.stride *= 2

    def _close(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        if run.confirmed and self.tracker is not None:
            self.tracker.release()
        if run.end - run.start < self.params.min_window:
            self.stats.short_runs += 1
            return
        kept = run.kept
        start = run.start
        if run.settled is not None:  # the window starts once the picture has settled
            start = run.settled
            kept = [k for k in kept if k.time >= start] or kept[-1:]
        if len(kept) > self.params.median_frames:
            pick = np.linspace(0, len(kept) - 1, self.params.median_frames).round().astype(int)
            kept = [kept[i] for i in pick]
        frames = [sample.yuv() for sample in kept]
        window = StaticWindow(start, run.end, median_image(frames), run.count)
        self.windows.append(window)
        self.stats.windows += 1
        if self.on_window is not None:
            self.on_window(window)

    def finish(self) -> list[StaticWindow]:
        """All windows, still and moving, in time order."""
        self._close()
        if self.tracker is not None:
            self.tracker.finish()
        for view, window in self._views:  # a view may have grown over short views after it
            window.start, window.end = view.start, view.end
        self.windows.sort(key=lambda w: w.start)
        return self.windows


def pixel_median(frames: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median of same-shape uint8 arrays (the upper middle for an even count).

    A min/max sorting network over whole frames: ~40x faster than ``np.median(axis=0)`` for the
    handful of frames a window keeps, and exact.
    """
    ordered = [np.array(f, copy=True) for f in frames]
    n = len(ordered)
    for i in range(n // 2 + 1):  # bubble passes: after pass i the i largest are in place
        for j in range(n - 1 - i):
            low = np.minimum(ordered[j], ordered[j + 1])
            np.maximum(ordered[j], ordered[j + 1], out=ordered[j + 1])
            ordered[j] = low
    return ordered[n // 2]


def median_image(yuv_frames: list[np.ndarray]) -> Image.Image:
    """Per-pixel median of yuv420p frames, converted to RGB once."""
    import av

    median = pixel_median(yuv_frames)
    return rgb_image(av.VideoFrame.from_ndarray(np.ascontiguousarray(median), format="yuv420p"))


def find_windows(
    samples: Iterable[Sample],
    params: WindowParams | None = None,
    on_window: Callable[[StaticWindow], None] | None = None,
):
    """Static windows of a stream of samples; returns ``(windows, stats)``."""
    finder = StaticWindowFinder(params, on_window)
    for sample in samples:
        finder.add(sample)
    return finder.finish(), finder.stats


def find_static_windows(
    path: Path,
    params: WindowParams | None = None,
    counts: dict[str, int] | None = None,
    on_window: Callable[[StaticWindow], None] | None = None,
):
    """Decode ``path`` and return ``(windows, stats)``; ``counts`` gets ``frames_decoded``;
    ``on_window`` sees each window as soon as it closes."""
    params = params or WindowParams()
    samples = iter_samples(
        path, sample_fps=params.sample_fps, thumb_width=params.thumb_width, counts=counts
    )
    return find_windows(samples, params, on_window)
