"""Sentences from unpunctuated captions with cue times only (roll-up WebVTT, plain SRT).

The inputs are caption files as the formats lay them out: WebVTT roll-up cues (each cue shows
the previous line above the new one, cues abut, no inline word times) and SRT cues. A captioner
fills a line up to its width and starts a new one when the next word does not fit, or at a
pause; all the reader knows is each cue's time. The tests pin the offline fallback's rules
(``quilt_hf.text.sentences``): a cue's silence against the speech pace of the faster cues, the
place of that silence from a line break or the lexicon of closed-class words and openers, and
each end's certainty, which ``pair_segments`` uses to start and end texts.
"""

from __future__ import annotations

import pytest

from quilt_hf.text.captions import parse_captions
from quilt_hf.text.lexicon import Lexicon, Term
from quilt_hf.text.sentences import GUESS, LIKELY, SURE, cue_groups, restore_sentences
from quilt_hf.video.align import Segment, pair_segments

PACE = 0.07  # seconds per character (a space included), about 170 words a minute


def stamp(seconds: float, comma: bool = False) -> str:
    ms = round(seconds * 1000)
    text = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
    return text.replace(".", ",") if comma else text


def by_length(word: str) -> float:
    return PACE * (len(word) + 1)


def cue_times(
    lines: list[tuple[str, float]], start: float = 1.0, speak=by_length
) -> list[tuple[float, float]]:
    """Each line's cue: from its first word to the next line's first word (roll-up cues abut),
    each word taking ``speak(word)`` seconds and ``silence`` seconds of pause somewhere in it."""
    times, t = [], start
    for text, silence in lines:
        end = t + sum(speak(w) for w in text.split()) + silence
        times.append((t, end))
        t = end
    return times


def rollup_vtt(lines: list[tuple[str, float]], speak=by_length) -> str:
    out = ["WEBVTT\nKind: captions\nLanguage: en\n"]
    previous = ""
    for (text, _), (a, b) in zip(lines, cue_times(lines, speak=speak), strict=True):
        shown = f"{previous}\n{text}" if previous else text
        out.append(f"{stamp(a)} --> {stamp(b)} align:start position:0%\n{shown}\n")
        previous = text
    return "\n".join(out)


def srt(lines: list[tuple[str, float]]) -> str:
    blocks = [
        f"{i}\n{stamp(a, comma=True)} --> {stamp(b, comma=True)}\n{text}\n"
        for i, ((text, _), (a, b)) in enumerate(zip(lines, cue_times(lines), strict=True), start=1)
    ]
    return "\n".join(blocks)


WIDTH = 33
# A lecture's captions, one line per cue, with the seconds of silence each cue holds. The
# sentences said: "today we look at a basal cell carcinoma of the skin | we see nests of basaloid
# tumor cells that grow into the dermis | they palisade at the edge of each nest and are
# separated from tumor cells | the margins are clear of tumor | large tumor cells follow the
# border of the lesion".
LINES = [
    ("today we look at a basal cell", 0.0),  # full: "carcinoma" would not fit
    ("carcinoma of the skin we see", 0.5),  # "skin | we": "we" opens a sentence
    ("nests of basaloid tumor cells", 0.0),
    ("that grow into the dermis", 0.6),  # short line: the captioner broke it at the pause
    ("they palisade at the edge of each", 0.0),
    ("nest and are separated from tumor", 0.0),
    ("cells the margins are clear of", 0.5),  # "cells" is the only place a sentence can end
    ("tumor large tumor cells follow", 0.5),  # "tumor | large": nothing in the text says so
    ("the border of the lesion", 0.0),
]


def fits(line: str, next_word: str) -> bool:
    return len(line) + 1 + len(next_word) <= WIDTH


def test_the_test_captions_are_laid_out_as_a_captioner_would():
    assert max(len(text) for text, _ in LINES) == WIDTH
    for (text, _), (following, _) in zip(LINES, LINES[1:], strict=False):
        broke_at_pause = text == "that grow into the dermis"
        assert fits(text, following.split()[0]) == broke_at_pause, text


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
def test_cue_timed_captions_are_numbered_by_cue(fmt):
    text = rollup_vtt(LINES) if fmt == "vtt" else srt(LINES)
    words = parse_captions(text, fmt=fmt).words
    assert " ".join(w.text for w in words) == " ".join(t for t, _ in LINES)  # each word once
    assert [b - a for a, b in cue_groups(words)] == [len(t.split()) for t, _ in LINES]
    assert len({w.cue for w in words}) == len(LINES) and min(w.cue for w in words) >= 0


