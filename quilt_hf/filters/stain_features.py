"""Stain colour and texture statistics that separate histology from other images, without weights.

Why these features: stained tissue is pink/purple (H&E) or brown/blue (IHC) in HED colour space,
has high-frequency texture almost everywhere it is not glass (near-white background), and uses
thousands of colours. Charts, text slides and screenshots are made of a few flat colours with
sharp edges; photos of people are skin-toned but smooth; natural scenes carry green and sky blue.
Each feature is a number in a small, bounded range so a logistic model over them stays stable.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2hed

FEATURE_SIZE = 192  # features are computed on a thumbnail with this maximum side: fast, zoom-stable

HUE_BINS = 12

FEATURE_NAMES: tuple[str, ...] = (
    "white_fraction",  # near-white, unsaturated pixels (glass / slide background / paper)
    "dark_fraction",  # near-black pixels (letterbox, dark slide backgrounds)
    "pink_purple",  # foreground pixels with H&E hues (magenta..purple, saturated)
    "brown",  # foreground pixels with DAB-like hue (also skin: other features must separate)
    "blue",  # foreground pixels with blue hue (IHC haematoxylin counterstain, also sky)
    "green",  # foreground pixels with green/cyan hue: rare in stained tissue
    "sat_mean",  # mean saturation of the foreground
    "sat_std",  # spread of saturation of the foreground
    "hema_mean",  # mean haematoxylin optical density (HED) on the foreground
    "eosin_mean",  # mean eosin optical density
    "dab_mean",  # mean DAB optical density
    "colour_entropy",  # entropy (bits / 12) of the foreground's 4-bit-per-channel colour histogram
    "top_colour",  # share of the single most common quantised foreground colour
    "colours_90",  # log2 of the number of quantised colours covering 90% of the foreground, / 12
    "flat_fraction",  # foreground pixels whose 3x3 neighbourhood is flat (rendered graphics)
    "edge_fraction",  # foreground pixels with a strong gradient (text, chart lines, tissue edges)
    "mid_gradient",  # foreground pixels with a moderate gradient (tissue texture)
    "laplacian",  # mean |Laplacian| of the foreground grey image (high-frequency energy)
    "grey_std",  # standard deviation of the foreground grey level
    "val_mean",  # mean brightness of the foreground (DAB/haematoxylin are darker than skin)
    # hue histogram of saturated, TEXTURED foreground pixels: "pink and textured" is tissue,
    # "pink and flat" is a slide background (a logistic model cannot form that AND itself)
    *(f"hue_{i}" for i in range(HUE_BINS)),
    "band_fine",  # |grey - blur(1)|: cell-scale detail (nuclei, fibres)
    "band_mid",  # |blur(1) - blur(2)|
    "band_coarse",  # |blur(2) - blur(4)|: object-scale shading (faces, furniture, sky)
    "fine_share",  # band_fine / all bands: tissue keeps energy at fine scales, photos do not
    "coherence",  # structure-tensor coherence: straight edges (photos, graphics) vs isotropic tissue
)


def feature_image(image: Image.Image) -> Image.Image:
    """``image`` in RGB, shrunk to at most ``FEATURE_SIZE`` on its longer side: the pixels
    ``image.convert("RGB").copy().thumbnail(...)`` (bilinear) gives, without its two full-size
    copies (``convert`` copies even an RGB image; ``thumbnail`` works in place). ``resize`` with
    the same size and ``reducing_gap`` is what ``thumbnail`` runs for an image in memory."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    size = thumbnail_size(image.size, FEATURE_SIZE)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def thumbnail_size(size: tuple[int, int], limit: int) -> tuple[int, int]:
    """The size ``Image.thumbnail((limit, limit))`` gives an image of ``size`` (Pillow's rule:
    the aspect ratio kept, the side it is not fitted to rounded to the closer aspect)."""
    width, height = size
    if width <= limit and height <= limit:
        return size
    aspect = width / height
    if aspect <= 1:  # fitted to the height; the width rounded (down or up) to the closer aspect
        x = min(
            math.floor(limit * aspect),
            math.ceil(limit * aspect),
            key=lambda n: abs(aspect - n / limit),
        )
        return max(x, 1), limit
    y = min(
        math.floor(limit / aspect),
        math.ceil(limit / aspect),
        key=lambda n: 0 if n == 0 else abs(aspect - limit / n),
    )
    return limit, max(y, 1)


