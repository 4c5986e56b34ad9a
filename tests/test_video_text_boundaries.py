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
    from quilt_hf.video.align import PAIR_CHUNK_TIME_RULE
    from quilt_hf.video.views import MOVING_KEYFRAME_RULE

    text = _curation_text("quilt")
    for rule in (TEXT_BOUNDARY_RULE, MOVING_KEYFRAME_RULE, PAIR_CHUNK_TIME_RULE):
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
