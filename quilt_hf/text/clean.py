"""The one caption cleaner every source uses: raw text as a source wrote it -> text we train on.

``clean_caption`` applies, in order:

1. HTML entities unescaped (twice at most: LAION alt texts are often escaped twice, ``&amp;quot;``);
2. placeholder texts recognised on the unescaped text, before anything is removed from it (Twitter's
   withheld / media-policy / unavailable notices, alt texts such as "image not found" or a bare
   file name): the caption is skipped as ``placeholder_text``;
3. HTML tags and comments removed (``<br />``, ``<i>``...), and text that was only markup dropped;
4. ``ftfy.fix_text``: mojibake ("Ã©" -> "é"), broken surrogates, control characters, width and
   ligature forms;
5. urls, and (``handles=True``) ``@handles``, removed;
6. numeric citation brackets removed: ``[28]``, ``[28,39]``, ``[3-5, 9]``;
7. whitespace collapsed, no space before punctuation, brackets left empty by the removals dropped.

The result is a ``CleanCaption``: the text, and when it is empty, why (a stable skip reason the
caller counts): ``empty_caption`` when there was nothing to start with, ``placeholder_text``, or
``emptied_by_cleaning`` when the removals left nothing. ``ftfy`` is used rather than hand-written
mojibake rules because it is the maintained reference for exactly this job.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import ftfy

EMPTY = "empty_caption"
PLACEHOLDER = "placeholder_text"
EMPTIED = "emptied_by_cleaning"

# Notices Twitter shows in place of a tweet's text or media, and alt texts that describe no image.
_PLACEHOLDERS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"account is temporarily unavailable because it violates the (twitter|x) media policy",
        r"^this (tweet|post|media) (is unavailable|has been withheld|was deleted|has been deleted"
        r"|violated the (twitter|x) rules|is from an account that no longer exists"
        r"|is from a suspended account)",
        r"^(this )?media (not displayed|has been disabled)",
        r"(tweet|post|media) (has been )?withheld in \S+ in response to a legal demand",
        r"^(image|photo|picture) (not found|not available|unavailable|coming soon)\.?$",
        r"^no (image|photo|picture)( available)?\.?$",
        r"^(untitled|placeholder|image|photo|picture|img|null|none|undefined|n/?a|thumbnail)\.?$",
        r"^[\w\-. ]{1,80}\.(jpe?g|png|gif|webp|tiff?|bmp)$",  # a file name used as alt text
    )
]
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+|\bpic\.twitter\.com/\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@.])@\w{1,30}")
_CITATION = re.compile(r"\s*\[\s*\d{1,4}(?:\s*[,;\u2013\u2014-]\s*\d{1,4})*\s*\]")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)|\[\s*[,;]?\s*\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?%)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")


@dataclass(frozen=True)
class CleanCaption:
    text: str
    reason: str = ""  # why ``text`` is empty; "" when it is not

    @property
    def ok(self) -> bool:
        return bool(self.text)


def unescape(text: str) -> str:
    """HTML entities decoded, twice at most (``&amp;quot;`` -> ``"``)."""
    for _ in range(2):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def is_placeholder(text: str) -> bool:
    stripped = " ".join(text.split())
    return any(pattern.search(stripped) for pattern in _PLACEHOLDERS)


def normalise_space(text: str) -> str:
    """Whitespace collapsed, none before closing punctuation or after an opening bracket."""
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _SPACE_AFTER_OPEN.sub(r"\1", text)


def repair(text: str) -> str:
    """Steps 1, 3 and 4 only (entities, markup, encoding), whitespace collapsed: for text whose
    every word counts, such as caption cue lines, where nothing may be judged or removed."""
    text = _TAG.sub(" ", _COMMENT.sub(" ", unescape(text)))
    return " ".join(ftfy.fix_text(text, unescape_html=False).split())


def clean_caption(text: object, *, handles: bool = True, citations: bool = True) -> CleanCaption:
    """``text`` cleaned as the module doc says; non-strings (None, NaN) count as empty."""
    if not isinstance(text, str) or not text.strip():
        return CleanCaption("", EMPTY)
    if is_placeholder(unescape(text)):
        return CleanCaption("", PLACEHOLDER)
    text = repair(text)
    text = _URL.sub(" ", text)
    if handles:
        text = _HANDLE.sub(" ", text)
    if citations:
        text = _CITATION.sub("", text)
    text = normalise_space(_EMPTY_BRACKETS.sub(" ", text))
    text = text.strip(" ,;:-|")
    if not text:
        return CleanCaption("", EMPTIED)
    if is_placeholder(text):
        return CleanCaption("", PLACEHOLDER)
    return CleanCaption(text)
