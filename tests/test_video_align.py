"""Our pair_chunk_time rule (how long a slide's text may run before it is cut) and the speech rate
it reads; the text boundaries themselves are tested in test_video_text_boundaries.py."""

from __future__ import annotations

import pytest

from quilt_hf.text.transcript import Word
from quilt_hf.video.align import (
    MAX_CHUNK_TIME,
    MAX_CHUNK_WORDS,
    MIN_CHUNK_TIME,
    PAIR_CHUNK_TIME_RULE,
    pair_chunk_time,
    speech_rate,
)


def words_every(step: float, until: float, start: float = 0.0) -> list[Word]:
    out, t = [], start
    while t < until:
        out.append(Word(round(t, 3), round(t + step * 0.8, 3), f"w{t:.1f}"))
        t += step
    return out


def test_speech_rate_ignores_pauses():
    words = words_every(0.5, 10.0) + words_every(0.5, 40.0, start=30.0)
    assert speech_rate(words) == pytest.approx(2.0, rel=0.1)
    assert speech_rate([]) == 0.0


def test_pair_chunk_time_rule():
    slow = words_every(1.0, 100.0)  # 1 word/s: the 40-word cap is 40 s, no effect
    assert pair_chunk_time([6.0, 8.0, 30.0], slow) == pytest.approx(8.0)  # the median window
    fast = words_every(0.2, 100.0)  # 5 words/s: 40 words take 8 s
    assert pair_chunk_time([12.0, 14.0, 16.0], fast) == pytest.approx(MAX_CHUNK_WORDS / 5, rel=0.05)
    assert pair_chunk_time([1.0, 2.0], slow) == MIN_CHUNK_TIME
    assert pair_chunk_time([100.0], slow) == MAX_CHUNK_TIME
    assert pair_chunk_time([], slow) == 10.0
    assert "median" in PAIR_CHUNK_TIME_RULE and str(MAX_CHUNK_WORDS) in PAIR_CHUNK_TIME_RULE
