"""Builder for the ``laion`` subset: Web (LAION-style) image / alt-text pairs."""

from loading_scripts.sharded_builder import ShardedQuiltBuilder


class LaionBuilder(ShardedQuiltBuilder):
    """Web (LAION-style) image / alt-text pairs."""

    SUBSETS = ("laion",)
