"""Evaluation results as JSON files named by dataset, model and task.

``{out}/{dataset}__{model}__{task}.json`` holds ``{"dataset", "model", "task", "metrics", ...}``.
The model card and the bar chart read these files back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(value: str) -> str:
    return _UNSAFE.sub("_", value.replace("/", "__")).strip("_") or "unnamed"


@dataclass
class EvalRecord:
    dataset: str
    model: str
    task: str
    metrics: dict[str, float]
    details: dict[str, Any]


def result_path(out_dir: Path, dataset: str, model: str, task: str) -> Path:
    return Path(out_dir) / f"{safe_name(dataset)}__{safe_name(model)}__{safe_name(task)}.json"


def save_result(out_dir: Path, dataset: str, model: str, task: str, result: dict[str, Any]) -> Path:
    path = result_path(out_dir, dataset, model, task)
    payload = {"dataset": dataset, "model": model, "task": task, **result}
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True))
    return path


def load_results(folder: Path, task: str | None = None) -> list[EvalRecord]:
    records = []
    for path in sorted(Path(folder).glob("*__*__*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise QuiltError(f"{path} is not valid JSON: {error}") from error
        if task is not None and payload.get("task") != task:
            continue
        details = {
            k: v for k, v in payload.items() if k not in ("dataset", "model", "task", "metrics")
        }
        records.append(
            EvalRecord(
                payload["dataset"], payload["model"], payload["task"], payload["metrics"], details
            )
        )
    return records
