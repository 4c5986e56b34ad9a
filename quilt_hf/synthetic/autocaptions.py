"""WebVTT in the shapes of YouTube's automatic captions: lowercase, unpunctuated, rolling.

Two styles, read from real auto-caption files as yt-dlp saves them:

- ``inline`` (the long-standing form): every line of speech appears in a cue whose first line is
  the previous line (or a single space) and whose second line is the new words with inline word
  starts, ``so<00:00:01.240><c> today</c><00:00:01.600><c> we</c>``; it is followed by a 10 ms
  cue holding the finished line and a blank (" ") second line. Cue settings
  ``align:start position:0%``; a ``Kind: captions`` / ``Language: en`` header.
- ``rolling`` (the two-line roll-up without word timings): each cue shows the previous line and
  the current one, cues abut, the text carries no inline timestamps, so a reader has only cue
  times to place words.

Lines break after a number of words or characters as YouTube's do (about 32 characters); a long
pause also starts a new line. The text is what an automatic recogniser writes: lowercase words,
no punctuation, no sentence marks.
"""

from __future__ import annotations

from dataclasses import dataclass

STYLES = ("inline", "rolling")
HEADER = "WEBVTT\nKind: captions\nLanguage: en\n\n"
SETTINGS = "align:start position:0%"


@dataclass
class CaptionWord:
    text: str  # lowercase, no punctuation
    start: float
    end: float


def timestamp(seconds: float) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def caption_lines(
    words: list[CaptionWord], max_chars: int = 32, pause: float = 1.2
) -> list[list[CaptionWord]]:
    lines: list[list[CaptionWord]] = []
    line: list[CaptionWord] = []
    for word in words:
        width = sum(len(w.text) + 1 for w in line) + len(word.text)
        if line and (width > max_chars or word.start - line[-1].end > pause):
            lines.append(line)
            line = []
        line.append(word)
    if line:
        lines.append(line)
    return lines


def _plain(line: list[CaptionWord]) -> str:
    return " ".join(w.text for w in line)


def inline_vtt(words: list[CaptionWord]) -> str:
    lines = caption_lines(words)
    out = [HEADER]
    previous = " "
    for i, line in enumerate(lines):
        start = line[0].start
        end = lines[i + 1][0].start if i + 1 < len(lines) else line[-1].end + 1.0
        end = max(end, line[-1].end) - 0.01
        timed = line[0].text + "".join(f"<{timestamp(w.start)}><c> {w.text}</c>" for w in line[1:])
        out.append(f"{timestamp(start)} --> {timestamp(end)} {SETTINGS}\n{previous}\n{timed}\n\n")
        out.append(
            f"{timestamp(end)} --> {timestamp(end + 0.01)} {SETTINGS}\n{_plain(line)}\n \n\n"
        )
        previous = _plain(line)
    return "".join(out)


def rolling_vtt(words: list[CaptionWord]) -> str:
    lines = caption_lines(words)
    out = [HEADER]
    previous = ""
    for i, line in enumerate(lines):
        start = line[0].start
        end = lines[i + 1][0].start if i + 1 < len(lines) else line[-1].end + 1.0
        text = f"{previous}\n{_plain(line)}" if previous else _plain(line)
        out.append(f"{timestamp(start)} --> {timestamp(end)} {SETTINGS}\n{text}\n\n")
        previous = _plain(line)
    return "".join(out)


def write_captions(words: list[CaptionWord], style: str) -> str:
    if style == "inline":
        return inline_vtt(words)
    if style == "rolling":
        return rolling_vtt(words)
    raise ValueError(f"unknown caption style {style!r}: use one of {STYLES}")
