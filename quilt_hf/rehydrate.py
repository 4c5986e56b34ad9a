"""Metadata-only releases and rehydration: publish without image bytes, rebuild images locally.

``make_metadata_only`` copies a ``quilt_1m`` folder without the ``image`` column (ids, urls,
timestamps and texts stay). ``rehydrate`` fetches each image again from ``image_url``: web and
tweet media over HTTP(S), ``pmc://PMCID/href`` from a local folder of PMC OA packages
(``--pmc-dir``), YouTube frames only when ``quilt_hf.sources.youtube`` provides a frame fetcher.
Every image is re-normalised with ``quilt_hf.images.load_image`` and must hash to the row's
``image_sha256``; rows that cannot be rebuilt are counted by reason in ``rehydrate_stats.json``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import load_image

log = logging.getLogger(__name__)
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?", re.S)


def _shards(folder: Path) -> list[Path]:
    shards = sorted((folder / "data").glob("*.parquet"))
    if not shards:
        raise QuiltError(f"{folder} has no data/*.parquet shards")
    return shards


def make_metadata_only(folder: Path, out: Path) -> Path:
    """Write ``out`` = ``folder`` without image bytes; the card's features lose ``image``."""
    import pyarrow.parquet as pq

    folder, out = Path(folder), Path(out)
    if out.resolve() == folder.resolve():
        raise QuiltError("the metadata-only copy must go to a different folder")
    (out / "data").mkdir(parents=True, exist_ok=True)
    for shard in _shards(folder):
        table = pq.read_table(shard)
        if "image" in table.column_names:
            table = table.drop(["image"])
        pq.write_table(table, out / "data" / shard.name)
    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    match = FRONT_MATTER.match(text)
    meta = (yaml.safe_load(match.group(1)) or {}) if match else {}
    meta.pop("dataset_info", None)  # its features list the image column; let datasets infer
    meta["tags"] = sorted(set(meta.get("tags", [])) | {"metadata-only"})
    body = text[match.end() :] if match else text
    note = (
        "\n> Metadata-only release: no image bytes. Rebuild the images with "
        "`quilt rehydrate DIR --out DIR2` (checks every image against `image_sha256`).\n"
    )
    (out / "README.md").write_text(
        f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{note}{body}", encoding="utf-8"
    )
    return out


def fetch_http(url: str, timeout: float = 30.0) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "quilt-hf-rehydrate/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except OSError as error:
        raise SkipRecord("fetch_failed", f"{url}: {error}") from error


def fetch_pmc(url: str, pmc_dir: Path | None) -> bytes:
    """``pmc://PMCID/href``: the graphic file inside the extracted OA package ``pmc_dir/PMCID/``."""
    if pmc_dir is None:
        raise SkipRecord("pmc_dir_missing", "pass --pmc-dir with the extracted PMC OA packages")
    pmcid, _, href = url[len("pmc://") :].partition("/")
    package = Path(pmc_dir) / pmcid
    candidates = (
        [package / href] + [p for p in package.rglob(Path(href).name)] if package.is_dir() else []
    )
    for path in candidates:
        if path.is_file():
            return path.read_bytes()
    raise SkipRecord("pmc_file_missing", f"{href} not found under {package}")


def _youtube_fetcher() -> Callable[[dict], bytes] | None:
    try:
        from quilt_hf.sources import youtube  # another engineer's module; optional here
    except ImportError:
        return None
    return getattr(youtube, "fetch_frame", None)


def fetch_image(row: dict, pmc_dir: Path | None, youtube: Callable[[dict], bytes] | None) -> bytes:
    url = row.get("image_url") or ""
    if url.startswith("pmc://"):
        return fetch_pmc(url, pmc_dir)
    if "youtube.com/" in url or "youtu.be/" in url:
        if youtube is None:
            raise SkipRecord(
                "youtube_not_rehydratable",
                "quilt_hf.sources.youtube.fetch_frame is not available in this install",
            )
        return youtube(row)
    if url.startswith(("http://", "https://")):
        return fetch_http(url)
    raise SkipRecord("no_image_url", repr(url))


def rehydrate(folder: Path, out: Path, pmc_dir: Path | None = None) -> dict:
    """Rebuild ``out`` (quilt_1m layout, with images) from a metadata-only ``folder``."""
    import pyarrow.parquet as pq
    from datasets import Dataset
    from tqdm.auto import tqdm

    from quilt_hf.schema import FEATURES, make_record

    folder, out = Path(folder), Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    youtube = _youtube_fetcher()
    skipped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    cache: dict[tuple[str, str], bytes | SkipRecord] = {}
    written = 0
    for shard in _shards(folder):
        rows = pq.read_table(shard).to_pylist()
        records = []
        for row in tqdm(rows, desc=shard.name, leave=False):
            key = (row.get("image_url") or "", row.get("image_sha256") or "")
            if key not in cache:
                try:
                    stored = load_image(fetch_image(row, pmc_dir, youtube))
                    if row.get("image_sha256") and stored.sha256 != row["image_sha256"]:
                        raise SkipRecord(
                            "sha256_mismatch", f"{row.get('image_url')}: got {stored.sha256[:12]}"
                        )
                    cache[key] = stored.jpeg
                except SkipRecord as skip:
                    cache[key] = skip
            result = cache[key]
            if isinstance(result, SkipRecord):
                skipped[result.reason] += 1
                examples.setdefault(result.reason, result.detail)
                continue
            fields = {k: v for k, v in row.items() if k in FEATURES and k != "image"}
            path = row.get("image_path") or f"{row['image_sha256'][:16]}.jpg"
            records.append(make_record(image={"bytes": result, "path": path}, **fields))
        if records:
            columns = {name: [r[name] for r in records] for name in FEATURES}
            Dataset.from_dict(columns, features=FEATURES).to_parquet(str(out / "data" / shard.name))
            written += len(records)
    readme = folder / "README.md"
    if readme.is_file():
        shutil.copyfile(readme, out / "README.md")
    stats = {
        "rows_written": written,
        "rows_skipped": sum(skipped.values()),
        "skipped_by_reason": dict(skipped),
        "example_by_reason": examples,
    }
    (out / "rehydrate_stats.json").write_text(json.dumps(stats, indent=2), encoding="utf-8")
    return stats
