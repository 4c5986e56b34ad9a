"""Local dataset folders load their own, current rows: the cache follows the folder's files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from quilt_hf.dataset_loading import load_dataset
from quilt_hf.eval.retrieval import load_pairs
from quilt_hf.synthetic.tiny_clip import many_to_many_rows, write_quilt_folder


def write(folder: Path, images: int, offset: int) -> list[str]:
    shutil.rmtree(folder, ignore_errors=True)
    rows = many_to_many_rows(images, offset=offset)
    write_quilt_folder(folder, {"train": rows, "val": rows})
    return sorted(row["caption"] for row in rows)


@pytest.fixture
def two_folders_named_quilt_1m(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "a" / "quilt_1m", tmp_path / "b" / "quilt_1m"


def test_another_folder_with_the_same_name_and_card_gives_its_own_rows(two_folders_named_quilt_1m):
    first, second = two_folders_named_quilt_1m
    captions_a = write(first, 3, offset=0)
    captions_b = write(second, 4, offset=100)
    assert sorted(load_dataset(first, split="train")["caption"]) == captions_a
    # plain datasets.load_dataset(second) returns the first folder's cached rows here (5.2)
    assert sorted(load_dataset(second, split="train")["caption"]) == captions_b


def test_a_rebuilt_folder_gives_the_new_rows_through_eval_retrieval(two_folders_named_quilt_1m):
    folder, _ = two_folders_named_quilt_1m
    write(folder, 3, offset=0)
    assert len(load_pairs(str(folder), split="val").texts) == len(many_to_many_rows(3))
    captions = write(folder, 5, offset=50)  # a rebuild into the same folder
    for parquet in (folder / "data").glob("*.parquet"):  # same-second rebuilds differ in mtime too
        os.utime(parquet, ns=(parquet.stat().st_atime_ns, parquet.stat().st_mtime_ns + 10**9))
    pairs = load_pairs(str(folder), split="val")
    assert sorted(pairs.texts) == captions


def test_an_unchanged_folder_reuses_its_cache(two_folders_named_quilt_1m):
    folder, _ = two_folders_named_quilt_1m
    write(folder, 3, offset=0)
    first = load_dataset(folder, split="train")
    again = load_dataset(folder, split="train")
    assert first.cache_files == again.cache_files  # no second copy of an unchanged folder
