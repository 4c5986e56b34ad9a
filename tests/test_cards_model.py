"""The model card renders valid YAML that ModelCard.load reads back, with results and no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import save_result
from quilt_hf.model_card import (
    EVAL_RESULTS_DIR,
    add_eval_result,
    render_model_card,
    write_training_run,
)

RUN = {
    "run_name": "quiltnet-b32",
    "base_model": "openai/clip-vit-base-patch32",
    "model_config": None,
    "dataset": {"name": "quilt_1m", "split": "train", "rows": 1000, "fingerprint": "abc123"},
    "config": {"learning_rate": 0.0005, "weight_decay": 0.2, "hub_token": "hf_should_not_leak"},
    "steps": 40,
    "samples": 40960,
    "num_processes": 8,
    "global_batch": 1024,
    "final_train_loss": 1.2345,
    "training_eval": {
        "step": 40,
        "loss": 2.5,
        "image_to_text_R@1": 0.125,
        "text_to_image_R@1": 0.25,
        "num_images": 8.0,
        "num_texts": 10.0,
    },
}


def model_folder(tmp_path: Path, run: dict | None = RUN) -> Path:
    folder = tmp_path / "out" / "final"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    if run is not None:
        write_training_run(folder, run)
    return folder


def test_model_card_round_trip(tmp_path: Path) -> None:
    model_dir = model_folder(tmp_path)
    results = model_dir / EVAL_RESULTS_DIR
    save_result(
        results,
        "nct_crc",
        "final",
        "zeroshot",
        {"metrics": {"accuracy": 0.61, "balanced_accuracy": 0.55}},
    )
    save_result(results, "pcam", "final", "zeroshot", {"metrics": {"accuracy": 0.72}})
    save_result(
        results, "quilt_1m_val", "final", "retrieval", {"metrics": {"image_to_text_R@1": 0.12}}
    )
    render_model_card(model_dir, "org/quiltnet-b32")

    card = ModelCard.load(model_dir / "README.md")
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    assert card.data.library_name == "transformers"
    assert card.data.base_model == "openai/clip-vit-base-patch32"
    assert card.data.datasets == ["quilt_1m"] and card.data.license == "mit"
    by_metric = {(r.dataset_name, r.metric_type): r for r in card.data.eval_results}
    assert by_metric[("nct_crc", "accuracy")].metric_value == 0.61
    assert by_metric[("nct_crc", "balanced_accuracy")].metric_value == 0.55
    assert by_metric[("nct_crc", "accuracy")].task_type == "zero-shot-image-classification"
    assert by_metric[("quilt_1m_val", "image_to_text_R@1")].metric_value == 0.12
    text = card.text
    assert "not for clinical decisions" in text.lower()
    assert 'CLIPModel.from_pretrained("org/quiltnet-b32")' in text
    assert "weight_decay: 0.2" in text and "@inproceedings{ikezogwo2023quilt" in text
    # the trainer's facts: fingerprint, steps, samples, losses, training-time recall by name
    assert "`abc123`" in text and "Optimizer steps: 40; samples seen: 40960" in text
    assert "contrastive batch: 1024" in text and "Final training loss: 1.2345" in text
    assert "| image_to_text_R@1 | 0.1250 |" in text and "Final validation loss: 2.5000" in text
    assert "![Zero-shot accuracy per dataset](zeroshot_accuracy.png)" in text
    assert (model_dir / "zeroshot_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "hf_should_not_leak" not in (model_dir / "README.md").read_text()
    assert "hf_should_not_leak" not in (model_dir / "training_run.json").read_text()
    entries = yaml.safe_load((model_dir / ".eval_results" / "pcam.yaml").read_text())
    assert entries == [{"dataset": {"id": "pcam", "task_id": "zeroshot_accuracy"}, "value": 0.72}]


def test_random_init_card_has_no_base_model(tmp_path: Path) -> None:
    run = {**RUN, "base_model": None, "model_config": "trainer/configs/tiny-clip.yaml"}
    model_dir = model_folder(tmp_path, run)
    card = render_model_card(model_dir)
    assert card.data.base_model is None
    assert "None" not in card.text.split("## Training")[1].split("\n")[2]
    assert "random initialisation from `trainer/configs/tiny-clip.yaml`" in card.text
    assert card.data.eval_results is None and "No `quilt eval` results yet" in card.text


def test_card_without_training_record_is_still_valid(tmp_path: Path) -> None:
    model_dir = model_folder(tmp_path, run=None)
    render_model_card(model_dir, "org/m", base_model="vinid/plip", dataset_id="arch")
    card = ModelCard.load(model_dir / "README.md")
    assert card.data.base_model == "vinid/plip" and card.data.datasets == ["arch"]
    assert "No training record" in card.text
    with pytest.raises(QuiltError, match="not a model folder"):
        render_model_card(tmp_path / "missing")


def test_add_eval_result_keeps_a_foreign_card(tmp_path: Path) -> None:
    model_dir = model_folder(tmp_path)
    foreign = "---\nlicense: apache-2.0\n---\n# someone else's card\n"
    (model_dir / "README.md").write_text(foreign)
    result = save_result(tmp_path / "ev", "pcam", "m", "zeroshot", {"metrics": {"accuracy": 0.5}})
    assert add_eval_result(model_dir, result) is None
    assert (model_dir / "README.md").read_text() == foreign
    (model_dir / "README.md").unlink()
    assert add_eval_result(model_dir, result) == model_dir / "README.md"
    card = ModelCard.load(model_dir / "README.md")
    assert [r.metric_value for r in card.data.eval_results] == [0.5]
    assert json.loads((model_dir / EVAL_RESULTS_DIR / result.name).read_text())["task"] == (
        "zeroshot"
    )


def test_local_checkpoint_is_named_in_the_text_not_the_metadata(tmp_path: Path) -> None:
    run = {**RUN, "base_model": "runs/stage1/final", "base_model_is_local": True}
    card = render_model_card(model_folder(tmp_path, run))
    assert card.data.base_model is None  # the Hub takes model ids only
    assert "Base model: `runs/stage1/final`" in card.text
