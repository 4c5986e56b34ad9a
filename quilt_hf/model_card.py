"""The model card: ``cards/model_card.md.j2`` rendered through huggingface_hub's ``ModelCard``.

Metadata goes in ``ModelCardData`` (base model, training dataset, licence, tags,
``pipeline_tag: zero-shot-image-classification``, ``model-index`` from ``EvalResult``s); the newer
``.eval_results/*.yaml`` files are written next to it. The resolved training config is read from
the trainer's output folder (YAML or JSON). Nothing secret is written: tokens are never inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from cards import TEMPLATES_DIR
from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import EvalRecord

TEMPLATE = TEMPLATES_DIR / "model_card.md.j2"  # the one card-template lookup: cards.TEMPLATES_DIR
CONFIG_NAMES = (
    "training_config.yaml",
    "training_config.json",
    "config_resolved.yaml",
    "resolved_config.yaml",
    "resolved_config.json",
    "train_config.yaml",
)
SECRET_KEYS = ("token", "password", "secret", "api_key")
HEADLINE = {"zeroshot": "accuracy", "retrieval": "image_to_text_R@1"}


@dataclass
class CardResult:
    dataset: str
    task: str
    metric: str
    value: float


def find_training_config(folder: Path) -> dict | None:
    """The resolved config the trainer saved (in the folder or its parent ``output_dir``)."""
    for base in (folder, folder.parent):
        for name in CONFIG_NAMES:
            path = base / name
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                config = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
                return _without_secrets(config) if isinstance(config, dict) else None
    return None


def _without_secrets(config: dict) -> dict:
    clean = {}
    for key, value in config.items():
        if any(word in str(key).lower() for word in SECRET_KEYS):
            continue
        clean[key] = _without_secrets(value) if isinstance(value, dict) else value
    return clean


def card_results(records: list[EvalRecord]) -> list[CardResult]:
    rows = []
    for record in records:
        metric = (
            "accuracy"
            if record.task.startswith("linear_probe")
            else HEADLINE.get(record.task, "accuracy")
        )
        if metric in record.metrics:
            rows.append(
                CardResult(record.dataset, record.task, metric, float(record.metrics[metric]))
            )
    return rows


def render_model_card(
    model_dir: Path,
    repo_id: str,
    *,
    base_model: str = "openai/clip-vit-base-patch32",
    dataset_id: str = "quilt_1m",
    license: str = "mit",
    results: list[EvalRecord] | None = None,
    chart: Path | None = None,
    tags: list[str] | None = None,
):
    """Return a ``ModelCard`` and write README.md (+ .eval_results/*.yaml, chart) into model_dir."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise QuiltError(f"{model_dir} is not a model folder")
    rows = card_results(results or [])
    eval_results = [
        EvalResult(
            task_type="zero-shot-image-classification"
            if r.task == "zeroshot"
            else ("image-to-text" if r.task == "retrieval" else "image-classification"),
            dataset_type=r.dataset,
            dataset_name=r.dataset,
            metric_type=r.metric,
            metric_value=round(r.value, 6),
            task_name=r.task,
        )
        for r in rows
    ]
    model_name = repo_id.split("/")[-1]
    data = ModelCardData(
        language="en",
        license=license,
        library_name="transformers",
        pipeline_tag="zero-shot-image-classification",
        base_model=base_model,
        datasets=[dataset_id],
        tags=tags or ["clip", "histopathology", "pathology", "vision-language", "quilt-1m"],
        model_name=model_name if eval_results else None,
        eval_results=eval_results or None,
    )
    chart_name = None
    if chart is not None and Path(chart).is_file():
        chart_name = "zeroshot_accuracy.png"
        (model_dir / chart_name).write_bytes(Path(chart).read_bytes())
    config = find_training_config(model_dir)
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        model_name=model_name,
        repo_id=repo_id,
        base_model=base_model,
        dataset_name=dataset_id,
        results=rows,
        chart=chart_name,
        training_config=yaml.safe_dump(config, sort_keys=True).strip() if config else None,
    )
    card.save(model_dir / "README.md")
    _write_eval_results(model_dir, rows)
    return card


def _write_eval_results(model_dir: Path, rows: list[CardResult]) -> None:
    """``.eval_results/{dataset}.yaml`` in the Hub's newer eval-results format."""
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    folder = model_dir / ".eval_results"
    by_dataset: dict[str, list] = {}
    for r in rows:
        by_dataset.setdefault(r.dataset, []).append(
            EvalResultEntry(
                dataset_id=r.dataset, task_id=f"{r.task}_{r.metric}", value=round(r.value, 6)
            )
        )
    for dataset, entries in by_dataset.items():
        folder.mkdir(exist_ok=True)
        (folder / f"{dataset}.yaml").write_text(
            yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False), encoding="utf-8"
        )
