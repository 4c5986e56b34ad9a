"""The model card renders valid YAML that ModelCard.load reads back, with results and no secrets."""

from __future__ import annotations

from pathlib import Path

import yaml
from huggingface_hub import ModelCard

from quilt_hf.eval.plot import plot_zeroshot_accuracy
from quilt_hf.eval.results import load_results, save_result
from quilt_hf.model_card import render_model_card


def test_model_card_round_trip(tmp_path: Path) -> None:
    model_dir = tmp_path / "out" / "final"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    (tmp_path / "out" / "training_config.yaml").write_text(
        "learning_rate: 0.0005\nweight_decay: 0.2\nhub_token: hf_should_not_leak\nbatch_size: 1024\n"
    )
    results = tmp_path / "results"
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
    records = load_results(results)
    chart = plot_zeroshot_accuracy(records, tmp_path / "chart.png")
    render_model_card(model_dir, "org/quiltnet-b32", results=records, chart=chart)

    card = ModelCard.load(model_dir / "README.md")
    assert card.data.pipeline_tag == "zero-shot-image-classification"
    assert card.data.base_model == "openai/clip-vit-base-patch32"
    assert card.data.datasets == ["quilt_1m"] and card.data.license == "mit"
    by_dataset = {r.dataset_name: r for r in card.data.eval_results}
    assert by_dataset["nct_crc"].metric_value == 0.61
    assert by_dataset["nct_crc"].task_type == "zero-shot-image-classification"
    assert by_dataset["quilt_1m_val"].metric_type == "image_to_text_R@1"
    text = card.text
    assert "not for clinical decisions" in text.lower()
    assert 'CLIPModel.from_pretrained("org/quiltnet-b32")' in text
    assert "weight_decay: 0.2" in text and "@inproceedings{ikezogwo2023quilt" in text
    assert "![Zero-shot accuracy per dataset](zeroshot_accuracy.png)" in text
    assert (model_dir / "zeroshot_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "hf_should_not_leak" not in (model_dir / "README.md").read_text()
    entries = yaml.safe_load((model_dir / ".eval_results" / "pcam.yaml").read_text())
    assert entries == [{"dataset": {"id": "pcam", "task_id": "zeroshot_accuracy"}, "value": 0.72}]


def test_model_card_without_results_is_still_valid(tmp_path: Path) -> None:
    render_model_card(tmp_path, "org/m")
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.eval_results is None and "No evaluation results" in card.text
