"""``quilt demo``: the whole chain on the bundled sample corpus, offline, in one folder.

sample sources -> YouTube pipeline (yt-dlp from the loopback sample server) -> quilt_1m/ ->
tiny CLIP training (``python -m trainer``) -> evaluation -> model and dataset cards -> the
dataset gallery (``quilt inspect``) and the training report (``quilt report``) -> summary.
Each step writes into ``out`` and is skipped when its output is already complete, so a demo that
was interrupted resumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError


@dataclass
class DemoResult:
    out_dir: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    loss_first: float | None = None
    loss_last: float | None = None
    zeroshot: dict[str, dict[str, float]] = field(default_factory=dict)
    retrieval: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    gallery: Path | None = None  # index.html of `quilt inspect`
    report: Path | None = None  # index.html of `quilt report`


def trainer_config_dir() -> Path:
    from quilt_hf.companions import companion

    return Path(companion("trainer").__file__).resolve().parent / "configs"


def run_demo(
    out_dir: Path, *, seed: int = 0, workers: int | None = None, steps: int = 40
) -> DemoResult:
    from quilt_hf.build import build_dataset, format_summary
    from quilt_hf.build_config import BuildConfig
    from quilt_hf.executors import LocalExecutor
    from quilt_hf.synthetic.sample.common import SERVER_FILE
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus
    from quilt_hf.synthetic.sample.server import serve_corpus

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out_dir)
    sample_dir, dataset_dir, run_dir, eval_dir = (
        out_dir / "sample", out_dir / "quilt_1m", out_dir / "run", out_dir / "eval",
    )  # fmt: skip

    with _step(result, "sample"):
        if not (sample_dir / SERVER_FILE).exists():  # none yet, or one from before server.json
            write_sample_corpus(sample_dir, seed=seed)
    with _step(result, "build"):
        config = BuildConfig.load(sample_dir / "build.yaml")
        with serve_corpus(sample_dir):  # the sample's stand-in for the internet
            built = build_dataset(config, dataset_dir, executor=LocalExecutor(workers=workers))
        print(format_summary(built))
        if built.failed_tasks:
            raise QuiltError(f"{len(built.failed_tasks)} shard task(s) failed; see above")
        result.counts = built.counts
    with _step(result, "train"):
        final = run_dir / "final"
        if not (final / "config.json").exists():
            train_tiny(dataset_dir, run_dir, steps=steps, seed=seed)
        result.loss_first, result.loss_last = first_last_loss(run_dir / "metrics.jsonl")
    with _step(result, "evaluate"):
        result.zeroshot, result.retrieval = evaluate(final, dataset_dir, eval_dir)
    with _step(result, "cards"):
        write_model_card_for_demo(final, eval_dir, dataset_dir)
    with _step(result, "gallery"):
        result.gallery = write_gallery(dataset_dir, out_dir / "gallery")
    with _step(result, "report"):
        result.report = write_report(run_dir, eval_dir, out_dir / "report")
    (out_dir / "demo_summary.json").write_text(
        json.dumps(
            {
                "counts": result.counts,
                "loss_first": result.loss_first,
                "loss_last": result.loss_last,
                "zeroshot": result.zeroshot,
                "retrieval": result.retrieval,
                "seconds": result.seconds,
                "gallery": str(result.gallery),
                "report": str(result.report),
            },
            indent=2,
        )
    )
    return result


class _step:
    """Time a demo step and say what it is doing."""

    def __init__(self, result: DemoResult, name: str) -> None:
        self.result, self.name = result, name

    def __enter__(self) -> None:
        print(f"\n== {self.name} ==", flush=True)
        self.started = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.result.seconds[self.name] = round(time.perf_counter() - self.started, 1)


def train_tiny(dataset_dir: Path, run_dir: Path, *, steps: int, seed: int) -> None:
    """Run the real trainer entry point (one process) with the tiny random CLIP config."""
    configs = trainer_config_dir()
    command = [
        sys.executable, "-m", "trainer",
        "--config", str(configs / "tiny.yaml"),
        "--dataset", str(dataset_dir),
        "--output_dir", str(run_dir),
        "--max_steps", str(steps),
        "--seed", str(seed),
        "--report_to", "none",
    ]  # fmt: skip
    completed = subprocess.run(command, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if completed.returncode != 0:
        raise QuiltError(f"training failed (exit {completed.returncode}): {' '.join(command)}")


def first_last_loss(metrics_path: Path) -> tuple[float | None, float | None]:
    losses = []
    if metrics_path.exists():
        for line in metrics_path.read_text().splitlines():
            record = json.loads(line)
            if "loss" in record:
                losses.append(float(record["loss"]))
    return (losses[0], losses[-1]) if losses else (None, None)


def evaluate(model_dir: Path, dataset_dir: Path, eval_dir: Path):
    from quilt_hf.cli import main as quilt

    code = quilt([
        "eval", "zeroshot", "--model", str(model_dir), "--out", str(eval_dir),
        "--benchmark", "quilt_sample", "--plot", str(eval_dir / "zeroshot.png"),
    ])  # fmt: skip
    code |= quilt([
        "eval", "retrieval", "--model", str(model_dir), "--out", str(eval_dir),
        "--data", str(dataset_dir), "--split", "val",
    ])  # fmt: skip
    if code:
        raise QuiltError("evaluation failed; see above")
    from quilt_hf.eval.results import load_results

    zeroshot: dict[str, dict[str, float]] = {}
    retrieval: dict[str, float] = {}
    for record in load_results(eval_dir):
        numbers = {k: v for k, v in record.metrics.items() if isinstance(v, (int, float))}
        if record.task == "zeroshot":
            zeroshot[record.dataset] = numbers
        elif record.task == "retrieval":
            retrieval = numbers
    return zeroshot, retrieval


def write_model_card_for_demo(model_dir: Path, eval_dir: Path, dataset_dir: Path) -> None:
    """The card the trainer wrote, with the results `quilt eval` added, naming the demo repo
    (the same path as `quilt card model DIR --repo-id ...`)."""
    from quilt_hf.model_card import render_model_card

    render_model_card(model_dir, "quilt-hf/quiltnet-tiny-demo")


def write_gallery(dataset_dir: Path, site_dir: Path) -> Path:
    """``quilt inspect`` the dataset, with the lectures' process folders drawn on the timelines."""
    from quilt_hf.cli import main as quilt
    from quilt_hf.dataset_folder import WORK_DIRNAME

    work = dataset_dir / WORK_DIRNAME  # the quilt source processes each lecture in there
    videos = ["--videos", str(work)] if next(work.glob("**/pairs.jsonl"), None) else []
    if quilt(["inspect", str(dataset_dir), "--out", str(site_dir), *videos]) != 0:
        raise QuiltError("quilt inspect failed; see above")
    return site_dir / "index.html"


