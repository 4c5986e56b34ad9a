"""``process_video``: one lecture video in, aligned image-text pairs out.

Stages, in order (each timed in ``stats.json``):

1. ``text``: a timed transcript (``quilt_hf.text.transcribe``: captions, whisper or pocketsphinx).
   It runs first so that bad captions or a missing audio track fail before any decoding; then
   ``sentences``: unpunctuated captions restored into sentences (``quilt_hf.text.sentences``).
2. ``frames``: static windows (``static_windows.py``) and moving views (``views.py``) from one
   cheap sampled decode; each is handed to a background thread that classifies it and estimates
   its magnification.
3. ``keyframes``: near-duplicates merged, the background answers collected (``keyframes.py``).
4. ``align``: each sentence given to the segment it was mostly spoken over, long segments cut
   at sentence ends (``align.pair_segments``).
5. ``text_stage``: ASR correction map, UMLS ids, ROI text, sub-pathology per text
   (``quilt_hf.text.pipeline.TextStage``); ``noisy_text`` is the raw words, ``corrected_text``
   the restored sentences with the corrections applied.
6. ``write``: ``images/*.jpg`` (only images that made a pair), ``pairs.jsonl``, then ``stats.json``
   LAST: its presence means the folder is complete (a rerun deletes it first).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError
from quilt_hf.text.sentences import (
    DEFAULT_PUNCTUATION_MODEL,
    is_punctuated,
    punctuation_pipeline,
    restore_sentences,
)
from quilt_hf.video.align import (
    MIN_EDGE_CERTAINTY,
    PAIR_CHUNK_TIME_RULE,
    STRADDLE_RULE,
    TEXT_BOUNDARY_RULE,
    Segment,
    change_times,
    pair_chunk_time,
    pair_segments,
    split_straddling_sentences,
)
from quilt_hf.video.static_windows import WindowParams
from quilt_hf.video.views import MOVING_KEYFRAME_RULE
from quilt_hf.video_id import check_video_id  # the one id check; tests import it here too

log = logging.getLogger(__name__)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@functools.lru_cache(maxsize=2)
def _cached_pipeline(model_id: str):
    return punctuation_pipeline(model_id)


@functools.cache
def _default_punctuation_model() -> tuple[Any, str]:
    """``(pipeline, "")`` for ``auto``: the default Hub model, from the local Hugging Face cache or
    fetched into it on first use, as ``transformers`` fetches any model; ``(None, why not)`` when
    it cannot be had (offline, the Hub unreachable). Once per process: a run over many videos
    neither downloads nor fails again per video."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(DEFAULT_PUNCTUATION_MODEL, "config.json"), str):
        if constants.is_offline_mode():
            return None, "it is not in the Hugging Face cache and HF_HUB_OFFLINE is set"
        try:  # one quick request first: the download itself retries an unreachable Hub ~30 s
            HfApi().model_info(DEFAULT_PUNCTUATION_MODEL, timeout=10)
        except Exception as error:  # unreachable, not found, gated: each means the fallback
            first_line = (str(error).splitlines() or [""])[0]
            return None, f"the Hub at {constants.ENDPOINT} did not give it ({first_line})"
        log.info(
            "fetching %s (about 2.2 GB, once, into the Hugging Face cache) to restore sentences "
            "in unpunctuated captions; --sentences pauses does without it",
            DEFAULT_PUNCTUATION_MODEL,
        )
    try:
        return _cached_pipeline(DEFAULT_PUNCTUATION_MODEL), ""
    except QuiltError as error:  # an unreachable Hub, a failed download: the offline fallback
        return None, f"it could not be loaded ({str(error).splitlines()[0]})"


def _sentence_model(method: str, model: Any, llm: Any, words: Any) -> tuple[Any, str]:
    """The punctuation model to use, and why there is none where ``auto`` wanted one.

    ``model``: the given one (a pipeline, a Hub id or a folder); ``auto`` (no LLM, captions
    without punctuation): the given one, else the default Hub model
    (``_default_punctuation_model``), else none and ``restore_sentences`` falls back to pauses
    (``stats.json`` says which method ran). Punctuated captions need no model, so nothing is
    loaded or fetched for them.
    """
    if method not in ("auto", "model") or (method == "auto" and llm is not None):
        return None, ""
    if method == "auto" and is_punctuated(words):
        return None, ""
    if model is not None and not isinstance(model, str):
        return model, ""
    if model is None and method == "auto":
        return _default_punctuation_model()
    return _cached_pipeline(model or DEFAULT_PUNCTUATION_MODEL), ""


