"""Import ARCH (Gamper & Rajpoot, CVPR 2021), the paper's retrieval benchmark, into the schema.

ARCH ships two sets, each a ``captions.json`` beside an ``images/`` folder:
``books_set`` entries have ``figure_id``, ``letter``, ``caption``, ``uuid``; ``pubmed_set`` entries
have ``caption`` and ``uuid``. ``captions.json`` is an object keyed by row index (a list is accepted
too). Every row goes to the ``val`` split: ARCH is an evaluation set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import load_image
from quilt_hf.importers.folder import ImportReport
from quilt_hf.schema import make_record
from quilt_hf.shards import ShardStats, ShardWriter, is_done

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif")


@dataclass
class ArchOptions:
    captions: Path
    images: Path
    source: str = ""  # books | pubmed; guessed from the entries when empty
    max_side: int = 512
    shard_rows: int = 2_000


def load_entries(path: Path) -> list[dict[str, Any]]:
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise QuiltError(f"captions file {path} does not exist") from error
    except json.JSONDecodeError as error:
        raise QuiltError(f"{path} is not valid JSON: {error}") from error
    if isinstance(raw, dict):
        entries = [raw[key] for key in sorted(raw, key=_index_key)]
    elif isinstance(raw, list):
        entries = raw
    else:
        raise QuiltError(f"{path} must hold an object keyed by index or a list of entries")
    return entries


def _index_key(key: str) -> tuple[int, str]:
    return (int(key), "") if str(key).isdigit() else (1 << 62, str(key))


def guess_source(entry: dict[str, Any]) -> str:
    source = str(entry.get("source", "")).lower()
    if "book" in source or "figure_id" in entry:
        return "books"
    return "pubmed"


def find_image(images: Path, image_id: str) -> Path | None:
    if not image_id or "/" in image_id or "\\" in image_id or image_id.startswith("."):
        raise SkipRecord("unsafe_path", image_id)
    for suffix in IMAGE_SUFFIXES:
        candidate = images / f"{image_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def arch_records(
    entries: list[dict[str, Any]], options: ArchOptions, stats: ShardStats
) -> Iterator[dict[str, Any]]:
    for entry in entries:
        try:
            if not isinstance(entry, dict):
                raise SkipRecord("malformed_entry", repr(entry)[:80])
            caption = str(entry.get("caption", "")).strip()
            image_id = str(entry.get("uuid") or entry.get("image_id") or "")
            if not caption:
                raise SkipRecord("empty_text", image_id)
            path = find_image(options.images, image_id)
            if path is None:
                raise SkipRecord("missing_image", image_id)
            stored = load_image(path.read_bytes(), max_side=options.max_side, min_side=8)
        except SkipRecord as skip:
            stats.skip(skip.reason, skip.detail)
            continue
        source = options.source or guess_source(entry)
        figure = str(entry.get("figure_id") or image_id)
        letter = str(entry.get("letter") or "")
        yield make_record(
            image=stored.as_feature(path.name),
            image_path=path.name,
            caption=caption,
            subset=f"arch_{source}",
            split="val",
            source_id=f"{figure}/{letter}" if letter else figure,
            height=stored.height,
            width=stored.width,
            image_sha256=stored.sha256,
            single_wsi=0 if letter else -1,
            text_source="arch_caption",
        )


def run_arch_import(options: ArchOptions, work_dir: Path) -> ImportReport:
    if not options.images.is_dir():
        raise QuiltError(f"images folder {options.images} does not exist")
    if options.source not in ("", "books", "pubmed"):
        raise QuiltError(f"--source must be books or pubmed, got {options.source!r}")
    entries = load_entries(options.captions)
    written = []
    for start in range(0, len(entries), options.shard_rows):
        shard_id = f"arch-{start // options.shard_rows:05d}"
        if is_done(work_dir, shard_id):
            continue
        with ShardWriter(work_dir, shard_id) as writer:
            writer.write_many(
                arch_records(entries[start : start + options.shard_rows], options, writer.stats)
            )
        written.append(writer.stats)
    return ImportReport(shards_written=written)
