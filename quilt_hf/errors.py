"""Errors whose message is meant for the user (the CLI prints them without a traceback)."""


class QuiltError(Exception):
    """A clear, user-facing error."""


class SkipRecord(QuiltError):  # noqa: N818 - reads as "skip this record"
    """One input record cannot be used; ``reason`` is a short stable key counted in shard stats."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
