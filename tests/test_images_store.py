"""load_image: what is stored for an incoming image - a clean JPEG as it came, everything else
decoded, checked and re-encoded (metadata dropped)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from quilt_hf.errors import SkipRecord
from quilt_hf.images import load_image, sha256_hex


def encode(size=(96, 64), fmt="JPEG", mode="RGB", **options) -> bytes:
    rng = np.random.default_rng(0)
    array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    image = Image.fromarray(array).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_a_clean_jpeg_is_stored_as_it_came():
    data = encode()
    stored = load_image(data, max_side=512)
    assert stored.jpeg == data and stored.sha256 == sha256_hex(data)
    assert (stored.width, stored.height) == (96, 64) and stored.image.mode == "RGB"


def test_metadata_and_trailing_bytes_are_dropped_by_re_encoding():
    exif = Image.Exif()
    exif[0x8825] = {2: (47.0, 36.0, 0.0)}  # a GPS position
    exif[0x010F] = "PhoneMaker"
    with_exif = encode(exif=exif)
    with_comment = encode(comment=b"patient: J. Doe")
    with_tail = encode() + b"PK\x03\x04 hidden payload"
    for data in (with_exif, with_comment, with_tail):
        stored = load_image(data, max_side=512)
        assert stored.jpeg != data
        reread = Image.open(io.BytesIO(stored.jpeg))
        assert "exif" not in reread.info and "comment" not in reread.info
        assert stored.jpeg.endswith(b"\xff\xd9")


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (encode(size=(800, 400)), (512, 256)),  # too large: resized
        (encode(fmt="PNG"), (96, 64)),  # not a JPEG
        (encode(mode="L"), (96, 64)),  # grey: stored as RGB
        (encode(mode="CMYK"), (96, 64)),
    ],
)
def test_other_images_are_converted_to_rgb_jpeg(data, size):
    stored = load_image(data, max_side=512)
    assert stored.jpeg != data
    reread = Image.open(io.BytesIO(stored.jpeg))
    assert reread.format == "JPEG" and reread.mode == "RGB" and reread.size == size


def test_a_truncated_jpeg_is_skipped_not_stored():
    with pytest.raises(SkipRecord) as caught:
        load_image(encode()[:-200])
    assert caught.value.reason == "corrupt_image"
