"""Sentences of a timed transcript, restored when the captions have no punctuation.

YouTube auto-captions are lowercase words without punctuation; a pair's text must still start at
a sentence start and end at a sentence end. ``restore_sentences`` returns the transcript's words
grouped into sentences, each word with its restored form (capital, trailing punctuation), by one
of these methods (``SENTENCE_METHODS``):

- ``captions``: the captions are punctuated already (at least one ``.?!`` per ``PUNCTUATED_EVERY``
  words and some capitals): split after ``.?!``.
- ``model``: a punctuation-restoration token classifier through ``transformers``
  (``pipeline("token-classification")``); ``DEFAULT_PUNCTUATION_MODEL`` by default, whose labels
  per token are ``0 . , ? - :``; a word takes the label of its last sub-token. Any model whose
  labels name the marks (``PERIOD``, ``COMMA``, ``QUESTION`` ... or the marks themselves) works.
- ``llm``: the LLM of the corrector (``openai`` / ``transformers`` backends) is asked for the same
  words with punctuation and capitals; its answer is mapped back word by word (``difflib``), so a
  word it dropped or changed keeps its raw form and no word is invented.
- Both read ``MODEL_WINDOW_WORDS`` at a time, in overlapping windows whose edges give no mark
  (``_windows``): a window's last word has nothing after it to say whether a sentence ends there.
  A window whose words take more tokens than the model can read is read in parts.
- ``pauses`` (offline fallback, the documented rule; ``placed_pauses``): a sentence ends after a
  word followed by a pause of at least ``MIN_PAUSE`` s and ``PAUSE_OVER_TYPICAL`` times the
  speaker's typical gap, never after a closed-class word (``NOT_LAST``: ``the``, ``of``, ``with``,
  ``is`` ...) nor inside a lexicon term (``basal cell carcinoma``). How the pause is measured
  depends on the captions' timing:

  * word-timed captions (YouTube's inline ``<00:00:01.240><c>`` times): the time from a word's
    start to the next word's start beyond what its length needs at the video's own pace (auto-
    captions carry word starts only, so the pause hides in the word's duration);
  * cue-timed captions (plain WebVTT/SRT cues, roll-up captions without inline times; the
    parser spreads a cue's time over its words by length, ``Word.cue``): only the cue's time is
    known. Its silence is that time minus what its characters need at the speech pace of the
    track's cues (``_cue_speech_model``: time per word and per character, fitted to the cues it
    explains best, since pauses only lengthen a cue), and where in the cue
    it falls is read from the text (``_place_in_cue``): after the line's last word when the line
    broke at the pause (roll-up captions start a new line at a pause: a line that ended short
    of the track's width, or a silence as long as one that did); else at the place allowed by
    ``NOT_LAST`` / ``NOT_FIRST`` / lexicon terms that a sentence opener follows (``STARTERS``;
    ``ARTICLE_SCORE`` for an article; minus one before ``CONTINUERS``), plus one for ending a
    lexicon term. Each end carries a certainty (``Sentence.certainty``): ``SURE`` (measured
    place, or the only allowed one, or a line break), ``LIKELY`` (a lone opener after it),
    ``GUESS``; ``quilt_hf.video.align`` starts and ends texts only at ``LIKELY`` or better.

Measured on the independent generator's captions (``quilt_hf/synthetic/lectures.py``, dev seeds
100-114, 1,100 sentence ends; not the benchmark's seeds): from word-timed captions ``pauses``
finds 1,075 ends with no false one; from cue-timed captions it finds 802 with 298 false (the
cue holding a pause is found almost always; where in the cue, the text often cannot say), and
ends marked ``SURE`` are right 100% of the time, ``LIKELY`` 93%, ``GUESS`` 46%. (That
generator's words also take a time per word plus a time per letter, so the speech model fits it
better than it will fit a real speaker.) Use ``model`` or ``llm`` for cue-timed captions where
a model can be loaded.

Whatever the method, a sentence longer than ``MAX_SENTENCE_WORDS`` is split at its longest
allowed pause (before a word that often opens a sentence, ``STARTERS``, on a near-tie); then the
first word of each sentence is capitalised (``truecase``) and the last one ends with a mark.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quilt_hf.errors import QuiltError
from quilt_hf.text.transcript import Word

DEFAULT_PUNCTUATION_MODEL = "oliverguhr/fullstop-punctuation-multilang-large"
SENTENCE_METHODS = ("auto", "captions", "model", "llm", "pauses")
PUNCTUATED_EVERY = 40  # punctuated captions have at least one sentence end per this many words
MIN_PAUSE = 0.15  # seconds of silence that can end a sentence (shorter: articulation) ...
PAUSE_OVER_TYPICAL = 4.0  # ... and this many times the transcript's typical (75th pct) pause
MAX_SENTENCE_WORDS = 45
MODEL_WINDOW_WORDS = 150  # words per model or LLM call (well under 512 sub-tokens)
MODEL_CONTEXT_WORDS = 20  # words read either side of the words a call is asked for (_windows)
ENDS = (".", "?", "!")

# Closed-class words an English sentence does not end on: articles, prepositions, conjunctions,
# auxiliaries and modals, subject pronouns, determiners, intensifiers.
_CLOSED_CLASS = """a an the of with and or but in on at to for by from into onto as than that which
who whose is are was were be been being do does did can could will would should may might must
shall not very more most less quite i we you they he she this these those its their our your my
his her some any each every no how what where when why between within under over about like
such"""
NOT_LAST = frozenset(_CLOSED_CLASS.split())
# Words that often open an English sentence (determiners, pronouns, discourse markers): where
# timing cannot say where a sentence ends, the end goes before one of them.
_OPENERS = """the a an this these those there here they we i now so next then first finally also
note notice let look remember again today okay well"""
STARTERS = frozenset(_OPENERS.split())
# Words that more often go on with a phrase than open a sentence (conjunctions, the relative
# "that", modals: an English sentence opens with them mainly in questions).
_CONTINUERS = "and or but that would could should might must can will may"
CONTINUERS = frozenset(_CONTINUERS.split())
ARTICLES = frozenset({"the", "a", "an"})  # open many sentences, but as many phrases inside one
ARTICLE_SCORE = 0.5  # so an article after a place is weak evidence (a verb + article is common)
# Words that do not open an English sentence of a narrated lecture (they continue a phrase).
_NOT_OPENERS = "of is are was were than into onto whose has had"
NOT_FIRST = frozenset(_NOT_OPENERS.split())
CUE_FIT_ROUNDS = 10  # refits of the cues' speech model on the half it explains best
# How certain a sentence end's place is (``Sentence.certainty``): measured (punctuation, a word
# pause, the only place a cue's pause can be), likely (a lone sentence opener after it), a guess.
SURE, LIKELY, GUESS = 1.0, 0.5, 0.0
UNTIMED_SHARE = 0.5  # captions are read as untimed cues when most words share their cue's time

LLM_SENTENCE_PROMPT = (
    "You restore punctuation and capitalisation in automatic captions of a histopathology "
    "lecture. Return the SAME words in the same order, adding sentence punctuation (. , ? !) and "
    "capital letters only; do not add, drop, correct or reorder words. Answer with JSON only: "
    '{"text": "<the punctuated text>"}.'
)


@dataclass(frozen=True)
class Sentence:
    first: int  # index of its first word in the transcript
    last: int  # index after its last word
    start: float  # first word's start, seconds
    end: float  # last word's end
    text: str  # restored text
    certainty: float = SURE  # how certain the place of its end is: SURE, LIKELY or GUESS


@dataclass
class Restored:
    words: list[Word]  # the transcript's words (raw)
    tokens: list[str]  # restored form of each word
    sentences: list[Sentence]
    method: str
    pauses: np.ndarray | None = None  # seconds of silence after each word (placed_pauses)
    allowed: np.ndarray | None = None  # where a sentence may end (_allowed_ends)
    pause_certainty: np.ndarray | None = None  # how certain each pause's place is (SURE...)


def _sentences(
    words: Sequence[Word], tokens: Sequence[str], ends: dict[int, float]
) -> list[Sentence]:
    """The sentences ending after the words of ``ends`` (word index -> certainty of that end)."""
    sentences, first = [], 0
    for last in sorted(ends):
        sentences.append(
            Sentence(
                first,
                last + 1,
                words[first].start,
                max(words[last].end, words[last].start),
                " ".join(tokens[first : last + 1]),
                float(ends[last]),
            )
        )
        first = last + 1
    return sentences


def with_more_ends(restored: Restored, extra: dict[int, float]) -> Restored:
    """``restored`` with sentences also ending after the words of ``extra`` (word index ->
    certainty of that end): the word before a new end takes a period, the one after a capital."""
    ends = {s.last - 1: s.certainty for s in restored.sentences}
    n = len(restored.tokens)
    ends |= {k: c for k, c in extra.items() if k not in ends and 0 <= k < n - 1}
    # the restored tokens are truecased already: this only marks and capitalises the new ends
    tokens = truecase(restored.tokens, np.isin(np.arange(n), list(ends)))
    return Restored(
        restored.words,
        tokens,
        _sentences(restored.words, tokens, ends),
        restored.method,
        restored.pauses,
        restored.allowed,
        restored.pause_certainty,
    )


def bare_word(token: str) -> str:
    """``token`` lowercased, without punctuation (letters, digits, apostrophes, hyphens)."""
    return re.sub(r"[^\w'-]", "", token.lower())


def is_punctuated(words: Sequence[Word]) -> bool:
    """Captions that already carry sentences: enough sentence ends and some capitals."""
    if not words:
        return False
    ends = sum(w.text.rstrip("\"')]").endswith(ENDS) for w in words)
    capitals = sum(w.text[:1].isupper() for w in words)
    return ends * PUNCTUATED_EVERY >= len(words) and capitals > 0


def cue_groups(words: Sequence[Word]) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of words whose times were spread over one caption cue by length (captions
    without word timings: plain WebVTT/SRT cues, roll-up captions): the words of one
    ``Word.cue`` where the parser numbered them, else inferred: back to back, and the same
    seconds per character. Words with their own timings form runs of one."""
    numbered = any(w.cue >= 0 for w in words)
    groups, a = [], 0
    for i in range(1, len(words) + 1):
        if i < len(words):
            p, w = words[i - 1], words[i]
            if numbered:
                if w.cue >= 0 and w.cue == p.cue:
                    continue
            else:
                rate_p = (p.end - p.start) / (len(p.text) + 1)
                rate_w = (w.end - w.start) / (len(w.text) + 1)
                spread = (
                    abs(p.end - w.start) < 2e-3 and abs(rate_p - rate_w) <= 0.02 * rate_p + 2e-3
                )
                if spread and rate_p > 0:
                    continue
        groups.append((a, i))
        a = i
    return groups


