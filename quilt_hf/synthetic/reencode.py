"""A lecture video re-encoded in another codec (PyAV), to time and test the frame stage on what
users download: yt-dlp's default format order usually picks AV1 or VP9 on YouTube, while both
lecture generators write H.264."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

# (PyAV encoder, options): settings of the kind the codec's real producers use, fast to encode
ENCODINGS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"preset": "medium", "crf": "23"}),  # B-frames, as in YouTube's avc1
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "crf": "32", "b": "0"}),
    "av1": ("libsvtav1", {"preset": "10", "crf": "35"}),
}


def reencode(source: Path, target: Path, encoder: str, options: dict[str, Any]) -> Path:
    """``source`` re-encoded frame for frame with ``encoder`` (same size and frame rate, no
    audio) into ``target``."""
    import av

    # SVT-AV1 prints its whole configuration to stderr for every encoder it opens (log level 3,
    # info), and warns about the fast preset and thread priorities; errors only, unless the
    # caller chose a level
    os.environ.setdefault("SVT_LOG", "1")
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        src = inp.streams.video[0]
        rate = Fraction(src.average_rate or 25).limit_denominator(1001)
        stream = out.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = src.width, src.height, "yuv420p"
        stream.codec_context.time_base = 1 / rate
        stream.options = options
        for index, frame in enumerate(inp.decode(src)):
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return Path(target)
