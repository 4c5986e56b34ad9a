"""The model card: ``cards/model_card.md.j2`` rendered through huggingface_hub's ``ModelCard``.

A model folder carries everything its card is made from, so that the trainer, ``quilt eval`` and
``quilt card model`` all (re)write the same card:

- ``training_run.json`` (written by the trainer next to the weights): base model, training
  dataset (name, fingerprint), the resolved config, steps, samples seen, final losses and the
  training-time validation metrics, under the names ``quilt eval`` uses (``image_to_text_R@K``).
- ``eval_results/*.json``: the results ``quilt eval ... --model DIR`` saved for this model
  (the ``quilt_hf.eval.results`` format).

Metadata goes in ``ModelCardData`` (``pipeline_tag: zero-shot-image-classification``,
``library_name: transformers``, ``datasets``, ``base_model`` when training started from a Hub
checkpoint (a local one is named in the text only: the Hub takes model ids there), licence,
tags, ``model-index`` from ``EvalResult``s); the Hub's newer ``.eval_results/*.yaml`` files are written next to it. Nothing secret is written: config keys that
look like credentials are dropped and tokens are never inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from quilt_hf.atomic import write_text_atomic
from quilt_hf.companions import companion
from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import EvalRecord, load_results

# the one card-template lookup: cards.TEMPLATES_DIR, through the companion check
TEMPLATE = companion("cards").TEMPLATES_DIR / "model_card.md.j2"
TRAINING_RUN_FILE = "training_run.json"
EVAL_RESULTS_DIR = "eval_results"  # quilt eval's JSON results for this model
CHART_FILE = "zeroshot_accuracy.png"
CARD_TAG = "quilt-hf"  # marks a card this code wrote (and may rewrite)
SECRET_KEYS = ("token", "password", "secret", "api_key")
HEADLINE = {"zeroshot": ("accuracy", "balanced_accuracy")}
RETRIEVAL_KS = (1, 5, 10)


@dataclass
class CardResult:
    dataset: str
    task: str
    metric: str
    value: float


def without_secrets(config: dict) -> dict:
    clean = {}
    for key, value in config.items():
        if any(word in str(key).lower() for word in SECRET_KEYS):
            continue
        clean[key] = without_secrets(value) if isinstance(value, dict) else value
    return clean


def write_training_run(model_dir: Path, run: dict[str, Any]) -> Path:
    """Save the trainer's facts about a run next to its weights (secrets dropped)."""
    path = Path(model_dir) / TRAINING_RUN_FILE
    write_text_atomic(path, json.dumps(without_secrets(run), indent=2))  # a killed run: old or new
    return path


def read_training_run(model_dir: Path) -> dict[str, Any] | None:
    path = Path(model_dir) / TRAINING_RUN_FILE
    if not path.is_file():
        return None
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QuiltError(f"{path} is not valid JSON: {error}") from error
    return without_secrets(run) if isinstance(run, dict) else None


def is_quilt_card(model_dir: Path) -> bool:
    """True when README.md is absent or a card this module wrote (safe to rewrite)."""
    readme = Path(model_dir) / "README.md"
    if not readme.is_file():
        return True
    from huggingface_hub import ModelCard

    try:
        tags = ModelCard.load(readme).data.tags or []
    except (ValueError, yaml.YAMLError):
        return False
    return CARD_TAG in tags


def card_results(records: list[EvalRecord]) -> list[CardResult]:
    """The headline metrics of each ``quilt eval`` record (all of R@1/5/10 for retrieval)."""
    rows = []
    for record in records:
        if record.task == "retrieval":
            metrics = [
                f"{direction}_R@{k}"
                for direction in ("image_to_text", "text_to_image")
                for k in RETRIEVAL_KS
            ]
        elif record.task.startswith("linear_probe"):
            metrics = ["accuracy", "balanced_accuracy"]
        else:
            metrics = list(HEADLINE.get(record.task, ("accuracy",)))
        for metric in metrics:
            value = record.metrics.get(metric)
            if isinstance(value, int | float):
                rows.append(CardResult(record.dataset, record.task, metric, float(value)))
    return rows


def _task_type(task: str) -> str:
    if task == "zeroshot":
        return "zero-shot-image-classification"
    return "image-to-text" if task == "retrieval" else "image-classification"


