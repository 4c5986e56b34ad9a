"""``quilt inspect``: a static HTML gallery of a dataset, for curators (opens from disk)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="write an HTML gallery of a dataset (grid, filters, search, charts, video timelines)",
        description="Write a static site into OUT that opens from disk (no server): a paged grid "
        "of image-text pairs with thumbnails, captions, source, pathology, magnification, UMLS "
        "entities and source links (YouTube links jump to the frame's time); filters by source, "
        "split, pathology and magnification; caption search; summary charts; and a timeline per "
        "YouTube video. Rows are written in chunks loaded on demand, so a 1M-row dataset opens "
        "as fast as a small one. Thumbnails are made once: a rerun into the same OUT reuses them.",
    )
    parser.add_argument("dataset", help="dataset folder (quilt build output) or Hub id")
    parser.add_argument("--out", type=Path, required=True, help="site folder to write")
    parser.add_argument(
        "--videos",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="`quilt youtube process` output folders (or folders holding them): their "
        "pairs.jsonl and stats.json add static windows and chunk numbers to the timelines",
    )
    parser.add_argument("--max-rows", type=int, default=None, help="show only the first N rows")
    parser.add_argument(
        "--chunk-size", type=int, default=1000, help="rows per data chunk file (default: 1000)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="threads making thumbnails (default: min(4, CPUs))",
    )
    parser.add_argument("--title", help="page title (default: '<dataset name> gallery')")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quilt_hf.errors import QuiltError
    from quilt_hf.gallery.site import build_site

    if args.max_rows is not None and args.max_rows < 1:
        raise QuiltError("--max-rows must be at least 1")
    result = build_site(
        args.dataset,
        args.out,
        video_dirs=args.videos,
        max_rows=args.max_rows,
        chunk_size=args.chunk_size,
        workers=args.workers,
        title=args.title,
    )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    print(
        f"wrote {result.rows} rows in {result.chunks} chunks, {result.videos} video timelines "
        f"to {result.out} in {result.seconds:.1f}s ({counts})"
    )
    print(f"open {(result.out / 'index.html').resolve().as_uri()}")
    return 0
