"""WebVTT / SRT conformance: the W3C WebVTT spec's edge cases and the quirks of real producers
(YouTube's old and new auto-caption layouts, SRT saved as .vtt), written from the spec and from
reading public caption files; no third-party file is copied in.

Every case is a *valid* input that must parse to the expected words; the malformed cases at the
end must raise ``QuiltError`` and nothing else, and the valid ones beside them still parse.
"""

# ruff: noqa: W293 - YouTube writes lines holding one space; the fixtures keep them

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quilt_hf.errors import QuiltError
from quilt_hf.text.captions import MIN_WORD_SECONDS, parse_captions, read_captions


def words(text: str, fmt: str = "vtt") -> list[str]:
    return [w.text for w in parse_captions(text, fmt=fmt).words]


# --- issue 13 regressions -------------------------------------------------------------------

# A word really said twice with a pause between: YouTube writes the first "okay" as a one-word
# line, clears the display with a blank cue, and starts a fresh display (blank first line) for
# the second. YouTube's json3 of such a track holds two "okay" segments.
SAID_TWICE = """WEBVTT
Kind: captions
Language: en

00:00:05.000 --> 00:00:06.990 align:start position:0%
 
we<00:00:05.300><c> continue</c>

00:00:06.990 --> 00:00:07.000 align:start position:0%
we continue
 

00:00:07.000 --> 00:00:07.600 align:start position:0%
we continue
okay

00:00:07.600 --> 00:00:07.610 align:start position:0%
okay
 

00:00:07.610 --> 00:00:08.000 align:start position:0%
 
 

00:00:08.000 --> 00:00:08.400 align:start position:0%
 
okay

00:00:08.400 --> 00:00:10.000 align:start position:0%
okay
so<00:00:08.900><c> printing</c>
"""


def test_word_said_twice_after_a_blank_cue_is_kept_twice():
    transcript = parse_captions(SAID_TWICE)
    assert [w.text for w in transcript.words] == [
        "we", "continue", "okay", "okay", "so", "printing",
    ]  # fmt: skip
    okays = [w for w in transcript.words if w.text == "okay"]
    assert okays[0].start == pytest.approx(7.0) and okays[1].start == pytest.approx(8.0)


def test_a_real_repeat_is_still_dropped_without_a_blank_cue():
    # the same one-word line re-shown by the next cue (no blank cue between) is one word
    text = SAID_TWICE.replace("00:00:07.610 --> 00:00:08.000 align:start position:0%\n \n \n\n", "")
    text = text.replace(" \nokay\n\n00:00:08.400", "okay\n \n\n00:00:08.400")
    assert words(text) == ["we", "continue", "okay", "so", "printing"]


LAST_TIME_AT_CUE_END = """WEBVTT
Kind: captions
Language: en

00:00:02.360 --> 00:00:05.000 align:start position:0%
 
going<00:00:02.800><c> to</c><00:00:05.000><c> stain</c>

00:00:05.000 --> 00:00:05.010 align:start position:0%
going to stain
 

00:00:05.010 --> 00:00:07.000 align:start position:0%
going to stain
the<00:00:05.600><c> slide</c>
"""


def test_last_inline_time_equal_to_cue_end_gets_a_duration():
    transcript = parse_captions(LAST_TIME_AT_CUE_END)
    assert [w.text for w in transcript.words] == ["going", "to", "stain", "the", "slide"]
    assert all(w.end > w.start for w in transcript.words)
    stain = transcript.words[2]
    assert stain.start == pytest.approx(5.0)
    assert stain.end >= stain.start + MIN_WORD_SECONDS - 1e-9


# --- the WebVTT spec -----------------------------------------------------------------------


def test_bom_header_text_and_header_metadata_lines():
    text = "\ufeffWEBVTT - Lecture 3: lymph nodes\nKind: captions\nLanguage: en\n\n"
    text += "00:00:01.000 --> 00:00:02.000\nreactive follicles\n"
    assert words(text) == ["reactive", "follicles"]


def test_note_style_and_region_blocks_are_not_cue_text():
    text = (
        "WEBVTT\n\nREGION\nid:lower\nwidth:40%\nlines:3\n\n"
        "STYLE\n::cue { color: yellow }\n\n"
        "NOTE a comment\nover two lines\n\n"
        "00:00:01.000 --> 00:00:02.000 region:lower\nsignet ring cells\n\n"
        "NOTE another comment\n\n"
        "00:00:02.000 --> 00:00:03.000\nin the stomach\n"
    )
    assert words(text) == ["signet", "ring", "cells", "in", "the", "stomach"]


