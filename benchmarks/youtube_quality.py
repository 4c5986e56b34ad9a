"""YouTube pipeline quality against the truth of generated lectures: seen samples and unseen videos.

Two sets, each run through ``process_video`` (captions as the text source, the default stain
classifier, the lexicon corrector) and scored with ``quilt_hf.synthetic.sample.videos.score_pairs``:

- ``samples``: the lectures ``quilt sample`` writes (``write_sample_videos``), or those already in
  ``--sample-dir/web/videos``;
- ``unseen``: ``--unseen`` fresh lectures from other seeds, with other slide counts, lengths,
  transition styles (cuts only, fades only, mixed), motions, cursor paths and caption styles.

Figures (targets from issue 3):
- pair precision: the image is a histology slide and most of the pair's text is that slide's
  narration (>= 0.95);
- histology-slide recall: histology slides with at least one correct pair (>= 0.95);
- non-histology pairs: pairs whose image is a title/chart/speaker slide, share of pairs (<= 0.05);
- magnification agreement on H&E pairs (no target; the heuristic is documented in
  ``quilt_hf/video/magnification.py``).

    python benchmarks/youtube_quality.py --unseen 6
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def score_videos(videos: list[Path], work: Path) -> tuple[dict, list[dict]]:
    from quilt_hf.synthetic.sample.videos import score_pairs
    from quilt_hf.video.pipeline import process_video

    total: dict[str, int] = {}
    rows = []
    for video in videos:
        truth = json.loads(video.with_suffix(".truth.json").read_text())
        out = work / video.stem
        stats = process_video(video, out, captions=video.with_suffix(".vtt"))
        pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
        score = score_pairs(pairs, truth)
        rows.append(
            {
                "video": video.stem,
                "duration": truth["duration"],
                "slides": len(truth["slides"]),
                "pair_chunk_time": stats["pair_chunk_time"],
                **score,
            }
        )
        for key, value in score.items():
            total[key] = total.get(key, 0) + value
    return total, rows


def figures(total: dict) -> dict:
    pairs = max(1, total["pairs"])
    return {
        "pair_precision": total["correct"] / pairs,
        "histology_slide_recall": total["slides_with_correct_pair"]
        / max(1, total["histology_slides"]),
        "non_histology_pair_share": total["non_histology_pairs"] / pairs,
        "magnification_agreement_he": total["magnification_hits"]
        / max(1, total["magnification_total"]),
    }


def unseen_videos(out: Path, count: int, first_seed: int) -> list[Path]:
    import numpy as np

    from quilt_hf.synthetic.sample.videos import MOTIONS, random_spec, render_video

    transitions = [("cut",), ("fade",), ("cut", "fade")]
    videos = []
    for k in range(count):
        seed = first_seed + k
        rng = np.random.default_rng(seed)
        spec = random_spec(
            rng,
            f"unseen{seed}",
            n_slides=int(rng.integers(5, 10)),
            seconds_per_slide=(float(rng.uniform(4.5, 6.0)), float(rng.uniform(9.0, 14.0))),
            motions=MOTIONS,
            transitions=transitions[k % 3],
            histology_share=float(rng.uniform(0.4, 0.8)),
            caption_style=("rolling", "plain")[k % 2],
            fade=float(rng.uniform(0.6, 1.6)),
            audio=False,
        )
        render_video(spec, out)
        videos.append(out / f"{spec.video_id}.mp4")
    return videos


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sample-dir", type=Path, help="a `quilt sample` folder (default: write one)"
    )
    parser.add_argument("--unseen", type=int, default=6, help="unseen lectures to generate")
    parser.add_argument("--seed", type=int, default=1000, help="first seed of the unseen lectures")
    parser.add_argument("--verbose", action="store_true", help="print per-video rows")
    args = parser.parse_args()

    import numpy as np

    from quilt_hf.synthetic.sample.videos import write_sample_videos

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        sample_dir = args.sample_dir
        if sample_dir is None:
            sample_dir = tmp_path / "sample"
            write_sample_videos(sample_dir, np.random.default_rng(0), "http://127.0.0.1:0")
        sets = {
            "samples": sorted((sample_dir / "web" / "videos").glob("*.mp4")),
            "unseen": unseen_videos(tmp_path / "unseen", args.unseen, args.seed),
        }
        targets = {
            "pair_precision": ">= 0.95",
            "histology_slide_recall": ">= 0.95",
            "non_histology_pair_share": "<= 0.05",
            "magnification_agreement_he": "-",
        }
        results = {}
        for name, videos in sets.items():
            total, rows = score_videos(videos, tmp_path / f"out_{name}")
            results[name] = {"videos": len(videos), **total, **figures(total)}
            if args.verbose:
                for row in rows:
                    print(json.dumps(row))
    print(f"{'figure':<28} {'target':>8} " + " ".join(f"{n:>10}" for n in results))
    for key, target in targets.items():
        print(f"{key:<28} {target:>8} " + " ".join(f"{results[n][key]:10.3f}" for n in results))
    for key in (
        "videos",
        "pairs",
        "correct",
        "histology_slides",
        "slides_with_correct_pair",
        "non_histology_pairs",
    ):
        print(f"{key:<28} {'':>8} " + " ".join(f"{results[n][key]:>10}" for n in results))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
