"""``quilt inspect``: write the gallery site of a dataset into a folder that opens from disk.

Layout of the site::

    index.html            the grid (assets/gallery.js renders it)
    charts.html           summary charts (charts/*.png)
    videos/index.html     one timeline page per YouTube video (videos/{id}.html)
    data/index.js         totals, facet values, per-chunk facet counts, search shard names
    data/chunks/NNNNN.js  CHUNK_SIZE rows each, loaded when the page needs them
    data/search/XX.js     caption token -> chunk ids, one file per 2-character token prefix
    thumbs/ab/abcd...jpg  thumbnails, made once

Data files are JavaScript (``Quilt.chunk(12, [...])``), not JSON: Chromium blocks ``fetch()`` and
XHR of ``file://`` URLs, but a ``<script src>`` added at run time loads from disk, so the site
works by double-clicking ``index.html`` with no server.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError
from quilt_hf.gallery.charts import DatasetStats
from quilt_hf.gallery.links import source_link
from quilt_hf.gallery.pages import page
from quilt_hf.gallery.search_index import SearchIndex
from quilt_hf.gallery.source import iter_batches
from quilt_hf.gallery.thumbs import THUMB_SIZE, ThumbnailMaker, thumb_key
from quilt_hf.gallery.timeline import VideoPair, read_video_dirs, write_timelines
from quilt_hf.schema import MAGNIFICATIONS
from quilt_hf.video_id import InvalidVideoId, check_video_id

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
CHUNK_SIZE = 1000
PAGE_SIZE = 48
MAGNIFICATION_VALUES = sorted(MAGNIFICATIONS)  # -1, 0, 1, 2
NO_PATHOLOGY = "(none)"
CAPTION_IN_TIMELINE = 400  # characters of each caption kept for the timeline pages


def video_page_name(video_id: str) -> str:
    """A file name for a video's timeline page that is safe whatever the id holds."""
    try:
        return f"{check_video_id(video_id)}.html"
    except InvalidVideoId:
        import hashlib

        return "v_" + hashlib.sha256(video_id.encode()).hexdigest()[:16] + ".html"


def js_call(function: str, *args: Any) -> str:
    """``Quilt.fn(arg, ...);`` with JSON arguments (JSON is valid JavaScript since ES2019)."""
    body = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args)
    return f"Quilt.{function}({body});\n"


@dataclass
class Facets:
    """Facet values in discovery order (chunks refer to them by index) and counts per chunk."""

    values: dict[str, list] = field(
        default_factory=lambda: {
            "subset": [],
            "split": [],
            "magnification": list(MAGNIFICATION_VALUES),
            "pathology": [],
        }
    )
    _index: dict[str, dict] = field(default_factory=dict)

    def index(self, facet: str, value: Any) -> int:
        lookup = self._index.setdefault(facet, {v: i for i, v in enumerate(self.values[facet])})
        if value not in lookup:
            lookup[value] = len(self.values[facet])
            self.values[facet].append(value)
        return lookup[value]

    def new_counts(self) -> dict[str, list[int]]:
        return {facet: [] for facet in self.values}

    @staticmethod
    def count(counts: dict[str, list[int]], facet: str, index: int) -> None:
        column = counts[facet]
        if index >= len(column):
            column.extend([0] * (index + 1 - len(column)))
        column[index] += 1


@dataclass
class SiteResult:
    out: Path
    rows: int
    chunks: int
    videos: int
    counts: dict[str, int]
    seconds: float


