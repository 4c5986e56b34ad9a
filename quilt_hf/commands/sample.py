"""``quilt sample``: write the offline sample corpus (tweets, PMC packages, web pairs, videos)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write the deterministic offline sample corpus and its build.yaml",
        description=(
            "Write a small offline corpus in the real input formats of QUILT-1M's sources: "
            "Twitter API v2 tweet responses, PMC Open Access packages (JATS + figures), web "
            "(LAION-style) parquet metadata with images served by a loopback server, and sample "
            "lecture videos when that extension is installed. Histology images are crops of real "
            "slides; some inputs are bad on purpose (see DIR/README.md). The same seed gives "
            "byte-identical files. Then run: quilt build --config DIR/build.yaml --out quilt_1m"
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write (new or empty)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the sample server, written into urls and build.yaml "
        "(default: a port that is free now)",
    )
    parser.add_argument(
        "--no-videos", action="store_true", help="skip the sample lecture videos (faster)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quilt_hf.errors import QuiltError
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus

    if not 0 <= args.port <= 65535:
        raise QuiltError(f"--port must be between 0 and 65535, not {args.port}")
    summary = write_sample_corpus(
        args.out, seed=args.seed, port=args.port or None, videos=not args.no_videos
    )
    print("\n".join(summary.lines()))
    return 0
