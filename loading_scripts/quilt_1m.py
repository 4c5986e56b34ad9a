"""The unified ``quilt_1m`` builder: every configured source, deduplicated across sources."""

from loading_scripts.laion import LaionBuilder
from loading_scripts.openpath import OpenPathBuilder
from loading_scripts.pubmed import PubMedBuilder
from loading_scripts.quilt import QuiltYouTubeBuilder
from loading_scripts.sharded_builder import ShardedQuiltBuilder
from quilt_hf.schema import SUBSETS


class Quilt1MBuilder(ShardedQuiltBuilder):
    """All subsets (``quilt``, ``openpath``, ``pubmed``, ``laion``) in one dataset."""

    SUBSETS = SUBSETS


# `quilt build --builder NAME`: the unified dataset, or one source alone.
BUILDERS: dict[str, type[ShardedQuiltBuilder]] = {
    "quilt_1m": Quilt1MBuilder,
    "quilt": QuiltYouTubeBuilder,
    "openpath": OpenPathBuilder,
    "pubmed": PubMedBuilder,
    "laion": LaionBuilder,
}