def build_site(
    dataset: str | Path,
    out: Path,
    *,
    video_dirs: list[Path] | tuple[Path, ...] = (),
    max_rows: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    workers: int = 2,
    thumb_size: int = THUMB_SIZE,
    title: str | None = None,
    progress: bool = True,
) -> SiteResult:
    """Write the gallery of ``dataset`` (folder or Hub id) into ``out``; see the module docstring."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise QuiltError(f"--out {out} exists and is not a folder")
    if chunk_size < 1:
        raise QuiltError("chunk size must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    _copy_assets(out)
    # Chunk files of an earlier, larger build would be stale: remove them (thumbs are kept).
    for stale in ("data", "videos", "charts"):
        shutil.rmtree(out / stale, ignore_errors=True)

    facets, search, stats = Facets(), SearchIndex(), DatasetStats()
    thumbs = ThumbnailMaker(out, workers=workers, size=thumb_size)
    chunk_counts: list[dict[str, list[int]]] = []
    chunk_sizes: list[int] = []
    pending: list[list] = []
    pending_counts = facets.new_counts()
    video_pairs: dict[str, list[VideoPair]] = {}
    total = 0

    def flush() -> None:
        nonlocal pending, pending_counts
        if not pending:
            return
        chunk_id = len(chunk_sizes)
        write_text_atomic(
            out / "data" / "chunks" / f"{chunk_id:05d}.js", js_call("chunk", chunk_id, pending)
        )
        chunk_sizes.append(len(pending))
        chunk_counts.append(pending_counts)
        pending, pending_counts = [], facets.new_counts()

    bar = tqdm(desc="quilt inspect", unit="row", total=max_rows, disable=not progress)
    try:
        for table in iter_batches(dataset, max_rows):
            columns = {name: table.column(name).to_pylist() for name in table.column_names}
            images = columns.pop("image")
            keys = []
            for image, sha in zip(images, columns["image_sha256"], strict=True):
                data = image.get("bytes") if isinstance(image, dict) else None
                keys.append(thumb_key(sha, data))
            thumbs.ensure(
                [
                    (k, i.get("bytes") if isinstance(i, dict) else None)
                    for k, i in zip(keys, images, strict=True)
                    if k
                ]
            )
            for i, key in enumerate(keys):
                row = {name: values[i] for name, values in columns.items()}
                row = _clean(row)
                chunk_id = len(chunk_sizes)
                thumb = thumbs.path_for(key)
                pending.append(_chunk_row(row, thumb, facets, pending_counts))
                search.add(chunk_id, row["caption"])
                stats.add(row, key or row["image_path"] or f"row{total}")
                if row["subset"] == "quilt" and row["source_id"]:
                    video_pairs.setdefault(row["source_id"], []).append(
                        VideoPair(
                            image_time=row["image_time"],
                            start_time=row["start_time"],
                            end_time=row["end_time"],
                            caption=row["caption"][:CAPTION_IN_TIMELINE],
                            thumb=thumb,
                            image_key=key or row["image_path"],
                        )
                    )
                total += 1
                if len(pending) >= chunk_size:
                    flush()
            bar.update(table.num_rows)
        flush()
        if total == 0:
            raise QuiltError(f"{dataset} has no rows to show")
        timelines = read_video_dirs(video_dirs, out, thumbs)
    finally:
        bar.close()
        thumbs.close()
    for video_id, pairs in video_pairs.items():
        timelines.setdefault(video_id, {"pairs": pairs, "stats": None, "source": "dataset"})
    videos = write_timelines(timelines, out / "videos", page_name=video_page_name)
    charts = stats.render(out / "charts")
    search_shards = search.shards()
    for name, tokens in search_shards.items():
        write_text_atomic(out / "data" / "search" / f"{name}.js", js_call("tokens", name, tokens))

    index = {
        "title": title or f"{Path(str(dataset)).name} gallery",
        "dataset": str(dataset),
        "total": total,
        "chunk_size": chunk_size,
        "page_size": PAGE_SIZE,
        "facets": facets.values,
        "magnification_labels": {str(k): v for k, v in MAGNIFICATIONS.items()},
        "chunks": [{"n": n, "f": c} for n, c in zip(chunk_sizes, chunk_counts, strict=True)],
        "search_shards": sorted(search_shards),
        "umls_names": stats.umls_names(),
        "videos": len(videos),
        "built": time.strftime("%Y-%m-%d %H:%M"),
    }
    write_text_atomic(out / "data" / "index.js", js_call("index", index))
    write_text_atomic(out / "index.html", _index_html(index["title"]))
    write_text_atomic(out / "charts.html", _charts_html(index["title"], charts, stats.summary()))
    counts = dict(thumbs.counts) | {"search_tokens": len(search.postings)}
    return SiteResult(
        out, total, len(chunk_sizes), len(videos), counts, time.perf_counter() - started
    )


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Nulls and odd values from any dataset become the defaults the page expects."""
    for name in ("caption", "subset", "split", "source_id", "image_url", "image_path"):
        row[name] = str(row[name] or "")
    for name in ("pathology", "med_umls_ids"):
        row[name] = [str(v) for v in (row[name] or [])]
    magnification = row["magnification"]
    row["magnification"] = magnification if magnification in MAGNIFICATIONS else -1
    for name in ("image_time", "start_time", "end_time"):
        value = row[name]
        row[name] = (
            float(value) if isinstance(value, int | float) and math.isfinite(value) else None
        )
    return row


