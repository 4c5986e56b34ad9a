"""``build.yaml``: the typed configuration of one dataset build.

Paths in the file are relative to the folder that holds it. Unknown keys are errors (a typo must not
silently fall back to a default).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from quilt_hf.download import DownloadOptions
from quilt_hf.errors import QuiltError
from quilt_hf.filters.histology import DEFAULT_CLASSIFIER, check_classifier_config
from quilt_hf.schema import SUBSETS


@dataclass
class ImageOptions:
    max_side: int = 512
    min_side: int = 64
    max_pixels: int = 50_000_000
    quality: int = 90


@dataclass
class DedupOptions:
    """``filters.dedup``: duplicates across source items and sources, decided at assembly."""

    exact: bool = True  # drop an image whose SHA-256 an earlier kept row has
    # also drop perceptual near-duplicates (needs exact: an identical image is also near)
    near: bool = True
    phash_max_distance: int = 6  # largest Hamming distance between 64-bit pHashes called "near"

    def validate(self) -> None:
        if self.near and not self.exact:
            raise QuiltError(
                "filters.dedup: near: true needs exact: true (an identical image is also a near "
                "duplicate); set near: false too to keep every duplicate"
            )
        if not 0 <= self.phash_max_distance < 64:
            raise QuiltError(
                f"filters.dedup.phash_max_distance must be in [0, 64), got {self.phash_max_distance}"
            )


@dataclass
class FilterOptions:
    # backend: stain (offline, no weights) | hf (AutoModelForImageClassification) | ensemble;
    # the keys are load_classifier's (quilt_hf.filters.histology), checked there
    histology: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CLASSIFIER))
    # keep images the classifier rejects, flagged with not_histology=1, instead of dropping them
    keep_non_histology: bool = False
    dedup: DedupOptions = field(default_factory=DedupOptions)
    min_caption_chars: int = 5


@dataclass
class BuildConfig:
    name: str = "quilt_1m"
    seed: int = 0
    val_fraction: float = 0.02
    shard_size: int = 1000
    image: ImageOptions = field(default_factory=ImageOptions)
    filters: FilterOptions = field(default_factory=FilterOptions)
    download: DownloadOptions = field(default_factory=DownloadOptions)
    # per subset: the source module's own config (see quilt_hf/sources/*)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # parquet shard size of the final dataset
    max_shard_bytes: int = 500_000_000
    license: str = "other"
    base_dir: Path = Path(".")

    @classmethod
    def load(cls, path: str | Path) -> BuildConfig:
        path = Path(path)
        if not path.is_file():
            raise QuiltError(f"build config {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise QuiltError(f"build config {path} is not valid YAML: {error}") from error
        if not isinstance(raw, dict):
            raise QuiltError(f"build config {path} must be a mapping")
        if "sample_server" in raw:  # written by quilt sample before the server left the build
            raise QuiltError(
                f"{path}: `sample_server` is no longer a build key; the build does not start "
                "servers. Regenerate the corpus with `quilt sample`, then serve it around the "
                "build: quilt serve-sample DIR -- quilt build --config DIR/build.yaml --out OUT"
            )
        config = from_dict(cls, raw, where=str(path))
        config.base_dir = path.resolve().parent
        config.validate()
        return config

    def validate(self) -> None:
        unknown = set(self.sources) - set(SUBSETS)
        if unknown:
            raise QuiltError(f"unknown source(s) {sorted(unknown)}; valid sources: {list(SUBSETS)}")
        if not self.sources:
            raise QuiltError("build config has no sources")
        if not 0.0 <= self.val_fraction < 1.0:
            raise QuiltError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.shard_size < 1:
            raise QuiltError(f"shard_size must be >= 1, got {self.shard_size}")
        self.filters.dedup.validate()
        check_classifier_config(self.filters.histology, "filters.histology")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("base_dir")
        return data


def from_dict(cls: type, raw: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``raw``, recursing into dataclass fields; unknown keys fail."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "base_dir"}
    unknown = set(raw) - set(fields)
    if unknown:
        raise QuiltError(
            f"{where}: unknown key(s) {sorted(unknown)} in {cls.__name__}; valid keys: {sorted(fields)}"
        )
    values = {}
    for name, value in raw.items():
        default = fields[name].default_factory() if callable(fields[name].default_factory) else None
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise QuiltError(f"{where}:{name} must be a mapping, got {value!r}")
            values[name] = from_dict(type(default), value, f"{where}:{name}")
        else:
            values[name] = value
    return cls(**values)
