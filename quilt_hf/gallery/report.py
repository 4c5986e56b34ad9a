"""``quilt report``: a static HTML report of a training run (curves, recalls, zero-shot, card).

Reads what the trainer and ``quilt eval`` write: ``RUN/metrics.jsonl`` (one JSON object per log:
``step`` with ``loss``, ``lr``, ``logit_scale`` ...; evaluation logs carry ``eval/...`` keys such as
``eval/image_to_text_R@1``), ``RUN/summary.json``, the model card ``README.md`` in ``RUN/final`` (or
``RUN``), and result files in an eval folder (``quilt_hf.eval.results``).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import EvalRecord, load_results
from quilt_hf.gallery.pages import page

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
NAV = (("index.html", "Report"),)
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_RECALL = re.compile(r"R@\d+$")


@dataclass
class RunMetrics:
    train: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0


def read_metrics(path: Path) -> RunMetrics:
    """Train and eval records from ``metrics.jsonl``; lines that are not JSON are counted."""
    metrics = RunMetrics()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            metrics.bad_lines += 1
            continue
        if not isinstance(record, dict) or not isinstance(record.get("step"), int | float):
            metrics.bad_lines += 1
            continue
        if any(key.startswith("eval/") for key in record):
            metrics.evals.append(record)
        if "loss" in record:
            metrics.train.append(record)
    return metrics


def markdown_to_html(text: str) -> tuple[str, str]:
    """``(front matter YAML, HTML body)`` of a model card (Python-Markdown: tables, code)."""
    try:
        import markdown
    except ImportError as error:
        raise QuiltError(
            "the model card preview needs markdown: pip install 'quilt-hf[gallery]'"
        ) from error

    match = _FRONT_MATTER.match(text)
    front = match.group(1) if match else ""
    body = text[match.end() :] if match else text
    return front, markdown.markdown(body, extensions=["tables", "fenced_code"])


def _plot_curves(metrics: RunMetrics, folder: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    charts: list[tuple[str, str]] = []

    def series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), int | float)]
        return [p[0] for p in points], [p[1] for p in points]

    for key, label, log_y in (
        ("loss", "training loss", False),
        ("lr", "learning rate", False),
        ("logit_scale", "logit scale (exp)", False),
    ):
        steps, values = series(metrics.train, key)
        if not steps:
            continue
        figure, axes = plt.subplots(figsize=(5.2, 3.0))
        axes.plot(steps, values, marker="." if len(steps) < 50 else None, label="train")
        if key == "loss":
            eval_steps, eval_values = series(metrics.evals, "eval/loss")
            if eval_steps:
                axes.plot(eval_steps, eval_values, marker="o", label="validation")
            axes.legend()
        if log_y:
            axes.set_yscale("log")
        axes.set_xlabel("step")
        axes.set_ylabel(label)
        figure.tight_layout()
        name = f"{key}.png"
        figure.savefig(folder / name, dpi=110)
        plt.close(figure)
        charts.append((name, label.capitalize() + " by step"))

    recall_keys = sorted(
        {k for r in metrics.evals for k in r if k.startswith("eval/") and _RECALL.search(k)},
        key=lambda k: (k.rsplit("R@", 1)[0], int(k.rsplit("R@", 1)[1])),
    )
    if recall_keys:
        figure, axes = plt.subplots(figsize=(6.2, 3.4))
        for key in recall_keys:
            steps, values = series(metrics.evals, key)
            axes.plot(steps, [100 * v for v in values], marker="o", label=key.removeprefix("eval/"))
        axes.set_xlabel("step")
        axes.set_ylabel("recall (%)")
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7, ncol=2)
        figure.tight_layout()
        figure.savefig(folder / "recall.png", dpi=110)
        plt.close(figure)
        charts.append(("recall.png", "Validation retrieval recall by step"))
    return charts


def _results_table(records: list[EvalRecord]) -> str:
    rows = []
    for record in sorted(records, key=lambda r: (r.task, r.dataset, r.model)):
        values = ", ".join(
            f"{k} {v:.4f}" if isinstance(v, int | float) else f"{k} {v}"
            for k, v in sorted(record.metrics.items())
        )
        rows.append(
            f"<tr><td>{escape(record.task)}</td><td>{escape(record.dataset)}</td>"
            f"<td>{escape(record.model)}</td><td>{escape(values)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>task</th><th>dataset</th><th>model</th><th>metrics</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def find_model_card(run_dir: Path) -> Path | None:
    for candidate in (run_dir / "final" / "README.md", run_dir / "README.md"):
        if candidate.is_file():
            return candidate
    return None


def build_report(run_dir: Path, out: Path, eval_dir: Path | None = None) -> Path:
    """Write ``out/index.html`` (+ PNGs) for the training run in ``run_dir``; returns the page."""
    from quilt_hf.eval.plot import plot_zeroshot_accuracy

    run_dir, out = Path(run_dir), Path(out)
    metrics_path = run_dir / "metrics.jsonl"
    if not metrics_path.is_file():
        raise QuiltError(f"{run_dir} has no metrics.jsonl: is it a trainer output_dir?")
    metrics = read_metrics(metrics_path)
    if not metrics.train and not metrics.evals:
        raise QuiltError(f"{metrics_path} holds no training or evaluation records")
    out.mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(exist_ok=True)
    shutil.copyfile(ASSETS / "gallery.css", out / "assets" / "gallery.css")
    charts = _plot_curves(metrics, out)

    sections: list[str] = []
    summary_path = run_dir / "summary.json"
    facts: dict[str, Any] = {"run": str(run_dir), "training logs": len(metrics.train)}
    facts["evaluations"] = len(metrics.evals)
    if metrics.bad_lines:
        facts["unreadable metrics lines"] = metrics.bad_lines
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            for key in ("steps", "total_steps", "samples", "samples_per_s", "data_wait_frac"):
                if key in summary and summary[key] is not None:
                    value = summary[key]
                    facts[key] = f"{value:.3f}" if isinstance(value, float) else value
        except json.JSONDecodeError:
            log.warning("%s is not valid JSON; ignored", summary_path)
    if metrics.train:
        last = metrics.train[-1]
        facts["final loss"] = f"{last['loss']:.4f}"
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts.items()
    )
    sections.append(f'<table class="summary">{rows}</table>')

    records: list[EvalRecord] = []
    if eval_dir is not None:
        if not Path(eval_dir).is_dir():
            raise QuiltError(f"--eval {eval_dir} is not a folder")
        records = load_results(Path(eval_dir))
        if any(r.task == "zeroshot" and "accuracy" in r.metrics for r in records):
            plot_zeroshot_accuracy(records, out / "zeroshot_accuracy.png")
            charts.append(("zeroshot_accuracy.png", "Zero-shot accuracy per dataset"))
    figures = "".join(
        f'<figure><img src="{escape(name)}" alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>'
        for name, caption in charts
    )
    sections.append(f'<h2>Curves</h2><div class="figures">{figures}</div>')
    if records:
        sections.append("<h2>Evaluation results</h2>" + _results_table(records))

    card = find_model_card(run_dir)
    if card is not None:
        front, body = markdown_to_html(card.read_text(encoding="utf-8"))
        # The card renders in a sandboxed frame (no allow-scripts): HTML in it cannot run scripts;
        # allow-same-origin lets it load its stylesheet and chart from disk.
        for image in card.parent.glob("*.png"):
            shutil.copyfile(image, out / f"card_{image.name}")
            body = body.replace(f'src="{image.name}"', f'src="card_{image.name}"')
        card_page = (
            '<!doctype html><html><head><meta charset="utf-8">'
            '<link rel="stylesheet" href="assets/gallery.css"></head>'
            f'<body class="card-preview"><main class="report">{body}</main></body></html>'
        )
        write_text_atomic(out / "model_card.html", card_page)
        meta = (
            f"<details><summary>card metadata (YAML)</summary><pre>{escape(front)}</pre></details>"
            if front
            else ""
        )
        sections.append(
            f"<h2>Model card preview</h2><p class='note'>{escape(str(card))}</p>{meta}"
            '<iframe class="model-card" sandbox="allow-same-origin" src="model_card.html" title="model card"></iframe>'
        )
    else:
        sections.append(
            "<h2>Model card preview</h2><p class='note'>No README.md in RUN/final or RUN: "
            "write one with the model card step (quilt_hf.model_card.render_model_card).</p>"
        )
    html = page(
        f"Training report: {run_dir.name}",
        '<main class="report">' + "".join(sections) + "</main>",
        nav=NAV,
    )
    write_text_atomic(out / "index.html", html)
    return out / "index.html"
