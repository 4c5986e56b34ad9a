"""Frame-stage speed: our static windows vs a decode-only pass, the paper's naive rule, PySceneDetect.

On ONE video (a generated 640x360 sample lecture unless ``--video`` is given; ``--generator
unseen`` draws one from the independent generator instead, ``quilt_hf/synthetic/lectures.py``,
whose slides pan and zoom without holding still), interleaved, ``--repeats`` times each, medians
printed side by side:

- ``decode-only``: PyAV decodes every frame and touches nothing (FFmpeg's own threading);
- ``ours: windows``: ``static_windows.find_static_windows`` with its defaults, i.e. the paper's
  static rule (sampled grey thumbnails, tiled SSIM) AND the moving-view tracker (``views.py``:
  phase correlation and sharpness on the same thumbnails), so every visual change the text
  boundaries come from (``align.TEXT_BOUNDARY_RULE``: each still window and each moving view is a
  segment) is found here;
- ``ours: frame stage``: windows + keyframes (near-duplicate merge, histology classifier and
  magnification in a background thread while decoding goes on), i.e. everything
  ``process_video`` does with pixels except writing JPEGs; ``found`` counts its keyframe images,
  still and moving;
- ``paper naive``: ``synthetic.reference_static_windows`` (RGB decode + skimage SSIM on a 64x64
  crop of every frame);
- ``PySceneDetect``: ``scenedetect.detect(video, ContentDetector())`` (OpenCV backend).

For each: wall seconds and their ratio to decode-only; CPU seconds (all of this process's threads,
``time.process_time``) and their ratio to decode-only's, which is what counts when every core is
busy with other videos (a pipeline run) and FFmpeg's extra decoding threads have nothing to run
on; realtime factor (video seconds per wall second); and how many windows/scenes it found against
the truth's slide count. The machine's other load moves
every figure; compare ratios from one run, and the medians of several runs.

``--encode h264|vp9|av1`` re-encodes the video first (``synthetic/reencode.py``: x264 ``medium``,
whose B-frames the frame stage's decoder skips; libvpx VP9, with no frame to skip; SVT-AV1, whose
hierarchical non-reference frames dav1d skips; VP9 and AV1 are what yt-dlp's default format order
picks on YouTube), so one lecture can be timed in the codecs users download.

    python benchmarks/bench_frames.py --repeats 3
    python benchmarks/bench_frames.py --generator unseen --seed 11 --skip-naive
    python benchmarks/bench_frames.py --generator unseen --seed 11 --skip-naive --encode vp9
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def make_video(out_dir: Path, seed: int, slides: int) -> tuple[Path, dict]:
    import numpy as np

    from quilt_hf.synthetic.sample.videos import random_spec, render_video

    spec = random_spec(
        np.random.default_rng(seed),
        f"bench{seed}",
        n_slides=slides,
        audio=False,
        seconds_per_slide=(7.0, 10.0),
    )
    truth = render_video(spec, out_dir)
    return out_dir / f"bench{seed}.mp4", truth


def make_unseen_lecture(out_dir: Path, seed: int) -> tuple[Path, dict]:
    import json

    from quilt_hf.synthetic.lectures import plan_lecture, render_lecture

    video = render_lecture(plan_lecture(seed, 0), out_dir)
    truth = json.loads(video.with_suffix(".truth.json").read_text())
    return video, truth


def main() -> None:
    from quilt_hf.synthetic.reencode import ENCODINGS, reencode

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--video", type=Path, help="a video to time (default: generate one)")
    parser.add_argument(
        "--generator",
        choices=("sample", "unseen"),
        default="sample",
        help="which generator draws the video when --video is not given (default: sample)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slides", type=int, default=9, help="slides of a sample lecture")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow naive rule")
    parser.add_argument(
        "--encode",
        choices=sorted(ENCODINGS),
        help="re-encode the video with this codec before timing (see above)",
    )
    args = parser.parse_args()

    from quilt_hf.filters.histology import load_classifier
    from quilt_hf.synthetic.reference_static_windows import reference_static_windows
    from quilt_hf.video.decode import decode_only, probe
    from quilt_hf.video.keyframes import WindowAnalyser, build_keyframes
    from quilt_hf.video.static_windows import find_static_windows

    tmp = tempfile.TemporaryDirectory()
    truth = None
    if args.video:
        video = args.video
    elif args.generator == "unseen":
        video, truth = make_unseen_lecture(Path(tmp.name), args.seed)
    else:
        video, truth = make_video(Path(tmp.name), args.seed, args.slides)
    if args.encode:
        encoder, options = ENCODINGS[args.encode]
        target = Path(tmp.name) / f"{video.stem}.{args.encode}.mp4"  # never beside --video
        video = reencode(video, target, encoder, options)
    info = probe(video)
    classifier = load_classifier({"backend": "stain", "threshold": 0.5})

    def ours_windows():
        return len(find_static_windows(video)[0])

    kinds: dict[str, int] = {}

    def ours_stage():  # as process_video runs it: windows analysed while decoding goes on
        with WindowAnalyser(classifier) as analyser:
            windows, _ = find_static_windows(video, on_window=analyser.submit)
            keyframes = build_keyframes(windows, "bench", classifier, analyser=analyser)
        for kind in ("still", "moving"):
            kinds[kind] = len({k.image_name for k in keyframes if k.kind == kind})
        return len({k.image_name for k in keyframes})

    def scenedetect_content():
        from scenedetect import ContentDetector, detect

        return len(detect(str(video), ContentDetector()))

    peers = {
        "decode-only": lambda: decode_only(video),
        "ours: windows": ours_windows,
        "ours: frame stage": ours_stage,
        "paper naive": lambda: len(reference_static_windows(video)),
        "PySceneDetect": scenedetect_content,
    }
    if args.skip_naive:
        del peers["paper naive"]
    try:
        import scenedetect  # noqa: F401  (an optional peer, not a dependency)
    except ImportError:
        print("PySceneDetect not installed: that peer is left out")
        del peers["PySceneDetect"]
    ours_windows()  # warm imports and caches once, untimed
    if "PySceneDetect" in peers:
        scenedetect_content()
    times: dict[str, list[float]] = {name: [] for name in peers}
    cpu: dict[str, list[float]] = {name: [] for name in peers}  # all threads of this process
    found: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, run in peers.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            found[name] = run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)

    decode = statistics.median(times["decode-only"])
    decode_cpu = statistics.median(cpu["decode-only"])
    slides = len(truth["slides"]) if truth else None
    codec = info.codec
    print(
        f"video: {video.name} ({codec}) {info.width}x{info.height} {info.duration:.1f}s {info.fps:g} fps"
        + (f", {slides} slides" if slides else "")
        + f"; medians of {args.repeats}"
    )
    print(
        f"{'peer':<20} {'seconds':>8} {'x decode':>9} {'CPU s':>7} {'x decode CPU':>13} "
        f"{'x realtime':>11} {'found':>6}"
    )
    rows = {}
    for name, values in times.items():
        median = statistics.median(values)
        median_cpu = statistics.median(cpu[name])
        rows[name] = {
            "seconds": median,
            "ratio_to_decode": median / decode,
            "cpu_seconds": median_cpu,
            "cpu_ratio_to_decode": median_cpu / decode_cpu,
            "realtime": info.duration / median,
            "found": found[name],
        }
        unit = "frames" if name == "decode-only" else ""
        if name == "ours: frame stage":
            unit = f"({kinds['still']} still, {kinds['moving']} moving)"
            rows[name].update(kinds)
        print(
            f"{name:<20} {median:8.3f} {median / decode:9.2f} {median_cpu:7.3f} "
            f"{median_cpu / decode_cpu:13.2f} {info.duration / median:11.1f} "
            f"{found[name]:>6} {unit}"
        )
    print(
        json.dumps(
            {
                "video_seconds": info.duration,
                "codec": codec,
                "slides": slides,
                "peers": rows,
                "repeats": args.repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
