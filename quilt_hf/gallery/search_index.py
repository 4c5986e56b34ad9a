"""The caption search index: token -> chunks that contain it, sharded by the token's first 2 chars.

The page loads only the shards a query needs (``search/{shard}.js``), so a 1M-row gallery opens
without a search index in memory. A query word matches a caption when it is a prefix of one of the
caption's tokens; the page finds candidate chunks here, then checks rows exactly. ``tokenize`` and
``shard_name`` have twins in ``assets/gallery.js`` that must stay identical.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+")  # letters and digits (JS: /[\p{L}\p{N}]+/gu)
_PLAIN = re.compile(r"^[a-z0-9]{2}$")


def tokenize(text: str) -> list[str]:
    """Lower-case runs of letters/digits, at least 2 characters long."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) >= 2]


def shard_name(token: str) -> str:
    """``carcinoma`` -> ``ca``; tokens starting outside a-z0-9 -> ``u`` + hex code points."""
    head = token[:2]
    if _PLAIN.match(head):
        return head
    return "u" + "_".join(f"{ord(c):x}" for c in head)


class SearchIndex:
    """Collects, per token, the ascending chunk ids whose captions contain it."""

    def __init__(self) -> None:
        self.postings: dict[str, list[int]] = {}

    def add(self, chunk_id: int, text: str) -> None:
        for token in set(tokenize(text)):
            chunks = self.postings.setdefault(token, [])
            if not chunks or chunks[-1] != chunk_id:
                chunks.append(chunk_id)

    def shards(self) -> dict[str, dict[str, list[int]]]:
        by_shard: dict[str, dict[str, list[int]]] = {}
        for token in sorted(self.postings):
            by_shard.setdefault(shard_name(token), {})[token] = self.postings[token]
        return by_shard
