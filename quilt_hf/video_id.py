"""The one video-id check. Ids come from remote metadata (yt-dlp) and from user files, and they
name folders and files (``OUT/<id>/<id>.mp4``, ``<id>_image_<uuid>.jpg``), so anything with path
characters (``/``, ``\\``, ``..``, NUL, a leading dot) is refused, never sanitised into a path.
YouTube's own ids (11 of ``A-Za-z0-9_-``) pass; so do other sites' ids and local file stems.
"""

from __future__ import annotations

import re

from quilt_hf.errors import QuiltError

VIDEO_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


class InvalidVideoId(QuiltError, ValueError):
    """A video id that cannot name a folder (a user-facing error; also a ``ValueError``)."""


def check_video_id(video_id: object) -> str:
    """Return ``video_id`` if it can name a folder, else raise ``InvalidVideoId``."""
    if not isinstance(video_id, str) or not VIDEO_ID.fullmatch(video_id) or ".." in video_id:
        raise InvalidVideoId(
            f"invalid video id {video_id!r}: use letters, digits, '_', '-', '.' (no paths, no '..')"
        )
    return video_id
