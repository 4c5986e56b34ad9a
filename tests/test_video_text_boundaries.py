"""Text boundaries from the picture, whole sentences: ``align.pair_segments`` on small timelines."""

from __future__ import annotations

import pytest

from quilt_hf.text.sentences import Sentence
from quilt_hf.text.transcript import Word
from quilt_hf.video.align import TEXT_BOUNDARY_RULE, Segment, assign_sentences, pair_segments


def speech(*spans: tuple[float, float, int]) -> tuple[list[Word], list[Sentence]]:
    """Sentences of ``n`` words evenly spread over ``(start, end)`` each."""
    words: list[Word] = []
    sentences: list[Sentence] = []
    for start, end, n in spans:
        step = (end - start) / n
        first = len(words)
        for k in range(n):
            words.append(Word(start + k * step, start + (k + 1) * step, f"s{len(sentences)}w{k}"))
        sentences.append(Sentence(first, len(words), start, end, f"sentence {len(sentences)}."))
    return words, sentences


def texts(pieces, sentences):
    return [(p.key, [i for i in range(p.first, p.last)]) for p in pieces]


def test_a_cut_bounds_the_text_when_the_neighbour_made_no_keyframe():
    # slide A (histology, still) 0-10 s; slide B 10-20 s panned too fast for any keyframe (a gap);
    # slide C 20-30 s. B's narration must not bleed into A's or C's text.
    segments = [Segment(0.0, 10.0, True, 0), Segment(20.0, 30.0, True, 1)]
    words, sentences = speech((1, 5, 6), (5.5, 9.5, 6), (11, 15, 6), (15.5, 19, 5), (21, 26, 8))
    pieces = pair_segments(segments, sentences, words, chunk_time=10.0)
    assert texts(pieces, sentences) == [(0, [0, 1]), (1, [4])]


def test_a_sentence_straddling_a_change_goes_where_it_was_mostly_spoken():
    segments = [Segment(0.0, 10.0, True, 0), Segment(10.0, 20.0, True, 1)]
    # sentence 1 runs on 3 s after the cut (8.0-13.0: 2 s before, 3 s after): it goes to B;
    # sentence 2 (14.0-19.9) is B's own; sentence 0 is A's
    words, sentences = speech((1, 7.5, 10), (8.0, 13.0, 10), (14.0, 19.9, 8))
    assert assign_sentences(segments, sentences, words) == [0, 1, 1]
    # lecturers finish a sentence after the cut: a tie goes to the slide it started over
    words, sentences = speech((1, 7.5, 10), (8.0, 12.0, 10))
    assert assign_sentences(segments, sentences, words) == [0, 0]
    # a tie in words goes where the words took longer to say: five short words before the cut,
    # five long ones after (a lecture of seed 20 paired such a sentence with the slide before)
    words = [Word(7.0 + 0.2 * k, 7.2 + 0.2 * k, "a") for k in range(5)]
    words += [Word(10.0 + 0.6 * k, 10.6 + 0.6 * k, "summary") for k in range(5)]
    sentences = [Sentence(0, 10, 7.0, 13.0, "a a a a a summary summary summary summary summary.")]
    assert assign_sentences(segments, sentences, words) == [1]


def test_a_long_slide_is_cut_at_sentence_ends_only():
    segments = [Segment(0.0, 40.0, True, 7)]
    # one sentence (12-23 s) spans the 10 s and 20 s marks: it is never split
    words, sentences = speech(
        (0.5, 6, 8), (6.5, 11.5, 8), (12, 23, 20), (23.5, 30, 9), (31, 39, 10)
    )
    pieces = pair_segments(segments, sentences, words, chunk_time=10.0)
    assert len(pieces) >= 3 and all(p.key == 7 for p in pieces)
    covered = [i for p in pieces for i in range(p.first, p.last)]
    assert covered == [0, 1, 2, 3, 4]  # every sentence once, whole, in order
    for p in pieces:
        assert p.start == sentences[p.first].start and p.end == sentences[p.last - 1].end
    # a short slide is one piece
    assert len(pair_segments([Segment(0, 9, True, 0)], sentences[:2], words, 10.0)) == 1


def test_non_histology_slides_and_gaps_pair_with_nothing():
    segments = [Segment(0.0, 8.0, False, 0), Segment(8.5, 16.0, True, 1)]
    words, sentences = speech((1, 7, 8), (7.2, 8.6, 3), (9, 15, 8))
    pieces = pair_segments(segments, sentences, words, chunk_time=10.0)
    assert texts(pieces, sentences) == [(1, [2])]


def test_a_returning_slide_pairs_each_showing_with_its_own_sentences():
    # the same slide (keyframes 0 and 2 share one image) before and after a chart
    segments = [Segment(0, 8, True, 0), Segment(8.2, 14, False, 1), Segment(14.2, 22, True, 2)]
    words, sentences = speech((0.5, 7.5, 8), (8.5, 13.5, 6), (14.5, 21, 8))
    pieces = pair_segments(segments, sentences, words, chunk_time=10.0)
    assert texts(pieces, sentences) == [(0, [0]), (2, [2])]


def test_rule_is_documented_and_chunk_time_positive():
    assert "most of its words" in TEXT_BOUNDARY_RULE and "sentence ends" in TEXT_BOUNDARY_RULE
    with pytest.raises(ValueError):
        pair_segments([], [], [], chunk_time=0)