def render_model_card(
    model_dir: Path,
    repo_id: str | None = None,
    *,
    base_model: str | None = None,
    dataset_id: str | None = None,
    license: str = "mit",
    results: list[EvalRecord] | None = None,
    chart: Path | None = None,
    tags: list[str] | None = None,
):
    """Write ``model_dir/README.md`` (+ ``.eval_results/*.yaml`` and the zero-shot chart) from the
    folder's ``training_run.json`` and ``eval_results/``; returns the ``ModelCard``.

    ``base_model`` / ``dataset_id`` override what the training run recorded (for models the
    trainer did not make); ``results`` replaces the folder's own ``eval_results/``; ``chart`` is
    a ready zero-shot chart PNG to show instead of drawing one from the results."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise QuiltError(f"{model_dir} is not a model folder")
    run = read_training_run(model_dir) or {}
    # the metadata's base_model must be a Hub model id; a local checkpoint is named in the text
    hub_base = base_model or (None if run.get("base_model_is_local") else run.get("base_model"))
    base_model = base_model or run.get("base_model")
    dataset = run.get("dataset") or {}
    dataset_id = dataset_id or dataset.get("name")
    if results is None:
        folder = model_dir / EVAL_RESULTS_DIR
        results = load_results(folder) if folder.is_dir() else []
    rows = card_results(results)
    eval_results = [
        EvalResult(
            task_type=_task_type(r.task),
            dataset_type=r.dataset,
            dataset_name=r.dataset,
            metric_type=r.metric,
            metric_value=round(r.value, 6),
            task_name=r.task,
        )
        for r in rows
    ]
    model_name = (repo_id or "").split("/")[-1] or run.get("run_name") or model_dir.name
    data = ModelCardData(
        language="en",
        license=license,
        library_name="transformers",
        pipeline_tag="zero-shot-image-classification",
        base_model=hub_base or None,
        datasets=[dataset_id] if dataset_id else None,
        tags=tags
        or ["clip", "histopathology", "pathology", "vision-language", "quilt-1m", CARD_TAG],
        model_name=model_name if eval_results else None,
        eval_results=eval_results or None,
    )
    if CARD_TAG not in data.tags:
        data.tags.append(CARD_TAG)
    chart_name = _zeroshot_chart(model_dir, results, chart)
    config = run.get("config")
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        model_name=model_name,
        load_id=repo_id or model_dir.name,  # no local absolute path in a card
        base_model=base_model,
        dataset_name=dataset_id,
        dataset=dataset,
        run=run,
        training_eval=run.get("training_eval") or {},
        results=rows,
        chart=chart_name,
        training_config=yaml.safe_dump(config, sort_keys=True).strip() if config else None,
    )
    card.save(model_dir / "README.md")
    _write_eval_results(model_dir, rows)
    return card


def _zeroshot_chart(
    model_dir: Path, results: list[EvalRecord], chart: Path | None = None
) -> str | None:
    """The zero-shot accuracy bar chart beside the card, when there are zero-shot results."""
    if chart is not None and Path(chart).is_file():
        (model_dir / CHART_FILE).write_bytes(Path(chart).read_bytes())
        return CHART_FILE
    if not any(r.task == "zeroshot" and "accuracy" in r.metrics for r in results):
        return None
    from quilt_hf.eval.plot import plot_zeroshot_accuracy

    plot_zeroshot_accuracy(results, model_dir / CHART_FILE)
    return CHART_FILE


def _write_eval_results(model_dir: Path, rows: list[CardResult]) -> None:
    """``.eval_results/{dataset}.yaml`` in the Hub's newer eval-results format (rewritten)."""
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    folder = model_dir / ".eval_results"
    for old in folder.glob("*.yaml") if folder.is_dir() else []:
        old.unlink()
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


def add_eval_result(model_dir: Path, record_path: Path) -> Path | None:
    """Copy a ``quilt eval`` result file into the model folder and rewrite its card.

    Only for a local saved model whose README.md is absent or a quilt-hf card; returns the card
    path, or None when the folder is not such a model (a Hub id, or a foreign card)."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file() or not is_quilt_card(model_dir):
        return None
    target = model_dir / EVAL_RESULTS_DIR / Path(record_path).name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(Path(record_path).read_bytes())
    render_model_card(model_dir)
    return model_dir / "README.md"
