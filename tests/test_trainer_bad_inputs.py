"""Bad inputs end with a clear message (exit code 2), never a traceback or a silent fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset, Features, Image, Value

from quilt_hf.synthetic.quilt_folder import folder_card as _card
from quilt_hf.synthetic.trainer_dataset import ihc_crops, write_tiny_dataset
from trainer.cli import main

TINY = "trainer/configs/tiny.yaml"


def _main(capsys, *argv: str) -> tuple[int, str]:
    code = main(["--config", TINY, "--report_to", "none", *argv])
    return code, capsys.readouterr().err


def _write(root: Path, splits: dict[str, dict], features: Features) -> Path:
    (root / "data").mkdir(parents=True)
    for split, columns in splits.items():
        Dataset.from_dict(columns, features=features).to_parquet(
            str(root / "data" / f"{split}-00000-of-00001.parquet")
        )
    (root / "README.md").write_text(_card(list(splits)))
    return root


def test_dataset_without_the_text_column(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    images = [{"bytes": b, "path": None} for b in ihc_crops(2, 48, 0)]
    features = Features({"image": Image(), "image_sha256": Value("string")})
    root = _write(
        tmp_path / "notext", {"train": {"image": images, "image_sha256": ["a", "b"]}}, features
    )
    code, err = _main(
        capsys,
        "--dataset",
        str(root),
        "--output_dir",
        str(tmp_path / "out"),
        "--eval_split",
        "null",
    )
    assert code == 2
    assert "no column 'caption'" in err and "--text_column" in err and "image_sha256" in err


def test_empty_split(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    features = Features({"image": Image(), "caption": Value("string")})
    root = _write(tmp_path / "empty", {"train": {"image": [], "caption": []}}, features)
    code, err = _main(
        capsys,
        "--dataset",
        str(root),
        "--output_dir",
        str(tmp_path / "out"),
        "--eval_split",
        "null",
    )
    assert code == 2 and "'train'" in err and "is empty" in err


def test_missing_split_and_missing_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = write_tiny_dataset(tmp_path / "quilt_1m", num_train=4, num_val=2)
    code, err = _main(
        capsys, "--dataset", str(root), "--output_dir", str(tmp_path / "o"), "--eval_split", "test"
    )
    assert code == 2 and "'test'" in err
    code, err = _main(
        capsys, "--dataset", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path / "o2")
    )
    assert code == 2 and "nowhere" in err


def test_unknown_config_key(capsys):
    code, err = _main(capsys, "--learning_rte", "1e-3")
    assert code == 2 and "learning_rte" in err and "learning_rate" in err


@pytest.mark.slow
def test_checkpoint_from_another_model_shape(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = write_tiny_dataset(tmp_path / "quilt_1m", num_train=8, num_val=2)
    out = tmp_path / "out"
    common = [
        "--dataset",
        str(root),
        "--output_dir",
        str(out),
        "--eval_split",
        "null",
        "--num_workers",
        "0",
    ]
    assert _main(capsys, *common, "--max_steps", "1", "--checkpoint_every", "1")[0] == 0
    wide = tmp_path / "wide.yaml"
    wide.write_text(
        Path("trainer/configs/tiny-clip.yaml")
        .read_text()
        .replace("projection_dim: 32", "projection_dim: 48")
    )
    code, err = _main(
        capsys, *common, "--max_steps", "2", "--model_config", str(wide), "--resume_from", "latest"
    )
    assert code == 2 and "different shape" in err and "checkpoint_0" in err


def test_resume_from_a_path_that_does_not_exist(tmp_path, capsys):
    code, err = _main(
        capsys, "--output_dir", str(tmp_path / "o"), "--resume_from", str(tmp_path / "nope")
    )
    assert code == 2 and "no such checkpoint folder" in err


@pytest.mark.parametrize("column", ["corrected_text", "roi_text", "noisy_text"])
def test_other_text_columns_are_accepted(tmp_path, column, monkeypatch):
    from trainer.config import TrainConfig
    from trainer.data import load_split

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = write_tiny_dataset(tmp_path / "quilt_1m", num_train=4, num_val=2)
    ds = load_split(TrainConfig(dataset=str(root), text_column=column), "train")
    assert column in ds.features


def test_only_corrupt_images_is_an_error_not_a_hang(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    features = Features({"image": Image(), "caption": Value("string")})
    rows = {
        "image": [{"bytes": b"garbage %d" % i, "path": None} for i in range(3)],
        "caption": ["a", "b", "c"],
    }
    root = _write(tmp_path / "corrupt", {"train": rows}, features)
    code, err = _main(
        capsys,
        "--dataset",
        str(root),
        "--output_dir",
        str(tmp_path / "o"),
        "--eval_split",
        "null",
        "--num_workers",
        "0",
    )
    assert code == 2 and "no usable image-text pair" in err and "'corrupt_image': 3" in err
