"""Whisper ASR through the transformers pipeline: long-form chunks, word timestamps, vocabulary prompt.

Default model: ``openai/whisper-large-v3``. It is the most accurate open Whisper on rare vocabulary,
which is what histopathology lectures are full of; the paper used Whisper for the same reason.
``openai/whisper-large-v3-turbo`` (4 decoder layers, ~8x faster, slightly worse on rare words) or
``distil-whisper/*`` are drop-in choices through ``model=`` when speed matters more.

Audio longer than 30 s is cut into 30 s windows with 5 s strides on each side and merged by the
pipeline; word times come from the cross-attention alignment heads (``return_timestamps="word"``).
The vocabulary prompt (Whisper's ``prompt_ids``, the "previous text" slot) biases spelling toward
histopathology terms, as the paper did.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from quilt_hf.errors import QuiltError
from quilt_hf.text.audio import SAMPLE_RATE, load_audio
from quilt_hf.text.captions import mark_turns, spoken_text
from quilt_hf.text.transcript import Transcript, Word

DEFAULT_WHISPER_MODEL = "openai/whisper-large-v3"

# Whisper reads at most 224 prompt tokens; these are the terms it most often misspells in lectures.
HISTOPATHOLOGY_PROMPT = (
    "Histopathology lecture. Hematoxylin and eosin, H&E, immunohistochemistry, eosinophils, "
    "neutrophils, lymphocytes, plasma cells, histiocytes, macrophages, multinucleated giant cells, "
    "adenocarcinoma, squamous cell carcinoma, carcinoma in situ, psammoma bodies, Reed-Sternberg "
    "cells, granulomas, caseating necrosis, keratin pearls, mitoses, pleomorphism, hyperchromasia, "
    "nucleoli, stroma, desmoplasia, glands, cribriform, papillary, epithelium, dysplasia, "
    "metaplasia, lamina propria, muscularis mucosae, cytokeratin, Ki-67, CD20, CD3, p53, PAS, "
    "trichrome, reticulin, Congo red."
)


@lru_cache(maxsize=2)
def _hub_pipeline(model_id: str, device: str, dtype_name: str | None):
    """One loaded pipeline per (model, device): processing many videos loads the weights once."""
    import torch
    from transformers import pipeline

    dtype = getattr(torch, dtype_name) if dtype_name else None
    try:
        return pipeline("automatic-speech-recognition", model=model_id, device=device, dtype=dtype)
    except OSError as exc:
        raise QuiltError(
            f"cannot load Whisper model {model_id!r} (not cached and no Hub access?): {exc}"
        ) from exc


class WhisperTranscriber:
    """Transcribe audio/video with Whisper; ``model`` is a Hub id, a local folder or a model object."""

    def __init__(
        self,
        model: Any = DEFAULT_WHISPER_MODEL,
        *,
        processor: Any = None,
        device: str = "cpu",
        dtype: str | None = None,
        prompt: str | None = HISTOPATHOLOGY_PROMPT,
        chunk_length_s: float = 30,
        batch_size: int = 1,
        max_new_tokens: int | None = None,
    ) -> None:
        if isinstance(model, str | Path):
            self._asr = _hub_pipeline(str(model), device, dtype)
            self.model_name = str(model)
        else:
            if processor is None:
                raise QuiltError("a Whisper model object needs its WhisperProcessor (processor=)")
            from transformers import pipeline

            self._asr = pipeline(
                "automatic-speech-recognition",
                model=model,
                tokenizer=processor.tokenizer,
                feature_extractor=processor.feature_extractor,
                device=device,
            )
            self.model_name = getattr(model.config, "_name_or_path", "") or "custom"
        self.prompt = prompt
        self.chunk_length_s = chunk_length_s
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def _generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"language": "en", "task": "transcribe"}
        if self.prompt:
            kwargs["prompt_ids"] = self._asr.tokenizer.get_prompt_ids(
                self.prompt, return_tensors="pt"
            )
        if self.max_new_tokens:
            kwargs["max_new_tokens"] = self.max_new_tokens
        return kwargs

    def transcribe_array(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Transcript:
        if audio.ndim != 1 or audio.size == 0:
            raise QuiltError("Whisper needs non-empty mono audio")
        duration = audio.size / sample_rate
        out = self._asr(
            {"raw": audio.astype(np.float32, copy=False), "sampling_rate": sample_rate},
            chunk_length_s=self.chunk_length_s,
            batch_size=self.batch_size,
            return_timestamps="word",
            generate_kwargs=self._generate_kwargs(),
        )
        words: list[Word] = []
        for chunk in out.get("chunks", []):
            # as caption lines are read: Whisper writes ">>" at a new speaker, "[Music]",
            # "(laughs)" and music notes too, none of them speech
            text = spoken_text(chunk["text"])
            start, end = chunk["timestamp"]
            if not text or start is None:
                continue
            start = min(float(start), duration)
            # The last word of a stream can come back with no end time.
            end = duration if end is None else min(max(float(end), start), duration)
            words.append(Word(round(start, 3), round(end, 3), text))
        return Transcript(
            words=mark_turns(words),  # ">>" (a new speaker) starts a sentence
            source="whisper",
            language="en",
            meta={"model": self.model_name, "prompt": bool(self.prompt), "duration": duration},
        )

    def transcribe(self, path: str | Path) -> Transcript:
        transcript = self.transcribe_array(load_audio(path))
        transcript.meta["path"] = str(path)
        return transcript
