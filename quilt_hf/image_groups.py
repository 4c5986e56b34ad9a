"""Which rows show the same image. Quilt-1M is many-to-many: one image has several captions (rows
sharing ``image_sha256``). Training samples one item per image and retrieval counts an image's
texts as its positives; both group rows with ``image_codes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def image_codes(keys: Sequence[Any] | Any) -> np.ndarray:
    """Per row, the index of the image it shows (``int64``, dense from 0).

    Rows with the same key share an index, numbered in order of first appearance; a row with no
    key (null or ``""``) is an image of its own, numbered after all the keyed images. ``keys`` is a
    list or a pyarrow (chunked) array, e.g. a ``datasets`` table column: it is hashed in Arrow, not
    in a Python loop, so a million-row split groups in well under a second.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(keys, pa.ChunkedArray):
        array = keys.combine_chunks() if keys.num_chunks else pa.array([], keys.type)
    elif isinstance(keys, pa.Array):
        array = keys
    else:
        array = pa.array(list(keys))
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        array = pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
    codes = np.asarray(array.dictionary_encode().indices.fill_null(-1), dtype=np.int64)
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return codes


def rows_per_image(codes: np.ndarray) -> list[np.ndarray]:
    """The row indices of each image of ``image_codes``, in image order (rows ascending)."""
    order = np.argsort(codes, kind="stable")
    _, starts = np.unique(codes[order], return_index=True)
    return np.split(order, starts[1:]) if len(order) else []
