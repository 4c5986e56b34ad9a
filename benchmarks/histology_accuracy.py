"""Accuracy of the histology classifier on a sample corpus written by ``quilt sample --out DIR``.

    python benchmarks/histology_accuracy.py --sample DIR [--model HF_CHECKPOINT] [--threshold 0.5]

Reads ``DIR/labels.jsonl`` (``path`` relative to DIR, or ``pubmed/X.tar.gz::member`` inside an
article package), decodes each image the way the build does (``quilt_hf.images.load_image``),
and prints accuracy, precision, recall and F1 of the stain classifier, per subset and per kind,
plus its errors. Labelled video frames in ``DIR/frames/{histology,not_histology}/`` (when the
sample has videos) are scored as a separate set. With ``--model`` the HF backend and the
any-says-yes ensemble (stain + HF) are scored too. Undecodable images are counted, not scored.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from quilt_hf.errors import SkipRecord
from quilt_hf.filters.histology import EnsembleClassifier, HFImageClassifier, StainClassifier
from quilt_hf.images import load_image


def _read(sample: Path, path: str) -> bytes:
    file_part, _, member = path.partition("::")
    file_path = (sample / file_part).resolve()
    if not file_path.is_relative_to(sample.resolve()):
        raise SkipRecord("unsafe_path", path)
    if not member:
        return file_path.read_bytes()
    with tarfile.open(file_path) as archive:
        handle = archive.extractfile(member)
        if handle is None:
            raise SkipRecord("missing_member", path)
        return handle.read()


def load_labelled(sample: Path) -> tuple[list, list[dict], Counter]:
    images, rows, skipped = [], [], Counter()
    for line in (sample / "labels.jsonl").read_text().splitlines():
        row = json.loads(line)
        try:
            images.append(load_image(_read(sample, row["path"])).image)
            rows.append(row)
        except SkipRecord as skip:
            skipped[skip.reason] += 1
        except (OSError, KeyError, tarfile.TarError) as error:
            skipped[type(error).__name__] += 1
    return images, rows, skipped


def load_frames(sample: Path) -> tuple[list, list[dict]]:
    images, rows = [], []
    for label in ("histology", "not_histology"):
        for path in sorted((sample / "frames" / label).glob("*.jpg")):
            images.append(load_image(path.read_bytes()).image)
            rows.append(
                {
                    "subset": "frames",
                    "kind": label,
                    "histology": label == "histology",
                    "path": str(path),
                }
            )
    return images, rows


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {
        "n": len(truth),
        "accuracy": float(np.mean(predicted == truth)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def report(name: str, rows: list[dict], predicted: np.ndarray, probs: np.ndarray) -> dict:
    truth = np.array([bool(r["histology"]) for r in rows])
    overall = scores(truth, predicted)
    print(
        f"  {name:<26} n={overall['n']:<4} accuracy {overall['accuracy']:.3f}  precision "
        f"{overall['precision']:.3f}  recall {overall['recall']:.3f}  F1 {overall['f1']:.3f}"
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[f"{row['subset']}/{row.get('kind')}"].append(i)
    for group, indices in sorted(groups.items()):
        correct = int(np.sum(predicted[indices] == truth[indices]))
        print(f"      {group:<28} {correct}/{len(indices)} correct")
    for i in np.flatnonzero(predicted != truth):
        print(f"      ERROR {rows[i]['path']} truth={truth[i]} p={probs[i]:.3f}")
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sample", type=Path, required=True, help="folder written by `quilt sample`"
    )
    parser.add_argument("--model", help="an image-classification checkpoint for the hf backend")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    if not (args.sample / "labels.jsonl").exists():
        print(
            f"{args.sample}/labels.jsonl not found: run `quilt sample --out {args.sample}`",
            file=sys.stderr,
        )
        return 1
    sets = {"labels.jsonl": load_labelled(args.sample)}
    images, rows, skipped = sets["labels.jsonl"]
    print(
        f"{args.sample}: {len(images)} labelled images scored, undecodable skipped: {dict(skipped)}"
    )
    frames = load_frames(args.sample)
    classifiers = {"stain": StainClassifier(threshold=args.threshold)}
    if args.model:
        hf = HFImageClassifier(args.model, threshold=args.threshold)
        classifiers["hf"] = hf
        classifiers["ensemble(stain|hf)"] = EnsembleClassifier(
            [classifiers["stain"], hf], args.threshold
        )
    results = {}
    for set_name, (set_images, set_rows) in {
        "images": (images, rows),
        "video frames": frames,
    }.items():
        if not set_images:
            continue
        print(
            f"\n{set_name} ({len(set_images)}: {sum(r['histology'] for r in set_rows)} histology)"
        )
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            probs = classifier.predict_proba(set_images)
            seconds = time.perf_counter() - start
            results[f"{set_name}/{name}"] = report(
                name, set_rows, probs >= classifier.threshold, probs
            )
            print(f"      ({len(set_images) / seconds:.1f} images/s)")
    print("\n" + json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
