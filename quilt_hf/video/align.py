"""Alignment: which narration goes with which keyframe.

``pair_segments`` is what ``process_video`` runs (``TEXT_BOUNDARY_RULE``): text boundaries come
from the picture and texts are whole sentences:

- The timeline is cut at every visual change: each still window and each moving view
  (``views.py``) is a segment; what lies between them (a cut, a fade, a short still run, a view too
  short to keep) is a gap that pairs with nothing. A non-histology segment pairs with nothing.
- Sentences (``quilt_hf.text.sentences``) are never cut. Each goes to the segment (or gap) over
  which most of its words were spoken (word midpoints); a tie goes to the one over which those
  words took longer to say, then to the earlier one, since lecturers finish a sentence after the
  cut. So no text holds a sentence spoken mostly while another slide was on screen, whether or
  not that slide made a keyframe.
- A histology segment's sentences form its text; one that runs longer than ``pair_chunk_time``
  (``PAIR_CHUNK_TIME_RULE``) is cut into about equal pieces at sentence ends only, each piece
  paired with the same image: one image, several texts. A slide shown again later is a new
  segment with its own sentences, sharing the first showing's image.
- A text starts and ends, and a long slide is cut, only at sentence ends placed at least
  ``MIN_EDGE_CERTAINTY`` certainly (``Sentence.certainty``). Punctuation, a model, an LLM or
  word timings place every end surely, so this changes nothing for them; from unpunctuated
  captions with cue times only, where the offline fallback can only guess some ends, a text
  drops its edge sentences up to a placed end, and a segment with no such text pairs with
  nothing: fewer pairs rather than texts that start or end mid-sentence.
- Moving views of one continuous motion (``Segment.chain``) show one slide: a drift split is
  not a change of slide. Where the sentence end between two such views was only guessed, their
  sentences form one run (``motion_runs``), so its text ends at the motion's own edges or at a
  placed end instead of being lost; each piece pairs with the view over which most of its words
  were spoken. Between views split at a placed end each view keeps its own sentences.

The paper's own rule (DESIGN.md: a chunk's text window starts at ``max(previous end, t -
pair_chunk_time)`` and closes on a non-histology frame, a long gap or ``pair_chunk_time``) takes its
text boundaries from time windows, not from the picture, so narration bleeds across slides that made
no keyframe; ``pair_segments`` replaces it and keeps only its ``pair_chunk_time`` (our choice, since
the paper never says how it is set: ``PAIR_CHUNK_TIME_RULE``) as the length at which a long slide's
text is cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quilt_hf.text.sentences import (
    CONTINUERS,
    LIKELY,
    MIN_PAUSE,
    NOT_FIRST,
    STARTERS,
    SURE,
    Restored,
    bare_word,
    with_more_ends,
)
from quilt_hf.text.transcript import Word

MIN_CHUNK_TIME = 4.0
MAX_CHUNK_TIME = 20.0
DEFAULT_CHUNK_TIME = 10.0
MAX_CHUNK_WORDS = 40
# a text starts and ends, and a long slide is cut, only at sentence ends placed at least this
# certainly (``quilt_hf.text.sentences.LIKELY``; punctuation and word pauses are ``SURE``)
MIN_EDGE_CERTAINTY = 0.5
# a sentence restored from pauses with this much speech on both sides of a change of picture is
# two sentences whose end the pauses missed (a hesitation as long, a drawn-out last word): a
# lecturer finishes a sentence after a cut, or starts the next one before it, by a few words
STRADDLE_SECONDS = 2.0
STRADDLE_REACH = 3.0  # seconds either side of the change where that end is looked for
OPENER_BONUS = 0.3  # seconds of pause a sentence opener after a place is worth there

TEXT_BOUNDARY_RULE = (
    "Every visual change (a cut, a fade, a pan or zoom onto other content, a non-histology slide) "
    "is a text boundary: each still window and each moving view is a segment; a sentence goes to "
    "the segment over which most of its words were spoken (on a tie, the one they took longer to "
    "say, then the earlier) and pairs "
    "only with that segment's image; texts are whole sentences, and a segment held longer than "
    "pair_chunk_time is cut into about equal pieces at sentence ends only; texts start and end, "
    "and long slides are cut, only at sentence ends that were placed, not guessed (unpunctuated "
    "captions with cue times only); views of one continuous motion whose shared sentence end was "
    "guessed give one text, paired with the view over which most of it was spoken."
)

STRADDLE_RULE = (
    "Sentences restored from pauses alone (unpunctuated captions, no model) that are spoken for "
    f"at least {STRADDLE_SECONDS:g} s on both sides of a change of picture are two sentences "
    "whose end the pauses missed: each is split within "
    f"{STRADDLE_REACH:g} s of the change at its longest measured pause of at least "
    f"{MIN_PAUSE:g} s after a word that can end a sentence and before one that can open one (a "
    f"usual opener adds {OPENER_BONUS:g} s), as an end placed LIKELY; views of one continuous "
    "motion are not a change of picture."
)

PAIR_CHUNK_TIME_RULE = (
    "pair_chunk_time is set per video as the median duration of its histology static windows "
    "(how long the lecturer typically keeps one histology image on screen, so a chunk holds about "
    f"one slide), capped at the time the speaker needs for {MAX_CHUNK_WORDS} words at the video's "
    "speech rate (words per second of speaking time, pauses of 1 s or more excluded; Quilt's "
    "captions are one or two sentences), and clipped to "
    f"[{MIN_CHUNK_TIME:g} s, {MAX_CHUNK_TIME:g} s]; {DEFAULT_CHUNK_TIME:g} s when a video has no "
    "histology window."
)


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


@dataclass(frozen=True)
class Segment:
    """A stretch of the picture between two visual changes that has one keyframe."""

    start: float
    end: float
    histology: bool
    key: int  # keyframe index
    # moving views of one continuous motion share it (``views.py``: the same slide moving on);
    # None for a still window or a motion of one view
    chain: int | None = None


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence's word range and times (``quilt_hf.text.sentences.Sentence`` fits)."""

    first: int
    last: int  # index after its last word
    start: float
    end: float
    certainty: float = 1.0  # how certain its end's place is (``Sentence.certainty``)