def test_cue_identifiers_and_every_cue_setting():
    text = (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000 align:left line:90% position:10% size:35%"
        " vertical:rl\ngranulomas\n\nintro-2\n00:00:02.000 --> 00:00:03.000 align:middle\n"
        "caseating\n"
    )
    transcript = parse_captions(text)
    assert [w.text for w in transcript.words] == ["granulomas", "caseating"]
    assert transcript.words[0].start == pytest.approx(1.0)


def test_hours_less_and_long_timestamps():
    text = (
        "WEBVTT\n\n01:02.500 --> 01:04.000\nshort form\n\n100:00:00.000 --> 100:00:01.000\nlate\n"
    )
    transcript = parse_captions(text)
    assert transcript.words[0].start == pytest.approx(62.5)
    assert transcript.words[-1].start == pytest.approx(360000.0)


def test_tabs_around_the_arrow_and_crlf_line_ends():
    text = "WEBVTT\r\n\r\n00:00:01.000\t-->\t00:00:02.000\talign:start\r\ntabbed cue\r\n"
    assert words(text) == ["tabbed", "cue"]


def test_markup_voice_class_ruby_lang_and_escapes():
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Dr. Lee>the <b>nuclei</b> are <i>large</i>"
        " &amp; <c.yellow>vesicular</c> &lt;3&gt; <ruby>HE<rt>haematoxylin eosin</rt></ruby>"
        " <lang la>in situ</lang>&nbsp;now\n"
    )
    assert " ".join(words(text)) == "the nuclei are large & vesicular <3> HE in situ now"


def test_overlapping_cues_keep_file_order_and_their_own_times():
    text = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nfirst speaker\n\n"
        "00:00:02.000 --> 00:00:03.000 line:0\nsecond speaker\n"
    )
    transcript = parse_captions(text)
    assert [w.text for w in transcript.words] == ["first", "speaker", "second", "speaker"]
    assert transcript.words[2].start == pytest.approx(2.0)
    assert transcript.words[1].end == pytest.approx(5.0)


def test_cues_without_a_blank_line_between_them():
    # the parsing rules end a block at a second line holding "-->"
    text = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfirst\n00:00:02.000 --> 00:00:03.000\nsecond\n"
    transcript = parse_captions(text)
    assert [w.text for w in transcript.words] == ["first", "second"]
    assert transcript.words[1].start == pytest.approx(2.0)


def test_blank_cues_and_sound_events_carry_no_words():
    text = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n \n\n00:00:01.000 --> 00:00:02.000\n[Music]\n\n"
        "00:00:02.000 --> 00:00:03.000\n(applause) welcome\n"
    )
    assert words(text) == ["welcome"]


# --- YouTube auto-captions ----------------------------------------------------------------

# old style: the finished line re-shown, 10 ms flip cues, word timings as <t><c> word</c>,
# colour classes around later words
YOUTUBE_OLD = """WEBVTT
Kind: captions
Language: en

00:00:00.030 --> 00:00:01.610 align:start position:0%
 
all<00:00:00.240><c> right</c><00:00:00.480><c> this</c><c.colorCCCCCC><00:00:00.719><c> is</c><00:00:01.079><c> a</c></c>

00:00:01.610 --> 00:00:01.620 align:start position:0%
all right this<c.colorCCCCCC> is a
 </c>

00:00:01.620 --> 00:00:03.000 align:start position:0%
all right this is a
granuloma<00:00:02.100><c> with</c><00:00:02.500><c> giant</c><00:00:02.800><c> cells</c>
"""

# new style: the space sits inside <c> after the word, and the word before the first timing
# carries a trailing space
YOUTUBE_NEW = """WEBVTT
Kind: captions
Language: en

00:00:00.080 --> 00:00:03.310 align:start position:0%
 
Here <00:00:00.546><c>we </c><00:00:01.012><c>see </c>

00:00:03.310 --> 00:00:03.320 align:start position:0%
Here we see
 

00:00:03.320 --> 00:00:05.000 align:start position:0%
Here we see
necrosis <00:00:04.000><c>centrally </c>
"""


