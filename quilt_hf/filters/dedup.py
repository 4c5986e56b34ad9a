"""Exact (sha256) and near (perceptual hash) duplicate detection across all sources of a build.

One ``Deduplicator`` is shared by every subset, so a figure posted on Twitter and published in
PubMed is kept once. It holds only integers and 32-byte digests, never images: ~1M images cost
on the order of a few hundred MB at most.

Near-duplicate lookup uses multi-index hashing (Norouzi et al., "Fast search in Hamming space
with multi-index hashing", CVPR 2012): the 64-bit pHash is split into d+1 disjoint bands. If two
hashes differ in at most d bits, those bits fall in at most d bands, so by pigeonhole at least one
band is identical. Each band has its own dict band-value -> hashes, so a lookup only checks the
hashes that share a band exactly instead of scanning all n stored hashes.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from quilt_hf.errors import QuiltError

HASH_BITS = 64
DUPLICATE_EXACT = "duplicate_exact"
DUPLICATE_NEAR = "duplicate_near"


def phash_int(image: Image.Image) -> int:
    """The 64-bit perceptual hash (``imagehash.phash``) of ``image`` as an int."""
    import imagehash

    bits = imagehash.phash(image.convert("RGB")).hash.flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _band_slices(n_bands: int) -> list[tuple[int, int]]:
    """(shift, mask) for ``n_bands`` near-equal bands covering all 64 bits."""
    base, extra = divmod(HASH_BITS, n_bands)
    slices, shift = [], 0
    for band in range(n_bands):
        width = base + (1 if band < extra else 0)
        slices.append((shift, (1 << width) - 1))
        shift += width
    return slices


class Deduplicator:
    """``check_and_add(sha256, phash)`` -> ``"duplicate_exact"``, ``"duplicate_near"`` or None.

    An image that is new is remembered; a duplicate is not (the first one seen stays the
    representative). ``phash_max_distance`` is the largest Hamming distance still called "near";
    0 disables near-dup detection beyond identical hashes, a negative value disables it entirely.
    """

    def __init__(self, phash_max_distance: int = 6):
        if phash_max_distance >= HASH_BITS:
            raise QuiltError(f"phash_max_distance must be < {HASH_BITS}")
        self.max_distance = int(phash_max_distance)
        self._digests: set[bytes] = set()
        self._bands = _band_slices(self.max_distance + 1) if self.max_distance >= 0 else []
        self._index: list[dict[int, list[int]]] = [{} for _ in self._bands]
        self.n_hashes = 0

    def __len__(self) -> int:
        return len(self._digests)

    def _digest(self, sha256: str) -> bytes:
        try:
            digest = bytes.fromhex(sha256)
        except ValueError as error:
            raise QuiltError(f"not a hex sha256: {sha256!r}") from error
        if len(digest) != 32:
            raise QuiltError(f"not a sha256 digest (32 bytes): {sha256!r}")
        return digest

    def find_near(self, phash: int) -> int | None:
        """A stored hash within ``max_distance`` bits of ``phash``, or None."""
        for (shift, mask), index in zip(self._bands, self._index, strict=True):
            for candidate in index.get((phash >> shift) & mask, ()):
                if (candidate ^ phash).bit_count() <= self.max_distance:
                    return candidate
        return None

    def check_and_add(self, sha256: str, phash: int | None) -> str | None:
        """The duplicate reason for this image, or None (and remember it) if it is new."""
        digest = self._digest(sha256)
        if digest in self._digests:
            return DUPLICATE_EXACT
        if phash is not None and self._bands:
            if not 0 <= phash < (1 << HASH_BITS):
                raise QuiltError(f"a perceptual hash must be a 64-bit unsigned int, got {phash}")
            if self.find_near(phash) is not None:
                return DUPLICATE_NEAR
            for (shift, mask), index in zip(self._bands, self._index, strict=True):
                index.setdefault((phash >> shift) & mask, []).append(phash)
            self.n_hashes += 1
        self._digests.add(digest)
        return None
