"""Builder for the ``quilt`` subset: Narrated YouTube histopathology lectures: keyframes paired with aligned narration."""

from loading_scripts.sharded_builder import ShardedQuiltBuilder


class QuiltYouTubeBuilder(ShardedQuiltBuilder):
    """Narrated YouTube histopathology lectures: keyframes paired with aligned narration."""

    SUBSETS = ("quilt",)
