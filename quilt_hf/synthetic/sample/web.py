"""Web / LAION-style pairs: ``laion/metadata.parquet`` and the images the sample server serves.

Columns: ``key`` (img2dataset-style 9-digit key), ``url`` (``http://127.0.0.1:PORT/laion/...``),
``caption`` (alt-text), ``similarity`` (float32, CLIP image-text similarity as LAION ships it),
``width``/``height`` (int64, as the page declared them; null when unknown) and ``license`` (``?``
when unknown, as in LAION). Rows are shuffled.

Besides histology (JPEG and PNG, square and not) and non-histology images (whose alt-text often
still mentions pathology, so only the image filter can catch them), it holds one exact and one
near duplicate of tweet photos (cross-source dedup) and one row per failure a web downloader must
count: HTTP 500, 404, a response slower than any sane timeout, ``X-Robots-Tag: noai``, a truncated
JPEG file, a transfer cut short of its Content-Length, a decompression bomb (a PNG declaring
30000x30000 pixels in ~110 KB) and an HTML page served for an image url.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from quilt_hf.synthetic.histology import Tile, histology_tiles
from quilt_hf.synthetic.sample.captions import entity_for, pick
from quilt_hf.synthetic.sample.common import CorpusWriter, jpeg_bytes, png_bytes
from quilt_hf.synthetic.sample.nonhistology import non_histology_images

SUBSET = "laion"
METADATA_FILE = "laion/metadata.parquet"
HISTOLOGY_ROWS = 30
NON_HISTOLOGY_ROWS = 22
BOMB_SIDE = 30_000
SLOW_DELAY_S = 5.0  # longer than build.yaml's download timeout
LICENSES = (
    "?",
    "?",
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/licenses/by-sa/3.0/",
)
HISTOLOGY_ALT = (
    "Micrograph of {d}, H&E stain",
    "Histology of {d} ({o}) under the microscope",
    "{D} - pathology outlines style image",
    "Photomicrograph showing {d}. Stock photo",
    "{D} histopathology slide",
)
NON_HISTOLOGY_ALT = {
    "chart": ("Bar chart of cancer survival rates", "Pathology lab turnaround time graph"),
    "people": ("Our pathology team at the annual meeting", "Dermatopathology residents 2019"),
    "text_slide": ("Lecture slide: introduction to histopathology", "Grand rounds title slide"),
    "scene": ("Beautiful mountain landscape at sunset", "Hills and trees wallpaper"),
}
SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("url", pa.string()),
        ("caption", pa.string()),
        ("similarity", pa.float32()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("license", pa.string()),
    ]
)


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` white pixels: tiny on disk, huge when decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _histology_alt(rng: np.random.Generator, tile: Tile) -> str:
    entity = entity_for(rng, tile.stain)
    template = pick(rng, HISTOLOGY_ALT)
    return template.format(d=entity.diagnosis, D=entity.diagnosis.capitalize(), o=entity.organ)


def write_sample_web(
    writer: CorpusWriter, rng: np.random.Generator, tweet_photos: list[tuple[bytes, Tile]]
) -> dict[str, Any]:
    """Write the web images, the server faults and the parquet metadata; returns the config entry."""
    rows: list[dict[str, Any]] = []

    def add_row(
        url_path: str, caption: str, size: tuple[int, int] | None, similarity: float
    ) -> None:
        rows.append(
            {
                "url": writer.url(url_path),
                "caption": caption,
                "similarity": similarity,
                "width": size[0] if size else None,
                "height": size[1] if size else None,
                "license": pick(rng, LICENSES),
            }
        )

    def add_image(
        name: str,
        data: bytes,
        caption: str,
        size: tuple[int, int] | None,
        histology: bool,
        magnification: int | None,
        kind: str,
        fault: str | None = None,
        similarity: float | None = None,
    ) -> str:
        url_path = f"/laion/{name}"
        writer.write_web(url_path, data)
        writer.label(
            data,
            subset=SUBSET,
            source_id=writer.url(url_path),
            path=f"web{url_path}",
            histology=histology,
            magnification=magnification,
            kind=kind,
            fault=fault,
        )
        low, high = (0.28, 0.40) if histology else (0.20, 0.32)
        add_row(url_path, caption, size, similarity or float(rng.uniform(low, high)))
        return url_path

    def add_tile(name: str, data: bytes, tile, size=None, fault: str | None = None) -> str:
        """A histology tile's row: alt text, size, magnification and stain come from the tile."""
        return add_image(
            name,
            data,
            _histology_alt(rng, tile),
            size or tile.image.size,
            True,
            tile.magnification,
            tile.stain,
            fault=fault,
        )

    for index, tile in enumerate(histology_tiles(rng, HISTOLOGY_ROWS)):
        image = tile.image
        if index % 3 == 1:  # web images are rarely square
            width, height = image.size
            image = image.crop((0, 0, width, height * 3 // 4))
        as_png = index % 8 == 5
        data = png_bytes(image) if as_png else jpeg_bytes(image, quality=int(rng.integers(70, 95)))
        add_tile(f"histo-{index:03d}.{'png' if as_png else 'jpg'}", data, tile, image.size)

    for index, picture in enumerate(non_histology_images(rng, NON_HISTOLOGY_ROWS)):
        data = jpeg_bytes(picture.image)
        add_image(
            f"photo-{index:03d}.jpg",
            data,
            pick(rng, NON_HISTOLOGY_ALT[picture.kind]),
            picture.image.size,
            False,
            None,
            picture.kind,
        )

    # Cross-source duplicates of tweet photos: the same bytes, and a re-scaled re-encoding.
    data, tile = tweet_photos[0]
    add_tile("repost-exact.jpg", data, tile)
    data, tile = tweet_photos[1]
    smaller = tile.image.resize(
        (tile.image.width * 9 // 10, tile.image.height * 9 // 10), Image.Resampling.BICUBIC
    )
    add_tile("repost-resized.jpg", jpeg_bytes(smaller, quality=70), tile, smaller.size)

    # One row per failure the downloader must count.
    faulty = histology_tiles(rng, 4)
    good = jpeg_bytes(faulty[0].image)
    slow = add_tile("slow.jpg", good, faulty[0], fault="timeout")
    writer.add_fault(slow, delay=SLOW_DELAY_S)
    noai_bytes = jpeg_bytes(faulty[1].image)
    noai = add_tile("noai.jpg", noai_bytes, faulty[1], fault="x_robots_noai")
    writer.add_fault(noai, headers={"X-Robots-Tag": "noai, noimageai"})
    full = jpeg_bytes(faulty[2].image)
    add_tile("truncated.jpg", full[: len(full) // 2], faulty[2], fault="truncated_image")
    cut_bytes = jpeg_bytes(faulty[3].image)
    cut = add_tile("cut-transfer.jpg", cut_bytes, faulty[3], fault="truncated_transfer")
    writer.add_fault(cut, truncate=len(cut_bytes) // 3)
    add_image(
        "huge.png",
        bomb_png(),
        "High resolution whole slide scan of skin",
        None,
        False,
        None,
        "decompression_bomb",
        fault="decompression_bomb",
    )
    writer.write_web(
        "/laion/hotlink.jpg",
        b"<!doctype html><html><head><title>Hotlinking not "
        b"allowed</title></head><body><p>Please visit our site.</p></body></html>\n",
    )
    writer.add_fault("/laion/hotlink.jpg", headers={"Content-Type": "text/html; charset=utf-8"})
    add_row("/laion/hotlink.jpg", "Squamous cell carcinoma histology", (800, 600), 0.31)
    writer.add_fault("/laion/server-error.jpg", status=500)
    add_row("/laion/server-error.jpg", "Melanocytic nevus, H&E", (640, 480), 0.33)
    add_row("/laion/gone.jpg", "Dermatofibroma micrograph", (512, 512), 0.30)  # 404

    order = rng.permutation(len(rows))
    table_rows = [{"key": f"{position:09d}", **rows[int(i)]} for position, i in enumerate(order)]
    table = pa.Table.from_pylist(table_rows, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    writer.write(METADATA_FILE, sink.getvalue().to_pybytes())
    return {SUBSET: {"metadata": [METADATA_FILE], "min_similarity": 0.0}}
