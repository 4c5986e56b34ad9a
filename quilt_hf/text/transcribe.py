"""One entry point for timed transcripts: ``transcribe("captions" | "whisper" | "pocketsphinx", ...)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError
from quilt_hf.text.transcript import Transcript

BACKENDS = ("captions", "whisper", "pocketsphinx")


def transcribe(
    backend: str,
    *,
    video_or_audio: Path | None = None,
    captions: Path | None = None,
    **opts: Any,
) -> Transcript:
    """Timed words of a video. ``captions`` reads a .vtt/.srt; the ASR backends read the media file.

    ``opts`` go to the backend: for whisper ``model``, ``processor``, ``device``, ``prompt``,
    ``chunk_length_s``, ``batch_size``; for pocketsphinx, pocketsphinx ``Config`` keys.
    Raises QuiltError on missing inputs, no audio track, malformed captions or no words at all.
    """
    if backend == "captions":
        if captions is None:
            raise QuiltError("--asr captions needs a captions file (.vtt or .srt)")
        from quilt_hf.text.captions import read_captions

        return read_captions(captions)
    if backend not in BACKENDS:
        raise QuiltError(f"unknown ASR backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if video_or_audio is None:
        raise QuiltError(f"--asr {backend} needs a video or audio file")
    if backend == "whisper":
        from quilt_hf.text.whisper_asr import WhisperTranscriber

        transcript = WhisperTranscriber(**opts).transcribe(video_or_audio)
    else:
        from quilt_hf.text.sphinx_asr import SphinxTranscriber

        transcript = SphinxTranscriber(**opts).transcribe(video_or_audio)
    if not transcript.words:
        raise QuiltError(f"{backend} found no speech in {Path(video_or_audio).name}")
    return transcript
