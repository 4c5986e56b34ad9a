"""``quilt import quilt1m|arch``: turn datasets users already hold into the quilt_1m format."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import the released Quilt-1M or ARCH into the quilt_1m format",
        description="Import datasets you already hold into a folder that load_dataset, the trainer, "
        "`quilt eval` and `quilt push` read.",
    )
    kinds = parser.add_subparsers(title="what to import", metavar="KIND", required=True)

    quilt = kinds.add_parser(
        "quilt1m",
        help="the released Quilt-1M lookup CSV + images",
        description="Stream quilt_1M_lookup.csv and read images from a folder or the zip archive(s) "
        "without unpacking them. Resumable: a rerun skips finished shards.",
    )
    quilt.add_argument("--lookup", required=True, type=Path, help="quilt_1M_lookup.csv")
    quilt.add_argument(
        "--images", required=True, type=Path, nargs="+", help="image folder or zip archive(s)"
    )
    quilt.add_argument("--out", default=Path("quilt_1m"), type=Path, help="output folder")
    quilt.add_argument(
        "--text-column",
        default="caption",
        choices=["caption", "roi_text", "corrected_text", "noisy_text"],
        help="which released text becomes `caption`, the column the trainer uses by default",
    )
    quilt.add_argument(
        "--subset", action="append", choices=["quilt", "openpath", "pubmed", "laion"]
    )
    quilt.add_argument("--histology-only", action="store_true", help="keep not_histology == 0 rows")
    quilt.add_argument("--single-wsi", action="store_true", help="keep single_wsi == 1 rows")
    quilt.add_argument("--magnification", type=int, action="append", choices=[0, 1, 2])
    quilt.add_argument("--min-caption-chars", type=int, default=0)
    quilt.add_argument("--shard-rows", type=int, default=10_000, help="rows per resumable shard")
    quilt.add_argument(
        "--verify-images",
        action="store_true",
        help="fully decode every image (slow; default: headers)",
    )
    quilt.add_argument("--gated", action="store_true", help="add gating fields to the card")
    quilt.set_defaults(func=run_quilt1m)

    arch = kinds.add_parser(
        "arch",
        help="ARCH (books / PubMed sets), the paper's retrieval benchmark",
        description="Import an ARCH captions.json and its images folder (every row lands in `val`).",
    )
    arch.add_argument("--captions", required=True, type=Path, help="captions.json")
    arch.add_argument("--images", required=True, type=Path, help="the set's images/ folder")
    arch.add_argument("--out", default=Path("arch"), type=Path)
    arch.add_argument("--source", choices=["books", "pubmed"], default="")
    arch.set_defaults(func=run_arch)


def run_quilt1m(args: argparse.Namespace) -> int:
    from quilt_hf.importers.folder import QUILT1M_ORIGIN, QUILT1M_TERMS, import_folder
    from quilt_hf.importers.quilt1m import ImportFilters, ImportOptions, check_lookup, run_import

    options = ImportOptions(
        lookup=args.lookup,
        images=args.images,
        text_column=args.text_column,
        filters=ImportFilters(
            subsets=tuple(args.subset or ()),
            histology_only=args.histology_only,
            single_wsi=args.single_wsi,
            magnifications=tuple(args.magnification or ()),
            min_caption_chars=args.min_caption_chars,
        ),
        shard_rows=args.shard_rows,
        verify_images=args.verify_images,
    )
    check_lookup(options)  # a filter on a column the lookup lacks fails before any output
    result = import_folder(
        run_import,
        options,
        args.out,
        pretty_name="Quilt-1M (released, imported with quilt-hf)",
        origin=QUILT1M_ORIGIN,
        terms=QUILT1M_TERMS,
        gated=args.gated,
    )
    print(json.dumps(result, indent=2))
    return 0


def run_arch(args: argparse.Namespace) -> int:
    from quilt_hf.importers.arch import ArchOptions, run_arch_import
    from quilt_hf.importers.folder import ARCH_ORIGIN, ARCH_TERMS, import_folder

    result = import_folder(
        run_arch_import,
        ArchOptions(captions=args.captions, images=args.images, source=args.source),
        args.out,
        pretty_name="ARCH (imported with quilt-hf)",
        origin=ARCH_ORIGIN,
        terms=ARCH_TERMS,
    )
    print(json.dumps(result, indent=2))
    return 0
