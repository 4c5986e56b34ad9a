"""Decode a lecture video cheaply: only the frames others depend on are decoded, few are looked at.

Measured on this machine (640x360 H.264): converting a frame to RGB costs 2-3x its decode, while
the grey Y plane of a YUV frame is already in memory and nearly free to read. So the frame stage
samples a few frames per second, reads only their Y plane as a small grey thumbnail (block mean,
which also averages away compression noise), and holds on to the decoded frames it might need in
colour; RGB conversion happens once per kept window, on the median of their YUV planes. The
decoder skips non-reference frames (B-frames no other frame is predicted from): at 4 samples per
second of a 25-30 fps lecture they are never needed, and skipping them nearly halves the decode.
``decode_only`` (the benchmark's baseline) decodes every frame.

A file PyAV/FFmpeg cannot open or decode (truncated download, not a video) raises ``QuiltError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quilt_hf.errors import QuiltError


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds (container duration, else stream duration)
    fps: float
    width: int
    height: int
    frames: int  # as declared by the container; 0 when unknown
    has_audio: bool
    codec: str = ""  # FFmpeg's decoder name: h264, vp9, libdav1d (AV1), ...


@dataclass
class Sample:
    """One looked-at frame: its time, a small grey thumbnail, and the decoded frame itself."""

    time: float
    thumb: np.ndarray  # float32 (h, w), block-mean of the Y plane
    frame: object  # av.VideoFrame; valid while the caller holds it

    def yuv(self) -> np.ndarray:
        """The frame as a yuv420p array (h*3/2, w); a plain copy when it is already yuv420p."""
        return self.frame.to_ndarray(format="yuv420p")  # type: ignore[attr-defined]

    def rgb(self):
        """The frame as an RGB ``PIL.Image`` (one colour conversion)."""
        return rgb_image(self.frame)


def rgb_image(frame):
    """An ``av.VideoFrame`` as an RGB ``PIL.Image``: the same pixels as ``frame.to_image()``
    (both convert with FFmpeg's swscale) at about two thirds of its time, since PIL wraps the
    converted array instead of copying it row by row."""
    from PIL import Image

    return Image.fromarray(frame.to_ndarray(format="rgb24"))


def _open(path: Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise QuiltError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise QuiltError(f"cannot open video {path.name}: {error}") from error
    if not container.streams.video:
        container.close()
        raise QuiltError(f"{path.name} has no video stream")
    return container


def probe(path: Path) -> VideoInfo:
    """Duration, frame rate, size and audio presence of ``path`` (QuiltError if unreadable)."""
    with _open(path) as container:
        return _info(container)


def _info(container) -> VideoInfo:
    stream = container.streams.video[0]
    duration = 0.0
    if container.duration:
        duration = container.duration / 1_000_000
    elif stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
    return VideoInfo(
        duration=duration,
        fps=fps,
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        frames=int(stream.frames or 0),
        has_audio=bool(container.streams.audio),
        codec=stream.codec_context.name,
    )


def luma_thumbnail(frame, step: int) -> np.ndarray:
    """Box-filtered ``1/step`` thumbnail of the Y plane, read in place (no colour conversion)."""
    from PIL import Image

    if frame.format.name in {"yuv420p", "yuvj420p", "yuv422p", "yuv444p", "nv12", "gray"}:
        plane = frame.planes[0]
        size = (plane.width, plane.height)
        grey = Image.frombuffer("L", size, plane, "raw", "L", plane.line_size, 1)
    else:  # rare pixel formats: pay for a conversion
        grey = Image.fromarray(frame.to_ndarray(format="gray"))
    return np.asarray(grey.reduce(step) if step > 1 else grey, dtype=np.float32)


def thumb_step(width: int, thumb_width: int) -> int:
    return max(1, width // thumb_width)


def iter_samples(
    path: Path,
    *,
    sample_fps: float = 4.0,
    thumb_width: int = 160,
    counts: dict[str, int] | None = None,
) -> Iterator[Sample]:
    """Decode ``path`` and yield about ``sample_fps`` frames per second as ``Sample``s.

    Non-reference frames are skipped by the decoder (``skip_frame="NONREF"``: on a 640x360
    H.264 lecture ~45% of the frames, and ~45% of the decode time); ``counts["frames_decoded"]``
    counts the frames actually decoded when given.

    Raises QuiltError when the stream is corrupt or ends well before its declared duration.
    """
    import av

    interval = 1.0 / sample_fps
    next_time = 0.0
    last_time = -1.0
    with _open(path) as container:
        info = _info(container)  # read from the open container: the file is opened once
        stream = container.streams.video[0]
        # Only reference frames are decoded: the B-frames nothing depends on are ~half of an
        # H.264 lecture's frames and are never needed at sample_fps (4 of 25 per second); a
        # sample then lands on the next reference frame, a few hundredths of a second later.
        # Threading, measured on this 2-core machine (windows of one lecture, wall / CPU seconds;
        # benchmarks/bench_frames.py --encode re-encodes it): slice threading, except for VP9
        # (what yt-dlp's default order usually picks on YouTube, with AV1), where FFmpeg's
        # slice threads split tile columns and a 360p frame has one or two: VP9 0.95 / 1.27 s
        # with frame threads against 1.16 / 1.36 s; H.264 with B-frames 0.57 / 0.73 against
        # 0.68 / 0.80 (frame threads add latency to such a sparse stream), H.264 Baseline
        # 0.91 / 1.27 against 1.05 / 1.49, AV1 (dav1d) level. Decoding in a read-ahead Python
        # thread lost too (three threads handing the GIL back and forth cost more than the
        # overlap won).
        stream.codec_context.skip_frame = "NONREF"
        stream.thread_type = "FRAME" if stream.codec_context.name == "vp9" else "SLICE"
        step = thumb_step(stream.codec_context.width, thumb_width)
        try:
            for frame in container.decode(stream):
                if counts is not None:
                    counts["frames_decoded"] = counts.get("frames_decoded", 0) + 1
                if frame.time is None:
                    continue
                last_time = frame.time
                if frame.time + 1e-6 < next_time:
                    continue
                next_time += interval * max(1, int((frame.time - next_time) / interval) + 1)
                yield Sample(frame.time, luma_thumbnail(frame, step), frame)
        except av.error.FFmpegError as error:
            raise QuiltError(f"corrupt video {Path(path).name}: {error}") from error
    if last_time < 0:
        raise QuiltError(f"no decodable frames in {Path(path).name}")
    if info.duration and last_time < info.duration - max(2.0, 0.1 * info.duration):
        raise QuiltError(
            f"video {Path(path).name} ends at {last_time:.1f}s of a declared {info.duration:.1f}s "
            "(truncated download?)"
        )


def decode_only(path: Path) -> int:
    """Decode every frame and touch nothing: the speed baseline. Returns the frame count."""
    count = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _frame in container.decode(stream):
            count += 1
    return count
