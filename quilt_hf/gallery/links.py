"""Where a pair came from, as a link a curator can open (http/https only)."""

from __future__ import annotations

import math
import re
from urllib.parse import quote, urlsplit

_TWEET_ID = re.compile(r"^\d{5,25}$")
_PMCID = re.compile(r"^PMC\d+$")


def clock(seconds: float) -> str:
    """``83.4`` -> ``1:23``; ``3725`` -> ``1:02:05``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _is_web(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def youtube_link(video_id: str, seconds: float | None) -> str:
    link = f"https://www.youtube.com/watch?v={quote(video_id, safe='')}"
    if seconds is not None and math.isfinite(seconds):
        link += f"&t={max(0, int(seconds))}s"
    return link


def source_link(
    subset: str,
    source_id: str | None,
    image_url: str | None,
    seconds: float | None,
) -> tuple[str, str]:
    """``(url, label)`` for a row; ``("", label)`` when no safe link can be made."""
    source_id = source_id or ""
    if subset == "quilt" and source_id:
        label = "YouTube" + (f" {clock(seconds)}" if seconds is not None else "")
        return youtube_link(source_id, seconds), label
    if subset == "openpath" and _TWEET_ID.match(source_id):
        return f"https://twitter.com/i/web/status/{source_id}", "Tweet"
    pmcid = source_id.split("/")[0]
    if _PMCID.match(pmcid):
        return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/", pmcid
    for url in (image_url, source_id):
        if _is_web(url):
            return str(url), urlsplit(str(url)).hostname or "web"
    return "", source_id[:40]
