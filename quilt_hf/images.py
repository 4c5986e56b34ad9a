"""Safe image decoding and normalisation shared by every source.

Every image that enters the dataset passes through ``load_image``: it is decoded fully (so a
truncated file fails here, not in the trainer), checked against a pixel limit (decompression bombs),
converted to RGB, resized to a maximum side and re-encoded as JPEG. Failures raise ``SkipRecord``
with a stable reason that shard stats count.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

from quilt_hf.errors import SkipRecord

DEFAULT_MAX_PIXELS = 50_000_000  # ~7000x7000; larger files are treated as decompression bombs


@dataclass(frozen=True)
class StoredImage:
    """An image as it will be stored: JPEG bytes, their hash and size."""

    jpeg: bytes
    sha256: str
    width: int
    height: int
    image: Image.Image  # the decoded RGB image, for classifiers and hashing

    def as_feature(self, path: str) -> dict[str, object]:
        """The value of a ``datasets.Image`` column."""
        return {"bytes": self.jpeg, "path": path}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_image(
    data: bytes,
    *,
    max_side: int = 512,
    min_side: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    quality: int = 90,
) -> StoredImage:
    """Decode ``data``, validate it, and return the normalised JPEG to store."""
    if not data:
        raise SkipRecord("empty_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise SkipRecord(
                        "decompression_bomb", f"{width}x{height} > {max_pixels} pixels"
                    )
                probe.load()  # full decode: truncated files fail here
                image = probe.convert("RGB")
    except SkipRecord:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise SkipRecord("decompression_bomb", str(error)) from error
    except Exception as error:  # PIL raises many types for corrupt data
        raise SkipRecord("corrupt_image", f"{type(error).__name__}: {error}") from error
    if min(image.size) < min_side:
        raise SkipRecord("image_too_small", f"{image.size[0]}x{image.size[1]} < {min_side}")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    jpeg = buffer.getvalue()
    return StoredImage(jpeg, sha256_hex(jpeg), image.size[0], image.size[1], image)
