"""ASR backends on audio made here: a tiny random Whisper (plumbing) and pocketsphinx on espeak speech."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.text.audio import SAMPLE_RATE, load_audio
from quilt_hf.text.transcribe import transcribe

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed (apt-get)")
NARRATION = "Here we see the lymph node. The tissue shows many cells. Look at this gland."


def _speak(path: Path, text: str = NARRATION, lead_silence_s: float = 2.0) -> Path:
    """espeak-ng speech (22.05 kHz) padded with leading silence, written as wav."""
    import soundfile

    raw = path.with_suffix(".raw.wav")
    subprocess.run([ESPEAK, "-s", "150", "-w", str(raw), text], check=True)
    speech, rate = soundfile.read(raw, dtype="float32")
    silence = np.zeros(int(lead_silence_s * rate), np.float32)
    soundfile.write(path, np.concatenate([silence, speech, silence[: rate // 2]]), rate)
    return path


def _mux_mp4(path: Path, audio: np.ndarray | None, seconds: float = 2.0) -> Path:
    """A small mp4 with an H.264 video track and, when given, an AAC audio track (PyAV)."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = None
        if audio is not None:
            sound = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for i in range(int(seconds * 10)):
            img = np.full((48, 64, 3), i * 10 % 255, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = audio.astype(np.float32).reshape(1, -1)
            for start in range(0, samples.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, start : start + 1024]),
                    format="flt",
                    layout="mono",
                )
                frame.sample_rate = SAMPLE_RATE
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def test_load_audio_from_wav_resamples_to_16k_mono(tmp_path: Path):
    import soundfile

    rate = 44_100
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    soundfile.write(tmp_path / "tone.wav", np.stack([tone, tone], axis=1), rate)
    audio = load_audio(tmp_path / "tone.wav")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - SAMPLE_RATE) <= 2
    # the tone survives: its spectrum peaks at 440 Hz
    peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * SAMPLE_RATE / audio.size
    assert abs(peak_hz - 440) < 3


def test_load_audio_from_mp4_audio_track(tmp_path: Path):
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    audio = load_audio(_mux_mp4(tmp_path / "talk.mp4", tone))
    assert abs(audio.size - tone.size) < 0.15 * SAMPLE_RATE  # AAC pads to whole 1024-frames
    peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * SAMPLE_RATE / audio.size
    assert abs(peak_hz - 300) < 3


def test_video_without_audio_track_is_a_clear_error(tmp_path: Path):
    silent = _mux_mp4(tmp_path / "silent.mp4", None)
    with pytest.raises(QuiltError, match="no audio track"):
        load_audio(silent)
    with pytest.raises(QuiltError, match="no audio track"):
        transcribe("pocketsphinx", video_or_audio=silent, captions=None)


def test_corrupt_or_missing_media(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01not a video" * 100)
    with pytest.raises(QuiltError, match="cannot"):
        load_audio(junk)
    with pytest.raises(QuiltError, match="not found"):
        load_audio(tmp_path / "missing.mp4")
    with pytest.raises(QuiltError, match="needs a video or audio file"):
        transcribe("whisper", video_or_audio=None, captions=None)


@needs_espeak
def test_pocketsphinx_word_times_follow_the_speech(tmp_path: Path):
    import soundfile

    wav = _speak(tmp_path / "speech.wav", lead_silence_s=2.0)
    duration = soundfile.info(wav).duration
    t = transcribe("pocketsphinx", video_or_audio=wav, captions=None)
    assert t.source == "pocketsphinx"
    assert len(t.words) >= 5  # ~15 words spoken; the recogniser finds a good part of them
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start < w.end <= duration + 0.05 for w in t.words)
    assert t.words[0].start >= 1.5  # nothing is "heard" in the leading 2 s of silence
    assert t.words[-1].end <= duration - 0.2  # nor in the trailing silence
    assert all(w.end - w.start < 2.0 for w in t.words)


