"""Histology tiles from the real slides and generated non-histology images (reused by videos)."""

from __future__ import annotations

import numpy as np
import pytest

from quilt_hf.synthetic.histology import (
    HE_SOURCE,
    IHC_SOURCE,
    histology_tiles,
    ihc_image,
    make_tile,
    stain_jitter,
    tissue_fraction,
)
from quilt_hf.synthetic.sample.nonhistology import (
    ALL_KINDS,
    KINDS,
    non_histology_images,
    text_slide,
)


def test_tiles_cycle_magnifications_and_record_their_zoom() -> None:
    tiles = histology_tiles(np.random.default_rng(0), 9, ihc_fraction=0.0, side=128)
    assert [t.magnification for t in tiles] == [0, 1, 2] * 3
    for tile in tiles:
        assert tile.image.mode == "RGB" and tile.image.size == (128, 128)
        assert tile.stain == "H&E" and tile.source == HE_SOURCE
        assert tile.box[2] == pytest.approx(128 * tile.downsample, abs=1)
        assert tissue_fraction(np.asarray(tile.image)) >= 0.4
    by_zoom = {m: [t.downsample for t in tiles if t.magnification == m] for m in (0, 1, 2)}
    assert max(by_zoom[2]) < min(by_zoom[1]) and max(by_zoom[1]) < min(by_zoom[0])


def test_ihc_tiles_and_their_limits() -> None:
    rng = np.random.default_rng(1)
    tiles = histology_tiles(rng, 6, ihc_fraction=1.0, magnifications=(1, 2), side=96)
    assert {t.stain for t in tiles} == {"IHC"} and {t.source for t in tiles} == {IHC_SOURCE}
    with pytest.raises(ValueError, match="no magnification 0"):
        make_tile(rng, stain="IHC", magnification=0)
    with pytest.raises(ValueError, match="unknown stain"):
        make_tile(rng, stain="PAS", magnification=1)


def test_tiles_are_reproducible_from_the_seed() -> None:
    first = histology_tiles(np.random.default_rng(7), 3, side=96)
    again = histology_tiles(np.random.default_rng(7), 3, side=96)
    other = histology_tiles(np.random.default_rng(8), 3, side=96)
    assert [t.image.tobytes() for t in first] == [t.image.tobytes() for t in again]
    assert [t.image.tobytes() for t in first] != [t.image.tobytes() for t in other]


def test_stain_jitter_changes_colour_not_structure() -> None:
    pixels = ihc_image()[:128, :128]
    restained = stain_jitter(pixels, np.random.default_rng(3), strength=0.3)
    assert restained.shape == pixels.shape and restained.dtype == np.uint8
    assert np.abs(restained.astype(int) - pixels).mean() > 2  # the colours moved
    grey = pixels.mean(axis=2).ravel()
    assert np.corrcoef(grey, restained.mean(axis=2).ravel())[0, 1] > 0.9  # same tissue


def test_non_histology_kinds() -> None:
    rng = np.random.default_rng(0)
    mixed = non_histology_images(rng, 8, size=(200, 150))
    assert [p.kind for p in mixed] == list(KINDS) * 2
    for kind in ALL_KINDS:
        (picture,) = non_histology_images(rng, 1, kind=kind)
        assert picture.kind == kind and picture.image.mode == "RGB"
    slide = text_slide(rng, "Grand rounds", ["one", "two"], size=(640, 360))
    assert slide.size == (640, 360) and len(np.unique(np.asarray(slide).reshape(-1, 3), axis=0)) > 2
    with pytest.raises(ValueError, match="unknown kind"):
        non_histology_images(rng, 1, kind="x-ray")