def _chunk_row(row: dict[str, Any], thumb: str, facets: Facets, counts: dict) -> list:
    """One row as the page reads it (field order documented in assets/gallery.js ``ROW``)."""
    subset = facets.index("subset", row["subset"])
    split = facets.index("split", row["split"])
    magnification = facets.index("magnification", row["magnification"])
    pathology = [facets.index("pathology", p) for p in dict.fromkeys(row["pathology"])]
    if not pathology:
        pathology = [facets.index("pathology", NO_PATHOLOGY)]
    facets.count(counts, "subset", subset)
    facets.count(counts, "split", split)
    facets.count(counts, "magnification", magnification)
    for p in pathology:
        facets.count(counts, "pathology", p)
    seconds = row["image_time"] if row["image_time"] is not None else row["start_time"]
    link, label = source_link(row["subset"], row["source_id"], row["image_url"], seconds)
    video = ""
    if row["subset"] == "quilt" and row["source_id"]:
        video = "videos/" + video_page_name(row["source_id"])
    return [
        row["caption"],
        subset,
        split,
        magnification,
        pathology,
        row["med_umls_ids"],
        link,
        label,
        thumb,
        video,
        row["source_id"],
    ]


def _copy_assets(out: Path) -> None:
    target = out / "assets"
    target.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        if asset.is_file():
            shutil.copyfile(asset, target / asset.name)


def _index_html(title: str) -> str:
    body = """<section class="controls" aria-label="filters">
<input id="search" type="search" placeholder="Search captions (e.g. adenocarcinoma gland)" autocomplete="off">
<label>Source <select id="f-subset" data-facet="subset"></select></label>
<label>Split <select id="f-split" data-facet="split"></select></label>
<label>Pathology <select id="f-pathology" data-facet="pathology"></select></label>
<label>Magnification <select id="f-magnification" data-facet="magnification"></select></label>
<button id="reset" type="button">Reset</button>
</section>
<div class="status"><span id="count">Loading…</span>
<span class="pager"><button id="prev" type="button">&larr; Prev</button><span id="page"></span><button id="next" type="button">Next &rarr;</button></span></div>
<main id="grid" class="grid" aria-live="polite"></main>
<div class="status bottom"><span class="pager"><button id="prev2" type="button">&larr; Prev</button><button id="next2" type="button">Next &rarr;</button></span></div>
<dialog id="detail"><button class="close" type="button" aria-label="close">&times;</button><div id="detail-body"></div></dialog>
<noscript>This gallery needs JavaScript.</noscript>"""
    return page(title, body, ("assets/gallery.js", "data/index.js"))


def _charts_html(title: str, charts: list[tuple[str, str]], summary: dict[str, Any]) -> str:
    figures = "".join(
        f'<figure><img src="charts/{escape(name)}" alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>'
        for name, caption in charts
    )
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in summary.items()
    )
    body = f'<main class="charts"><table class="summary">{rows}</table><div class="figures">{figures}</div></main>'
    return page(f"{title}: charts", body)
