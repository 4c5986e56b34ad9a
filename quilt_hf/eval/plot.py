"""Bar chart of zero-shot accuracy per dataset (the figure QuiltNet's model card shows)."""

from __future__ import annotations

from pathlib import Path

from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import EvalRecord


def plot_zeroshot_accuracy(
    records: list[EvalRecord], out_path: Path, metric: str = "accuracy"
) -> Path:
    """One bar per dataset and model; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r.task == "zeroshot" and metric in r.metrics]
    if not rows:
        raise QuiltError(f"no zero-shot results with {metric!r} to plot")
    datasets = sorted({r.dataset for r in rows})
    models = sorted({r.model for r in rows})
    width = 0.8 / len(models)
    figure, axes = plt.subplots(figsize=(max(4.0, 0.9 * len(datasets) + 2), 3.5))
    for m, model in enumerate(models):
        values = {r.dataset: r.metrics[metric] for r in rows if r.model == model}
        xs = [d + m * width for d in range(len(datasets)) if datasets[d] in values]
        ys = [100 * values[name] for name in datasets if name in values]
        axes.bar(xs, ys, width=width, label=model)
    axes.set_xticks([d + 0.4 - width / 2 for d in range(len(datasets))], datasets, rotation=30)
    axes.set_ylabel(f"zero-shot {metric.replace('_', ' ')} (%)")
    axes.set_ylim(0, 100)
    axes.legend(fontsize="small")
    figure.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=120)
    plt.close(figure)
    return out_path
