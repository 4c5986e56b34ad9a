"""Readable licence names from the licence urls sources declare."""

from __future__ import annotations

import re

_CC = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)", re.IGNORECASE)
UNKNOWN = ("", "?", "none", "null", "unknown")
# Licences as publishers name them in words (JATS <license-p> with no url), most specific first.
_CC_URL_IN_TEXT = re.compile(r"creativecommons\.org/(?:licenses|publicdomain)/[a-z-]+/\d\.\d", re.I)
_CC_WORDS = [
    (re.compile(p, re.IGNORECASE), name)
    for p, name in (
        (r"attribution[- ]+non-?commercial[- ]+no-?deriv", "CC BY-NC-ND"),
        (r"attribution[- ]+non-?commercial[- ]+share[- ]?alike", "CC BY-NC-SA"),
        (r"attribution[- ]+non-?commercial", "CC BY-NC"),
        (r"attribution[- ]+no-?deriv", "CC BY-ND"),
        (r"attribution[- ]+share[- ]?alike", "CC BY-SA"),
        (r"creative commons attribution", "CC BY"),
        (r"\bCC[- ]?BY(?:[- ](?:NC|ND|SA))*\b", ""),  # "CC BY-NC 4.0" written out: kept as said
        (r"\bCC0\b|creative commons zero|public domain dedication", "CC0"),
        (r"\bpublic domain\b", "Public Domain"),
    )
]
_VERSION = re.compile(r"\b([1-4]\.0)\b")


def license_name(reference: str | None) -> str:
    """``CC BY 4.0`` for a Creative Commons url, ``CC0 1.0`` for the public-domain dedication, the
    reference itself otherwise, and "" when the source says it does not know (LAION writes ``?``)."""
    reference = (reference or "").strip()
    if reference.lower() in UNKNOWN:
        return ""
    match = _CC.search(reference)
    if not match:
        return reference
    kind, code, version = match.groups()
    if kind.lower() == "publicdomain":
        return f"CC0 {version}" if code.lower() == "zero" else f"Public Domain Mark {version}"
    return f"CC {code.upper()} {version}"


def license_from_text(text: str | None) -> str:
    """The licence a ``<license-p>`` sentence names ("... under a Creative Commons Attribution 4.0
    License ..." -> ``CC BY 4.0``), or "" when it names none we know."""
    text = text or ""
    url = _CC_URL_IN_TEXT.search(text)
    if url:
        return license_name(url[0])
    for pattern, name in _CC_WORDS:
        match = pattern.search(text)
        if match:
            name = name or match[0].upper().replace(" ", "-").replace("CC-BY", "CC BY")
            version = _VERSION.search(text[match.start() : match.end() + 40])
            return f"{name} {version[1]}" if version and name.startswith("CC") else name
    return ""
