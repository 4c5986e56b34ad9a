"""WebVTT (and SRT) captions -> a timed Transcript, with YouTube's rolling auto-captions de-duplicated.

Cue parsing is done by ``webvtt-py`` (a well-kept parser for the format's header, cue timings,
settings and notes). What it does not know is YouTube's auto-caption layout, handled here:

    00:00:02.360 --> 00:00:05.000 align:start position:0%
    here we see a                                   <- repeat of the previous cue's new line
    lymph<00:00:02.800><c> node</c><00:00:03.500><c> with</c>   <- new words, each with its time

Every cue re-shows the line before it, and short "flip" cues (10 ms) show the finished line alone.
Words are emitted once: from lines carrying inline ``<hh:mm:ss.mmm>`` timings (each word keeps its
own start), or, for plain captions, from cue lines that do not repeat the previous cue's tail,
with the cue's time spread over its words by length.

What counts as a repeat: only the head of a cue that equals the tail of the cue shown just before.
A blank cue (" ") clears the display, and a cue whose first line is blank starts a fresh display,
so neither repeats anything: a word really said twice across such a pause ("okay" ... "okay") is
kept twice, as in YouTube's json3 of the same track. A word whose inline time equals the cue end
(or passes it) would get no duration; it is given the time up to the next word's start, at least
``MIN_WORD_SECONDS``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from quilt_hf.errors import QuiltError
from quilt_hf.text.clean import repair
from quilt_hf.text.transcript import Transcript, Word

_INLINE_TIME = re.compile(r"<((?:\d{1,10}:)?\d{1,2}:\d{1,2}\.\d{1,3})>")
# Ruby annotations (<rt>) are not spoken; SRT writers add ASS override tags such as {\an8}.
_NOT_SPOKEN = re.compile(r"<rt\b[^>]*>.*?</rt>|\{\\[^}]*\}", re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d[^>]*>")
# Sound-event annotations such as [Music] or (applause) are not speech.
_SOUND_EVENT = re.compile(r"\[[^\]]*\]|\([A-Za-z ]{1,30}\)")
# Nor are the marks broadcast captioning (CEA-608) and subtitle style guides put between words,
# which survive conversion to WebVTT/SRT, which YouTube's automatic captions carry (yt-dlp issue
# 14530) and which Whisper writes too: ">>" a new speaker, ">>>" a new topic, a dash opening a
# line of dialogue or standing for inaudible speech, "♪ ... ♪" a song, an SDH speaker label in
# capitals ("DR. SMITH:", "NARRATOR:"; no digits, so "CD20:" or "HER2:" stay words). A token made
# only of dashes is dropped (a lone "<" or ">" is a comparison, kept); text between two music
# notes is lyrics. A change of speaker or topic becomes ``TURN`` (read by ``mark_turns``).
TURN = "\u241e"  # stands for a change of speaker or topic inside cleaned text, until mark_turns
_TURN_MARK = re.compile(r"(?<!\S)[-\u2010-\u2015]*(?:>{2,3}|<{2,3})(?!\S)")
_DIALOGUE_DASH = re.compile(r"^[-\u2010-\u2015]+(?=\s)")
_SPEAKER_LABEL = re.compile(rf"^(?:{TURN} )?[A-Z][A-Z.' \-]{{1,30}}:(?=\s)")
_DASHES = re.compile(r"(?<!\S)[-\u2010-\u2015]+(?!\S)")
_LYRICS = re.compile(r"[\u266a\u266b][^\u266a\u266b]*[\u266a\u266b]|[\u266a\u266b]")
MIN_WORD_SECONDS = 0.1  # the shortest duration given to a word whose timing left it none


def _timestamp_seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def spoken_text(line: str) -> str:
    """Cue text without markup, entities, sound events, speaker and song marks or speaker
    labels; whitespace collapsed."""
    text = repair(_TAG.sub("", _NOT_SPOKEN.sub("", line)))  # the shared cleaner's markup step
    text = _SOUND_EVENT.sub(" ", text).replace("\u200b", " ")
    text = " ".join(_TURN_MARK.sub(f" {TURN} ", _LYRICS.sub(" ", text)).split())
    text = _SPEAKER_LABEL.sub(TURN, _DIALOGUE_DASH.sub(TURN, text))
    return " ".join(_DASHES.sub(" ", text).split())


def mark_turns(words: list[Word]) -> list[Word]:
    """``words`` without the ``TURN`` tokens ``spoken_text`` left, the word after each one
    marked ``Word.turn``; a turn before the first word says nothing and is dropped."""
    marked: list[Word] = []
    pending = False  # a turn came before the next word
    for word in words:
        tokens = word.text.split()
        if TURN in tokens:
            pending = pending or tokens[0] == TURN
            text = " ".join(t for t in tokens if t != TURN)
            if not text:
                continue
            word = replace(word, text=text)
        if pending and marked:
            word = replace(word, turn=True)
        marked.append(word)
        # a mark after a word's text ("wow >>", as Whisper may chunk it) turns at the next word
        pending = bool(tokens) and tokens[-1] == TURN
    return marked


def _spread(text: str, start: float, end: float, cue: int = -1) -> list[Word]:
    """Words of ``text`` with [start, end] divided in proportion to each word's length; ``cue``
    numbers the untimed cue they came from (``Word.cue``; -1 for a piece between inline times)."""
    tokens = text.split()
    if not tokens:
        return []
    end = max(end, start)
    weights = [0 if t == TURN else len(t) + 1 for t in tokens]  # a mark takes no time
    total = sum(weights) or 1
    words, t = [], start
    for token, weight in zip(tokens, weights, strict=True):
        t_next = t + (end - start) * weight / total
        words.append(Word(round(t, 3), round(t_next, 3), token, cue))
        t = t_next
    return words


def _timed_line_words(line: str, cue_start: float, cue_end: float) -> list[Word]:
    """Words of a line with inline timings: ``first<t1><c> second</c><t2><c> third</c>``."""
    pieces = _INLINE_TIME.split(line)  # text, time, text, time, text ...
    starts = [cue_start] + [_timestamp_seconds(t) for t in pieces[1::2]]
    texts = [spoken_text(p) for p in pieces[0::2]]
    timed: list[tuple[float, str]] = [(s, t) for s, t in zip(starts, texts, strict=True) if t]
    words: list[Word] = []
    for i, (start, text) in enumerate(timed):
        end = timed[i + 1][0] if i + 1 < len(timed) else cue_end
        end = max(end, start)
        # A piece normally holds one word; spread over several if a captioner grouped them.
        words.extend(_spread(text, start, end))
    return words


def _give_every_word_time(words: list[Word]) -> list[Word]:
    """A word left with no duration (its inline time at or past the cue end) lasts until the next
    word starts, and at least ``MIN_WORD_SECONDS``."""
    fixed = []
    for i, word in enumerate(words):
        if word.end - word.start < 1e-6:
            following = words[i + 1].start if i + 1 < len(words) else word.start
            end = max(following, word.start + MIN_WORD_SECONDS)
            word = replace(word, end=round(end, 3))
        fixed.append(word)
    return fixed


def _parse_cues(text: str, fmt: str) -> list[tuple[float, float, list[str]]]:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        parsed = webvtt.from_string(_srt_to_vtt(text) if fmt == "srt" else text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise QuiltError(f"malformed {fmt.upper()} captions: {exc}") from exc
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        # webvtt-py raises assorted built-in errors on some garbage; all mean "not captions".
        raise QuiltError(f"malformed {fmt.upper()} captions: {type(exc).__name__}: {exc}") from exc
    cues = []
    for caption in parsed:
        start = caption.start_time.in_milliseconds() / 1000
        end = caption.end_time.in_milliseconds() / 1000
        cues.append((start, max(end, start), caption.raw_text.splitlines()))
    return cues


_SRT_TIMING = re.compile(r"^(\S+) --> (\S+)", re.MULTILINE)


def _srt_to_vtt(text: str) -> str:
    """SRT differs from WebVTT by its header and the comma before milliseconds."""
    body = _SRT_TIMING.sub(lambda m: f"{m[1].replace(',', '.')} --> {m[2].replace(',', '.')}", text)
    return "WEBVTT\n\n" + body


def _looks_like_srt(text: str) -> bool:
    """No WEBVTT signature and an SRT timing line (comma before the milliseconds)."""
    return not text.lstrip().startswith("WEBVTT") and bool(
        re.search(r"^\d+:\d{2}:\d{2},\d{1,3}\s*-->", text, re.MULTILINE)
    )


def parse_captions(text: str, *, fmt: str = "vtt", source: str = "youtube_captions") -> Transcript:
    """Parse caption text into a Transcript of timed words; QuiltError when there are none."""
    if fmt not in ("vtt", "srt"):
        raise QuiltError(f"unknown caption format {fmt!r} (expected vtt or srt)")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise QuiltError("empty captions file")
    if fmt == "vtt" and _looks_like_srt(text):
        fmt = "srt"  # an SRT file saved as .vtt (some downloaders do this): read it as SRT
    cues = _parse_cues(text, fmt)
    rolling = any(_INLINE_TIME.search(line) for _, _, lines in cues for line in lines)
    words: list[Word] = []
    previous_lines: list[str] = []  # cleaned lines of the previous cue (what a rolling cue repeats)
    for cue, (start, end, raw_lines) in enumerate(cues):
        lines = [(raw, spoken_text(raw)) for raw in raw_lines]
        lines = [(raw, clean) for raw, clean in lines if clean]
        if not lines or (rolling and raw_lines and not raw_lines[0].strip()):
            previous_lines = []  # a blank cue or a blank first line: nothing on screen is repeated
        # Drop the longest head of this cue that repeats the tail of the previous cue.
        cleaned = [clean for _, clean in lines]
        overlap = 0
        for k in range(min(len(cleaned), len(previous_lines)), 0, -1):
            if cleaned[:k] == previous_lines[-k:]:
                overlap = k
                break
        if rolling:
            # In rolling captions an untimed line that is not a repeat is a one-word new line.
            new_lines = [raw for raw, clean in lines[overlap:]]
            for raw in new_lines:
                if _INLINE_TIME.search(raw):
                    words.extend(_timed_line_words(raw, start, end))
                else:
                    words.extend(_spread(spoken_text(raw), start, end, cue))
        else:
            words.extend(_spread(" ".join(cleaned[overlap:]), start, end, cue))
        if cleaned:
            previous_lines = cleaned
    words = mark_turns(words)
    if not words:
        raise QuiltError("captions contain no spoken words (no cues, or only sound annotations)")
    return Transcript(
        words=_give_every_word_time(words),
        source=source,
        language="en",
        meta={"format": fmt, "rolling": rolling, "cues": len(cues)},
    )


def read_captions(path: str | Path) -> Transcript:
    """Read a .vtt or .srt file (format from the suffix; .vtt when unknown)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuiltError(f"cannot read captions {path}: {exc.strerror or exc}") from exc
    fmt = "srt" if path.suffix.lower() == ".srt" else "vtt"
    transcript = parse_captions(raw.decode("utf-8", errors="replace"), fmt=fmt)
    transcript.meta["path"] = str(path)
    return transcript
