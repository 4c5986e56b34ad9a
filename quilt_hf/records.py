"""What a source yields: a ``Candidate`` pair before image normalisation and filtering.

Sources only parse and fetch. The shard runner (``quilt_hf.tasks``) turns each candidate into a
schema record: it decodes and normalises the image (``quilt_hf.images``), runs the filters, hashes,
and assigns the split. A source that cannot use an input yields a ``SkipRecord`` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Candidate:
    subset: str  # one of schema.SUBSETS
    source_id: str  # video id / tweet conversation id / "PMCID/fig-id[/panel]" / url
    caption: str
    image_bytes: bytes
    fields: dict[str, Any] = field(default_factory=dict)  # any other schema column


@dataclass(frozen=True)
class ShardTask:
    """One idempotent unit of work: it writes shard ``shard_id`` of ``subset`` and its stats json.

    ``items`` is JSON-serialisable (paths, row ranges, ids) so a task can travel to a process pool
    or a Ray worker unchanged.
    """

    subset: str
    shard_id: str
    items: tuple[Any, ...]
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