def test_the_dataset_card_states_the_rules():
    from quilt_hf.dataset_card import _curation_text
    from quilt_hf.video.align import PAIR_CHUNK_TIME_RULE, STRADDLE_RULE
    from quilt_hf.video.views import MOVING_KEYFRAME_RULE

    text = _curation_text("quilt")
    for rule in (TEXT_BOUNDARY_RULE, STRADDLE_RULE, MOVING_KEYFRAME_RULE, PAIR_CHUNK_TIME_RULE):
        assert rule in text


def _with_certainty(sentences: list[Sentence], *certainty: float) -> list[Sentence]:
    return [
        Sentence(s.first, s.last, s.start, s.end, s.text, c)
        for s, c in zip(sentences, certainty, strict=True)
    ]


def test_views_of_one_motion_join_across_a_guessed_sentence_end():
    """A pan split into two views (one chain): the end between their sentences was only guessed
    (cue-timed captions), so each view alone has no text that ends at a placed end; the motion
    is one slide, so the two sentences are one text, paired with the view it was mostly spoken
    over. Still windows (no chain) or two motions (two chains) are not joined."""
    words, sentences = speech((0.5, 5.5, 6), (6.0, 13.0, 10), (14.5, 19.0, 6))
    guessed = _with_certainty(sentences, 0.0, 1.0, 1.0)
    pan = [Segment(0.0, 6.0, True, 0, chain=5), Segment(6.0, 14.0, True, 1, chain=5)]
    after = [Segment(14.2, 20.0, False, 2)]
    pieces = pair_segments(pan + after, guessed, words, chunk_time=20.0)
    assert texts(pieces, guessed) == [(1, [0, 1])]  # sentence 1 has more words: view 1's image
    # the end placed surely: each view keeps its own sentence
    placed = _with_certainty(sentences, 1.0, 1.0, 1.0)
    assert texts(pair_segments(pan + after, placed, words, 20.0), placed) == [(0, [0]), (1, [1])]
    # two still windows, or two motions, with a guessed end between them: a change of slide
    for first, second in ((None, None), (5, 6)):
        two = [Segment(0.0, 6.0, True, 0, chain=first), Segment(6.0, 14.0, True, 1, chain=second)]
        assert pair_segments(two + after, guessed, words, chunk_time=20.0) == []


def _one_run_on_sentence(pause_after: dict[int, float], method: str = "pauses"):
    """Nineteen words read 0.4 s apart as ONE sentence (the pauses missed its end), with the given
    pauses after some words; returns the Restored."""
    import numpy as np

    from quilt_hf.text.sentences import SURE, Restored

    texts = [
        "the",
        "cells",
        "form",
        "glands",
        "with",
        "mucin",
        "in",
        "the",
        "stroma",
        "here",
        "the",
        "nuclei",
        "are",
        "large",
        "and",
        "the",
        "mitoses",
        "are",
        "many",
    ]
    words = [Word(0.4 * i, 0.4 * i + 0.3, t) for i, t in enumerate(texts)]
    pauses = np.zeros(len(words))
    for k, seconds in pause_after.items():
        pauses[k] = seconds
    allowed = np.array([t not in ("the", "with", "in", "and", "are") for t in texts])
    tokens = [texts[0].capitalize(), *texts[1:-1], texts[-1] + "."]
    sentence = Sentence(0, len(words), 0.0, words[-1].end, " ".join(tokens), SURE)
    return Restored(words, tokens, [sentence], method, pauses, allowed, np.full(len(words), SURE))


def test_a_sentence_spoken_far_across_a_change_is_split_at_its_pause_near_it():
    from quilt_hf.text.sentences import LIKELY
    from quilt_hf.video.align import split_straddling_sentences

    # "... in the stroma | here the nuclei ...": the end after "stroma" (word 8, ends 3.5 s) had
    # a pause too short for the pause rule; a hesitation after "form" (word 2) was as long
    restored = _one_run_on_sentence({2: 0.3, 8: 0.3, 11: 0.2})
    split = split_straddling_sentences(restored, [3.9])
    assert [(s.first, s.last) for s in split.sentences] == [(0, 9), (9, 19)]
    assert split.sentences[0].text.endswith("stroma.") and split.sentences[1].text.startswith(
        "Here the nuclei"
    )
    assert split.sentences[0].certainty == LIKELY  # an edge the aligner may use
    # the raw words are untouched
    assert [w.text for w in split.words] == [w.text for w in restored.words]


@pytest.mark.parametrize(
    "changes, pauses, method",
    [
        ([6.9], {8: 0.3}, "pauses"),  # the change 1.0 s before the end: a run-on, not two
        ([1.2], {8: 0.3}, "pauses"),  # 1.2 s after the start: a lead-in
        ([3.9], {8: 0.1}, "pauses"),  # no pause a listener hears near the change
        ([3.9], {8: 0.3}, "model"),  # punctuation restored by a model is trusted
        ([], {8: 0.3}, "pauses"),  # no change of picture
    ],
)
def test_a_run_on_a_lead_in_or_a_trusted_sentence_is_not_split(changes, pauses, method):
    from quilt_hf.video.align import split_straddling_sentences

    restored = _one_run_on_sentence(pauses, method)
    assert split_straddling_sentences(restored, changes).sentences == restored.sentences


def test_views_of_one_motion_are_not_a_change_of_picture():
    from quilt_hf.video.align import change_times

    segments = [
        Segment(0.0, 5.0, True, 0),
        Segment(5.5, 9.0, True, 1, chain=7),
        Segment(9.0, 12.0, True, 2, chain=7),  # the same pan, split by drift
        Segment(13.0, 20.0, False, 3),
    ]
    assert change_times(segments) == [5.25, 12.5]
