"""Builder for the ``openpath`` subset: Twitter (OpenPath-style) tweet threads with their photos."""

from loading_scripts.sharded_builder import ShardedQuiltBuilder


class OpenPathBuilder(ShardedQuiltBuilder):
    """Twitter (OpenPath-style) tweet threads with their photos."""

    SUBSETS = ("openpath",)