def test_inline_word_times_are_not_cue_timed():
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000 align:start position:0%\n \n"
        "so<00:00:01.400><c> here</c><00:00:01.900><c> we</c><00:00:02.300><c> see</c>\n"
    )
    words = parse_captions(text).words
    assert [w.cue for w in words] == [-1, -1, -1, -1]
    assert [b - a for a, b in cue_groups(words)] == [1, 1, 1, 1]


def restored(fmt: str = "vtt"):
    text = rollup_vtt(LINES) if fmt == "vtt" else srt(LINES)
    words = parse_captions(text, fmt=fmt).words
    lexicon = Lexicon([Term("basal cell carcinoma", "diagnoses", (), None)])
    return words, restore_sentences(words, "pauses", lexicon=lexicon)


@pytest.mark.parametrize("fmt", ["vtt", "srt"])
def test_sentence_ends_from_cue_silences_line_breaks_and_the_lexicon(fmt):
    words, result = restored(fmt)
    assert [(s.text, s.certainty) for s in result.sentences] == [
        # a silent cue; its only place with a sentence opener after it
        ("Today we look at a basal cell carcinoma of the skin.", LIKELY),
        # the line ended with room for "they": the captioner broke it at the pause
        ("We see nests of basaloid tumor cells that grow into the dermis.", SURE),
        # "the", "are", "of" cannot end a sentence, "are" and "of" cannot open one
        ("They palisade at the edge of each nest and are separated from tumor cells.", SURE),
        # no word tells where the pause was: a guess, and here a wrong one
        ("The margins are clear of tumor large tumor cells follow.", GUESS),
        ("The border of the lesion.", SURE),  # the captions end
    ]
    # cues without silence hold no end; the lexicon term is never split
    assert not {s.last - 1 for s in result.sentences} & {
        i for i, w in enumerate(words) if w.cue in (0, 2, 4, 5)
    }
    assert [w.text for w in result.words] == [w.text for w in words]  # raw words kept


def test_a_uniform_pace_would_hide_every_pause():
    # the same words with no silence anywhere: no cue is slower than the pace, no end but the last
    quiet = [(text, 0.0) for text, _ in LINES]
    words = parse_captions(rollup_vtt(quiet)).words
    result = restore_sentences(words, "pauses", max_words=100)
    assert len(result.sentences) == 1


def test_texts_start_and_end_only_at_placed_sentence_ends():
    words, result = restored()
    s = result.sentences
    # a cut two thirds into sentence 1 ("we see nests ..."): it was mostly spoken over slide A
    cut = s[1].start + (s[1].end - s[1].start) * 2 / 3
    a, b = Segment(0.0, cut, True, 0), Segment(cut, s[-1].end + 1, True, 1)
    pieces = pair_segments([a, b], s, words, chunk_time=60.0)
    assert [(p.key, p.first, p.last) for p in pieces] == [(0, 0, 2), (1, 2, 5)]
    # a long slide is cut only where an end was placed: after sentence 2, not after the guess
    pieces = pair_segments([a, b], s, words, chunk_time=2.0)
    assert [(p.key, p.first, p.last) for p in pieces] == [
        (0, 0, 1),
        (0, 1, 2),
        (1, 2, 3),
        (1, 3, 5),
    ]
    # a slide whose text would start or end at the guessed end pairs with nothing
    c = s[3].end + 0.01
    pieces = pair_segments(
        [Segment(cut, c, True, 1), Segment(c, s[-1].end + 1, True, 2)], s, words, chunk_time=60.0
    )
    assert [(p.key, p.first, p.last) for p in pieces] == [(1, 2, 3)]


def test_short_words_take_longer_per_character_without_being_a_pause():
    # speech spends a fixed time on each word besides its letters (0.12 s + 0.05 s a letter):
    # a cue of short words is slower per character than one of long words, with no pause
    def speak(word: str) -> float:
        return 0.12 + 0.05 * len(word)

    lines = [
        ("immunohistochemistry demonstrates", 0.0),
        ("it is in the end of a way to see", 0.0),
        ("lymphovascular invasion throughout", 0.0),
        ("so we do it as we go on and on", 0.0),
        ("hyperchromatic pleomorphic nuclei", 0.0),
        ("and we see it is not in it at all", 0.0),
        ("predominantly intraepithelial", 0.0),
        ("as it is", 0.0),
    ]
    words = parse_captions(rollup_vtt(lines, speak=speak)).words
    assert len(restore_sentences(words, "pauses", max_words=100).sentences) == 1
    # a real pause (0.4 s) in a cue of short words still shows
    lines[3] = ("so we do it as we go on and on", 0.4)
    words = parse_captions(rollup_vtt(lines, speak=speak)).words
    assert len(restore_sentences(words, "pauses", max_words=100).sentences) == 2
