"""Captions backend: YouTube rolling auto-captions, plain WebVTT, SRT, malformed input."""
# ruff: noqa: W293 -- the YouTube samples keep their real whitespace-only lines

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quilt_hf.errors import QuiltError
from quilt_hf.text.captions import parse_captions, read_captions
from quilt_hf.text.transcribe import transcribe

# Written in the exact layout YouTube serves for automatic English captions (fmt=vtt):
# a blank-ish first line, inline word timings, 10 ms "flip" cues, each cue repeating the last line.
ROLLING_YOUTUBE = """WEBVTT
Kind: captions
Language: en

00:00:00.320 --> 00:00:02.590 align:start position:0%
 
so<00:00:00.640><c> here</c><00:00:00.880><c> we</c><00:00:01.040><c> see</c><00:00:01.280><c> a</c><00:00:01.440><c> lymph</c><00:00:01.840><c> node</c>

00:00:02.590 --> 00:00:02.600 align:start position:0%
so here we see a lymph node
 

00:00:02.600 --> 00:00:05.110 align:start position:0%
so here we see a lymph node
with<00:00:02.880><c> effaced</c><00:00:03.520><c> architecture</c><00:00:04.400><c> and</c>

00:00:05.110 --> 00:00:05.120 align:start position:0%
with effaced architecture and
 

00:00:05.120 --> 00:00:07.750 align:start position:0%
with effaced architecture and
Reed-Sternberg<00:00:05.960><c> cells</c><00:00:06.480><c> [Music]</c>

00:00:07.750 --> 00:00:07.760 align:start position:0%
Reed-Sternberg cells [Music]
 

00:00:07.760 --> 00:00:09.000 align:start position:0%
Reed-Sternberg cells [Music]
everywhere
"""

PLAIN = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
<v Speaker>This is a <i>well differentiated</i>
adenocarcinoma of the colon.

2
00:00:05.000 --> 00:00:07.000
Note the dirty necrosis &amp; glands.
"""

SRT = """1
00:00:00,500 --> 00:00:02,500
Psammoma bodies

2
00:00:03,000 --> 00:00:04,000
in papillary carcinoma
"""


def _texts(transcript):
    return [w.text for w in transcript.words]


def test_rolling_youtube_captions_emit_each_word_once_with_its_own_time():
    t = parse_captions(ROLLING_YOUTUBE)
    assert t.meta["rolling"] is True
    assert _texts(t) == [
        "so",
        "here",
        "we",
        "see",
        "a",
        "lymph",
        "node",
        "with",
        "effaced",
        "architecture",
        "and",
        "Reed-Sternberg",
        "cells",
        "everywhere",
    ]
    by_text = {w.text: w for w in t.words}
    assert by_text["so"].start == pytest.approx(0.32)  # untimed first word starts with the cue
    assert by_text["here"].start == pytest.approx(0.64)
    assert by_text["lymph"].start == pytest.approx(1.44)
    assert by_text["lymph"].end == pytest.approx(1.84)  # ends where the next word starts
    assert by_text["node"].end == pytest.approx(2.59)  # last word of a cue ends with the cue
    assert by_text["effaced"].start == pytest.approx(2.88)
    assert by_text["cells"].start == pytest.approx(5.96)
    # an untimed one-word new line in a rolling file is kept, spread over its cue
    assert by_text["everywhere"].start == pytest.approx(7.76)
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in t.words)
    assert t.text_between(2.6, 5.11) == "with effaced architecture and"


def test_plain_vtt_spreads_cue_time_over_words_and_strips_markup():
    t = parse_captions(PLAIN)
    assert t.meta["rolling"] is False
    assert " ".join(_texts(t)) == (
        "This is a well differentiated adenocarcinoma of the colon. "
        "Note the dirty necrosis & glands."
    )
    first_cue = [w for w in t.words if w.start < 4.5]
    assert first_cue[0].start == pytest.approx(1.0)
    assert first_cue[-1].end == pytest.approx(4.0)
    # longer words get more of the cue's time
    by_text = {w.text: w for w in t.words}
    long, short = by_text["adenocarcinoma"], by_text["a"]
    assert (long.end - long.start) > 3 * (short.end - short.start)
    assert t.words[-1].end == pytest.approx(7.0)


def test_plain_rolling_without_inline_times_is_deduplicated():
    text = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nthe tumor cells\n\n"
        "00:00:02.000 --> 00:00:04.000\nthe tumor cells\nform glands\n\n"
        "00:00:04.000 --> 00:00:06.000\nform glands\nwith mucin\n"
    )
    assert _texts(parse_captions(text)) == [
        "the",
        "tumor",
        "cells",
        "form",
        "glands",
        "with",
        "mucin",
    ]


# Broadcast captions (CEA-608) converted to SRT keep their marks: ">>" a new speaker (also
# mid-line, and "->>" after an inaudible dash), ">>>" a new topic, "- " a line of dialogue, an SDH
# speaker label in capitals, "♪ ... ♪" a song, "&gt;&gt;" where a converter escaped them.
BROADCAST_SRT = """1
00:00:01,000 --> 00:00:03,000
>> DR. LEE: the liver shows steatosis. >> right.