def test_youtube_old_style_rolling_captions():
    transcript = parse_captions(YOUTUBE_OLD)
    assert transcript.meta["rolling"] is True
    assert " ".join(w.text for w in transcript.words) == (
        "all right this is a granuloma with giant cells"
    )
    assert transcript.words[3].start == pytest.approx(0.719)


def test_youtube_new_style_rolling_captions():
    transcript = parse_captions(YOUTUBE_NEW)
    assert " ".join(w.text for w in transcript.words) == "Here we see necrosis centrally"
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    assert starts[1] == pytest.approx(0.546) and starts[3] == pytest.approx(3.32)


# --- SRT ------------------------------------------------------------------------------------

SRT = """1
00:00:00,500 --> 00:00:02,500
<font color="#ffff00">Psammoma</font> bodies

2
00:00:03,000 --> 00:00:04,000
{\\an8}in papillary carcinoma
"""


def test_srt_is_read_and_srt_saved_as_vtt_is_recognised(tmp_path):
    expected = ["Psammoma", "bodies", "in", "papillary", "carcinoma"]
    assert words(SRT, fmt="srt") == expected
    assert words(SRT, fmt="vtt") == expected  # an SRT body given as WebVTT
    (tmp_path / "a.srt").write_text(SRT, encoding="utf-8")
    (tmp_path / "b.vtt").write_text(SRT, encoding="utf-8")
    assert [w.text for w in read_captions(tmp_path / "a.srt").words] == expected
    assert [w.text for w in read_captions(tmp_path / "b.vtt").words] == expected


# --- malformed input: a clear error, valid input beside it still parses ----------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "WEBVTT\n",
        "not captions at all\n",
        "WEBVTT\n\n00:00:02.000 --> garbage\nword\n",
        "WEBVTT\n\nNOTE only a note\n",
        "\x00\x01\x02",
    ],
)
def test_malformed_captions_raise_quilt_error_while_valid_ones_parse(text):
    with pytest.raises(QuiltError):
        parse_captions(text)
    assert words("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nvalid\n") == ["valid"]


# --- YouTube's rolling layout against the json3 of the same track ---------------------------


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def youtube_vtt(lines: list[tuple[list[tuple[float, str]], bool]]) -> str:
    """The rolling WebVTT YouTube serves for a json3 track whose events are ``lines`` (each a list
    of (start, word), and whether a pause precedes it), laid out as the real files read for this
    suite are: each line's cue re-shows the previous line above it (a blank line after a pause),
    later words carry ``<t><c> word</c>``, a 10 ms flip cue shows the finished line alone, and a
    pause is a blank cue."""
    cues, previous, t = [], " ", 0.0
    for words, pause in lines:
        start = words[0][0]
        if pause:
            cues.append((t, start, " \n "))
            previous = " "
        end = words[-1][0] + 0.4
        timed = words[0][1] + "".join(f"<{_stamp(s)}><c> {w}</c>" for s, w in words[1:])
        cues.append((start, end, f"{previous}\n{timed}"))
        text = " ".join(w for _, w in words)
        cues.append((end, end + 0.01, f"{text}\n "))
        previous, t = text, end + 0.01
    body = "".join(
        f"{_stamp(a)} --> {_stamp(b)} align:start position:0%\n{payload}\n\n"
        for a, b, payload in cues
    )
    return "WEBVTT\nKind: captions\nLanguage: en\n\n" + body


@st.composite
def json3_tracks(draw):
    """Events of words from a tiny vocabulary, so words and whole lines repeat often."""
    vocabulary = st.sampled_from(["okay", "so", "this", "gland"])
    lines, t = [], 0.0
    for _ in range(draw(st.integers(1, 8))):
        pause = draw(st.booleans())
        t += 2.0 if pause else 0.02
        words = []
        for _ in range(draw(st.integers(1, 4))):
            words.append((round(t, 3), draw(vocabulary)))
            t += 0.3
        lines.append((words, pause))
    return lines


@settings(max_examples=150, deadline=None)
@given(json3_tracks())
def test_rolling_captions_give_the_json3_words_and_times(lines):
    transcript = parse_captions(youtube_vtt(lines))
    expected = [(start, word) for words, _ in lines for start, word in words]
    assert [(round(w.start, 3), w.text) for w in transcript.words] == expected
    assert all(w.end > w.start for w in transcript.words)
