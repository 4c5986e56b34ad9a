"""yt-dlp's messages, routed to Python logging instead of stderr."""

from __future__ import annotations

import logging

# Warnings that mean YouTube formats are being lost on this machine (no JS runtime, no EJS
# scripts, a failed challenge): these reach the user; other warnings are routine.
SURFACED_WARNINGS = (
    "javascript runtime",
    "challenge solving failed",
    "some formats may be missing",
    "remote-components",
    "not a bot",
    "http error 429",
)


class YtdlpLogger:
    """Route yt-dlp's messages to Python logging (errors are also returned as reasons)."""

    def __init__(self, name: str = "yt_dlp") -> None:
        self._log = logging.getLogger(name)

    def debug(self, message: str) -> None:
        self._log.debug(message)

    def info(self, message: str) -> None:
        self._log.debug(message)

    def warning(self, message: str) -> None:
        if any(needle in message.lower() for needle in SURFACED_WARNINGS):
            self._log.warning("%s (see `quilt youtube doctor`)", message)
        else:
            self._log.debug(message)  # generic-extractor fallbacks are routine, not news

    def error(self, message: str) -> None:
        self._log.info(message)
