"""A synthetic dataset in the quilt_1m schema, quick to make at any size (tests, benchmark).

Images are small crops of a real immunohistochemistry slide (cut by ``synthetic.histology``),
reused across rows as in the real many-to-many pairing; captions are drawn from histopathology
words with real UMLS ids from the shipped lexicon. Written with pyarrow in the dataset's own parquet layout.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from quilt_hf.schema import FEATURES
from quilt_hf.synthetic.histology import slide_jpegs
from quilt_hf.synthetic.quilt_folder import write_quilt_rows

WORDS = [
    "adenocarcinoma",
    "gland",
    "glands",
    "nuclei",
    "nucleus",
    "mitotic",
    "figures",
    "stroma",
    "fibrosis",
    "necrosis",
    "lymphocytes",
    "eosinophils",
    "granuloma",
    "squamous",
    "epithelium",
    "keratin",
    "pearls",
    "mucin",
    "signet",
    "ring",
    "melanoma",
    "melanocytes",
    "dermis",
    "epidermis",
    "hepatocytes",
    "portal",
    "tract",
    "bile",
    "duct",
    "colon",
    "crypts",
    "villi",
    "plasma",
    "cells",
    "pleomorphism",
    "chromatin",
    "nucleoli",
    "capsule",
    "invasion",
    "margin",
    "lymph",
    "node",
    "follicles",
    "germinal",
    "center",
    "sinus",
    "histiocytes",
    "giant",
    "cell",
    "collagen",
    "vessels",
    "hemorrhage",
    "inflammation",
    "infiltrate",
    "atypia",
    "carcinoma",
    "sarcoma",
    "spindle",
    "cells",
    "whorls",
    "psammoma",
    "bodies",
]
FILLER = [
    "here",
    "we",
    "see",
    "this",
    "is",
    "a",
    "the",
    "of",
    "with",
    "and",
    "at",
    "high",
    "low",
    "power",
    "you",
    "can",
    "notice",
]
PATHOLOGIES = ("dermatopathology", "gastrointestinal", "hematopathology", "breast", "soft tissue")
VIDEO_SECONDS = 600.0
SLIDE_SECONDS = 20.0


def write_synthetic_dataset(
    folder: Path,
    rows: int,
    *,
    images: int | None = None,
    image_size: int = 48,
    videos: int | None = None,
    val_fraction: float = 0.05,
    seed: int = 0,
) -> Path:
    """Write ``folder/data/{train,val}-00000-of-00001.parquet``; returns ``folder``."""
    from quilt_hf.text.lexicon import load_lexicon

    rng = random.Random(seed)
    folder = Path(folder)
    images = images or max(1, rows // 2)
    videos = videos or max(1, rows // 200)
    tiles = slide_jpegs("IHC", images, image_size, seed, quality=80, max_zoom_out=4)
    hashes = [hashlib.sha256(t).hexdigest() for t in tiles]
    cuis = sorted({t.cui for t in load_lexicon().canonical.values() if t.cui})
    by_split: dict[str, list[dict]] = {"train": [], "val": []}
    for i in range(rows):
        subset = rng.choices(("quilt", "openpath", "pubmed", "laion"), (78, 13, 6, 3))[0]
        tile = rng.randrange(images)
        # A video shows one slide per SLIDE_SECONDS slot; its rows pair that slide with narration.
        video_number, slot = (
            rng.randrange(videos),
            rng.randrange(int(VIDEO_SECONDS // SLIDE_SECONDS)),
        )
        if subset == "quilt":
            tile = (video_number * 7919 + slot * 104729) % images
        words = rng.choices(WORDS, k=rng.randint(3, 12)) + rng.choices(FILLER, k=rng.randint(2, 20))
        rng.shuffle(words)
        caption = " ".join(words).capitalize() + "."
        video = f"vid{video_number:06d}"
        source = {
            "quilt": video,
            "openpath": str(10**17 + rng.randrange(10**9)),
            "pubmed": f"PMC{rng.randrange(10**7)}/F{rng.randint(1, 6)}",
            "laion": f"https://example.org/histology/{i}.jpg",
        }[subset]
        split = "val" if rng.random() < val_fraction else "train"
        slide_time = slot * SLIDE_SECONDS + 1.0
        start = (
            max(0.0, slide_time - 1 + rng.choice((0.0, 0.0, 7.0))) if subset == "quilt" else None
        )
        record = {name: None for name in FEATURES}
        record.update(
            image={"bytes": tiles[tile], "path": None},
            image_path=f"{subset}_{hashes[tile][:16]}.jpg",
            caption=caption,
            subset=subset,
            split=split,
            pathology=rng.sample(PATHOLOGIES, rng.randint(0, 2)),
            roi_text=[],
            noisy_text=caption,
            corrected_text=caption,
            med_umls_ids=rng.sample(cuis, rng.randint(0, 5)),
            magnification=rng.choice((-1, 0, 1, 2)),
            height=image_size,
            width=image_size,
            single_wsi=-1,
            not_histology=0,
            source_id=source,
            start_time=start,
            end_time=start + rng.choice((7.0, 14.0)) if start is not None else None,
            image_sha256=hashes[tile],
            image_url=f"https://www.youtube.com/watch?v={video}" if subset == "quilt" else "",
            image_time=slide_time if start is not None else None,
            text_source="synthetic",
            license="",
        )
        by_split[split].append(record)
    return write_quilt_rows(folder, by_split, card=False)
