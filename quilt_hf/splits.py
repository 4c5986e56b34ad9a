"""Split assignment by a hash of the source group, so one video, tweet thread or article never
lands in both train and val."""

from __future__ import annotations

import hashlib


def group_id(subset: str, source_id: str) -> str:
    """The unit that must stay in one split.

    PubMed source ids are ``PMCID/figure[/panel]``: the article is the group. Video and tweet
    source ids are already the video id / conversation id. Web pairs are independent.
    """
    if subset == "pubmed":
        return source_id.split("/", 1)[0]
    return source_id


def assign_split(subset: str, source_id: str, val_fraction: float, seed: int = 0) -> str:
    digest = hashlib.sha256(f"{seed}:{subset}:{group_id(subset, source_id)}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "val" if fraction < val_fraction else "train"