@functools.cache
def _say_pauses_are_the_fallback(why: str) -> None:
    """Once per process (and reason): unpunctuated captions were restored from pauses."""
    log.warning(
        "unpunctuated captions are restored into sentences from pauses: the punctuation model "
        "%s is not available (%s); with it (online, or --sentences model --sentence-model "
        "FOLDER) a speaker who hesitates, and captions with cue times only, get many more "
        "sentence ends (see docs/sentences.md)",
        DEFAULT_PUNCTUATION_MODEL,
        why,
    )


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
    sentences: str = "auto",
    sentence_model: Any = None,
) -> dict:
    """Process one video into ``out_dir`` (see the module docstring); returns the stats dict.

    ``info`` is the yt-dlp info dict when there is one (its ``id``, ``webpage_url`` and ``license``
    fill the pairs); ``chunk_time`` overrides ``PAIR_CHUNK_TIME_RULE``. ``sentences`` is the
    sentence-restoration method (``quilt_hf.text.sentences.SENTENCE_METHODS``) and
    ``sentence_model`` its token classifier (a Hub id, a folder or a pipeline) for ``model``.
    """
    from quilt_hf.filters.histology import DEFAULT_CLASSIFIER, load_classifier
    from quilt_hf.text.pipeline import TextStage
    from quilt_hf.text.transcribe import transcribe
    from quilt_hf.video.decode import probe
    from quilt_hf.video.keyframes import WindowAnalyser, build_keyframes
    from quilt_hf.video.static_windows import find_static_windows

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
    # sentences before any decoding: a missing model or LLM fails fast
    stage = TextStage(asr=asr, corrector=corrector, **(text_options or {}))
    llm = stage.chat if corrector in ("openai", "transformers") else None
    model, why_no_model = _sentence_model(sentences, sentence_model, llm, transcript.words)
    restored = restore_sentences(transcript.words, sentences, model=model, chat=llm)
    lap("sentences")
    guessed = sum(s.certainty < MIN_EDGE_CERTAINTY for s in restored.sentences)
    if guessed:
        # the offline fallback on captions with neither punctuation nor word times: texts start
        # and end only at placed ends, so slides lose their pairs (docs/sentences.md)
        log.warning(
            "%s: the captions have no punctuation and no word times, so %d of %d sentence ends "
            "were guessed and some slides may get no pair; a punctuation model restores them "
            "(--sentences model, %s, or --sentences llm; see docs/sentences.md)",
            video.name,
            guessed,
            len(restored.sentences),
            DEFAULT_PUNCTUATION_MODEL,
        )
    if restored.method == "pauses" and why_no_model:
        _say_pauses_are_the_fallback(why_no_model)

    histology = load_classifier(classifier or DEFAULT_CLASSIFIER)
    counts: dict[str, int] = {}
    with WindowAnalyser(histology) as analyser:  # classifies windows while decoding goes on
        windows, window_stats = find_static_windows(
            video, window_params or WindowParams(), counts, on_window=analyser.submit
        )
        lap("frames")
        keyframes = build_keyframes(windows, video_id, histology, analyser=analyser)
    lap("keyframes")

    histology_seconds = [k.end - k.start for k in keyframes if k.is_histology and k.kind == "still"]
    chunk_seconds = chunk_time or pair_chunk_time(histology_seconds, transcript.words)
    # a window ends at its last sample; the picture stays until halfway to the next sample
    half_step = 0.5 / (window_params or WindowParams()).sample_fps
    # build_keyframes gives one keyframe per window, in order: the window says its motion chain
    segments = [
        Segment(k.start, k.end + half_step, k.is_histology, i, chain=w.chain)
        for i, (k, w) in enumerate(zip(keyframes, windows, strict=True))
    ]
    # sentences restored from pauses that run on well past a change of picture were two
    sentences_before = len(restored.sentences)
    restored = split_straddling_sentences(restored, change_times(segments))
    pieces = pair_segments(segments, restored.sentences, transcript.words, chunk_seconds)
    lap("align")

    url = str(info.get("webpage_url") or "")
    pairs: list[dict[str, Any]] = []
    for chunk_index, piece in enumerate(pieces):
        first = restored.sentences[piece.first].first
        last = restored.sentences[piece.last - 1].last
        noisy = " ".join(w.text for w in transcript.words[first:last])
        result = stage.process(noisy, restored=" ".join(restored.tokens[first:last]))
        keyframe = keyframes[piece.key]
        pairs.append(
            {
                "video_id": video_id,
                "image_path": f"images/{keyframe.image_name}",
                "image_time": round(keyframe.picture_time, 3),
                "image_end_time": round(keyframe.end, 3),
                "keyframe_kind": keyframe.kind,
                "start_time": round(piece.start, 3),
                "end_time": round(piece.end, 3),
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
                "sentence_method": restored.method,
                "width": keyframe.image.width,
                "height": keyframe.image.height,
                "image_url": url,
                "license": str(info.get("license") or ""),
            }
        )
    paired_keys = {piece.key for piece in pieces}
    empty_chunks = sum(
        1 for i, k in enumerate(keyframes) if k.is_histology and i not in paired_keys
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
    write_text_atomic(
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
        "moving_windows": window_stats.moving_windows,
        "keyframes": len({k.image_name for k in keyframes}),
        "histology_keyframes": len({k.image_name for k in keyframes if k.is_histology}),
        "still_keyframes": len({k.image_name for k in keyframes if k.kind == "still"}),
        "moving_keyframes": len({k.image_name for k in keyframes if k.kind == "moving"}),
        "histology_still_keyframes": len(
            {k.image_name for k in keyframes if k.is_histology and k.kind == "still"}
        ),
        "histology_moving_keyframes": len(
            {k.image_name for k in keyframes if k.is_histology and k.kind == "moving"}
        ),
        "chunks": len(pieces),
        # histology segments with no text: no sentence spoken over them, or none whose ends
        # were placed (unpunctuated cue-timed captions: align.MIN_EDGE_CERTAINTY)
        "empty_chunks": empty_chunks,
        "sentences": len(restored.sentences),
        "sentence_ends_guessed": guessed,
        "sentences_split_at_changes": len(restored.sentences) - sentences_before,
        "sentence_method": restored.method,
        # why auto restored from pauses with no model (offline, say); empty when it did not
        "sentence_model_unavailable": why_no_model if restored.method == "pauses" else "",
        "pairs": len(pairs),
        "images": len(written),
        "words": len(transcript.words),
        "text_source": transcript.source,
        "pair_chunk_time": round(chunk_seconds, 3),
        "pair_chunk_time_rule": PAIR_CHUNK_TIME_RULE,
        "text_boundary_rule": TEXT_BOUNDARY_RULE,
        "straddle_rule": STRADDLE_RULE,
        "moving_keyframe_rule": MOVING_KEYFRAME_RULE,
        "seconds": seconds,
    }
    write_text_atomic(out_dir / "stats.json", json.dumps(stats, indent=1))
    return stats
