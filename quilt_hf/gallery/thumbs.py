"""Thumbnails, made once: ``thumbs/{key[:2]}/{key}.jpg`` keyed by the image's SHA-256.

Rows that share an image (pairing is many-to-many) share one thumbnail; a rerun skips every
thumbnail that already exists. JPEGs are decoded at reduced scale (PIL ``draft``), which is most of
the speed. A broken image is counted, not fatal: its card shows a placeholder.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from quilt_hf.atomic import atomic_path

THUMB_SIZE = 192
QUALITY = 82


def thumb_key(sha256: str | None, data: bytes | None) -> str | None:
    """A file-name-safe key: the stored sha256 when valid, else the hash of the bytes."""
    if sha256 and len(sha256) >= 16 and all(c in "0123456789abcdef" for c in sha256.lower()):
        return sha256.lower()[:32]
    if data:
        return hashlib.sha256(data).hexdigest()[:32]
    return None


def thumb_relpath(key: str) -> str:
    return f"thumbs/{key[:2]}/{key}.jpg"


def make_thumbnail(data: bytes, target: Path, size: int = THUMB_SIZE) -> None:
    """Write a JPEG thumbnail of ``data`` (longest side ``size``) to ``target`` atomically."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale
        image = image.convert("RGB")
        image.thumbnail((size, size))
        with atomic_path(target) as tmp:
            image.save(tmp, format="JPEG", quality=QUALITY)


class ThumbnailMaker:
    """Makes the missing thumbnails of a batch in a small thread pool (PIL releases the GIL)."""

    def __init__(self, site: Path, workers: int = 2, size: int = THUMB_SIZE) -> None:
        self.site, self.size = site, size
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.counts: Counter = Counter()
        self.done: set[str] = set()  # keys known to exist (made now or found on disk)
        self.failed: set[str] = set()

    def ensure(self, items: list[tuple[str, bytes | None]]) -> None:
        """Make thumbnails for ``(key, image bytes)`` pairs not yet on disk."""
        todo: dict[str, bytes | None] = {}
        for key, data in items:
            if key in self.done or key in self.failed or key in todo:
                continue
            if (self.site / thumb_relpath(key)).is_file():
                self.done.add(key)
                self.counts["thumbs_existing"] += 1
            else:
                todo[key] = data
        for key, ok in zip(todo, self.pool.map(self._make, todo.items()), strict=True):
            (self.done if ok else self.failed).add(key)
            self.counts["thumbs_made" if ok else "thumbs_failed"] += 1

    def _make(self, item: tuple[str, bytes | None]) -> bool:
        key, data = item
        if not data:
            return False
        try:
            make_thumbnail(data, self.site / thumb_relpath(key), self.size)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            return False
        return True

    def path_for(self, key: str | None) -> str:
        """Relative thumbnail path, or "" when there is none."""
        return thumb_relpath(key) if key and key in self.done else ""

    def close(self) -> None:
        self.pool.shutdown()
