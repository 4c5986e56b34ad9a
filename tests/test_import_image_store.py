"""The image store reads zip members by offset: stored and deflated members, damaged ones
skipped with a reason, folders, duplicates, and other compressions through zipfile."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from quilt_hf.errors import SkipRecord
from quilt_hf.importers.image_store import ImageStore

PAYLOADS = {f"img_{i}.jpg": bytes([i]) * (100 + 37 * i) + b"tail" for i in range(5)}


def write_zip(path: Path, compression: int, prefix: str = "quilt_1m/") -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in PAYLOADS.items():
            archive.writestr(prefix + name, data)
    return path


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2]
)
def test_members_read_back_exactly(tmp_path, compression):
    with ImageStore([write_zip(tmp_path / "a.zip", compression)]) as store:
        assert len(store) == len(PAYLOADS)
        for name, data in reversed(PAYLOADS.items()):
            assert store.read(name) == data
            assert store.read(f"some/dir/{name}") == data  # looked up by base name
        assert store.read("absent.jpg") is None


def test_damaged_member_is_a_counted_skip_not_a_crash(tmp_path):
    path = write_zip(tmp_path / "a.zip", zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("quilt_1m/img_3.jpg")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode())
    raw[start + 5] ^= 0xFF  # one flipped byte inside the member's data
    path.write_bytes(bytes(raw))
    with ImageStore([path]) as store:
        assert store.read("img_2.jpg") == PAYLOADS["img_2.jpg"]
        with pytest.raises(SkipRecord) as caught:
            store.read("img_3.jpg")
    assert caught.value.reason == "corrupt_image" and "CRC" in caught.value.detail


def test_folders_and_duplicates_across_archives(tmp_path):
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "img_0.jpg").write_bytes(b"from the folder")
    (folder / "extra.jpg").write_bytes(b"only here")
    second = write_zip(tmp_path / "b.zip", zipfile.ZIP_DEFLATED, prefix="other/")
    with ImageStore([folder, second]) as store:
        assert store.read("img_0.jpg") == b"from the folder"  # the first source wins
        assert store.read("extra.jpg") == b"only here"
        assert store.read("img_4.jpg") == PAYLOADS["img_4.jpg"]
        assert store.duplicates == {"img_0.jpg": 1}