@dataclass
class TextPiece:
    """Sentences ``[first, last)`` paired with keyframe ``key``."""

    key: int
    first: int  # first sentence index
    last: int  # index after the last sentence
    start: float  # first word's start
    end: float  # last word's end


def assign_sentences(
    segments: Sequence[Segment], sentences: Sequence, words: Sequence[Word]
) -> list[int | None]:
    """For each sentence, the index of the segment it was mostly spoken over (None: a gap)."""
    ordered = sorted(range(len(segments)), key=lambda i: segments[i].start)
    starts = np.array([segments[i].start for i in ordered])
    ends = np.array([segments[i].end for i in ordered])
    owners: list[int | None] = []
    for sentence in sentences:
        votes: dict[int, int] = {}
        seconds: dict[int, float] = {}  # the tie-break: how long the words there took to say
        for word in words[sentence.first : sentence.last]:
            middle = (word.start + word.end) / 2
            k = int(np.searchsorted(starts, middle, side="right")) - 1
            # -1 - k marks the gap before segment k + 1 (after segment k)
            where = k if k >= 0 and middle <= ends[k] else -2 - k
            votes[where] = votes.get(where, 0) + 1
            seconds[where] = seconds.get(where, 0.0) + max(0.0, word.end - word.start)
        if not votes:
            owners.append(None)
            continue
        top = max(votes.values())
        tied = [p for p, v in votes.items() if v == top]
        longest = max(seconds[p] for p in tied)
        # of the places with most words, the one they took longest to say (a sentence split
        # 5 words to 5 across a change of slide goes where more of it was heard), then the
        # earliest: gaps sort by the segment before them
        place = min(
            (p for p in tied if seconds[p] >= longest - 1e-9),
            key=lambda p: p if p >= 0 else -1.5 - p,
        )
        owners.append(ordered[place] if place >= 0 else None)
    return owners


def split_at_sentence_ends(
    spans: Sequence[SentenceSpan], chunk_time: float
) -> list[tuple[int, int]]:
    """Cut consecutive sentences spanning more than ``chunk_time`` into about equal pieces, at
    sentence ends only; returns ``(first, last)`` index ranges into ``spans``. Near each even
    cut, the end placed with the most certainty wins: one ``chunk_time / 2`` off the even cut
    is worth one unit of certainty (a measured end over a guessed one nearby)."""
    if not spans:
        return []
    start, end = spans[0].start, spans[-1].end
    pieces = max(1, round((end - start) / chunk_time))
    # only where an end was placed with some certainty: a cut at a guessed end is a fragment
    # as often as not, and a longer text of whole sentences is better than two fragments
    allowed = [i for i in range(1, len(spans)) if spans[i - 1].certainty >= MIN_EDGE_CERTAINTY]
    cuts: list[int] = []
    for k in range(1, pieces):
        target = start + (end - start) * k / pieces
        low = cuts[-1] + 1 if cuts else 1
        options = [i for i in allowed if i >= low]
        if not options:
            break
        best = min(
            options,
            key=lambda i: abs(spans[i].start - target) / (chunk_time / 2) - spans[i - 1].certainty,
        )
        cuts.append(best)
    cuts = sorted(set(cuts))
    bounds = [0, *cuts, len(spans)]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def trim_to_certain_ends(
    starts_certainty: Sequence[float],
    ends_certainty: Sequence[float],
    floor: float = MIN_EDGE_CERTAINTY,
) -> tuple[int, int] | None:
    """The sentences ``[a, b)`` of a piece from its first sentence that starts after an end
    placed at least ``floor`` certainly to its last one that ends at such an end; None when
    there is no such text. With punctuation or word timings every end is sure and nothing is
    trimmed; from unpunctuated cue-timed captions a text loses its edge sentences rather than
    start or end where a sentence end was only guessed."""
    firsts = [i for i, c in enumerate(starts_certainty) if c >= floor]
    if not firsts:
        return None
    lasts = [i for i in range(firsts[0], len(ends_certainty)) if ends_certainty[i] >= floor]
    return (firsts[0], lasts[-1] + 1) if lasts else None


