"""Summary charts of a dataset (matplotlib PNGs), accumulated while the site streams its rows."""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from quilt_hf.schema import MAGNIFICATIONS

TOP_ENTITIES = 20
COLOURS = {"quilt": "#c0392b", "openpath": "#2e86c1", "pubmed": "#7d3c98", "laion": "#d68910"}


class DatasetStats:
    """Counts for the charts; memory grows with distinct videos/images, not with caption text."""

    def __init__(self) -> None:
        self.subset_split: Counter = Counter()
        self.caption_words = array("I")
        self.magnification: Counter = Counter()  # (subset, magnification)
        self.entities: Counter = Counter()
        self.video_images: dict[str, set[str]] = {}
        self.pairs_per_image: Counter = Counter()
        self.rows = 0

    def add(self, row: dict[str, Any], image_key: str) -> None:
        self.rows += 1
        self.subset_split[(row["subset"], row["split"] or "?")] += 1
        self.caption_words.append(len(row["caption"].split()))
        self.magnification[(row["subset"], row["magnification"])] += 1
        self.entities.update(set(row["med_umls_ids"]))
        if row["subset"] == "quilt":
            self.video_images.setdefault(row["source_id"], set()).add(image_key)
            self.pairs_per_image[image_key] += 1

    def summary(self) -> dict[str, Any]:
        words = sorted(self.caption_words)
        return {
            "pairs": self.rows,
            **{
                f"pairs ({subset})": sum(
                    n for (s, _), n in self.subset_split.items() if s == subset
                )
                for subset in sorted({s for s, _ in self.subset_split})
            },
            "median caption words": words[len(words) // 2] if words else 0,
            "distinct UMLS entities": len(self.entities),
            "YouTube videos": len(self.video_images),
            "YouTube images": len(self.pairs_per_image),
        }

    def umls_names(self) -> dict[str, str]:
        """CUI -> a readable term from the shipped lexicon, for the CUIs this dataset uses."""
        try:
            from quilt_hf.text.lexicon import load_lexicon

            lexicon = load_lexicon()
        except Exception:  # noqa: BLE001 - names are a nicety; CUIs still show without them
            return {}
        names: dict[str, str] = {}
        for term in lexicon.canonical.values():
            if term.cui and term.cui in self.entities:
                names.setdefault(term.cui, term.text)
        return names

    def render(self, folder: Path) -> list[tuple[str, str]]:
        """Write the PNGs; returns ``(file name, caption)`` in display order."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        folder.mkdir(parents=True, exist_ok=True)
        plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
        charts: list[tuple[str, str]] = []

        def save(figure, name: str, caption: str) -> None:
            figure.tight_layout()
            figure.savefig(folder / name, dpi=110)
            plt.close(figure)
            charts.append((name, caption))

        subsets = sorted({s for s, _ in self.subset_split})
        splits = sorted({p for _, p in self.subset_split})
        figure, axes = plt.subplots(figsize=(5.5, 3.2))
        width = 0.8 / max(1, len(splits))
        for j, split in enumerate(splits):
            values = [self.subset_split[(s, split)] for s in subsets]
            bars = axes.bar(
                [i + j * width for i in range(len(subsets))], values, width, label=split
            )
            axes.bar_label(bars, fontsize=7)
        axes.set_xticks([i + width * (len(splits) - 1) / 2 for i in range(len(subsets))], subsets)
        axes.set_ylabel("pairs")
        axes.legend(title="split")
        save(figure, "pairs_per_source.png", "Pairs per source and split")

        figure, axes = plt.subplots(figsize=(5.5, 3.2))
        words = list(self.caption_words)
        if words:
            axes.hist(words, bins=min(60, max(5, len(set(words)))), color="#34495e")
        axes.set_xlabel("caption length (words)")
        axes.set_ylabel("pairs")
        save(figure, "caption_length.png", "Caption length")

        figure, axes = plt.subplots(figsize=(5.5, 3.2))
        levels = sorted(MAGNIFICATIONS)
        bottom = [0] * len(levels)
        for subset in subsets:
            values = [self.magnification[(subset, m)] for m in levels]
            axes.bar(
                [MAGNIFICATIONS[m] for m in levels],
                values,
                bottom=bottom,
                label=subset,
                color=COLOURS.get(subset),
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_ylabel("pairs")
        axes.set_xlabel("magnification")
        axes.legend(title="source")
        save(figure, "magnification.png", "Magnification (estimated)")

        top = self.entities.most_common(TOP_ENTITIES)
        figure, axes = plt.subplots(figsize=(5.5, max(2.0, 0.22 * len(top) + 0.8)))
        if top:
            names = self.umls_names()
            labels = [f"{names.get(cui, '')} ({cui})".strip() for cui, _ in reversed(top)]
            axes.barh(labels, [n for _, n in reversed(top)], color="#16a085")
        else:
            axes.text(
                0.5, 0.5, "no UMLS entities", ha="center", va="center", transform=axes.transAxes
            )
        axes.set_xlabel("pairs mentioning the entity")
        save(figure, "top_entities.png", f"Top {TOP_ENTITIES} medical entities (UMLS)")

        if self.video_images:
            figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.0))
            per_video = [len(keys) for keys in self.video_images.values()]
            left.hist(per_video, bins=min(40, max(3, len(set(per_video)))), color=COLOURS["quilt"])
            left.set_xlabel("images per video")
            left.set_ylabel("videos")
            per_image = Counter(self.pairs_per_image.values())
            xs = sorted(per_image)
            right.bar(xs, [per_image[x] for x in xs], color="#e59866")
            right.set_xlabel("pairs per image")
            right.set_ylabel("images")
            save(figure, "youtube.png", "YouTube: images per video and pairs per image")
        return charts
