"""`quilt import arch` on a fixture in ARCH's released layout (captions.json keyed by index +
images/{uuid}.{png,jpg}); the result reads back with load_dataset, all rows in `val`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from datasets import load_dataset
from PIL import Image

from quilt_hf.cli import main


def write_books_set(folder: Path) -> Path:
    """ARCH's books_set layout: captions.json and images/ (entry 3 lacks its image, entry 5's
    uuid is a path); also used by the docs test. Returns captions.json."""
    images = folder / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries = {}
    for i in range(5):
        uuid = f"0a1b2c3d-{i:04d}"
        if i != 3:  # entry 3's image is missing
            Image.fromarray((rng.random((40, 50, 3)) * 255).astype(np.uint8)).save(
                images / f"{uuid}.{'png' if i % 2 else 'jpg'}"
            )
        entries[str(i)] = {
            "figure_id": f"book-fig-{i // 2}",
            "letter": "AB"[i % 2],
            "caption": f"Caption {i}: adenocarcinoma with cribriform glands",
            "uuid": uuid,
        }
    entries["5"] = {
        "figure_id": "x",
        "letter": "A",
        "caption": "bad id",
        "uuid": "../../etc/passwd",
    }
    captions = folder / "captions.json"
    captions.write_text(json.dumps(entries))
    return captions


def test_arch_books_and_pubmed_sets(tmp_path: Path):
    captions = write_books_set(tmp_path / "books_set")
    images = tmp_path / "books_set" / "images"
    out = tmp_path / "arch"
    assert (
        main(
            [
                "import",
                "arch",
                "--captions",
                str(captions),
                "--images",
                str(images),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stats = json.loads((out / "import_stats.json").read_text())
    assert stats["skipped"] == {"missing_image": 1, "unsafe_path": 1}
    ds = load_dataset(str(out))
    assert list(ds) == ["val"] and ds["val"].num_rows == 4
    row = ds["val"][1]
    assert row["subset"] == "arch_books" and row["source_id"] == "book-fig-0/B"
    assert row["caption"].startswith("Caption 1") and row["image"].size == (50, 40)


def test_arch_malformed_json_is_a_clear_error(tmp_path: Path, capsys):
    captions = tmp_path / "captions.json"
    captions.write_text("{not json")
    (tmp_path / "images").mkdir()
    code = main(["import", "arch", "--captions", str(captions), "--images", str(tmp_path / "images"),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 1 and "not valid JSON" in capsys.readouterr().err