def write_report(run_dir: Path, eval_dir: Path, report_dir: Path) -> Path:
    """``quilt report`` of the training run with the evaluation results."""
    from quilt_hf.cli import main as quilt

    if quilt(["report", str(run_dir), "--eval", str(eval_dir), "--out", str(report_dir)]) != 0:
        raise QuiltError("quilt report failed; see above")
    return report_dir / "index.html"


def format_demo_summary(result: DemoResult) -> str:
    lines = ["", "== quilt demo: done ==", f"everything is in {result.out_dir}"]
    for subset, by_split in result.counts.items():
        lines.append(
            f"  {subset:9s} train {by_split.get('train', 0):4d}  val {by_split.get('val', 0):4d}"
        )
    if result.loss_first is not None:
        lines.append(
            f"  training loss: first {result.loss_first:.4f} -> last {result.loss_last:.4f}"
        )
    for name, metrics in result.zeroshot.items():
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if "acc" in k)
        lines.append(f"  zero-shot {name}: {shown}")
    if result.retrieval:
        shown = ", ".join(
            f"{k} {v:.3f}"
            for k, v in sorted(result.retrieval.items())
            if k.endswith(("R@1", "R@5", "R@10"))
        )
        lines.append(f"  retrieval (val): {shown}")
    lines += [
        "  where to look:",
        f"    dataset     {result.out_dir / 'quilt_1m'} (README.md is its card; load_dataset works)",
        f"    model       {result.out_dir / 'run' / 'final'} (README.md is its card)",
        f"    metrics     {result.out_dir / 'run' / 'metrics.jsonl'}, {result.out_dir / 'eval'}",
        f"    gallery     {result.gallery} (the dataset: filters, search, video timelines)",
        f"    report      {result.report} (loss and recall curves, zero-shot chart, model card)",
        "  (a tiny random CLIP trained for a few steps: the numbers show the chain works, not a model)",
        "  seconds per step: " + ", ".join(f"{k} {v}" for k, v in result.seconds.items()),
    ]
    return "\n".join(lines)
