"""`quilt import quilt1m` on fixtures in the released formats: a pandas-written lookup CSV with an
unnamed index column, list columns as Python literals, quoting and embedded newlines; a zip of
images with one missing and one duplicated member."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasets import load_dataset
from PIL import Image

from quilt_hf.cli import main
from quilt_hf.importers.quilt1m import parse_list

VIDEO = "aBcD_123-xy"


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    array = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture()
def release(tmp_path: Path) -> dict[str, Path]:
    return write_release(tmp_path)


def write_release(tmp_path: Path) -> dict[str, Path]:
    """quilt_1M_lookup.csv and quilt_1m_images_part1.zip in ``tmp_path`` (also used by the docs test)."""
    names = [f"{VIDEO}_image_{i:04d}-uuid.jpg" for i in range(4)] + [
        "openpath_tw1.jpg",
        "pubmed_fig.jpg",
    ]
    rows = [
        # image 0 has two texts (many-to-many)
        dict(caption="Hematoxylin and eosin, glands", image_path=names[0], subset="quilt", split="train",
             pathology="['Gastrointestinal']", roi_text="['glands here', 'mucin']",
             noisy_text="hemotoxin lin and eosin", corrected_text="hematoxylin and eosin",
             med_umls_ids="['C0017667', 'C0026682']", magnification=1, height=48, width=64,
             single_wsi=1, not_histology=0),
        dict(caption='Second, "quoted" text,\nwith a newline', image_path=names[0], subset="quilt",
             split="train", pathology="[]", roi_text="[]", noisy_text="", corrected_text="",
             med_umls_ids="[]", magnification=1, height=48, width=64, single_wsi=1, not_histology=0),
        dict(caption="A slide title, not tissue", image_path=names[1], subset="quilt", split="val",
             pathology="['Breast']", roi_text="[]", noisy_text="", corrected_text="",
             med_umls_ids="['C0006141']", magnification=float("nan"), height=48, width=64,
             single_wsi=0, not_histology=1),
        dict(caption="Missing image row", image_path="gone_image_0000.jpg", subset="quilt", split="train",
             pathology="[]", roi_text="[]", noisy_text="", corrected_text="", med_umls_ids="[]",
             magnification=0, height=1, width=1, single_wsi=1, not_histology=0),
        dict(caption="High power view of nuclei", image_path=names[3], subset="quilt", split="train",
             pathology="['Dermatopathology', 'Soft tissue']", roi_text="['nuclei']", noisy_text="",
             corrected_text="", med_umls_ids="['C0027530']", magnification=2, height=48, width=64,
             single_wsi=1, not_histology=0),
        dict(caption="Tweet about a melanoma", image_path=names[4], subset="openpath", split="train",
             pathology="['Dermatopathology']", roi_text="[]", noisy_text="", corrected_text="",
             med_umls_ids="[]", magnification=-1, height=48, width=64, single_wsi=1, not_histology=0),
        dict(caption="Figure 2: renal biopsy", image_path=names[5], subset="pubmed", split="val",
             pathology="['Renal']", roi_text="[broken literal", noisy_text="", corrected_text="",
             med_umls_ids="[]", magnification=1, height=48, width=64, single_wsi=0, not_histology=0),
    ]  # fmt: skip
    lookup = tmp_path / "quilt_1M_lookup.csv"
    pd.DataFrame(rows).to_csv(lookup)  # pandas writes the unnamed index column, as released
    archive = tmp_path / "quilt_1m_images_part1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, name in enumerate(names):
            if i == 2:
                continue  # never referenced
            zf.writestr(f"quilt_1m/{name}", jpeg(i))
        zf.writestr(f"dup/{names[3]}", jpeg(99))  # duplicated member: first one wins
    return {"lookup": lookup, "zip": archive, "names": names}


def run_import(release, out: Path, *extra: str) -> dict:
    code = main(
        ["import", "quilt1m", "--lookup", str(release["lookup"]), "--images", str(release["zip"]),
         "--out", str(out), "--shard-rows", "3", *extra]
    )  # fmt: skip
    assert code == 0
    return json.loads((out / "import_stats.json").read_text())


def test_parse_list_literals():
    assert parse_list("['a', 'b']") == ["a", "b"]
    assert parse_list("[]") == [] and parse_list("") == [] and parse_list(None) == []
    assert parse_list("plain text") == ["plain text"]
    assert parse_list("__import__('os').system('echo pwned')") == [
        "__import__('os').system('echo pwned')"
    ]  # never evaluated


def test_import_columns_missing_and_load_dataset(release, tmp_path, monkeypatch):
    out = tmp_path / "quilt_1m"
    stats = run_import(release, out)
    assert stats["rows"] == 6
    assert stats["skipped"] == {"missing_image": 1}
    assert (out / "missing_images.txt").read_text().split() == ["gone_image_0000.jpg"]
    monkeypatch.chdir(tmp_path)
    ds = load_dataset("quilt_1m")
    assert set(ds) == {"train", "val"}
    assert ds["train"].num_rows == 4 and ds["val"].num_rows == 2
    first, second = ds["train"][0], ds["train"][1]
    assert first["pathology"] == ["Gastrointestinal"]
    assert first["roi_text"] == ["glands here", "mucin"]
    assert first["med_umls_ids"] == ["C0017667", "C0026682"]
    assert first["corrected_text"] == "hematoxylin and eosin"
    assert first["source_id"] == VIDEO and first["magnification"] == 1
    assert second["caption"] == 'Second, "quoted" text,\nwith a newline'
    assert first["image_sha256"] == second["image_sha256"]  # one image, two texts
    assert first["image"].size == (64, 48)
    val = {row["subset"]: row for row in ds["val"]}
    assert val["quilt"]["magnification"] == -1  # NaN in the CSV
    assert val["pubmed"]["roi_text"] == ["[broken literal"]  # kept as text, counted
    dup = [row for row in ds["train"] if row["image_path"].endswith("0003-uuid.jpg")][0]
    assert np.asarray(dup["image"]).std() > 0
    card = (out / "README.md").read_text()
    assert "non-commercial" in card and "quilt import quilt1m" in card


def test_filters_and_text_column(release, tmp_path):
    out = tmp_path / "filtered"
    stats = run_import(
        release, out, "--histology-only", "--subset", "quilt", "--magnification", "1",
        "--magnification", "2", "--text-column", "roi_text",
    )  # fmt: skip
    skipped = stats["skipped"]
    assert skipped["filtered_subset"] == 2 and skipped["filtered_not_histology"] == 1
    # the second row of image 0 has no roi_text: empty text is skipped, not trained on
    assert skipped["empty_text"] == 1
    ds = load_dataset(str(out))
    assert [r["caption"] for r in ds["train"]] == ["glands here mucin", "nuclei"]


def test_resume_after_interruption_equals_full_run(release, tmp_path):
    full = tmp_path / "full"
    run_import(release, full)
    resumed = tmp_path / "resumed"
    run_import(release, resumed)
    (shard_dir,) = (resumed / ".quilt_work").glob("shards-*/import")
    # simulate a kill after the first shard: later shards' done-markers and files are gone
    for path in shard_dir.iterdir():
        if not path.name.startswith("quilt1m-00000"):
            path.unlink()
    first_mtime = os.path.getmtime(shard_dir / "quilt1m-00000.parquet")
    run_import(release, resumed)
    assert os.path.getmtime(shard_dir / "quilt1m-00000.parquet") == first_mtime  # not redone

    def rows(folder):
        ds = load_dataset(str(folder))
        return sorted(
            (r["split"], r["source_id"], r["image_sha256"], r["caption"]) for s in ds for r in ds[s]
        )

    assert rows(full) == rows(resumed)


def test_bad_lookup_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "lookup.csv"
    bad.write_text("foo,bar\n1,2\n")
    code = main(
        [
            "import",
            "quilt1m",
            "--lookup",
            str(bad),
            "--images",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "lacks released column" in capsys.readouterr().err


def test_reimport_with_other_rows_is_not_served_from_the_datasets_cache(release, tmp_path):
    """datasets caches a local folder by its metadata: a re-import must not return stale rows."""
    out = tmp_path / "quilt_1m"
    run_import(release, out)
    assert load_dataset(str(out), split="train").num_rows == 4
    run_import_fresh = main(
        ["import", "quilt1m", "--lookup", str(release["lookup"]), "--images", str(release["zip"]),
         "--out", str(out), "--shard-rows", "3", "--subset", "quilt"]
    )  # fmt: skip
    assert run_import_fresh == 0
    assert load_dataset(str(out), split="train").num_rows == 3  # openpath row filtered out now


def test_the_trainer_reads_an_imported_release(release, tmp_path):
    out = tmp_path / "quilt_1m"
    run_import(release, out)
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "trainer", "--config", "trainer/configs/tiny.yaml", "--dataset", str(out),
         "--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--per_device_batch_size", "4",
         "--checkpoint_every", "0", "--eval_split", "null", "--report_to", "none"],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
