"""Read released images by file name from a folder or from zip archive(s), without unpacking.

The released Quilt-1M images come as a folder or as zip parts; a few names are missing or appear
twice. The store indexes every member name once (zip central directories only: no image bytes are
read), reports duplicates, and reads one member on demand.

Zip members are read with two positioned reads (local header, then data) from offsets that
``zipfile`` parsed out of the central directory, instead of ``ZipFile.read``: that builds a
``ZipExtFile`` per call (~25 us of Python, as much as the rest of an imported row), and a
``ZipFile`` keeps a ``ZipInfo`` object per member (hundreds of MiB for a million images), where
the store keeps five numbers in a numpy table. Stored and deflated members (what image archives
use) are read this way and their CRC-32 is checked; any other compression goes through
``zipfile``, which finds the member by the name its local header gives.

Every distinct image name gets an integer id (``image_id``), so that per-image facts can live in
arrays rather than in a dict keyed by name (``ImageInfoCache`` in the quilt1m importer).
"""

from __future__ import annotations

import os
import struct
import threading
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from quilt_hf.errors import SkipRecord

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_FAST_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def base_name(path: str) -> str:
    # string ops, not pathlib: this runs once per row of a million-row lookup
    return path.replace("\\", "/").rsplit("/", 1)[-1]


class _ZipMembers:
    """Offsets, sizes, method and CRC of one archive's members, read by positioned reads."""

    def __init__(self, path: str, infos: list[zipfile.ZipInfo]) -> None:
        self.path = path
        self.table = np.array(
            [
                (i.header_offset, i.compress_size, i.compress_type, i.CRC, i.flag_bits & 1)
                for i in infos
            ],
            dtype=np.int64,
        ).reshape(-1, 5)
        self._local = threading.local()
        self._opened: list[int] = []
        self._lock = threading.Lock()

    def _fd(self) -> int:
        # one descriptor per thread; os.pread needs no shared file position
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self.path, os.O_RDONLY)
            with self._lock:
                self._opened.append(fd)
        return fd

    def close(self) -> None:
        with self._lock:
            for fd in self._opened:
                os.close(fd)
            self._opened.clear()
        self._local = threading.local()

    def read(self, index: int, name: str) -> bytes:
        """Member ``index`` (``name`` is for messages)."""
        offset, size, method, crc, encrypted = (int(v) for v in self.table[index])
        fd = self._fd()
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(
            os.pread(fd, _LOCAL_HEADER.size, offset)
        )
        if signature != _LOCAL_SIGNATURE:
            raise SkipRecord("corrupt_image", f"{name}: bad zip local header")
        if method not in _FAST_METHODS or encrypted:
            # rare: let zipfile handle (or refuse) it, by the member name in the local header
            member = os.pread(fd, name_length, offset + _LOCAL_HEADER.size).decode(
                "utf-8", "replace"
            )
            with zipfile.ZipFile(self.path) as archive:
                return archive.read(member)
        start = offset + _LOCAL_HEADER.size + name_length + extra_length
        data = os.pread(fd, size, start)
        if len(data) != size:
            raise SkipRecord("corrupt_image", f"{name}: truncated zip member")
        if method == zipfile.ZIP_DEFLATED:
            try:
                data = zlib.decompress(data, -15)
            except zlib.error as error:
                raise SkipRecord("corrupt_image", f"{name}: {error}") from error
        if zlib.crc32(data) != crc:
            raise SkipRecord("corrupt_image", f"{name}: CRC-32 mismatch in the zip")
        return data


class ImageStore:
    def __init__(self, paths: list[Path]) -> None:
        self._ids: dict[str, int] = {}  # base name -> image id
        # per id: archive index (-1: a file in a folder) and member index (or index in _files)
        locations: list[tuple[int, int]] = []
        self._files: list[str] = []
        self._archives: list[_ZipMembers] = []
        self.duplicates: Counter = Counter()

        def add(name: str, archive: int, member: int) -> None:
            if name in self._ids:
                self.duplicates[name] += 1  # keep the first: deterministic for an argument order
                return
            self._ids[name] = len(locations)
            locations.append((archive, member))

        for path in paths:
            path = Path(path)
            if path.is_dir():
                for root, _, files in os.walk(path):
                    for name in files:
                        self._files.append(str(Path(root, name)))
                        add(name, -1, len(self._files) - 1)
            elif zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    infos = [info for info in archive.infolist() if not info.is_dir()]
                self._archives.append(_ZipMembers(str(path), infos))
                for member, info in enumerate(infos):
                    add(base_name(info.filename), len(self._archives) - 1, member)
            else:
                raise FileNotFoundError(f"{path} is neither a folder nor a zip archive")
        self._locations = np.array(locations, dtype=np.int64).reshape(-1, 2)

    def __contains__(self, name: str) -> bool:
        return base_name(name) in self._ids

    def __len__(self) -> int:
        """Distinct image names (ids run from 0 to ``len(store) - 1``)."""
        return len(self._ids)

    def image_id(self, name: str) -> int | None:
        return self._ids.get(base_name(name))

    def read(self, name: str) -> bytes | None:
        """The image's bytes; None when no archive or folder holds it. A zip member that is
        damaged raises ``SkipRecord("corrupt_image")``."""
        image_id = self.image_id(name)
        return None if image_id is None else self.read_id(image_id, name)

    def read_id(self, image_id: int, name: str = "") -> bytes:
        archive, member = (int(v) for v in self._locations[image_id])
        if archive < 0:
            return Path(self._files[member]).read_bytes()
        return self._archives[archive].read(member, name or f"image {image_id}")

    def close(self) -> None:
        """Close the archives' file descriptors (a later read reopens them)."""
        for archive in self._archives:
            archive.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