def motion_runs(
    segments: Sequence[Segment], owners: Sequence[int | None], certainty: Sequence[float]
) -> list[tuple[int, int]]:
    """Runs ``[i, j)`` of consecutive sentences that form one text span: sentences with one
    owner, and across two histology views of one motion (``Segment.chain``) when the sentence
    end between them was placed less than ``MIN_EDGE_CERTAINTY`` certainly."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(owners):
        j = i + 1
        while j < len(owners):
            a, b = owners[j - 1], owners[j]
            if a == b:
                j += 1
                continue
            same_motion = (
                a is not None
                and b is not None
                and segments[a].histology
                and segments[b].histology
                and segments[a].chain is not None
                and segments[a].chain == segments[b].chain
            )
            if not (same_motion and certainty[j - 1] < MIN_EDGE_CERTAINTY):
                break
            j += 1
        runs.append((i, j))
        i = j
    return runs


def _main_owner(owners: Sequence[int | None], sentences: Sequence, a: int, b: int) -> int | None:
    """The owner of most words of sentences ``[a, b)`` (the earliest on a tie)."""
    words: dict[int | None, int] = {}
    for k in range(a, b):
        words[owners[k]] = words.get(owners[k], 0) + sentences[k].last - sentences[k].first
    return max(words, key=lambda o: words[o])  # dicts keep order: the earliest wins a tie


def _opens(token: str) -> float:
    """How often ``token`` opens a sentence: 1 for a usual opener (articles among them), -1 for
    a word that more often goes on with a phrase, else 0 (``quilt_hf.text.sentences``' lists)."""
    bare = bare_word(token)
    if bare in STARTERS:
        return 1.0
    return -1.0 if bare in CONTINUERS else 0.0


def change_times(segments: Sequence[Segment]) -> list[float]:
    """When the picture changes: midway between consecutive segments (a cut, or the middle of a
    fade or of a run too short to keep), except between two views of one motion (``chain``),
    which show one slide moving on."""
    ordered = sorted(segments, key=lambda s: s.start)
    return [
        (a.end + b.start) / 2
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a.chain is None or a.chain != b.chain
    ]


def split_straddling_sentences(restored: Restored, changes: Sequence[float]) -> Restored:
    """``STRADDLE_RULE``: sentences restored from pauses alone that run on well past a change of
    picture on both sides are split at their longest allowed pause near it."""
    words, pauses, allowed = restored.words, restored.pauses, restored.allowed
    pause_certainty = restored.pause_certainty
    if restored.method != "pauses" or pauses is None or allowed is None or pause_certainty is None:
        return restored
    for change in sorted(changes):
        sentence = next((s for s in restored.sentences if s.start < change < s.end), None)
        if sentence is None:
            continue
        if min(change - sentence.start, sentence.end - change) < STRADDLE_SECONDS:
            continue  # a run-on or a lead-in: the sentence goes with the slide it is mostly on
        # no piece under three words; the missed end lies near the change
        near = [
            k
            for k in range(sentence.first + 2, sentence.last - 3)
            if allowed[k]
            and pauses[k] >= MIN_PAUSE  # a silence a listener hears
            and pause_certainty[k] >= SURE  # measured: word times, a roll-up line break
            and abs(words[k].end - change) <= STRADDLE_REACH
            and bare_word(words[k + 1].text) not in NOT_FIRST
        ]
        if near:
            at = max(near, key=lambda k: pauses[k] + OPENER_BONUS * _opens(words[k + 1].text))
            restored = with_more_ends(restored, {at: LIKELY})
    return restored


def pair_segments(
    segments: Sequence[Segment], sentences: Sequence, words: Sequence[Word], chunk_time: float
) -> list[TextPiece]:
    """``TEXT_BOUNDARY_RULE``: the texts (as sentence ranges) of each histology segment."""
    if chunk_time <= 0:
        raise ValueError("chunk_time must be positive")
    owners = assign_sentences(segments, sentences, words)
    certainty = [float(getattr(s, "certainty", 1.0)) for s in sentences]
    # a sentence starts as certainly as the one before it ends; the transcript's first surely
    starts_certainty = [1.0, *certainty[:-1]]
    pieces: list[TextPiece] = []
    for i, j in motion_runs(segments, owners, certainty):
        owner = owners[i]
        if owner is None or not segments[owner].histology:
            continue
        spans = [
            SentenceSpan(s.first, s.last, s.start, s.end, c)
            for s, c in zip(sentences[i:j], certainty[i:j], strict=True)
        ]
        for a, b in split_at_sentence_ends(spans, chunk_time):
            kept = trim_to_certain_ends(starts_certainty[i + a : i + b], certainty[i + a : i + b])
            if kept is None:
                continue  # no text here starts and ends at a placed sentence end
            a, b = a + kept[0], a + kept[1]
            key = segments[_main_owner(owners, sentences, i + a, i + b)].key  # type: ignore[index]
            pieces.append(TextPiece(key, i + a, i + b, spans[a].start, spans[b - 1].end))
    return pieces
