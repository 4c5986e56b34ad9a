"""Alignment: which narration goes with which keyframe (the paper's chunking, with our chunk time).

The paper's rule (DESIGN.md): chunks open at the first histology frame; a chunk's text window
starts at ``max(previous end, t - pair_chunk_time)``; a chunk closes on a non-histology frame, on a
gap longer than ``pair_chunk_time``, or when its time exceeds ``pair_chunk_time``. The paper never
says how ``pair_chunk_time`` is chosen; ``PAIR_CHUNK_TIME_RULE`` is our choice. How we read the rest:

- The timeline is the video's keyframes (static windows, ``keyframes.py``) in time order.
- "previous end" is the end of the previous chunk, or ``pad`` seconds after the last
  non-histology window shown since (narration over a chart belongs to the chart, and trails it
  as it trails a histology image), whichever is later, but never after the new image appears;
  0 at the start.
- "its time exceeds" is checked before a window joins: if the chunk's text window would then span
  more than ``pair_chunk_time``, the chunk closes and the window opens a new one. So two slides
  share a chunk only when both are short; a slide held longer than ``pair_chunk_time`` is cut into
  equal pieces (no piece shorter than half the chunk time), each paired with the same image: one
  image, several texts. A chunk holding several windows pairs each of its images with its text:
  one text, several images.
- A chunk's text window ends ``pad`` seconds after its last image leaves the screen, but never
  after the next window appears. Its text is the words whose midpoint falls in the window.
- Where two histology chunks meet (and where a long window is cut), the cut moves to the nearest
  sentence end within ``SNAP`` seconds, so a pair's text is whole sentences; cuts at a
  non-histology frame never move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from quilt_hf.text.transcript import Word

MIN_CHUNK_TIME = 4.0
MAX_CHUNK_TIME = 20.0
DEFAULT_CHUNK_TIME = 10.0
MAX_CHUNK_WORDS = 40
PAD = 0.5
SNAP = 1.5  # seconds a cut between histology chunks may move to end on a whole sentence

PAIR_CHUNK_TIME_RULE = (
    "pair_chunk_time is set per video as the median duration of its histology static windows "
    "(how long the lecturer typically keeps one histology image on screen, so a chunk holds about "
    f"one slide), capped at the time the speaker needs for {MAX_CHUNK_WORDS} words at the video's "
    "speech rate (words per second of speaking time, pauses of 1 s or more excluded; Quilt's "
    "captions are one or two sentences), and clipped to "
    f"[{MIN_CHUNK_TIME:g} s, {MAX_CHUNK_TIME:g} s]; {DEFAULT_CHUNK_TIME:g} s when a video has no "
    "histology window."
)


@dataclass(frozen=True)
class Shown:
    """One static window on the timeline: when, and whether it shows histology."""

    start: float
    end: float
    histology: bool
    key: int  # keyframe index (the image to pair)


@dataclass
class Chunk:
    start: float  # text window start, seconds
    end: float = 0.0  # text window end
    keys: list[int] = field(default_factory=list)  # keyframes paired with this chunk's text
    last_end: float = 0.0  # end of the latest window in the chunk


def speech_rate(words: Sequence[Word], pause: float = 1.0) -> float:
    """Words per second of speaking time (stretches separated by pauses >= ``pause`` s)."""
    if not words:
        return 0.0
    spans = sorted((w.start, max(w.end, w.start)) for w in words)
    speaking, (start, end) = 0.0, spans[0]
    for a, b in spans[1:]:
        if a - end >= pause:
            speaking += end - start
            start = a
        end = max(end, b)
    speaking += end - start
    return len(words) / speaking if speaking > 0 else 0.0


def pair_chunk_time(histology_window_seconds: Sequence[float], words: Sequence[Word]) -> float:
    """``PAIR_CHUNK_TIME_RULE``."""
    if not histology_window_seconds:
        return DEFAULT_CHUNK_TIME
    seconds = float(np.median(histology_window_seconds))
    rate = speech_rate(words)
    if rate > 0:
        seconds = min(seconds, MAX_CHUNK_WORDS / rate)
    return float(np.clip(seconds, MIN_CHUNK_TIME, MAX_CHUNK_TIME))


def sentence_cut(
    t: float, words: Sequence[Word], low: float, high: float, reach: float = SNAP
) -> float:
    """The pause after a sentence end (``.?!``) nearest to ``t``, within ``reach`` s and
    strictly inside (``low``, ``high``); ``t`` itself when there is none."""
    best = t
    for word, following in zip(words, words[1:], strict=False):
        if not word.text.rstrip("\"')]").endswith((".", "?", "!")):
            continue
        pause = (word.end + following.start) / 2
        if (
            low < pause < high
            and abs(pause - t) <= reach
            and (best == t or abs(pause - t) < abs(best - t))
        ):
            best = pause
    return best


def chunk_timeline(
    shown: Sequence[Shown],
    chunk_time: float,
    pad: float = PAD,
    words: Sequence[Word] = (),
) -> list[Chunk]:
    """The paper's chunking over ``shown`` (see the module docstring).

    With ``words``, a cut between two histology chunks moves to the nearest sentence end within
    ``SNAP`` seconds, so pairs carry whole sentences. Cuts at non-histology frames never move.
    """
    if chunk_time <= 0:
        raise ValueError("chunk_time must be positive")
    words = sorted(words, key=lambda w: w.start)
    chunks: list[Chunk] = []
    current: Chunk | None = None
    previous_end = 0.0  # end of the previous chunk
    shown_until = 0.0  # end (+ pad) of the last non-histology window

    def close(at: float) -> None:
        nonlocal current, previous_end
        assert current is not None
        current.end = max(current.start, at)
        chunks.append(current)
        previous_end = max(previous_end, current.end)
        current = None

    for window in sorted(shown, key=lambda s: (s.start, s.end)):
        if not window.histology:
            if current is not None:
                close(min(current.last_end + pad, window.start))
            shown_until = max(shown_until, window.end + pad)  # its narration trails it too
            continue
        if current is not None and (
            window.start - current.last_end > chunk_time or window.end - current.start > chunk_time
        ):
            cut = min(current.last_end + pad, window.start)
            close(sentence_cut(cut, words, current.start, window.end))
        if current is None:
            after_non_histology = min(shown_until, window.start)
            current = Chunk(start=max(previous_end, after_non_histology, window.start - chunk_time))
        current.keys.append(window.key)
        current.last_end = window.end
        # a window held longer than the chunk time: equal pieces, each with this image
        span = window.end - current.start
        if span > 1.5 * chunk_time:
            pieces, origin = round(span / chunk_time), current.start
            for piece in range(1, pieces):
                cut = sentence_cut(origin + span * piece / pieces, words, current.start, window.end)
                if cut <= window.start:  # the image is not on screen yet: same chunk
                    continue
                close(cut)
                current = Chunk(start=cut, keys=[window.key], last_end=window.end)
    if current is not None:
        close(current.last_end + pad)
    return chunks


def chunk_text(chunk: Chunk, words: Sequence[Word]) -> str:
    """Words whose midpoint falls inside the chunk's text window."""
    return " ".join(w.text for w in words if chunk.start <= (w.start + w.end) / 2 < chunk.end)
