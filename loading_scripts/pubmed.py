"""Builder for the ``pubmed`` subset: PubMed Central Open Access figure and panel captions."""

from loading_scripts.sharded_builder import ShardedQuiltBuilder


class PubMedBuilder(ShardedQuiltBuilder):
    """PubMed Central Open Access figure and panel captions."""

    SUBSETS = ("pubmed",)
