"""Read released images by file name from a folder or from zip archive(s), without unpacking.

The released Quilt-1M images come as a folder or as zip parts; a few names are missing or appear
twice. The store indexes every member name once (zip central directories only: no image bytes are
read), reports duplicates, and reads one member on demand.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections import Counter
from pathlib import Path


def base_name(path: str) -> str:
    # string ops, not pathlib: this runs once per row of a million-row lookup
    return path.replace("\\", "/").rsplit("/", 1)[-1]


class ImageStore:
    def __init__(self, paths: list[Path]) -> None:
        # base name -> (zip archive or None for a folder, member name or file path)
        self._index: dict[str, tuple[str | None, str]] = {}
        self.duplicates: Counter = Counter()
        self._local = threading.local()
        for path in paths:
            path = Path(path)
            if path.is_dir():
                for root, _, files in os.walk(path):
                    for name in files:
                        self._add(name, None, str(Path(root, name)))
            elif zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    for info in archive.infolist():
                        if not info.is_dir():
                            self._add(base_name(info.filename), str(path), info.filename)
            else:
                raise FileNotFoundError(f"{path} is neither a folder nor a zip archive")

    def _add(self, name: str, container: str | None, member: str) -> None:
        if name in self._index:
            self.duplicates[name] += 1  # keep the first: deterministic for a given argument order
            return
        self._index[name] = (container, member)

    def __contains__(self, name: str) -> bool:
        return base_name(name) in self._index

    def __len__(self) -> int:
        return len(self._index)

    def read(self, name: str) -> bytes | None:
        entry = self._index.get(base_name(name))
        if entry is None:
            return None
        archive, member = entry
        if archive is None:
            return Path(member).read_bytes()
        return self._zip(archive).read(member)

    def _zip(self, path: str) -> zipfile.ZipFile:
        # one open handle per archive and thread: re-opening a 36 GB zip per image is slow
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        if path not in handles:
            handles[path] = zipfile.ZipFile(path)
        return handles[path]