def _thumbnail(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """RGB and HSV of the feature thumbnail, both float32 in [0, 1].

    HSV comes from PIL's 8-bit conversion: within 1/255 of ``skimage.color.rgb2hsv`` and ~10x
    faster, which matters in the frame stage (one call per keyframe)."""
    image = feature_image(image)
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    return rgb, np.asarray(image.convert("HSV"), dtype=np.float32) / 255.0


def stain_features(image: Image.Image) -> np.ndarray:
    """The feature vector (``FEATURE_NAMES`` order, float32) of one image."""
    rgb, hsv = _thumbnail(image)
    n_pixels = rgb.shape[0] * rgb.shape[1]
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # (the minimum of three planes: numpy's reduction over a length-3 last axis is ~40x slower)
    white = (np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) > 0.84) & (sat < 0.12)
    dark = val < 0.12
    foreground = ~(white | dark)
    n_fg = int(foreground.sum())

    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gradient = np.hypot(ndimage.sobel(grey, axis=0), ndimage.sobel(grey, axis=1)) / 4.0
    local_mean = ndimage.uniform_filter(grey, size=3)
    local_var = ndimage.uniform_filter(grey * grey, size=3) - local_mean * local_mean
    flat = local_var < (2.0 / 255.0) ** 2
    laplacian = np.abs(ndimage.laplace(grey))

    quantised = (rgb * 15.999).astype(np.int32)
    codes = (quantised[..., 0] << 8) | (quantised[..., 1] << 4) | quantised[..., 2]
    # colour statistics of the foreground: glass/paper background is one colour in tissue too
    colour_pixels = codes[foreground] if n_fg >= max(16, 0.01 * n_pixels) else codes.ravel()
    counts = np.sort(np.bincount(colour_pixels, minlength=4096))[::-1].astype(np.float64)
    shares = counts[counts > 0] / counts.sum()
    entropy = float(-(shares * np.log2(shares)).sum())
    colours_90 = int(np.searchsorted(np.cumsum(shares), 0.9) + 1)

    features = {
        "white_fraction": white.mean(),
        "dark_fraction": dark.mean(),
        "colour_entropy": entropy / 12.0,
        "top_colour": shares[0],
        "colours_90": np.log2(colours_90) / 12.0,
    }
    if n_fg >= max(16, 0.01 * n_pixels):  # otherwise (almost) only background: zeros below
        fg_hue, fg_sat, fg_gradient = hue[foreground], sat[foreground], gradient[foreground]
        coloured = fg_sat > 0.12
        hed = rgb2hed(rgb)[foreground]
        features |= {
            "pink_purple": np.mean(coloured & ((fg_hue >= 0.75) | (fg_hue < 0.02))),
            "brown": np.mean(coloured & (fg_hue >= 0.02) & (fg_hue < 0.15)),
            "blue": np.mean(coloured & (fg_hue >= 0.5) & (fg_hue < 0.75)),
            "green": np.mean(coloured & (fg_hue >= 0.15) & (fg_hue < 0.5)),
            "sat_mean": fg_sat.mean(),
            "sat_std": fg_sat.std(),
            # optical densities are ~0..0.1 for stained tissue: scale into ~[-1, 1]
            "hema_mean": np.clip(hed[:, 0].mean() * 10, -1, 1),
            "eosin_mean": np.clip(hed[:, 1].mean() * 10, -1, 1),
            "dab_mean": np.clip(hed[:, 2].mean() * 10, -1, 1),
            "flat_fraction": flat[foreground].mean(),
            "edge_fraction": np.mean(fg_gradient > 0.15),
            "mid_gradient": np.mean((fg_gradient > 0.015) & (fg_gradient <= 0.15)),
            "laplacian": np.clip(laplacian[foreground].mean() * 5, 0, 1),
            "grey_std": grey[foreground].std() * 3,
            "val_mean": val[foreground].mean(),
        }
        hue_counts = np.bincount(
            (fg_hue[coloured & (fg_gradient > 0.015)] * HUE_BINS)
            .astype(np.int64)
            .clip(0, HUE_BINS - 1),
            minlength=HUE_BINS,
        )
        features |= {f"hue_{i}": count / n_fg for i, count in enumerate(hue_counts)}
        features |= _scale_and_orientation(grey, foreground)
    return np.array([features.get(name, 0.0) for name in FEATURE_NAMES], dtype=np.float32)


def _scale_and_orientation(grey: np.ndarray, foreground: np.ndarray) -> dict[str, float]:
    blur1 = ndimage.gaussian_filter(grey, 1)
    blur2 = ndimage.gaussian_filter(grey, 2)
    blur4 = ndimage.gaussian_filter(grey, 4)
    bands = [
        np.abs(a - b)[foreground].mean() for a, b in ((grey, blur1), (blur1, blur2), (blur2, blur4))
    ]
    total = sum(bands) + 1e-6
    gx, gy = ndimage.sobel(blur1, axis=1), ndimage.sobel(blur1, axis=0)
    jxx = ndimage.gaussian_filter(gx * gx, 2)
    jyy = ndimage.gaussian_filter(gy * gy, 2)
    jxy = ndimage.gaussian_filter(gx * gy, 2)
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (energy + 1e-6)
    textured = foreground & (energy > 1e-4)
    return {
        "band_fine": min(1.0, bands[0] * 20),
        "band_mid": min(1.0, bands[1] * 20),
        "band_coarse": min(1.0, bands[2] * 20),
        "fine_share": bands[0] / total,
        # no texture at all reads like rendered graphics (straight edges), not like tissue
        "coherence": float(coherence[textured].mean()) if textured.any() else 1.0,
    }


def stain_feature_matrix(images: list[Image.Image]) -> np.ndarray:
    """Features of many images, shape ``(n, len(FEATURE_NAMES))``."""
    if not images:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return np.stack([stain_features(image) for image in images])
