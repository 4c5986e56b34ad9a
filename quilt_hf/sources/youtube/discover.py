"""Discover candidate lectures with yt-dlp: keyword searches, channels, playlists and single pages.

Two passes, as the cost of a full extraction is one page fetch per video:
1. flat listing (``extract_flat``) of every search / channel / playlist, pre-filtered on the fields
   flat entries carry (duration, live status, shorts);
2. full ``extract_info(download=False)`` of each survivor, then the full metadata filter.
Every video ends in exactly one of ``videos.jsonl`` (kept) or ``rejected.jsonl`` (with a reason).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError
from quilt_hf.sources.youtube.relevance import FilterConfig, rejection, summarize
from quilt_hf.sources.youtube.ytdlp_log import YtdlpLogger

log = logging.getLogger(__name__)

KEYWORDS_RESOURCE = "youtube_keywords.txt"


def default_keywords() -> list[str]:
    """The histopathology search queries shipped with the project."""
    text = resources.files("quilt_hf").joinpath("resources", KEYWORDS_RESOURCE).read_text()
    return read_keywords_text(text)


def read_keywords_text(text: str) -> list[str]:
    """One query per line; blank lines and ``#`` comments ignored; duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for line in text.splitlines():
        query = line.split("#", 1)[0].strip()
        if query:
            seen.setdefault(query, None)
    return list(seen)


@dataclass
class DiscoverResult:
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)  # sources that failed to list


def _ydl_options(quiet: bool = True) -> dict[str, Any]:
    return {
        "quiet": quiet,
        "no_warnings": quiet,
        "skip_download": True,
        "extractor_retries": 3,
        "retries": 5,
        "socket_timeout": 30,
        "noprogress": True,
        "logger": YtdlpLogger(),
    }


def _flat_entries(info: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Walk a (possibly nested: channel -> tabs -> videos) flat listing down to video entries."""
    if not info:
        return
    if info.get("_type") in ("playlist", "multi_video"):
        for entry in info.get("entries") or []:
            yield from _flat_entries(entry)
    else:
        yield info


def list_sources(
    queries: Iterable[str],
    per_keyword: int,
    channels: Iterable[str] = (),
    playlists: Iterable[str] = (),
    pages: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """(label, yt-dlp url) for every source to list; searches use ``ytsearchN:``."""
    sources = [(f"search:{q}", f"ytsearch{per_keyword}:{q}") for q in queries]
    for url in channels:
        # a channel's bare url lists its tabs; the /videos tab lists its uploads
        url = url.rstrip("/")
        if "youtube.com/" in url and not url.endswith(("/videos", "/streams", "/shorts")):
            url += "/videos"
        sources.append((f"channel:{url}", url))
    sources += [(f"playlist:{url}", url) for url in playlists]
    sources += [(f"page:{url}", url) for url in pages]
    return sources


def discover(
    sources: list[tuple[str, str]],
    config: FilterConfig,
    *,
    ydl_options: dict[str, Any] | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] = lambda it: it,
) -> DiscoverResult:
    """List every source flat, pre-filter, extract the survivors fully, filter, de-duplicate."""
    import yt_dlp

    options = {**_ydl_options(), **(ydl_options or {})}
    result = DiscoverResult()
    candidates: dict[str, dict[str, Any]] = {}  # id -> flat entry, first source wins
    found_by: dict[str, list[str]] = {}
    with yt_dlp.YoutubeDL({**options, "extract_flat": "in_playlist"}) as ydl:
        for label, url in progress(sources):
            try:
                listing = ydl.extract_info(url, download=False)
            except yt_dlp.utils.DownloadError as error:
                result.errors.append({"source": label, "error": _short(error)})
                continue
            for entry in _flat_entries(listing):
                # flat entries of feeds carry no id until extracted: key them by url
                key = entry.get("id") or entry.get("url")
                if not isinstance(key, str):
                    continue
                found_by.setdefault(key, []).append(label)
                candidates.setdefault(key, entry)

    seen: set[str] = set()
    with yt_dlp.YoutubeDL(options) as ydl:
        for key, entry in progress(list(candidates.items())):
            base = {"id": entry.get("id"), "title": entry.get("title"), "found_by": found_by[key]}
            if base["id"] is None:
                base["url"] = key
            reason = rejection(entry, config)
            if reason is None and entry.get("_type") in ("url", "url_transparent"):
                try:
                    # resolves the reference the way yt-dlp does (url_transparent keeps the
                    # listing's fields, e.g. a feed's duration, where the page has none)
                    entry = ydl.process_ie_result(dict(entry), download=False)
                except yt_dlp.utils.DownloadError as error:
                    reason = ("extract_failed", _short(error))
                else:
                    reason = rejection(entry, config)
            if reason is None and entry.get("id") in seen:
                reason = ("duplicate", f"same video as {entry.get('id')}")
            if reason is not None:
                result.rejected.append({**base, "reason": reason[0], "detail": reason[1]})
                continue
            seen.add(entry["id"])
            result.kept.append({**summarize(entry, config), "found_by": found_by[key]})
    return result


def _short(error: BaseException) -> str:
    return str(error).replace("ERROR: ", "", 1)[:300]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_videos_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``videos.jsonl``; a malformed line is a clear error naming the line."""
    if not path.is_file():
        raise QuiltError(f"videos file not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise QuiltError(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict) or not (row.get("webpage_url") or row.get("id")):
            raise QuiltError(f"{path}:{number}: a video row needs 'id' and 'webpage_url'")
        rows.append(row)
    return rows
