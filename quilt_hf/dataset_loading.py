"""``load_dataset`` for a Hub id or a local dataset folder, with a cache that follows the folder.

datasets 5.2 keys the cache of a local folder by the folder's name and README ``configs:`` only,
not by its files: after rebuilding ``quilt_1m/``, or given another folder that is also named
``quilt_1m``, ``load_dataset("quilt_1m")`` silently returns the rows cached the first time
(measured: ``/a/quilt_1m`` then ``/b/quilt_1m`` loads ``/a``'s rows twice). Every reader in
quilt-hf (trainer, eval, gallery) loads through here, so a local folder gets a cache folder keyed
by its files' names, sizes and mtimes: a changed folder is a new cache entry, an unchanged one is
reused. Hub ids are keyed by revision by datasets itself and pass straight through.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def content_cache_dir(folder: Path) -> str:
    """A datasets cache folder for ``folder``, keyed by the files datasets may read in it."""
    from datasets import config as datasets_config

    folder = folder.resolve()
    digest = hashlib.sha256(str(folder).encode())
    # hidden folders (.quilt_work shards, .cache, .git) are not dataset files
    files = (
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    for file in sorted(files):
        stat = file.stat()
        digest.update(f"{file.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return str(Path(datasets_config.HF_DATASETS_CACHE) / "quilt_hf_local" / digest.hexdigest()[:16])


def load_dataset(source: str | Path, *args: Any, **kwargs: Any) -> Any:
    """``datasets.load_dataset(source, ...)``; a local folder gets its content-keyed cache."""
    import datasets

    path = Path(source)
    if path.is_dir() and "cache_dir" not in kwargs and not kwargs.get("streaming"):
        kwargs["cache_dir"] = content_cache_dir(path)
    return datasets.load_dataset(str(source), *args, **kwargs)
