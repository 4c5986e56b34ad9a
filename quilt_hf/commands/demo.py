"""``quilt demo``: the whole chain on the bundled sample corpus, offline."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole chain on the bundled sample corpus, offline",
        description="Sample sources -> YouTube pipeline (yt-dlp from a loopback server) -> "
        "quilt_1m dataset -> tiny CLIP training -> evaluation -> model and dataset cards -> the "
        "dataset gallery (quilt inspect) and the training report (quilt report), all in OUT, with a "
        "summary at the end. Takes a few minutes on a 2-core machine; a rerun resumes.",
    )
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="build worker processes")
    parser.add_argument("--steps", type=int, default=40, help="training steps of the tiny CLIP")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quilt_hf.demo import format_demo_summary, run_demo

    result = run_demo(args.out, seed=args.seed, workers=args.workers, steps=args.steps)
    print(format_demo_summary(result))
    return 0
