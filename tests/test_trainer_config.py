"""Config: YAML + CLI overrides with the same names, clear errors for unknown keys."""

from __future__ import annotations

import pytest
import yaml

from quilt_hf.errors import QuiltError
from trainer.config import TrainConfig, load_config


def test_yaml_then_cli_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "learning_rate: 5e-4\nper_device_batch_size: 8\nlock_image: true\neval_split: val\n"
    )
    config = load_config(
        [
            "--config",
            str(path),
            "--per_device_batch_size",
            "4",
            "--eval_split",
            "null",
            "--eval_hooks",
            "a:b,c:d",
        ]
    )
    assert config.learning_rate == pytest.approx(5e-4) and isinstance(config.learning_rate, float)
    assert config.per_device_batch_size == 4  # the flag wins over the file
    assert config.lock_image is True
    assert config.eval_split is None
    assert config.eval_hooks == ["a:b", "c:d"]
    assert config.model == "openai/clip-vit-base-patch32"  # the QuiltNet default


def test_unknown_key_in_yaml_lists_valid_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("learning_rat: 1e-3\n")
    with pytest.raises(QuiltError, match="learning_rat") as err:
        load_config(["--config", str(path)])
    assert "learning_rate" in str(err.value) and "per_device_batch_size" in str(err.value)


def test_unknown_flag_lists_valid_keys():
    with pytest.raises(QuiltError, match="batch_sise") as err:
        load_config(["--batch_sise", "3"])
    assert "Valid keys" in str(err.value)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--mixed_precision", "fp8"], "mixed_precision"),
        (["--lock_image", "true", "--lock_text", "true"], "nothing to train"),
        (["--per_device_batch_size", "0"], "per_device_batch_size"),
        (["--eval_every", "-1"], "eval_every must be >= 0"),
    ],
)
def test_invalid_values(argv, message):
    with pytest.raises(QuiltError, match=message):
        load_config(argv)


def test_shipped_configs_load_and_match_the_paper():
    for name in ("tiny", "quiltnet-b32", "multi-gpu"):
        load_config(["--config", f"trainer/configs/{name}.yaml"])
    paper = load_config(["--config", "trainer/configs/quiltnet-b32.yaml"])
    assert (paper.learning_rate, paper.weight_decay, paper.adam_beta1, paper.adam_beta2) == (
        5e-4,
        0.2,
        0.9,
        0.98,
    )
    assert paper.per_device_batch_size * paper.gradient_accumulation_steps == 1024
    multi = load_config(["--config", "trainer/configs/multi-gpu.yaml"])
    assert multi.per_device_batch_size * 8 == 1024


def test_save_round_trips(tmp_path):
    config = TrainConfig(learning_rate=1e-4, eval_hooks=["x:y"])
    config.save(tmp_path / "config.yaml")
    again = load_config(["--config", str(tmp_path / "config.yaml")])
    assert again == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["learning_rate"] == 1e-4


def test_shipped_configs_resolve_outside_the_repository(tmp_path, monkeypatch):
    from trainer.model import build_model

    monkeypatch.chdir(tmp_path)
    config = load_config(["--config", "trainer/configs/tiny.yaml"])
    assert config.model_config == "trainer/configs/tiny-clip.yaml"
    assert build_model(config).config.projection_dim == 32
    with pytest.raises(QuiltError, match="does not exist"):
        load_config(["--config", "trainer/configs/nope.yaml"])
