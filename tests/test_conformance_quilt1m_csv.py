"""The released Quilt-1M lookup CSV in the layouts it has been published in, imported through the
command users run (``quilt import quilt1m``).

Layouts: the first release's twelve columns ``caption ... width`` written by pandas with its
unnamed index column (13 columns); the later release with ``single_wsi`` and ``not_histology``
(14 columns, no index); and the same with the index (15, as ``test_import_quilt1m`` uses). Quirks:
a UTF-8 byte-order mark, list cells as Python literals in single or double quotes, embedded
newlines, NaN magnification. A filter on a column the layout lacks is refused before any output.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from quilt_hf.cli import main

ORIGINAL = [
    "caption", "image_path", "subset", "split", "pathology", "roi_text", "noisy_text",
    "corrected_text", "med_umls_ids", "magnification", "height", "width",
]  # fmt: skip


def jpeg(seed: int) -> bytes:
    pixels = (np.random.default_rng(seed).random((32, 40, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def rows() -> list[dict]:
    base = {
        "subset": "quilt",
        "split": "train",
        "pathology": "['Gastrointestinal']",
        "roi_text": '["glands here"]',  # some rows were written with double quotes
        "noisy_text": "",
        "corrected_text": "",
        "med_umls_ids": "[]",
        "magnification": 1,
        "height": 32,
        "width": 40,
        "single_wsi": 1,
        "not_histology": 0,
    }
    return [
        {**base, "caption": "Colonic glands", "image_path": "v1_image_a.jpg"},
        {**base, "caption": "A title slide", "image_path": "v1_image_b.jpg", "not_histology": 1},
        {
            **base,
            "caption": 'Two lines,\n"quoted"',
            "image_path": "v2_image_c.jpg",
            "magnification": float("nan"),
            "single_wsi": 0,
        },
    ]


def release(tmp_path: Path, layout: str, bom: bool = False) -> dict[str, Path]:
    frame = pd.DataFrame(rows())
    if layout == "13":
        frame, index = frame[ORIGINAL], True
    elif layout == "14":
        frame, index = frame[[*ORIGINAL, "single_wsi", "not_histology"]], False
    else:
        frame, index = frame[[*ORIGINAL, "single_wsi", "not_histology"]], True
    lookup = tmp_path / "quilt_1M_lookup.csv"
    frame.to_csv(lookup, index=index, encoding="utf-8-sig" if bom else "utf-8")
    columns = lookup.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert len(columns) == int(layout)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, name in enumerate(["v1_image_a.jpg", "v1_image_b.jpg", "v2_image_c.jpg"]):
            zf.writestr(f"quilt_1m/{name}", jpeg(i))
    return {"lookup": lookup, "zip": archive}


def run(files, out: Path, *extra: str) -> int:
    return main(
        ["import", "quilt1m", "--lookup", str(files["lookup"]), "--images", str(files["zip"]),
         "--out", str(out), *extra]
    )  # fmt: skip


def imported_captions(out: Path) -> list[str]:
    table = pd.concat(pd.read_parquet(p) for p in sorted((out / "data").glob("*.parquet")))
    return sorted(table["caption"])


def test_13_column_first_release_without_not_histology(tmp_path, capsys, caplog):
    files = release(tmp_path, "13")
    # the filter reads a column the release does not have: refused, naming it, nothing written
    for flag in ("--histology-only", "--single-wsi"):
        assert run(files, tmp_path / "refused", flag) == 1
        err = capsys.readouterr().err
        assert flag in err and ("not_histology" in err or "single_wsi" in err)
        assert not (tmp_path / "refused").exists()
    # without the filter it imports every row, and says not_histology was not in the file
    with caplog.at_level(logging.WARNING):
        assert run(files, tmp_path / "out") == 0
    assert "no not_histology column" in caplog.text
    assert imported_captions(tmp_path / "out") == ['A title slide', 'Colonic glands',
                                                  'Two lines,\n"quoted"']  # fmt: skip


@pytest.mark.parametrize("layout", ["14", "15"])
def test_later_release_with_single_wsi_and_not_histology(tmp_path, layout, caplog):
    files = release(tmp_path, layout, bom=layout == "14")
    with caplog.at_level(logging.WARNING):
        assert run(files, tmp_path / "out", "--histology-only") == 0
    assert "no not_histology column" not in caplog.text
    assert imported_captions(tmp_path / "out") == ["Colonic glands", 'Two lines,\n"quoted"']
    stats = json.loads((tmp_path / "out" / "import_stats.json").read_text())
    assert "filtered_not_histology" in json.dumps(stats)
