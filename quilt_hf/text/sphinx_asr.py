"""Offline fallback ASR with pocketsphinx (ships a US-English acoustic model, LM and dictionary).

Speech is first cut at pauses by pocketsphinx's own voice-activity ``Segmenter`` (decoding hours
in one utterance is slow and drifts), then each segment is decoded and word times are taken from
the decoder's segmentation (frames at ``frate`` per second) offset by the segment start.
Accuracy on medical narration is poor (word error ~0.9 measured on espeak speech): use it only
when neither captions nor Whisper are available. Its dictionary has no histopathology terms.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from quilt_hf.errors import QuiltError
from quilt_hf.text.audio import SAMPLE_RATE, load_audio
from quilt_hf.text.transcript import Transcript, Word

_ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")


def _is_filler(word: str) -> bool:
    return word in ("<s>", "</s>", "<sil>") or word.startswith(("[", "+", "<"))


class SphinxTranscriber:
    """Decode 16 kHz audio with pocketsphinx; keyword arguments go to its ``Config``."""

    def __init__(self, **config: object) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise QuiltError("pocketsphinx is not installed: pip install pocketsphinx") from exc
        self._decoder = Decoder(samprate=SAMPLE_RATE, **config)
        self._frame_rate = float(self._decoder.config["frate"])

    def transcribe_array(self, audio: np.ndarray) -> Transcript:
        from pocketsphinx import Segmenter

        if audio.ndim != 1 or audio.size == 0:
            raise QuiltError("pocketsphinx needs non-empty mono audio")
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        words: list[Word] = []
        segments = 0
        for speech in Segmenter(sample_rate=SAMPLE_RATE).segment(io.BytesIO(pcm)):
            segments += 1
            self._decoder.start_utt()
            self._decoder.process_raw(speech.pcm, full_utt=True)
            self._decoder.end_utt()
            for seg in self._decoder.seg():
                if _is_filler(seg.word):
                    continue
                start = speech.start_time + seg.start_frame / self._frame_rate
                end = speech.start_time + (seg.end_frame + 1) / self._frame_rate
                text = _ALTERNATE_PRONUNCIATION.sub("", seg.word)
                words.append(Word(round(start, 3), round(end, 3), text))
        return Transcript(
            words=words,
            source="pocketsphinx",
            language="en",
            meta={"speech_segments": segments, "duration": audio.size / SAMPLE_RATE},
        )

    def transcribe(self, path: str | Path) -> Transcript:
        transcript = self.transcribe_array(load_audio(path))
        transcript.meta["path"] = str(path)
        return transcript
