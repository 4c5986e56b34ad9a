"""``quilt report``: a static HTML report of a training run."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a training run (curves, recall, zero-shot, model card)",
        description="Read RUN_DIR/metrics.jsonl (the trainer's log), RUN_DIR/summary.json and the "
        "model card README.md (RUN_DIR/final or RUN_DIR), plus `quilt eval` result files with "
        "--eval, and write OUT/index.html: loss, learning-rate and logit-scale curves, validation "
        "retrieval recall by step, zero-shot accuracy per dataset, a table of all results and a "
        "preview of the model card. Opens from disk.",
    )
    parser.add_argument("run_dir", type=Path, help="the trainer's output_dir")
    parser.add_argument("--eval", type=Path, dest="eval_dir", help="folder of `quilt eval` results")
    parser.add_argument("--out", type=Path, required=True, help="report folder to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quilt_hf.gallery.report import build_report

    index = build_report(args.run_dir, args.out, args.eval_dir)
    print(f"wrote {index}")
    print(f"open {index.resolve().as_uri()}")
    return 0
