"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one, never
half of one. Write to ``NAME.tmp`` beside the target, then ``os.replace`` it over the target (atomic
on POSIX within one filesystem); a write that fails leaves no ``.tmp`` behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; it replaces ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data: Any, *, indent: int = 2) -> None:
    """JSON with sorted keys (stable files for equal data); non-JSON values written as ``str``."""
    write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=True, default=str))
