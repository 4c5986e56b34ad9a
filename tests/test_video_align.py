"""The paper's chunking with our pair_chunk_time: open/close rules, many-to-many, the time rule."""

from __future__ import annotations

import pytest

from quilt_hf.text.transcript import Word
from quilt_hf.video.align import (
    MAX_CHUNK_TIME,
    MAX_CHUNK_WORDS,
    MIN_CHUNK_TIME,
    PAIR_CHUNK_TIME_RULE,
    Chunk,
    Shown,
    chunk_text,
    chunk_timeline,
    pair_chunk_time,
    speech_rate,
)


def words_every(step: float, until: float, start: float = 0.0) -> list[Word]:
    out, t = [], start
    while t < until:
        out.append(Word(round(t, 3), round(t + step * 0.8, 3), f"w{t:.1f}"))
        t += step
    return out


def test_chunk_opens_at_first_histology_frame_and_reaches_back_pair_chunk_time():
    # nothing before: text starts at t - pair_chunk_time (but never before 0)
    chunks = chunk_timeline([Shown(12.0, 16.0, True, 0)], chunk_time=5.0)
    assert len(chunks) == 1
    assert chunks[0].start == pytest.approx(7.0)
    assert chunks[0].end == pytest.approx(16.5)  # + pad after the image leaves
    assert chunks[0].keys == [0]
    assert chunk_timeline([Shown(2.0, 6.0, True, 0)], 5.0)[0].start == 0.0


def test_non_histology_frames_open_nothing_and_bound_the_next_text_window():
    shown = [Shown(0.0, 9.0, False, 0), Shown(10.0, 14.0, True, 1)]
    chunks = chunk_timeline(shown, chunk_time=5.0)
    assert [c.keys for c in chunks] == [[1]]
    # max(previous end = end of the chart + pad, t - pair_chunk_time = 5.0)
    assert chunks[0].start == pytest.approx(9.5)
    # ... but never after the histology image appears
    shown = [Shown(0.0, 9.0, False, 0), Shown(9.2, 14.0, True, 1)]
    assert chunk_timeline(shown, chunk_time=5.0)[0].start == pytest.approx(9.2)


def test_chunk_closes_on_a_non_histology_frame():
    shown = [Shown(0.0, 4.0, True, 0), Shown(4.2, 8.0, False, 1), Shown(8.2, 11.0, True, 2)]
    chunks = chunk_timeline(shown, chunk_time=20.0)
    assert [c.keys for c in chunks] == [[0], [2]]
    assert chunks[0].end == pytest.approx(4.2)  # pad capped by the chart appearing
    assert chunks[1].start == pytest.approx(8.2)  # the chart's narration is not taken


def test_chunk_closes_on_a_gap_longer_than_pair_chunk_time():
    shown = [Shown(0.0, 3.0, True, 0), Shown(9.5, 12.0, True, 1)]
    assert [c.keys for c in chunk_timeline(shown, chunk_time=6.0)] == [[0], [1]]
    # a shorter gap with a short total keeps both images in one chunk (one text, two images)
    shown = [Shown(0.0, 3.0, True, 0), Shown(4.0, 5.5, True, 1)]
    chunks = chunk_timeline(shown, chunk_time=6.0)
    assert [c.keys for c in chunks] == [[0, 1]]


def test_chunk_closes_when_its_time_would_exceed_pair_chunk_time():
    shown = [Shown(0.0, 4.0, True, 0), Shown(4.5, 9.0, True, 1)]
    chunks = chunk_timeline(shown, chunk_time=6.0)
    assert [c.keys for c in chunks] == [[0], [1]]
    assert chunks[0].end == pytest.approx(4.5)
    assert chunks[1].start == pytest.approx(4.5)  # max(previous end, 4.5 - 6)


def test_long_window_is_cut_into_pieces_one_image_several_texts():
    chunks = chunk_timeline([Shown(0.0, 30.0, True, 7)], chunk_time=10.0)
    assert [c.keys for c in chunks] == [[7], [7], [7]]
    assert [round(c.start, 3) for c in chunks] == [0.0, 10.0, 20.0]
    assert chunks[-1].end == pytest.approx(30.5)
    # no tiny tail: 14 s at 10 s per chunk stays one chunk
    assert len(chunk_timeline([Shown(0.0, 14.0, True, 0)], chunk_time=10.0)) == 1


def test_texts_of_consecutive_chunks_do_not_overlap_and_cover_the_speech():
    words = words_every(0.4, 30.0)
    shown = [Shown(0.0, 12.0, True, 0), Shown(12.5, 30.0, True, 1)]
    chunks = chunk_timeline(shown, chunk_time=6.0)
    texts = [chunk_text(c, words).split() for c in chunks]
    flat = [w for text in texts for w in text]
    assert len(flat) == len(set(flat)) == len(words)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.end <= b.start + 1e-9


def test_chunk_text_uses_word_midpoints():
    words = [Word(0.0, 1.0, "a"), Word(1.0, 2.0, "b"), Word(2.0, 3.0, "c")]
    chunks = chunk_timeline([Shown(1.6, 2.0, True, 0)], chunk_time=0.2)  # text 1.4 .. 2.5
    assert chunk_text(chunks[0], words) == "b"  # "c" is centred at 2.5: outside [1.4, 2.5)
    assert chunk_text(Chunk(start=0.6, end=2.51), words) == "b c"


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


def test_chunk_time_must_be_positive():
    with pytest.raises(ValueError):
        chunk_timeline([Shown(0.0, 4.0, True, 0)], chunk_time=0)


def test_cuts_between_histology_chunks_end_on_whole_sentences():
    text = "one two three. four five six seven. eight nine ten eleven twelve."
    words = [Word(0.5 * i, 0.5 * i + 0.4, w) for i, w in enumerate(text.split())]
    shown = [Shown(0.0, 2.4, True, 0), Shown(2.6, 6.0, True, 1)]
    plain = chunk_timeline(shown, chunk_time=4.0)
    snapped = chunk_timeline(shown, chunk_time=4.0, words=words)
    assert plain[0].end == pytest.approx(2.6)  # "seven." ends at 3.4: the plain cut splits it
    assert chunk_text(plain[0], words).endswith("four five")
    assert snapped[0].end == pytest.approx(3.45)  # the pause after "seven."
    assert chunk_text(snapped[0], words) == "one two three. four five six seven."
    assert chunk_text(snapped[1], words) == "eight nine ten eleven twelve."
    # no sentence end within reach: the cut stays where the rule put it
    far = [Word(0.5 * i, 0.5 * i + 0.4, f"w{i}") for i in range(12)]
    assert chunk_timeline(shown, chunk_time=4.0, words=far)[0].end == pytest.approx(2.6)
    # a non-histology frame is a hard cut
    hard = [Shown(0.0, 2.4, True, 0), Shown(2.6, 6.0, False, 1)]
    assert chunk_timeline(hard, chunk_time=4.0, words=words)[0].end == pytest.approx(2.6)
