"""The unified Quilt schema: the single source of truth for every row of ``quilt_1m``.

Column names and meanings follow the released Quilt-1M lookup CSV (``caption, image_path, subset,
split, pathology, roi_text, noisy_text, corrected_text, med_umls_ids, magnification, height, width,
single_wsi, not_histology``) so users of the original feel at home. Provenance columns that the
original lacks (``source_id``, ``start_time``, ``end_time``, ``image_sha256``, ``text_source``,
``license``) are added. ``COLUMN_DOCS`` documents every column; the dataset card renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Features, Image, List, Value

from quilt_hf.errors import QuiltError

SUBSETS = ("quilt", "openpath", "pubmed", "laion")
# What `quilt build --builder NAME` (and the datasets builder config of that name) builds: the
# unified dataset, or one source alone.
BUILD_TARGETS: dict[str, tuple[str, ...]] = {
    "quilt_1m": SUBSETS,
    **{subset: (subset,) for subset in SUBSETS},
}
# Evaluation sets imported into the same schema (quilt import arch); never part of quilt_1m.
EXTERNAL_SUBSETS = ("arch_books", "arch_pubmed")
SPLITS = ("train", "val")
MAGNIFICATIONS = {-1: "unknown", 0: "low", 1: "medium", 2: "high"}

FEATURES = Features(
    {
        "image": Image(),
        "image_path": Value("string"),
        "caption": Value("string"),
        "subset": Value("string"),
        "split": Value("string"),
        "pathology": List(Value("string")),
        "roi_text": List(Value("string")),
        "noisy_text": Value("string"),
        "corrected_text": Value("string"),
        "med_umls_ids": List(Value("string")),
        "magnification": Value("int8"),
        "height": Value("int32"),
        "width": Value("int32"),
        "single_wsi": Value("int8"),
        "not_histology": Value("int8"),
        "source_id": Value("string"),
        "start_time": Value("float32"),
        "end_time": Value("float32"),
        "image_sha256": Value("string"),
        "image_url": Value("string"),
        "image_time": Value("float32"),
        "text_source": Value("string"),
        "license": Value("string"),
    }
)

COLUMNS: tuple[str, ...] = tuple(FEATURES)

COLUMN_DOCS: dict[str, str] = {
    "image": "The image (JPEG bytes, decoded to PIL by `datasets`).",
    "image_path": "File name of the image, `{video_id}_image_{uuid}.jpg` for YouTube frames as released; "
    "`{subset}_{sha256[:16]}.jpg` for other sources. Unique per image, shared by the rows of one image.",
    "caption": "The text to train on: the corrected narration for YouTube chunks, the cleaned tweet "
    "thread, the figure (panel) caption, or the web alt-text.",
    "subset": "Source of the pair: `quilt` (YouTube), `openpath` (Twitter), `pubmed` (PMC OA figures), "
    "`laion` (web).",
    "split": "`train` or `val`, assigned by a hash of `source_id` so one video, thread or article "
    "never lands in both.",
    "pathology": "Sub-pathologies the text talks about (e.g. `dermatopathology`, `gastrointestinal`).",
    "roi_text": "Sentences that describe what is on screen / in the region of interest.",
    "noisy_text": "The raw text before correction (ASR transcript for YouTube; original text elsewhere).",
    "corrected_text": "`noisy_text` after the term-level correction map was applied.",
    "med_umls_ids": "UMLS concept ids (CUIs) of medical entities found in the text.",
    "magnification": "Estimated magnification: 0 low, 1 medium, 2 high, -1 unknown.",
    "height": "Image height in pixels (as stored).",
    "width": "Image width in pixels (as stored).",
    "single_wsi": "1 if the image shows a single whole-slide region, 0 if a composite/multi-panel, -1 unknown.",
    "not_histology": "1 if the histology classifier judged the image not histology (kept for auditing), else 0.",
    "source_id": "Provenance id: YouTube video id, tweet (conversation) id, `PMCID/figure-id[/panel]`, or url.",
    "start_time": "Start of the text window in the video, seconds (YouTube only; null elsewhere).",
    "end_time": "End of the text window in the video, seconds (YouTube only; null elsewhere).",
    "image_sha256": "SHA-256 of the stored image bytes (exact-duplicate key).",
    "image_url": "Where the image came from, so a metadata-only release can be rehydrated: the web or "
    "tweet media url, `pmc://PMCID/graphic-href` for a figure inside a PMC OA package, or the YouTube "
    "watch url for a video frame.",
    "image_time": "Time of the frame in the video, seconds (YouTube only; null elsewhere).",
    "text_source": "Where the text came from: `youtube_captions`, `whisper`, `pocketsphinx`, `tweet`, "
    "`jats_caption`, `alt_text`, `released_lookup`.",
    "license": "Licence of the source item as declared by the source (e.g. `CC BY 4.0`, YouTube "
    "`Standard YouTube License`), empty when unknown.",
}

assert set(COLUMN_DOCS) == set(COLUMNS), "every column must be documented"

# Defaults for optional columns: what a source leaves unset.
DEFAULTS: dict[str, Any] = {
    "image_path": "",
    "split": "",
    "pathology": [],
    "roi_text": [],
    "noisy_text": "",
    "corrected_text": "",
    "med_umls_ids": [],
    "magnification": -1,
    "height": 0,
    "width": 0,
    "single_wsi": -1,
    "not_histology": 0,
    "start_time": None,
    "end_time": None,
    "image_sha256": "",
    "image_url": "",
    "image_time": None,
    "text_source": "",
    "license": "",
}
REQUIRED = ("image", "caption", "subset", "source_id")


class SchemaError(QuiltError, ValueError):
    """A record does not fit the unified schema."""


def make_record(**fields: Any) -> dict[str, Any]:
    """Return a complete record: defaults filled in, unknown keys and bad values rejected."""
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise SchemaError(f"unknown column(s) {sorted(unknown)}; valid columns: {list(COLUMNS)}")
    missing = [name for name in REQUIRED if fields.get(name) in (None, "")]
    if missing:
        raise SchemaError(f"missing required column(s) {missing}")
    record = {**DEFAULTS, **fields}
    validate_record(record)
    return {name: record[name] for name in COLUMNS}


def validate_record(record: Mapping[str, Any]) -> None:
    """Check the values whose domain the schema restricts."""
    if record["subset"] not in SUBSETS + EXTERNAL_SUBSETS:
        raise SchemaError(f"subset {record['subset']!r} is not one of {SUBSETS + EXTERNAL_SUBSETS}")
    if record["split"] not in ("", *SPLITS):
        raise SchemaError(f"split {record['split']!r} is not one of {SPLITS}")
    if record["magnification"] not in MAGNIFICATIONS:
        raise SchemaError(
            f"magnification {record['magnification']!r} is not one of {list(MAGNIFICATIONS)}"
        )
    for name in ("pathology", "roi_text", "med_umls_ids"):
        value = record[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError(f"{name} must be a list of strings, got {value!r}")
