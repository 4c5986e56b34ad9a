"""The dataset card (``README.md``) of a built dataset folder.

The YAML header is what makes the folder loadable: ``configs:`` points ``load_dataset`` at the
parquet shards and ``dataset_info`` carries the features and per-split sizes (``num_bytes`` is
required or the splits are ignored). The body is rendered from ``cards/dataset_card.md.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from quilt_hf.companions import companion
from quilt_hf.schema import COLUMN_DOCS, FEATURES, SPLITS

CITATION = """@inproceedings{ikezogwo2023quilt,
  title={Quilt-1M: One Million Image-Text Pairs for Histopathology},
  author={Ikezogwo, Wisdom Oluchi and Seyfioglu, Mehmet Saygin and Ghezloo, Fatemeh and
          Geva, Dylan Stefan Chan and Mohammed, Fatwir Sheikh and Anand, Pavan Kumar and
          Krishna, Ranjay and Shapiro, Linda},
  booktitle={Advances in Neural Information Processing Systems, Datasets and Benchmarks Track},
  year={2023}
}"""
CURATION_TEXT: dict[str, tuple[str, str]] = {
    "quilt": (
        "YouTube (`quilt`)",
        "Narrated histopathology lectures found with yt-dlp searches over a shipped keyword list and "
        "filtered on metadata (English, duration, not live, not a short). Each video is decoded at "
        "reduced rate and size; static windows are found with the paper's rule (SSIM between "
        "consecutive frames on a random 64x64 crop > 0.98, windows of at least 3 s represented by "
        "the pixel-wise median of their frames), near-duplicate keyframes are dropped, and each "
        "keyframe is classified histology or not (a frame is histology if any ensemble member says "
        "so). Narration comes from captions or Whisper ASR; an ASR-correction backend returns a map "
        "of wrong term -> corrected term that is applied to the noisy text; medical entities, ROI "
        "sentences and the sub-pathology are extracted from the text. Unpunctuated captions are "
        "restored into sentences first (a punctuation model, the LLM corrector, or pauses), and "
        "texts are whole sentences; `noisy_text` keeps the raw words.\n\n"
        "**Text boundaries.** {text_boundary_rule} {straddle_rule}\n\n"
        "**Moving histology.** {moving_keyframe_rule}\n\n"
        "**`pair_chunk_time`.** {pair_chunk_time_rule}",
    ),
    "openpath": (
        "Twitter (`openpath`)",
        "Hydrated tweets (Twitter API v2 responses) by pathologists, OpenPath-style: the text of a "
        "tweet with its photo(s) plus the replies in the same conversation by the same author; "
        "hashtags, urls and mentions stripped. Requested tweet ids that were never hydrated are "
        "counted (`tweet_not_hydrated`), not dropped silently; so are unavailable authors "
        "(`author_unavailable`), withheld tweets (`withheld`), retweets (`retweet`) and Twitter's "
        "placeholder texts (`placeholder_text`).",
    ),
    "pubmed": (
        "PubMed Central (`pubmed`)",
        "Figures of PubMed Central Open Access article packages, parsed from JATS XML with "
        "`defusedxml` (hostile XML is rejected). One pair per figure, and one per panel where the "
        "caption names panels and the composite image splits into that many panels.",
    ),
    "laion": (
        "Web (`laion`)",
        "LAION-style url / alt-text metadata, downloaded with timeouts and retries; images whose "
        "response carries `X-Robots-Tag: noai` or `noimageai` are skipped. Alt texts are cleaned "
        "(HTML entities and tags, mojibake, urls); placeholder alt texts and captions the "
        "cleaning empties are counted (`placeholder_text`, `emptied_by_cleaning`).",
    ),
}
COMMON_FILTERS = (
    "Every image is fully decoded (truncated files and decompression bombs are skipped) and stored "
    "as an RGB JPEG of at most the maximum side: a clean JPEG that needs no change as it came, any "
    "other image re-encoded without its metadata (EXIF, comments); the histology classifier drops (or "
    "flags in `not_histology`) non-histology images; exact (SHA-256) and near (perceptual hash) "
    "duplicates are removed across sources."
)
NON_COMMERCIAL_TERMS = (
    "The curated pairs are released for non-commercial research. Redistribution of the images may "
    "be restricted by their sources' licences: use the metadata-only release and `quilt rehydrate` "
    "where you cannot redistribute images."
)
DEFAULT_GATE_PROMPT = (
    "This dataset is for non-commercial research only and must not be used for clinical "
    "decision-making. By requesting access you agree to these terms and to cite Quilt-1M."
)
DEFAULT_GATE_FIELDS = {
    "Name": "text",
    "Affiliation": "text",
    "I agree to use this dataset for non-commercial research only": "checkbox",
}


@dataclass
class DatasetSummary:
    """What the card says about the data: counts per subset and split, skip reasons, sizes."""

    counts: Mapping[str, Mapping[str, int]]  # subset -> split -> rows
    split_bytes: Mapping[str, int]  # split -> num_bytes of its parquet files
    unique_images: int
    skipped: Mapping[str, int] = field(default_factory=dict)
    seed: int = 0
    val_fraction: float = 0.02
    license: str = "other"
    pretty_name: str = "Quilt-1M (quilt-hf build)"
    data_dir: str = "data"
    extra_configs: Sequence[dict[str, Any]] = ()
    # bytes of the parquet files on disk; it also keys datasets' cache (see card_data)
    download_size: int = 0
    # (title, text) sections that say where the rows came from, for imported datasets
    origin: Sequence[tuple[str, str]] = ()
    terms: str = ""  # licence and terms of use; the curated-data default when empty


def features_yaml() -> list[dict[str, Any]]:
    return FEATURES._to_yaml_list()


def card_data(summary: DatasetSummary, *, gated: bool = False) -> DatasetCardData:
    split_rows = {s: sum(c.get(s, 0) for c in summary.counts.values()) for s in SPLITS}
    extra: dict[str, Any] = {
        "configs": [
            {
                "config_name": "default",
                "default": True,
                "data_files": [
                    {"split": s, "path": f"{summary.data_dir}/{s}-*.parquet"}
                    for s in SPLITS
                    if split_rows[s]
                ],
            },
            *summary.extra_configs,
        ],
        "dataset_info": {
            "features": features_yaml(),
            "splits": [
                {
                    "name": s,
                    "num_bytes": int(summary.split_bytes.get(s, 0)),
                    "num_examples": split_rows[s],
                }
                for s in SPLITS
                if split_rows[s]
            ],
            "dataset_size": int(sum(summary.split_bytes.values())),
            # datasets keys its cache of a local folder on this metadata, not on the files'
            # contents: without a size that changes with the files, load_dataset would return the
            # previous build's rows after a rebuild (huggingface/datasets#2956)
            "download_size": int(summary.download_size),
        },
    }
    if gated:
        extra["extra_gated_prompt"] = DEFAULT_GATE_PROMPT
        extra["extra_gated_fields"] = DEFAULT_GATE_FIELDS
    return DatasetCardData(
        license=summary.license,
        pretty_name=summary.pretty_name,
        task_categories=["zero-shot-image-classification", "image-to-text", "text-to-image"],
        language=["en"],
        tags=["histopathology", "pathology", "medical", "clip", "quilt-1m", "image-text"],
        size_categories=[size_category(sum(split_rows.values()))],
        **extra,
    )


def size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < limit:
            return label
    return "1M<n<10M"


def render_dataset_card(
    summary: DatasetSummary, *, repo_id: str = "quilt_1m", gated: bool = False
) -> DatasetCard:
    count_rows = []
    for subset, by_split in summary.counts.items():
        train, val = by_split.get("train", 0), by_split.get("val", 0)
        count_rows.append({"subset": subset, "train": train, "val": val, "total": train + val})
    if summary.origin:
        curation = [{"title": title, "text": text} for title, text in summary.origin]
    else:
        curation = [
            {"title": CURATION_TEXT[s][0], "text": _curation_text(s)} for s in summary.counts
        ] + [{"title": "Filters common to every source", "text": COMMON_FILTERS}]
    return DatasetCard.from_template(
        card_data(summary, gated=gated),
        template_path=str(companion("cards").TEMPLATES_DIR / "dataset_card.md.j2"),
        repo_id=repo_id,
        count_rows=count_rows,
        total_rows=sum(r["total"] for r in count_rows),
        unique_images=summary.unique_images,
        skipped_rows=sorted(summary.skipped.items(), key=lambda kv: (-kv[1], kv[0])),
        columns=[
            {"name": name, "type": _type_name(FEATURES[name]), "doc": COLUMN_DOCS[name]}
            for name in FEATURES
        ],
        curation=curation,
        seed=summary.seed,
        val_fraction=summary.val_fraction,
        license_text=summary.terms or NON_COMMERCIAL_TERMS,
        citation=CITATION,
    )


def _curation_text(subset: str) -> str:
    text = CURATION_TEXT[subset][1]
    if subset == "quilt":
        from quilt_hf.video.align import PAIR_CHUNK_TIME_RULE, STRADDLE_RULE, TEXT_BOUNDARY_RULE
        from quilt_hf.video.views import MOVING_KEYFRAME_RULE

        text = text.format(
            pair_chunk_time_rule=PAIR_CHUNK_TIME_RULE,
            text_boundary_rule=TEXT_BOUNDARY_RULE,
            straddle_rule=STRADDLE_RULE,
            moving_keyframe_rule=MOVING_KEYFRAME_RULE,
        )
    return text


def _type_name(feature: Any) -> str:
    if hasattr(feature, "dtype"):
        return feature.dtype
    if type(feature).__name__ == "List":
        return f"list<{_type_name(feature.feature)}>"
    return type(feature).__name__


def write_dataset_card(
    out_dir: Path, summary: DatasetSummary, *, repo_id: str | None = None, gated: bool = False
) -> Path:
    card = render_dataset_card(summary, repo_id=repo_id or Path(out_dir).name, gated=gated)
    path = Path(out_dir) / "README.md"
    card.save(path)
    return path
