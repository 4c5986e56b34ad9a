"""Safe image decoding and normalisation shared by every source.

Every image that enters the dataset passes through ``load_image``: it is decoded fully (so a
truncated file fails here, not in the trainer), checked against a pixel limit (decompression bombs),
converted to RGB, resized to a maximum side and re-encoded as JPEG. Failures raise ``SkipRecord``
with a stable reason that shard stats count.

A clean JPEG that needs no change (RGB, within the size limits, no metadata segment beyond JFIF,
ICC profile and Adobe colour marker, nothing after its end marker) is stored as it came instead:
re-encoding would cost a generation of quality and a third of the time, and the stored bytes and
their SHA-256 would depend on the JPEG encoder's version (which ``quilt rehydrate`` compares).
Anything else - EXIF (GPS positions, camera serials), XMP, comments, trailing bytes - is re-encoded,
which drops it.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

from quilt_hf.errors import SkipRecord

DEFAULT_MAX_PIXELS = 50_000_000  # ~7000x7000; larger files are treated as decompression bombs
# JPEG segments a stored-as-is file may carry: JFIF header, ICC colour profile, Adobe colour marker
CLEAN_JPEG_SEGMENTS = frozenset({"APP0", "APP2", "APP14"})


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
                clean_jpeg = _is_clean_jpeg(probe, data)
                # a loaded image stays usable after its file closes: no copy when already RGB
                image = probe if probe.mode == "RGB" else probe.convert("RGB")
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
    elif clean_jpeg:
        return StoredImage(data, sha256_hex(data), image.size[0], image.size[1], image)
    # Nothing of the source's metadata goes into the stored file: PIL would otherwise write the
    # source's JPEG comment back (names, case numbers), as image.info carries it.
    image.info = {}
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    jpeg = buffer.getvalue()
    return StoredImage(jpeg, sha256_hex(jpeg), image.size[0], image.size[1], image)


def _is_clean_jpeg(image: Image.Image, data: bytes) -> bool:
    """An RGB JPEG with no metadata beyond CLEAN_JPEG_SEGMENTS and nothing after its end marker."""
    return (
        image.format == "JPEG"
        and image.mode == "RGB"
        and all(marker in CLEAN_JPEG_SEGMENTS for marker, _ in getattr(image, "applist", ()))
        and data.endswith(b"\xff\xd9")
    )
