"""Run an importer's builder into a dataset folder with its card (``quilt import ...``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from quilt_hf.dataset_card import write_dataset_card
from quilt_hf.dataset_folder import (
    builder_cache_dir,
    prepare_folder,
    skipped_by_reason,
    summarize_folder,
    work_shards_dir,
)
from quilt_hf.shards import write_json_atomic

QUILT1M_ORIGIN = (
    (
        "Origin",
        "Imported with `quilt import quilt1m` from the released Quilt-1M lookup "
        "(`quilt_1M_lookup.csv`) and its image archive (Ikezogwo et al., NeurIPS 2023; "
        "https://quilt1m.github.io/). Released columns and splits are kept; list columns stored as "
        "Python literals in the CSV are parsed into lists; `source_id` is the video id taken from "
        "YouTube image names (`{video_id}_image_{uuid}.jpg`). Rows whose image is missing from the "
        "archive are counted under `missing_image` and listed in `missing_images.txt`.",
    ),
)
QUILT1M_TERMS = (
    "The released Quilt-1M is licensed for non-commercial research use only; its images and texts "
    "must not be redistributed outside the terms of the original release, which users must accept "
    "to obtain it. Publish this folder only as a private or gated repository (`quilt push dataset "
    "--private`, card rendered with `--gated`)."
)
ARCH_ORIGIN = (
    (
        "Origin",
        "Imported with `quilt import arch` from ARCH (Gamper & Rajpoot, *Multiple Instance "
        "Captioning: Learning Representations from Histopathology Textbooks and Articles*, CVPR "
        "2021): `books_set` and `pubmed_set` captions with their images. ARCH is an evaluation set "
        "for cross-modal retrieval; every row is in `val`.",
    ),
)
ARCH_TERMS = "ARCH is released for research under its authors' terms (CC BY-NC-SA 4.0 at release)."


def import_folder(
    builder_cls: type,
    options: Any,
    out_dir: str | Path,
    *,
    pretty_name: str,
    origin: tuple[tuple[str, str], ...],
    terms: str,
    gated: bool = False,
) -> dict[str, Any]:
    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = (
        work_shards_dir(out_dir, {"importer": builder_cls.__name__, "options": options}) / "import"
    )
    report: dict[str, Any] = {}
    builder = builder_cls(
        config_name="default",
        options=options,
        work_root=str(work_dir),
        report=report,
        cache_dir=builder_cache_dir(out_dir),
    )
    files, split_bytes = prepare_folder(builder, out_dir)
    skipped = skipped_by_reason([work_dir])
    counts = report.get("per_split", {})
    summary = summarize_folder(
        files,
        split_bytes,
        counts,
        skipped,
        pretty_name=pretty_name,
        origin=origin,
        terms=terms,
    )
    write_dataset_card(out_dir, summary, repo_id=out_dir.name, gated=gated)
    missing = report.get("missing_images", [])
    if missing:
        (out_dir / "missing_images.txt").write_text("\n".join(missing) + "\n")
    result = {
        "counts": counts,
        "skipped": dict(skipped),
        "rows": sum(sum(c.values()) for c in counts.values()),
        "missing_images": len(missing),
        "duplicate_archive_members": report.get("duplicate_members", {}),
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json_atomic(out_dir / "import_stats.json", result)
    return result