# ---------------------------------------------------------------- tiny random Whisper
def _tiny_whisper():
    """A random 1-layer Whisper with a byte-level tokenizer built offline (no Hub files)."""
    import torch
    from tokenizers import pre_tokenizers
    from transformers import (
        AddedToken,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        "<|en|>",
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",  # must be the last special: timestamp tokens follow it
    ]
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    for token in specials + stamps:
        vocab[token] = len(vocab)
    tokenizer = WhisperTokenizer(
        vocab=vocab,
        merges=[],
        language="en",
        task="transcribe",
        additional_special_tokens=specials[1:],
    )
    tokenizer.add_tokens([AddedToken(s, special=False, normalized=False) for s in stamps])
    ids = {s: tokenizer.convert_tokens_to_ids(s) for s in specials}
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
    )
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config).eval()
    gen = model.generation_config
    gen.decoder_start_token_id = ids["<|startoftranscript|>"]
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    gen.prev_sr_token_id = ids["<|startofprev|>"]
    gen.lang_to_id = {"<|en|>": ids["<|en|>"]}
    gen.task_to_id = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    gen.is_multilingual = True
    gen.alignment_heads = [[0, 0], [0, 1]]  # word timestamps come from these cross-attentions
    gen.begin_suppress_tokens = [ids["<|endoftext|>"]]
    gen.suppress_tokens = []
    processor = WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer
    )
    return model, processor


@pytest.mark.slow  # ~15-30 s on 2 shared cores: two 30 s windows through the real pipeline
def test_whisper_pipeline_long_form_with_prompt_returns_timed_words(tmp_path: Path):
    import soundfile

    from quilt_hf.text.whisper_asr import HISTOPATHOLOGY_PROMPT

    # Whisper reads at most 223 prompt tokens; real Whisper BPE needs < 1 token per 3 characters.
    assert len(HISTOPATHOLOGY_PROMPT) < 3 * 223
    model, processor = _tiny_whisper()
    seconds = 40  # > 30 s: the pipeline must cut and merge two windows
    rng = np.random.default_rng(0)
    soundfile.write(tmp_path / "a.wav", 0.1 * rng.standard_normal(seconds * 22_050), 22_050)
    t = transcribe(
        "whisper",
        video_or_audio=tmp_path / "a.wav",
        captions=None,
        model=model,
        processor=processor,
        max_new_tokens=12,
        prompt="Hematoxylin and eosin, psammoma bodies.",  # the tiny tokenizer has no merges
    )
    assert t.source == "whisper" and t.meta["prompt"] is True
    assert t.words, "the random model still emits tokens, hence words"
    assert all(0 <= w.start <= w.end <= seconds + 1e-6 for w in t.words)
    assert all(w.text == w.text.strip() and w.text for w in t.words)
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    assert max(starts) > 30 - 5, "words from the second window carry its offset"


def test_whisper_model_object_without_processor_is_rejected():
    from quilt_hf.text.whisper_asr import WhisperTranscriber

    model, _ = _tiny_whisper()
    with pytest.raises(QuiltError, match="WhisperProcessor"):
        WhisperTranscriber(model)


def test_whisper_speaker_and_sound_marks_are_not_words():
    """Whisper writes ">>" at a new speaker and "[Music]" / "(laughs)" as words of their own."""
    from quilt_hf.text.whisper_asr import WhisperTranscriber

    model, processor = _tiny_whisper()
    transcriber = WhisperTranscriber(model, processor=processor, prompt=None)
    chunks = [
        (" Here", (0.0, 0.4)),
        (" is", (0.4, 0.6)),
        (" steatosis.", (0.6, 1.2)),
        (" >>", (1.3, 1.4)),
        (" [Music]", (1.4, 2.0)),
        (" (laughs)", (2.0, 2.5)),
        (" Great.", (2.6, 3.0)),
    ]
    transcriber._asr = lambda *args, **kwargs: {
        "text": "".join(text for text, _ in chunks),
        "chunks": [{"text": text, "timestamp": stamp} for text, stamp in chunks],
    }
    t = transcriber.transcribe_array(np.zeros(16_000 * 3, np.float32))
    assert [(w.text, w.start) for w in t.words] == [
        ("Here", 0.0),
        ("is", 0.4),
        ("steatosis.", 0.6),
        ("Great.", 2.6),
    ]
    assert [w.text for w in t.words if w.turn] == ["Great."]  # after ">>": a new speaker


def test_a_speaker_mark_after_a_words_text_turns_at_the_next_word():
    """Whisper may give the mark in the chunk of the word before it: " wow >>"."""
    from quilt_hf.text.captions import mark_turns, spoken_text
    from quilt_hf.text.transcript import Word

    chunks = [" so", " wow >>", " next", " one >> here", " >>", " last"]
    words = [Word(float(i), i + 0.5, spoken_text(text)) for i, text in enumerate(chunks)]
    marked = mark_turns(words)
    assert [w.text for w in marked] == ["so", "wow", "next", "one here", "last"]
    assert [w.text for w in marked if w.turn] == ["next", "last"]
    # a word with no text (nothing here makes one, but mark_turns is public) passes as before
    assert mark_turns([Word(0.0, 0.5, "")]) == [Word(0.0, 0.5, "")]
