"""The paper's frame rule written naively, as the baseline for ``benchmarks/bench_frames.py``.

From the paper's description (we have no working original): decode every frame to RGB, compare each
frame with the previous one by SSIM (scikit-image) on one random 64x64 crop (drawn once per video),
keep frames with SSIM > 0.98, and represent every run of kept frames lasting >= 3 s by the
pixel-wise median of its frames. No sampling, no thumbnails, no cursor tolerance, no drift check.
Use ``static_windows.py`` for real work; this exists to measure what it improves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class ReferenceWindow:
    start: float
    end: float
    image: Image.Image


def reference_static_windows(
    path: Path,
    *,
    threshold: float = 0.98,
    min_window: float = 3.0,
    crop: int = 64,
    seed: int = 0,
    median_frames: int = 9,
) -> list[ReferenceWindow]:
    import av
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(seed)
    windows: list[ReferenceWindow] = []
    run: list[tuple[float, np.ndarray]] = []
    previous: np.ndarray | None = None
    box: tuple[int, int] | None = None

    def close() -> None:
        if run and run[-1][0] - run[0][0] >= min_window:
            pick = np.linspace(0, len(run) - 1, min(median_frames, len(run))).round().astype(int)
            stack = np.stack([run[i][1] for i in pick])
            median = np.median(stack, axis=0).astype(np.uint8)
            windows.append(ReferenceWindow(run[0][0], run[-1][0], Image.fromarray(median)))

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if box is None:
                h, w = rgb.shape[:2]
                box = (int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1)))
            y, x = box
            patch = rgb[y : y + crop, x : x + crop]
            if previous is not None and (
                structural_similarity(previous, patch, channel_axis=2, data_range=255) > threshold
            ):
                run.append((frame.time, rgb))
            else:
                close()
                run = [(frame.time, rgb)]
            previous = patch
    close()
    return windows
