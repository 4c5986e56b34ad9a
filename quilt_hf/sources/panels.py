"""Sub-figure panels: the panels a caption names, and the panels a composite image shows.

Caption rule (``caption_panels``): a caption names panels with markers ``(A)`` / ``(a)``, groups
``(A and B)`` / ``(A, B)`` / ``(A-C)`` / ``(A to C)`` anywhere, ``A,`` / ``A:`` / ``a)`` at the start of
the caption text or right after ``.`` / ``;``, or the positions ``Left:``/``Right:`` and
``Top:``/``Bottom:`` (``Upper``/``Lower``, optionally followed by "panel"). Markers count only as the
run A, B, C... in order (a repeated or out-of-order letter, like a later "as in (A)", stays part of
the text), and at least two panels are needed. Letters come before their text ("(A) Low power.
(B) High power.") or after it ("... in males and females (A), but not in males (B)."): a caption
whose first marker does not open a sentence and whose last marker closes a phrase is read the
second way. Before: the shared lead is the text before the first marker and panel k's text runs
from its marker to the next one. After: the lead is the text before the sentence holding the
first marker, panel k's text runs from the previous marker (or that sentence's start) to its own
marker, and what follows the last marker (statistics notes) belongs to no panel. A group gives
each of its letters the group's text.

Image rule (``find_panels``): recursive XY-cut on gutters. A gutter is a run of at least
``MIN_GUTTER_PX`` rows (or columns) of near-constant colour (mean deviation from the line's median
colour at most ``MEAN_DEVIATION`` and at most 2% of pixels off by more than ``OUTLIER_LEVEL``, so
JPEG ringing next to a panel edge is tolerated) that has content on both sides. The image is cut at horizontal gutters first, then each band at vertical
gutters, recursively, so panels come out in reading order (left to right, then top to bottom for a
grid cut into rows). Uniform margins around the content are trimmed (a panel whose own edge is blank slide
background loses that blank strip too, and with it a corner letter drawn on it). Slivers thinner than
``MIN_PANEL_FRACTION`` of the image are dropped.

The caller pairs panels only when the two counts agree; otherwise it does not guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

MEAN_DEVIATION = 8  # mean |pixel - line median| (max over channels) of a gutter line
OUTLIER_LEVEL = 64  # JPEG ringing stays below this; tissue texture does not
OUTLIER_FRACTION = 0.02
MIN_GUTTER_PX = 3
MIN_PANEL_FRACTION = 0.05
DETECT_MAX_SIDE = 1024  # detect on a downscaled copy; crop the original
MAX_PANELS = 26

_PAREN_MARKER = re.compile(
    r"\(\s*([A-Za-z](?:\s*(?:[-\u2013\u2014]|to\b|,|and\b|&)\s*[A-Za-z](?![A-Za-z]))*)\s*\)\s*"
)
_LEADING_MARKER = re.compile(r"(?:^|(?<=[.;]\s))([A-Za-z])(?:,|:|\))\s+")
_POSITION_MARKER = re.compile(
    r"(?:^|(?<=[.;]\s))(Left|Right|Top|Bottom|Upper|Lower)(?:\s+panels?)?\s*[:,]\s+", re.IGNORECASE
)
_POSITION_PAIRS = (("left", "right"), ("top", "bottom"), ("upper", "lower"))
_RANGE = re.compile(r"[-\u2013\u2014]|to\b")
_JOINING_WORD = re.compile(r"^(?:and|but|or|while|whereas)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class CaptionPanels:
    lead: str
    panels: tuple[tuple[str, str], ...]  # (letter or position as written, panel text)

    def caption_for(self, index: int) -> str:
        return f"{self.lead} {self.panels[index][1]}".strip()

    def roi_text(self) -> list[str]:
        """One entry per distinct panel text; a group reads "(A-C) text"."""
        runs: list[list] = []
        for letter, text in self.panels:
            if runs and runs[-1][2] == text:
                runs[-1][1] = letter
            else:
                runs.append([letter, letter, text])
        return [
            f"({first}) {text}" if first == last else f"({first}-{last}) {text}"
            for first, last, text in runs
        ]


def _letters(marker: str) -> list[str]:
    """``A`` -> [A]; ``A and B`` / ``A, B`` -> [A, B]; ``A-C`` / ``A to C`` -> [A, B, C]."""
    found = re.findall(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", marker)
    if len(found) == 2 and _RANGE.search(marker) and ord(found[0]) < ord(found[1]):
        return [chr(c) for c in range(ord(found[0]), ord(found[1]) + 1)]
    return found


def _in_order(matches: list[re.Match[str]], first: str) -> list[tuple[re.Match[str], list[str]]]:
    """The markers continuing the run ``first``, ``first+1``..., each with the letters it names."""
    accepted: list[tuple[re.Match[str], list[str]]] = []
    expected = ord(first)
    for match in matches:
        letters = _letters(match[1])
        codes = [ord(letter.lower()) for letter in letters]
        if codes and codes == list(range(expected, expected + len(codes))):
            accepted.append((match, letters))
            expected += len(codes)
    return accepted


def _with_stop(text: str) -> str:
    text = text.strip().strip(";,").strip()
    return text + "." if text and text[-1] not in ".!?" else text


def _letters_after_text(caption: str, accepted: list[tuple[re.Match[str], list[str]]]) -> bool:
    """The first marker does not open a sentence and the last one closes a phrase."""
    before = caption[: accepted[0][0].start()].rstrip()
    after = caption[accepted[-1][0].end() :].lstrip()
    opens_sentence = not before or before[-1] in ".;:"
    return not opens_sentence and (not after or after[0] in ".,;:")


def _panels(
    caption: str, accepted: list[tuple[re.Match[str], list[str]]], after: bool
) -> CaptionPanels:
    panels: list[tuple[str, str]] = []
    if after:
        head = caption[: accepted[0][0].start()]
        sentence = max(head.rfind(". "), head.rfind("; "))
        cut = sentence + 2 if sentence >= 0 else 0
        lead = caption[:cut].strip()
        for match, letters in accepted:
            text = _with_stop(_JOINING_WORD.sub("", caption[cut : match.start()].lstrip(" ,;:")))
            panels += [(letter, text) for letter in letters]
            cut = match.end()
        return CaptionPanels(lead, tuple(panels))
    lead = caption[: accepted[0][0].start()].strip()
    for k, (match, letters) in enumerate(accepted):
        end = accepted[k + 1][0].start() if k + 1 < len(accepted) else len(caption)
        text = _with_stop(caption[match.end() : end])
        panels += [(letter, text) for letter in letters]
    return CaptionPanels(lead, tuple(panels))


def caption_panels(caption: str) -> CaptionPanels | None:
    """The panels ``caption`` names, or None when it names fewer than two."""
    for pattern in (_PAREN_MARKER, _LEADING_MARKER):
        accepted = _in_order(list(pattern.finditer(caption)), "a")
        if sum(len(letters) for _, letters in accepted) >= 2:
            after = pattern is _PAREN_MARKER and _letters_after_text(caption, accepted)
            return _panels(caption, accepted, after)
    positions = list(_POSITION_MARKER.finditer(caption))
    for pair in _POSITION_PAIRS:
        accepted = []
        for match in positions:
            if len(accepted) < 2 and match[1].lower() == pair[len(accepted)]:
                accepted.append((match, [match[1]]))
        if len(accepted) == 2:
            return _panels(caption, accepted, after=False)
    return None


Box = tuple[int, int, int, int]  # left, top, right, bottom


def _uniform_lines(block: np.ndarray) -> np.ndarray:
    """For an (lines, pixels, channels) block: which lines are of near-constant colour."""
    deviation = np.abs(block - np.median(block, axis=1, keepdims=True)).max(axis=2)
    quiet = deviation.mean(axis=1) <= MEAN_DEVIATION
    return quiet & ((deviation > OUTLIER_LEVEL).mean(axis=1) <= OUTLIER_FRACTION)


def _segments(uniform: np.ndarray, min_panel: int) -> list[tuple[int, int]]:
    """Content runs between gutters of >= MIN_GUTTER_PX uniform lines (margins trimmed)."""
    content = np.flatnonzero(~uniform)
    if content.size == 0:
        return []
    start, stop = int(content[0]), int(content[-1]) + 1
    segments, begin, gap = [], start, 0
    for i in range(start, stop):
        if uniform[i]:
            gap += 1
            continue
        if gap >= MIN_GUTTER_PX and i - gap > begin:
            segments.append((begin, i - gap))
            begin = i
        gap = 0
    segments.append((begin, stop))
    return [(a, b) for a, b in segments if b - a >= min_panel]


def _cut(pixels: np.ndarray, box: Box, min_panel: tuple[int, int], depth: int) -> list[Box]:
    left, top, right, bottom = box
    region = pixels[top:bottom, left:right]
    rows = _segments(_uniform_lines(region), min_panel[1])
    columns = _segments(_uniform_lines(region.transpose(1, 0, 2)), min_panel[0])
    if not rows or not columns:
        return []
    if depth >= 6:
        return [(left + columns[0][0], top + rows[0][0], left + columns[-1][1], top + rows[-1][1])]
    if len(rows) > 1:
        return [
            panel
            for a, b in rows
            for panel in _cut(pixels, (left, top + a, right, top + b), min_panel, depth + 1)
        ]
    if len(columns) > 1:
        return [
            panel
            for a, b in columns
            for panel in _cut(pixels, (left + a, top, left + b, bottom), min_panel, depth + 1)
        ]
    return [(left + columns[0][0], top + rows[0][0], left + columns[0][1], top + rows[0][1])]


def find_panels(image: Image.Image) -> list[Box]:
    """Panel boxes of a composite in reading order (one box for a single image)."""
    scale = max(image.size) / DETECT_MAX_SIDE if max(image.size) > DETECT_MAX_SIDE else 1.0
    small = image.convert("RGB")
    if scale > 1.0:
        small = small.resize((round(image.size[0] / scale), round(image.size[1] / scale)))
    pixels = np.asarray(small, dtype=np.int16)
    height, width = pixels.shape[:2]
    min_panel = (max(8, int(width * MIN_PANEL_FRACTION)), max(8, int(height * MIN_PANEL_FRACTION)))
    boxes = _cut(pixels, (0, 0, width, height), min_panel, 0)[: MAX_PANELS + 1]
    return [
        (
            round(l * scale),
            round(t * scale),
            min(image.size[0], round(r * scale)),
            min(image.size[1], round(b * scale)),
        )
        for l, t, r, b in boxes  # noqa: E741
    ]
