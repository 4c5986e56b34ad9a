"""``process_video``: one lecture video in, aligned image-text pairs out.

Stages, in order (each timed in ``stats.json``):

1. ``text``: a timed transcript (``quilt_hf.text.transcribe``: captions, whisper or pocketsphinx).
   It runs first so that bad captions or a missing audio track fail before any decoding.
2. ``frames``: static windows (``static_windows.py``) from a cheap sampled decode; each window is
   handed to a background thread that classifies it and estimates its magnification.
3. ``keyframes``: near-duplicates merged, the background answers collected (``keyframes.py``).
4. ``align``: the paper's chunking with our ``pair_chunk_time`` (``align.py``).
5. ``text_stage``: ASR correction map, UMLS ids, ROI text, sub-pathology per chunk text
   (``quilt_hf.text.pipeline.TextStage``).
6. ``write``: ``images/*.jpg`` (only images that made a pair), ``pairs.jsonl``, then ``stats.json``
   LAST: its presence means the folder is complete (a rerun deletes it first).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError
from quilt_hf.video.align import (
    PAIR_CHUNK_TIME_RULE,
    Shown,
    chunk_text,
    chunk_timeline,
    pair_chunk_time,
)
from quilt_hf.video_id import check_video_id  # the one id check; tests import it here too


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


_write_atomic = write_text_atomic  # pairs.jsonl and stats.json: never half written


def process_video(
    video: Path,
    out_dir: Path,
    *,
    captions: Path | None = None,
    asr: str = "captions",
    corrector: str = "lexicon",
    classifier: dict | None = None,
    video_id: str | None = None,
    info: dict | None = None,
    window_params: Any = None,
    chunk_time: float | None = None,
    asr_options: dict | None = None,
    text_options: dict | None = None,
    jpeg_quality: int = 90,
) -> dict:
    """Process one video into ``out_dir`` (see the module docstring); returns the stats dict.

    ``info`` is the yt-dlp info dict when there is one (its ``id``, ``webpage_url`` and ``license``
    fill the pairs); ``chunk_time`` overrides ``PAIR_CHUNK_TIME_RULE``.
    """
    from quilt_hf.filters.histology import DEFAULT_CLASSIFIER, load_classifier
    from quilt_hf.text.pipeline import TextStage
    from quilt_hf.text.transcribe import transcribe
    from quilt_hf.video.decode import probe
    from quilt_hf.video.keyframes import WindowAnalyser, build_keyframes
    from quilt_hf.video.static_windows import WindowParams, find_static_windows

    video, out_dir = Path(video), Path(out_dir)
    info = dict(info or {})
    if video_id is None:
        video_id = str(info.get("id") or video.stem)
    video_id = check_video_id(video_id)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 4)
        clock = now

    media = probe(video)  # QuiltError for a missing/corrupt file
    if asr in ("whisper", "pocketsphinx") and not media.has_audio:
        raise QuiltError(f"{video.name} has no audio track: --asr {asr} cannot transcribe it")
    if asr == "captions" and captions is None:
        raise QuiltError("--asr captions needs a captions file (.vtt)")
    transcript = transcribe(asr, video_or_audio=video, captions=captions, **(asr_options or {}))
    if not transcript.words:
        raise QuiltError(f"no words in the transcript of {video.name}")
    lap("transcribe")

    histology = load_classifier(classifier or DEFAULT_CLASSIFIER)
    counts: dict[str, int] = {}
    with WindowAnalyser(histology) as analyser:  # classifies windows while decoding goes on
        windows, window_stats = find_static_windows(
            video, window_params or WindowParams(), counts, on_window=analyser.submit
        )
        lap("frames")
        keyframes = build_keyframes(windows, video_id, histology, analyser=analyser)
    lap("keyframes")

    histology_seconds = [k.end - k.start for k in keyframes if k.is_histology]
    chunk_seconds = chunk_time or pair_chunk_time(histology_seconds, transcript.words)
    shown = [Shown(k.start, k.end, k.is_histology, i) for i, k in enumerate(keyframes)]
    chunks = chunk_timeline(shown, chunk_seconds, words=transcript.words)
    lap("align")

    stage = TextStage(asr=asr, corrector=corrector, **(text_options or {}))
    url = str(info.get("webpage_url") or "")
    pairs: list[dict[str, Any]] = []
    empty_chunks = 0
    for chunk_index, chunk in enumerate(chunks):
        noisy = chunk_text(chunk, transcript.words)
        if not noisy.strip():
            empty_chunks += 1
            continue
        result = stage.process(noisy)
        for key in dict.fromkeys(chunk.keys):  # unique images, in order
            keyframe = keyframes[key]
            pairs.append(
                {
                    "video_id": video_id,
                    "image_path": f"images/{keyframe.image_name}",
                    "image_time": round(keyframe.start, 3),
                    "image_end_time": round(keyframe.end, 3),
                    "start_time": round(chunk.start, 3),
                    "end_time": round(chunk.end, 3),
                    "chunk": chunk_index,
                    "noisy_text": result.noisy_text,
                    "corrected_text": result.corrected_text,
                    "asr_correction": result.asr_correction,
                    "med_umls_ids": _as_list(result.med_umls_ids),
                    "roi_text": _as_list(result.roi_text),
                    "pathology": _as_list(result.pathology),
                    "magnification": keyframe.magnification,
                    "histology_prob": round(keyframe.histology_prob, 4),
                    "text_source": transcript.source,
                    "width": keyframe.image.width,
                    "height": keyframe.image.height,
                    "image_url": url,
                    "license": str(info.get("license") or ""),
                }
            )
    lap("text_stage")

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "stats.json").unlink(missing_ok=True)  # not done until rewritten
    images_dir = out_dir / "images"
    images_dir.mkdir(exist_ok=True)
    written: set[str] = set()
    for pair in pairs:
        name = Path(pair["image_path"]).name
        if name not in written:
            keyframe = next(k for k in keyframes if k.image_name == name)
            keyframe.image.save(images_dir / name, format="JPEG", quality=jpeg_quality)
            written.add(name)
    _write_atomic(
        out_dir / "pairs.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    )
    lap("write")

    stats = {
        "video_id": video_id,
        "video": video.name,
        "duration": round(media.duration, 3),
        "frames_decoded": counts.get("frames_decoded", 0),
        "frames_sampled": window_stats.samples,
        "ssim_computed": window_stats.ssim_computed,
        "windows": len(windows),
        "keyframes": len({k.image_name for k in keyframes}),
        "histology_keyframes": len({k.image_name for k in keyframes if k.is_histology}),
        "chunks": len(chunks),
        "empty_chunks": empty_chunks,
        "pairs": len(pairs),
        "images": len(written),
        "words": len(transcript.words),
        "text_source": transcript.source,
        "pair_chunk_time": round(chunk_seconds, 3),
        "pair_chunk_time_rule": PAIR_CHUNK_TIME_RULE,
        "seconds": seconds,
    }
    _write_atomic(out_dir / "stats.json", json.dumps(stats, indent=1))
    return stats
