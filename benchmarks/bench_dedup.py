"""Dedup stage speed: sha256 + perceptual hash, images/s per core, on N synthetic 512 px JPEGs.

    python benchmarks/bench_dedup.py [--n 2000] [--repeats 3]

One process (one core). Printed side by side, medians of ``--repeats``:
  - sha256 of the JPEG bytes alone (the floor of exact dedup),
  - ``imagehash.phash`` on decoded images (the peer library, called directly),
  - our stage: sha256 + ``phash_int`` + ``Deduplicator.check_and_add`` (band-indexed lookup),
  - the near-dup lookup alone at 1M stored hashes: band index vs a brute-force scan.
Images are already decoded (the build decodes once for the classifier); decode is timed separately.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time

import numpy as np
from PIL import Image

from quilt_hf.filters.dedup import Deduplicator, phash_int


def synthetic_jpegs(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    base = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    for _ in range(n):
        tile = np.roll(base, int(rng.integers(64)), axis=int(rng.integers(2)))
        tile = np.clip(tile.astype(int) + rng.integers(-40, 40, size=3), 0, 255).astype(np.uint8)
        image = Image.fromarray(tile).resize((512, 512), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def _median_rate(n: int, run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--stored", type=int, default=1_000_000, help="hashes stored for the lookup test"
    )
    args = parser.parse_args(argv)
    import imagehash

    jpegs = synthetic_jpegs(args.n)
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in jpegs]

    def decode() -> None:
        for data in jpegs:
            Image.open(io.BytesIO(data)).convert("RGB")

    def sha_only() -> None:
        for data in jpegs:
            hashlib.sha256(data).hexdigest()

    def peer_phash() -> None:
        for image in images:
            imagehash.phash(image)

    def our_stage() -> None:
        dedup = Deduplicator(phash_max_distance=6)
        for data, image in zip(jpegs, images, strict=True):
            dedup.check_and_add(hashlib.sha256(data).hexdigest(), phash_int(image))

    rates = {
        "JPEG decode (for reference)": _median_rate(args.n, decode, args.repeats),
        "sha256 only": _median_rate(args.n, sha_only, args.repeats),
        "imagehash.phash only (peer)": _median_rate(args.n, peer_phash, args.repeats),
        "ours: sha256 + phash + check_and_add": _median_rate(args.n, our_stage, args.repeats),
    }
    print(
        f"{args.n} synthetic 512x512 JPEGs, 1 process, images/s per core (median of {args.repeats}):"
    )
    for name, rate in rates.items():
        print(f"  {name:<40} {rate:10.1f}")
    print(
        f"  ours / peer phash ratio: {rates['ours: sha256 + phash + check_and_add'] / rates['imagehash.phash only (peer)']:.2f}"
    )

    import psutil

    rng = np.random.default_rng(1)
    stored = [int(v) * 2 for v in rng.integers(0, 2**63, size=args.stored, dtype=np.uint64)]
    keys = [f"{i:064x}" for i in range(args.stored)]
    rss_before = psutil.Process().memory_info().rss
    dedup = Deduplicator(phash_max_distance=6)
    start = time.perf_counter()
    for key, value in zip(keys, stored, strict=True):
        dedup.check_and_add(key, value)
    build_s = time.perf_counter() - start
    index_mib = (psutil.Process().memory_info().rss - rss_before) / 2**20
    queries = [int(v) for v in rng.integers(0, 2**63, size=1000, dtype=np.uint64)]
    start = time.perf_counter()
    for query in queries:
        dedup.find_near(query)
    indexed = len(queries) / (time.perf_counter() - start)
    array = np.array(stored, dtype=np.uint64)
    start = time.perf_counter()
    for query in queries[:50]:
        np.any(np.bitwise_count(array ^ np.uint64(query)) <= 6)
    brute = 50 / (time.perf_counter() - start)
    print(f"\nnear lookup with {args.stored:,} stored hashes (distance <= 6):")
    print(
        f"  inserting {args.stored:,}: {args.stored / build_s:,.0f} hashes/s, RSS growth {index_mib:,.0f} MiB"
    )
    print(f"  band index (4x16 bits)                   {indexed:10.1f} lookups/s")
    print(f"  brute force, numpy vectorised scan       {brute:10.1f} lookups/s")
    print(f"  index / brute ratio: {indexed / brute:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