2
00:00:03,000 --> 00:00:05,000
- And ballooning?
- Yes, with Mallory bodies -- see here.

3
00:00:05,000 --> 00:00:07,000
♪ la la la ♪
&gt;&gt;&gt; NARRATOR: next, the kidney ->> HER2: 3+ is x > y

"""


def test_broadcast_speaker_topic_and_song_marks_are_not_words():
    t = parse_captions(BROADCAST_SRT, fmt="srt")
    assert " ".join(_texts(t)) == (
        "the liver shows steatosis. right. And ballooning? Yes, with Mallory bodies see here. "
        "next, the kidney HER2: 3+ is x > y"
    )
    # the marks took no time from the words: the first cue's 2 s go to its five words
    assert t.words[0].start == pytest.approx(1.0) and t.words[4].end == pytest.approx(3.0)
    # a new speaker or topic (">>", ">>>", a dialogue dash, a speaker label) starts a sentence
    assert [w.text for w in t.words if w.turn] == ["right.", "And", "Yes,", "next,", "HER2:"]


def test_youtube_auto_captions_speaker_change_is_a_turn_not_a_word():
    """YouTube's automatic captions carry ">>" as a timed piece of its own at a new speaker."""
    vtt = (
        "WEBVTT\nKind: captions\nLanguage: en\n\n"
        "00:00:01.000 --> 00:00:03.000 align:start position:0%\n \n"
        "so<00:00:01.400><c> that</c><00:00:01.700><c> is</c><00:00:01.900><c> the</c>"
        "<00:00:02.100><c> liver</c><00:00:02.500><c> >></c><00:00:02.600><c> thank</c>"
        "<00:00:02.800><c> you</c>\n"
    )
    t = parse_captions(vtt)
    assert [w.text for w in t.words] == ["so", "that", "is", "the", "liver", "thank", "you"]
    assert [w.text for w in t.words if w.turn] == ["thank"]
    by_text = {w.text: w for w in t.words}
    assert by_text["thank"].start == pytest.approx(2.6) and by_text["liver"].start == pytest.approx(
        2.1
    )


def test_srt_file_is_read(tmp_path: Path):
    path = tmp_path / "talk.srt"
    path.write_text(SRT, encoding="utf-8")
    t = read_captions(path)
    assert _texts(t) == ["Psammoma", "bodies", "in", "papillary", "carcinoma"]
    assert t.words[0].start == pytest.approx(0.5)
    assert t.words[-1].end == pytest.approx(4.0)


def test_transcribe_dispatches_to_captions(tmp_path: Path):
    path = tmp_path / "v.en.vtt"
    path.write_text(ROLLING_YOUTUBE, encoding="utf-8")
    t = transcribe("captions", video_or_audio=None, captions=path)
    assert t.source == "youtube_captions"
    assert len(t.words) == 14
    with pytest.raises(QuiltError, match="needs a captions file"):
        transcribe("captions", video_or_audio=None, captions=None)
    with pytest.raises(QuiltError, match="unknown ASR backend"):
        transcribe("kaldi", video_or_audio=path, captions=None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty captions"),
        ("   \n\n", "empty captions"),
        ("hello world, not captions", "malformed VTT"),
        ("WEBVTT\n", "no spoken words"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n[Music]\n", "no spoken words"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:0x\nbroken timing\n", "no spoken words"),
    ],
)
def test_empty_or_malformed_captions_raise_a_clear_error(text, message):
    with pytest.raises(QuiltError, match=message):
        parse_captions(text)


def test_missing_and_binary_files(tmp_path: Path):
    with pytest.raises(QuiltError, match="cannot read captions"):
        read_captions(tmp_path / "nope.vtt")
    junk = tmp_path / "junk.vtt"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(QuiltError):
        read_captions(junk)


_cue_line = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
).map(lambda s: s.replace("-->", ""))
_timestamp = st.builds(
    lambda h, m, s, ms: f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}",
    st.integers(0, 2),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
)
_cue = st.builds(
    lambda a, b, lines, inline: (
        f"{a} --> {b}\n"
        + "\n".join(f"{line}<{inline}><c> x</c>" if i % 2 else line for i, line in enumerate(lines))
    ),
    _timestamp,
    _timestamp,
    st.lists(_cue_line, min_size=0, max_size=3),
    _timestamp,
)
_vtt_like = st.builds(
    lambda cues, sep: "WEBVTT\n\n" + sep.join(cues),
    st.lists(_cue, max_size=5),
    st.sampled_from(["\n\n", "\n", "\r\n\r\n"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), _vtt_like))
def test_parser_returns_a_transcript_or_raises_quilt_error(text):
    # junk side only; valid documents must round-trip: test_fuzz_parsers.test_valid_*_round_trip
    try:
        t = parse_captions(text)
    except QuiltError:
        return
    assert t.words
    assert all(w.end >= w.start >= 0 and w.text.strip() for w in t.words)
