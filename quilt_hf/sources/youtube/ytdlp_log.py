"""yt-dlp's messages, routed to Python logging instead of stderr."""

from __future__ import annotations

import logging


class YtdlpLogger:
    """Route yt-dlp's messages to Python logging (errors are also returned as reasons)."""

    def __init__(self, name: str = "yt_dlp") -> None:
        self._log = logging.getLogger(name)

    def debug(self, message: str) -> None:
        self._log.debug(message)

    def info(self, message: str) -> None:
        self._log.debug(message)

    def warning(self, message: str) -> None:
        self._log.debug(message)  # generic-extractor fallbacks are routine, not news

    def error(self, message: str) -> None:
        self._log.info(message)
