"""The project's metrics as local ``evaluate`` modules (``evaluate.load(<path>)`` works offline).

Each metric lives in ``metrics/<name>/<name>.py``; ``load_metric(name)`` returns it loaded by path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("classification", "topk_accuracy")


def metric_path(name: str) -> Path:
    if name not in METRIC_NAMES:
        from quilt_hf.errors import QuiltError

        raise QuiltError(f"unknown metric {name!r}; available: {', '.join(METRIC_NAMES)}")
    return METRICS_DIR / name


def load_metric(name: str) -> Any:
    """``evaluate.load`` of the local module (no Hub access)."""
    import evaluate

    return evaluate.load(str(metric_path(name)))
