"""Timed transcripts: the contract between the text backends and the alignment stage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """A word (or a caption cue when a backend has no word timings) with times in seconds."""

    start: float
    end: float
    text: str
    # The caption cue whose time was spread over this word (formats without word timings: plain
    # WebVTT/SRT cues, roll-up captions); -1 when the word has its own timing.
    cue: int = -1
    # A new speaker (or topic) starts with this word: captions marked the change (">>", a
    # dialogue dash, a speaker label), so a sentence ends before it.
    turn: bool = False


@dataclass
class Transcript:
    words: list[Word]
    source: str  # "youtube_captions" | "whisper" | "pocketsphinx"
    language: str = "en"
    meta: dict[str, object] = field(default_factory=dict)

    def text_between(self, start: float, end: float) -> str:
        """The words whose midpoint falls inside [start, end)."""
        return " ".join(w.text for w in self.words if start <= (w.start + w.end) / 2 < end)

    @property
    def duration(self) -> float:
        return self.words[-1].end if self.words else 0.0