def _cue_speech_model(words: Sequence[Word], groups: list[tuple[int, int]]) -> np.ndarray:
    """Seconds of speech per word and per character in untimed cues, ``[per_word, per_char]``.

    A word takes a fixed time (onset, release) plus a time per character; pauses only ever
    lengthen a cue, so the model is fitted by least squares to the cues that it explains best:
    refitted on the half with the smallest residuals until that half stops changing (at most
    ``CUE_FIT_ROUNDS``). Cues of fewer than three words are left out (too few to show a pace)."""
    rows = [(a, b) for a, b in groups if b - a >= 3]
    if len(rows) < 4:
        chars = sum(len(w.text) + 1 for a, b in groups for w in words[a:b])
        seconds = sum(words[b - 1].end - words[a].start for a, b in groups)
        return np.array([0.0, seconds / chars if chars else 0.0])
    x = np.array([[b - a, sum(len(w.text) + 1 for w in words[a:b])] for a, b in rows], float)
    y = np.array([words[b - 1].end - words[a].start for a, b in rows])
    return fit_speech_model(x, y)


def fit_speech_model(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares ``[per_word, per_char]`` for seconds ``y`` of rows ``x = [words, chars]``,
    refitted on the half with the smallest residuals until it stops changing (pauses only ever
    lengthen a row, so the rows without one are the fast ones)."""
    keep = np.ones(len(y), dtype=bool)
    coef = np.zeros(2)
    for _ in range(CUE_FIT_ROUNDS):
        coef = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
        residual = y - x @ coef
        lower = residual <= np.median(residual)
        if (lower == keep).all():
            break
        keep = lower
    return coef


def _line_width(words: Sequence[Word], groups: list[tuple[int, int]]) -> int:
    """The widest cue line in characters: the width the captioner filled before breaking; 0
    (unknown) when cues were inferred from timing, since two inferred cues may be one run."""
    if not any(w.cue >= 0 for w in words):
        return 0
    return max((len(" ".join(w.text for w in words[a:b])) for a, b in groups), default=0)


def _place_in_cue(
    bare: list[str], a: int, b: int, at_break: bool, no_end: np.ndarray, term_end: np.ndarray
) -> tuple[int, float]:
    """Where in cue ``[a, b)`` its pause most likely falls, and how certain that place is.

    Text evidence only (the cue's time is all the format gives): no end after a word that
    cannot end a sentence or inside a lexicon term (``no_end``), nor before a word that cannot
    open one (``NOT_FIRST``). The cue's last word wins outright when the line broke at the pause
    (``at_break``: roll-up captions start a new line at a pause, so a line that ended short of
    the track's width, or a silence as long as one that did, lies after the line). Else two
    points for a following word that often opens a sentence (``STARTERS``; ``ARTICLE_SCORE``
    for an article), one for ending a lexicon term (a pathology lecture's sentences end on its
    nouns), minus one before a word of ``CONTINUERS`` (``and``, ``that``, ``would`` ...: more
    often a phrase goes on with one than a sentence opens with it); the earliest best place on
    a tie. Certainty: ``SURE`` for a line break or the only allowed place, ``LIKELY`` for a best
    place with an opener after it and a point ahead of the rest, else ``GUESS``."""
    if at_break and not no_end[b - 1]:
        return b - 1, SURE
    scores = []
    for k in range(a, b):
        if no_end[k] or bare[k + 1] in NOT_FIRST:
            scores.append(-np.inf)
            continue
        nxt = bare[k + 1]
        opener = ARTICLE_SCORE if nxt in ARTICLES else 2.0 if nxt in STARTERS else 0.0
        scores.append(opener + term_end[k] - (nxt in CONTINUERS))
    order = sorted(range(b - a), key=lambda k: (scores[k], -k), reverse=True)
    best, runner = scores[order[0]], scores[order[1]] if b - a > 1 else -np.inf
    if np.isfinite(best) and not np.isfinite(runner):
        return a + order[0], SURE
    opener = bare[a + order[0] + 1] in STARTERS
    return a + order[0], LIKELY if opener and best >= runner + 1.0 else GUESS


def placed_pauses(
    words: Sequence[Word], lexicon: Any = None, *, matches: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of silence after each word, and how certain its place is (``SURE`` where it was
    measured, ``LIKELY`` / ``GUESS`` where the text evidence of ``_place_in_cue`` put it).

    Words with their own timings: next start minus this start minus the time this word needs (a
    time per word plus a time per character, ``fit_speech_model`` on the word onsets); the real
    gap when larger; all sure.

    Untimed cues (``cue_groups``: words spread over a cue by length, as WebVTT/SRT without inline
    times are read): the cue's silence is its time up to the next cue's first word minus what
    its words need at the speech pace of untimed cues (``_cue_speech_model``); it is put at one
    place (``_place_in_cue``). ``matches``: ``_term_matches(words, lexicon)`` when the caller
    has it already."""
    n = len(words)
    if n < 2:
        return np.zeros(n), np.full(n, SURE)
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    lengths = np.array([len(w.text) + 1 for w in words], dtype=float)
    onset = np.diff(starts)
    # what each word needs: a time per word plus a time per character. A time per character
    # alone (the median pace) is inflated by short words' fixed part and so overestimates what
    # a long word needs, hiding the pause after it ("diagnosis | returning")
    if n > 4:
        rows = np.stack([np.ones(n - 1), lengths[:-1]], 1)
        per_word, per_char = fit_speech_model(rows, onset)
    else:  # too few words to tell the two parts apart
        per_word, per_char = 0.0, float(np.median(onset / lengths[:-1]))
    excess = onset - per_word - per_char * lengths[:-1]
    gap = starts[1:] - ends[:-1]
    pauses = np.append(np.maximum(excess, gap), np.inf)  # the transcript ends a sentence
    certainty = np.full(n, SURE)
    groups = [(a, b) for a, b in cue_groups(words) if b - a >= 2]
    if sum(b - a for a, b in groups) < UNTIMED_SHARE * n:
        return pauses, certainty  # word-timed captions: a few words that happen to share a pace
    per_word, per_char = _cue_speech_model(words, groups)
    width = _line_width(words, groups)
    bare = [bare_word(w.text) for w in words] + [""]
    if matches is None:
        matches = _term_matches(words, lexicon)  # one lexicon scan for both
    no_end = ~_allowed_ends(words, matches)
    term_end = _term_ends(n, matches)
    cues = [(a, b) for a, b in groups if b < n]
    for a, b in groups[-1:]:
        if b == n:  # the last cue: its words' times were spread, and the captions end after it
            pauses[a : b - 1] = 0.0
            certainty[a : b - 1] = GUESS
    silences = [
        starts[b] - starts[a] - per_word * (b - a) - per_char * lengths[a:b].sum() for a, b in cues
    ]
    # roll-up captions: a cue lasts until the next line appears (cues abut) and a line is
    # filled to the width unless the speaker paused; cues with gaps (a human captioner's SRT)
    # break where the captioner chose, which says nothing of the width
    short = [
        width > 0
        and abs(starts[b] - ends[b - 1]) < 2e-3
        and len(" ".join(w.text for w in words[a:b])) + 1 + len(words[b].text) <= width
        for a, b in cues
    ]
    # The captioner breaks a line at a pause of some length: the shortest silence that ended a
    # short line bounds it, and a silence that long cannot lie inside a line (it would have
    # broken there), so it follows the line's last word too.
    breaking = min((x for x, s in zip(silences, short, strict=True) if s), default=np.inf)
    for (a, b), silence, short_line in zip(cues, silences, short, strict=True):
        at_break = short_line or silence >= breaking
        at, placed = _place_in_cue(bare, a, b, at_break, no_end, term_end)
        pauses[a:b] = 0.0
        pauses[at] = max(silence, 0.0)
        certainty[a:b] = GUESS  # nothing was measured at the cue's other places
        certainty[at] = placed
    return pauses, certainty


def pauses_after(words: Sequence[Word], lexicon: Any = None) -> np.ndarray:
    """Seconds of silence after each word (``placed_pauses``)."""
    return placed_pauses(words, lexicon)[0]


def _term_matches(words: Sequence[Word], lexicon: Any) -> list[np.ndarray]:
    """Word indices of each lexicon term found in ``words``."""
    if lexicon is None:
        return []
    text, offsets = "", []
    for w in words:
        offsets.append(len(text))
        text += bare_word(w.text) + " "
    starts = np.array(offsets)
    return [
        np.nonzero((starts >= match.start) & (starts < match.end))[0]
        for match in lexicon.find(text)
    ]


def _term_ends(n: int, matches: list[np.ndarray]) -> np.ndarray:
    """1 for each of ``n`` words that ends a lexicon term (``_term_matches``), else 0."""
    ends = np.zeros(n)
    for inside in matches:
        if len(inside):
            ends[inside[-1]] = 1.0
    return ends


def _allowed_ends(words: Sequence[Word], matches: list[np.ndarray]) -> np.ndarray:
    """Where a sentence may end: not after a closed-class word, not inside a lexicon term
    (``matches``: ``_term_matches`` of ``words``)."""
    allowed = np.array([bare_word(w.text) not in NOT_LAST for w in words], dtype=bool)
    for inside in matches:
        allowed[inside[:-1]] = False  # not between the words of one term
    return allowed


def _split_long(
    ends: np.ndarray, pauses: np.ndarray, allowed: np.ndarray, max_words: int, starts: np.ndarray
) -> np.ndarray:
    """Split sentences longer than ``max_words`` at their longest allowed pause (recursively);
    ``starts`` (1 where the next word often opens a sentence) breaks near-ties of pauses."""
    ends = ends.copy()
    changed = True
    while changed:
        changed = False
        first = 0
        for last in np.nonzero(ends)[0]:
            if last - first + 1 > max_words:
                inside = np.arange(first + 2, last - 2)  # no one- or two-word pieces
                candidates = inside[allowed[inside]] if len(inside) else inside
                if len(candidates) == 0:
                    candidates = inside
                if len(candidates):
                    ends[candidates[np.argmax(pauses[candidates] + 0.1 * starts[candidates])]] = (
                        True
                    )
                    changed = True
            first = last + 1
    return ends


def _sentence_ends_by_pauses(pauses: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Sentence ends after the words whose pause (``placed_pauses``) stands out, where allowed."""
    # Between-sentence pauses stand out from the small gaps between words of one sentence
    # (speech: under ~0.1-0.2 s inside a sentence, ~0.3-1 s between sentences); the threshold
    # follows the speaker: the larger of MIN_PAUSE and a multiple of their typical gap.
    inner = pauses[np.isfinite(pauses)]
    typical = float(np.percentile(np.maximum(inner, 0), 75)) if len(inner) else 0.0
    ends = (pauses >= max(MIN_PAUSE, PAUSE_OVER_TYPICAL * typical)) & allowed
    # short "sentences" (under 3 words) are a hesitation, not a sentence: join them to the next
    first = 0
    for last in np.nonzero(ends)[0]:
        if last - first + 1 < 3 and last < len(pauses) - 1:
            ends[last] = False
        else:
            first = last + 1
    return ends


def _windows(n: int) -> Iterator[tuple[int, int, int, int]]:
    """``(start, stop, keep_start, keep_stop)``: overlapping windows of at most
    ``MODEL_WINDOW_WORDS`` over ``n`` words, each kept for its middle part only.

    Whether a sentence ends after a word depends on the words after it, and a window's last word
    has none: a model or an LLM then misses an end there, or ends the text with a period where
    the sentence goes on. So every word is read with ``MODEL_CONTEXT_WORDS`` either side (but at
    the transcript's own edges), as deepmultilingualpunctuation overlaps its chunks.
    """
    keep = MODEL_WINDOW_WORDS - 2 * MODEL_CONTEXT_WORDS
    for keep_start in range(0, n, keep):
        keep_stop = min(n, keep_start + keep)
        start = max(0, keep_start - MODEL_CONTEXT_WORDS)
        stop = min(n, keep_stop + MODEL_CONTEXT_WORDS)
        yield start, stop, keep_start, keep_stop


def _model_marks(words: Sequence[Word], model: Any) -> list[str]:
    """The mark (``''``, ``.``, ``,``, ``?`` ...) the token classifier puts after each word."""
    marks = [""] * len(words)
    for start, stop, keep_start, keep_stop in _windows(len(words)):
        window = _window_marks(words[start:stop], model)
        marks[keep_start:keep_stop] = window[keep_start - start : keep_stop - start]
    return marks


def _token_limit(model: Any) -> int | None:
    """How many tokens, special ones included, one call of a ``transformers`` pipeline can take:
    the tokenizer's ``model_max_length`` or the model's positions (less the two a RoBERTa-style
    model reserves), the smaller; None for anything else (a test double, an LLM)."""
    tokenizer = getattr(model, "tokenizer", None)
    config = getattr(getattr(model, "model", None), "config", None)
    if tokenizer is None:
        return None
    limits = [int(tokenizer.model_max_length)] if tokenizer.model_max_length < 1_000_000 else []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions) - 2)
    return min(limits) if limits else None


def _window_marks(words: Sequence[Word], model: Any) -> list[str]:
    """The marks of one model call: each word's is its last sub-token's label.

    A window whose words take more tokens than the model can read (long or rare words split into
    many pieces, a language the tokenizer knows little) is read in two halves instead, which the
    token-classification pipeline does not do: it fails on the whole call."""
    chunk = [bare_word(w.text) or w.text for w in words]
    text = " ".join(chunk)
    limit = _token_limit(model)
    if limit is not None and len(words) > 1 and len(model.tokenizer(text)["input_ids"]) > limit:
        half = len(words) // 2
        return _window_marks(words[:half], model) + _window_marks(words[half:], model)
    spans, offset = [], 0
    for token in chunk:
        spans.append((offset, offset + len(token)))
        offset += len(token) + 1
    labels = [""] * len(chunk)
    best_end = [-1] * len(chunk)
    for entity in model(text):
        start, end = int(entity.get("start") or 0), int(entity.get("end") or 0)
        label = str(entity.get("entity") or entity.get("entity_group") or "")
        index = next((i for i, (a, b) in enumerate(spans) if a <= start < b or a < end <= b), None)
        if index is not None and end >= best_end[index]:  # the word's last sub-token
            best_end[index] = end
            labels[index] = label
    return [_mark_of(label) for label in labels]


def _mark_of(label: str) -> str:
    label = label.upper().removeprefix("B-").removeprefix("I-")
    names = {"PERIOD": ".", "FULLSTOP": ".", "QUESTION": "?", "EXCLAMATION": "!", "COMMA": ","}
    for name, mark in names.items():
        if name in label:
            return mark
    return label if label in {".", "?", "!", ",", ":", "-"} else ""


def punctuation_pipeline(model: Any = DEFAULT_PUNCTUATION_MODEL, tokenizer: Any = None):
    """A ``transformers`` token-classification pipeline (Hub id, folder, or model + tokenizer),
    on the first GPU when there is one: the default model is XLM-RoBERTa large."""
    import torch
    from transformers import pipeline

    device = 0 if torch.cuda.is_available() else -1
    try:
        return pipeline(
            "token-classification",
            model=model,
            tokenizer=tokenizer,
            ignore_labels=[],
            device=device,
        )
    except OSError as exc:
        raise QuiltError(f"cannot load punctuation model {model!r}: {exc}") from exc


def _llm_tokens(words: Sequence[Word], chat: Any) -> list[str]:
    """Raw words with the LLM's punctuation and capitals where its answer matches them."""
    tokens = [w.text for w in words]
    for start, stop, keep_start, keep_stop in _windows(len(words)):
        raw = [w.text for w in words[start:stop]]
        answer = chat.complete_json(LLM_SENTENCE_PROMPT, " ".join(raw))
        text = answer.get("text") if isinstance(answer, dict) else None
        if not isinstance(text, str):
            continue
        said = text.split()
        matcher = difflib.SequenceMatcher(
            a=[bare_word(t) for t in raw], b=[bare_word(t) for t in said], autojunk=False
        )
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                b, at = block.b + k, start + block.a + k
                if not keep_start <= at < keep_stop:
                    continue  # context: another window gives this word's mark
                token = said[b]
                if b == 0 or said[b - 1].rstrip("\"')]").endswith(ENDS):
                    # a sentence-start capital: ``truecase`` sets it where a sentence really starts
                    token = raw[block.a + k][:1] + token[1:]
                tokens[at] = token
    return tokens


def _marks_to_ends(tokens: Sequence[str]) -> np.ndarray:
    return np.array([t.rstrip("\"')]").endswith(ENDS) for t in tokens], dtype=bool)


def truecase(tokens: list[str], ends: np.ndarray) -> list[str]:
    """Capitalise each sentence's first word and ``i``; end each sentence with a mark."""
    out = list(tokens)
    first = True
    for i, token in enumerate(out):
        if first and token[:1].islower():
            token = token[0].upper() + token[1:]
        if token == "i":
            token = "I"
        if ends[i] and not token.rstrip("\"')]").endswith(ENDS):
            token = token.rstrip(",;:-") + "."
        out[i] = token
        first = bool(ends[i])
    return out


def restore_sentences(
    words: Sequence[Word],
    method: str = "auto",
    *,
    model: Any = None,
    chat: Any = None,
    lexicon: Any = None,
    max_words: int = MAX_SENTENCE_WORDS,
) -> Restored:
    """Group ``words`` into sentences (see the module docstring).

    ``auto``: ``captions`` when punctuated, else ``llm`` with a ``chat``, else ``model`` with a
    ``model`` (a pipeline or anything ``punctuation_pipeline`` loads), else ``pauses``.
    """
    if method not in SENTENCE_METHODS:
        raise QuiltError(
            f"unknown sentence method {method!r}; choose {', '.join(SENTENCE_METHODS)}"
        )
    words = list(words)
    if method == "auto":
        if is_punctuated(words):
            method = "captions"
        elif chat is not None:
            method = "llm"
        elif model is not None:
            method = "model"
        else:
            method = "pauses"
    if lexicon is None:
        from quilt_hf.text.lexicon import load_lexicon

        lexicon = load_lexicon()
    tokens = [w.text for w in words]
    # both the pause method and the long-sentence split read these: computed once, from one
    # lexicon scan
    matches = _term_matches(words, lexicon)
    allowed = _allowed_ends(words, matches)
    pauses, placed = placed_pauses(words, lexicon, matches=matches)
    pause_certainty = placed.copy()  # (certainty below may lower some of placed's)
    if method == "captions":
        ends = _marks_to_ends(tokens)
    elif method == "model":
        classify = (
            model if callable(model) else punctuation_pipeline(model or DEFAULT_PUNCTUATION_MODEL)
        )
        marks = _model_marks(words, classify)
        tokens = [
            t.rstrip(".,?!:;") + m if m not in ("", "-") else t
            for t, m in zip(tokens, marks, strict=True)
        ]
        ends = _marks_to_ends(tokens)
    elif method == "llm":
        if chat is None:
            raise QuiltError(
                "sentence method 'llm' needs the corrector's LLM (openai/transformers)"
            )
        tokens = _llm_tokens(words, chat)
        ends = _marks_to_ends(tokens)
    else:
        ends = _sentence_ends_by_pauses(pauses, allowed)
    certainty = np.full(len(words), SURE)
    if len(ends):
        ends[-1] = True
        # a new speaker or topic (">>" in the captions: ``Word.turn``) ends the sentence before it
        turns = np.array([w.turn for w in words[1:]] + [False], dtype=bool)
        ends = ends | turns
        placed[turns] = SURE
        opens = np.array([bare_word(w.text) in STARTERS for w in words[1:]] + [False], dtype=float)
        split = _split_long(ends, pauses, allowed, max_words, opens)
        if method == "pauses":
            certainty = placed
        # a long sentence split at its longest pause, though too short to end a sentence
        certainty[split & ~ends] = np.minimum(certainty[split & ~ends], LIKELY)
        ends = split
    tokens = truecase(tokens, ends)
    sentences = _sentences(words, tokens, {int(k): certainty[k] for k in np.nonzero(ends)[0]})
    return Restored(words, tokens, sentences, method, pauses, allowed, pause_certainty)
