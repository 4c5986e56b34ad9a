"""Readable licence names from the licence urls sources declare."""

from __future__ import annotations

import re

_CC = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)", re.IGNORECASE)
UNKNOWN = ("", "?", "none", "null", "unknown")


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
