"""Helpers for the YouTube tests (no tests here): tiny lecture videos made with PyAV, WebVTT
captions, yt-dlp ``.info.json``-style dicts, and a loopback HTTP server for ``<video>`` pages.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np


def make_video(
    path: Path,
    seconds: float = 2.0,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    audio: bool = True,
) -> Path:
    """An H.264 mp4 of coloured frames (and a 440 Hz AAC tone when ``audio``)."""
    import av

    sample_rate = 16000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for index in range(int(seconds * fps)):
            pixels = np.zeros((height, width, 3), np.uint8)
            pixels[..., 0] = 200
            pixels[: height // 2, :, 1] = (index * 12) % 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            total, step = int(seconds * sample_rate), 1024
            for start in range(0, total, step):
                t = np.arange(start, start + step) / sample_rate
                samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = sample_rate, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
    return path


VTT = """WEBVTT

00:00:00.000 --> 00:00:01.000
this liver biopsy shows hepatocytes

00:00:01.000 --> 00:00:02.000
with macrovesicular steatosis
"""


def write_page(
    folder: Path,
    name: str,
    sources: list[tuple[str, int | None]],
    track: str | None,
    title: str = "Lecture",
) -> Path:
    """An HTML page with one ``<video>``: ``sources`` are (file, height) and ``track`` a VTT file."""
    tags = "".join(
        f'<source src="{src}" type="video/mp4"{f" res={chr(34)}{h}{chr(34)}" if h else ""}>'
        for src, h in sources
    )
    if track:
        tags += f'<track kind="captions" src="{track}" srclang="en" label="English">'
    page = folder / f"{name}.html"
    page.write_text(
        f"<html><head><title>{title}</title></head><body><video controls>{tags}</video></body></html>"
    )
    return page


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) from a thread; yield the base url."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def youtube_info(video_id: str = "dQw4w9WgXcQ", **overrides: Any) -> dict[str, Any]:
    """A YouTube info dict with the fields and shapes yt-dlp writes to ``.info.json``."""

    def tracks(lang_name: str) -> list[dict[str, Any]]:
        base = f"https://www.youtube.com/api/timedtext?v={video_id}&lang="
        return [
            {"ext": ext, "url": base + ext, "name": lang_name}
            for ext in ("json3", "srv1", "srv2", "srv3", "ttml", "vtt")
        ]

    info: dict[str, Any] = {
        "id": video_id,
        "title": "Liver Pathology: Steatohepatitis - Histopathology Lecture",
        "description": "A walk through liver biopsies at low and high power.",
        "channel_id": "UCxxxxxxxxxxxxxxxxxxxxxx",
        "channel": "Pathology Teaching",
        "channel_url": "https://www.youtube.com/channel/UCxxxxxxxxxxxxxxxxxxxxxx",
        "uploader": "Pathology Teaching",
        "duration": 1834,
        "duration_string": "30:34",
        "view_count": 15234,
        "age_limit": 0,
        "webpage_url": f"https://www.youtube.com/watch?v={video_id}",
        "original_url": f"https://www.youtube.com/watch?v={video_id}",
        "categories": ["Education"],
        "tags": ["pathology", "liver", "histology"],
        "playable_in_embed": True,
        "live_status": "not_live",
        "is_live": False,
        "was_live": False,
        "availability": "public",
        "license": None,
        "language": "en",
        "width": 1280,
        "height": 720,
        "aspect_ratio": 1.78,
        "resolution": "1280x720",
        "fps": 30,
        "subtitles": {"en": tracks("English")},
        "automatic_captions": {
            "en-orig": tracks("English (Original)"),
            "en": tracks("English"),
            "fr": tracks("French"),
            "de": tracks("German"),
        },
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "webpage_url_basename": "watch",
        "webpage_url_domain": "youtube.com",
        "_type": "video",
        "epoch": 1767225600,
        "_version": {
            "version": "2026.10.26",
            "release_git_head": None,
            "repository": "yt-dlp/yt-dlp",
        },
    }
    info.update(overrides)
    return info


def flat_search_entry(video_id: str = "dQw4w9WgXcQ", **overrides: Any) -> dict[str, Any]:
    """A ``ytsearchN:`` entry as ``extract_flat`` returns it (few fields, ``_type: url``)."""
    entry = {
        "_type": "url",
        "ie_key": "Youtube",
        "id": video_id,
        "url": f"https://www.youtube.com/watch?v={video_id}",
        "title": "Liver Pathology lecture",
        "duration": 1834.0,
        "channel": "Pathology Teaching",
        "live_status": None,
        "view_count": 15234,
    }
    entry.update(overrides)
    return entry
