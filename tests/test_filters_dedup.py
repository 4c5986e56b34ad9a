"""Exact and near duplicate detection across sources, and the band index against brute force."""

from __future__ import annotations

import hashlib
import io

import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from quilt_hf.errors import QuiltError
from quilt_hf.filters.dedup import DUPLICATE_EXACT, DUPLICATE_NEAR, Deduplicator, phash_int
from quilt_hf.synthetic.labelled_images import labelled_images


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images():
    return labelled_images("eval", 6, seed=11)[0]


def test_phash_int_matches_imagehash(images):
    for image in images:
        value = phash_int(image)
        assert 0 <= value < 2**64
        assert f"{value:016x}" == str(imagehash.phash(image))


def test_exact_near_and_new_across_sources(images):
    dedup = Deduplicator(phash_max_distance=6)
    original = images[0]
    # "twitter" posts the image; "pubmed" publishes the same bytes; "laion" a re-encoded, resized copy
    tweet = _jpeg(original)
    assert dedup.check_and_add(_sha(tweet), phash_int(original)) is None
    assert dedup.check_and_add(_sha(tweet), phash_int(original)) == DUPLICATE_EXACT
    copy = Image.open(io.BytesIO(_jpeg(original.resize((200, 200)), quality=60)))
    copy = copy.filter(ImageFilter.GaussianBlur(0.5))
    copy_bytes = _jpeg(copy)
    assert _sha(copy_bytes) != _sha(tweet)
    assert (phash_int(copy) ^ phash_int(original)).bit_count() <= 6
    assert dedup.check_and_add(_sha(copy_bytes), phash_int(copy)) == DUPLICATE_NEAR
    # different images are new
    for other in images[1:]:
        assert dedup.check_and_add(_sha(_jpeg(other)), phash_int(other)) is None
    assert len(dedup) == len(images)  # duplicates are not remembered


def test_near_threshold_is_inclusive_and_configurable():
    base = 0x0123_4567_89AB_CDEF
    six_bits_off = base ^ 0b111111
    seven_bits_off = base ^ (0b1111111 << 20)
    dedup = Deduplicator(phash_max_distance=6)
    assert dedup.check_and_add("00" * 32, base) is None
    assert dedup.check_and_add("01" * 32, six_bits_off) == DUPLICATE_NEAR
    assert dedup.check_and_add("02" * 32, seven_bits_off) is None
    exact_only = Deduplicator(phash_max_distance=-1)
    assert exact_only.check_and_add("00" * 32, base) is None
    assert exact_only.check_and_add("01" * 32, base) is None
    assert exact_only.check_and_add("01" * 32, base) == DUPLICATE_EXACT


def test_missing_phash_still_dedups_exact():
    dedup = Deduplicator()
    assert dedup.check_and_add("ab" * 32, None) is None
    assert dedup.check_and_add("ab" * 32, None) == DUPLICATE_EXACT


def test_bad_inputs_raise_clear_errors():
    dedup = Deduplicator()
    with pytest.raises(QuiltError, match="sha256"):
        dedup.check_and_add("not-hex", 1)
    with pytest.raises(QuiltError, match="sha256"):
        dedup.check_and_add("ab" * 8, 1)
    with pytest.raises(QuiltError, match="64-bit"):
        dedup.check_and_add("ab" * 32, 2**64)
    with pytest.raises(QuiltError):
        Deduplicator(phash_max_distance=64)


def _brute_force(stored: list[int], query: int, distance: int) -> bool:
    return any((query ^ s).bit_count() <= distance for s in stored)


@pytest.mark.parametrize("distance", [0, 3, 4, 6, 10, 13])
def test_band_index_equals_brute_force_on_random_hashes(distance):
    rng = np.random.default_rng(distance)
    stored = [int(v) for v in rng.integers(0, 2**63, size=3000, dtype=np.uint64) * 2 + 1]
    queries = []
    for _ in range(1500):  # half near a stored hash (0..distance+2 bits flipped), half random
        if rng.random() < 0.5:
            flips = rng.choice(64, size=int(rng.integers(0, distance + 3)), replace=False)
            queries.append(stored[int(rng.integers(len(stored)))] ^ sum(1 << int(b) for b in flips))
        else:
            queries.append(int(rng.integers(0, 2**63, dtype=np.uint64)) * 2)
    dedup = Deduplicator(phash_max_distance=distance)
    stored = [v for i, v in enumerate(stored) if dedup.check_and_add(f"{i:064x}", v) is None]
    hits = 0
    for query in queries:
        expected = _brute_force(stored, query, distance)
        assert (dedup.find_near(query) is not None) == expected
        hits += expected
    assert 0 < hits < len(queries)  # both outcomes were exercised


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    st.integers(0, 2**64 - 1),
    st.integers(0, 12),
)
def test_check_and_add_agrees_with_brute_force(hashes, query, distance):
    dedup = Deduplicator(phash_max_distance=distance)
    kept: list[int] = []
    for i, value in enumerate(hashes):
        reason = dedup.check_and_add(f"{i:064x}", value)
        assert (reason == DUPLICATE_NEAR) == _brute_force(kept, value, distance)
        if reason is None:
            kept.append(value)
    found = dedup.find_near(query)
    assert (found is not None) == _brute_force(kept, query, distance)
    if found is not None:
        assert (found ^ query).bit_count() <= distance
