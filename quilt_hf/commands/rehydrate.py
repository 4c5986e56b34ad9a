"""``quilt rehydrate DIR --out DIR2``: rebuild images of a metadata-only release."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rehydrate",
        help="re-fetch the images of a metadata-only dataset release and verify their sha256",
        description="Fetch every image from image_url (http/https; pmc://PMCID/href from "
        "--pmc-dir; YouTube frames when quilt_hf.sources.youtube provides fetch_frame), "
        "re-normalise it and keep it only when it matches image_sha256. Skipped rows are "
        "counted by reason in OUT/rehydrate_stats.json.",
    )
    parser.add_argument("folder", type=Path, help="metadata-only dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (quilt_1m layout)")
    parser.add_argument(
        "--pmc-dir", type=Path, help="folder of extracted PMC OA packages (PMCID/...)"
    )
    parser.set_defaults(func=run_rehydrate)


def run_rehydrate(args: argparse.Namespace) -> int:
    from quilt_hf.rehydrate import rehydrate

    stats = rehydrate(args.folder, args.out, args.pmc_dir)
    print(json.dumps({k: stats[k] for k in ("rows_written", "rows_skipped", "skipped_by_reason")}))
    return 0
