"""Read speech audio as 16 kHz mono float32, from audio files or from a video's audio track.

librosa (via soundfile) reads wav/flac/ogg/mp3; for video containers librosa would need an ffmpeg
binary through audioread, so those are decoded with PyAV (which carries its own FFmpeg) and
resampled by FFmpeg's own resampler to 16 kHz mono.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quilt_hf.errors import QuiltError

SAMPLE_RATE = 16_000


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The file's audio as a 1-D float32 array at ``sample_rate``; QuiltError if there is none."""
    path = Path(path)
    if not path.is_file():
        raise QuiltError(f"audio/video file not found: {path}")
    import soundfile

    try:
        soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - soundfile signals "not a format I read" with several types
        return _decode_with_pyav(path, sample_rate)
    import librosa

    try:
        audio, _ = librosa.load(str(path), sr=sample_rate, mono=True)
    except Exception as exc:  # noqa: BLE001 - corrupt data surfaces as assorted decoder errors
        raise QuiltError(f"cannot decode audio in {path.name}: {exc}") from exc
    return _checked(audio.astype(np.float32, copy=False), path)


def _decode_with_pyav(path: Path, sample_rate: int) -> np.ndarray:
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise QuiltError(f"cannot open {path.name} as audio or video: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise QuiltError(f"{path.name} has no audio track: use --asr captions with a .vtt file")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pieces: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush the resampler's delay line
                pieces.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if not pieces:
                raise QuiltError(f"cannot decode the audio of {path.name}: {exc}") from exc
            # A truncated file: keep the audio decoded before the damage.
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return _checked(audio.astype(np.float32, copy=False), path)


def _checked(audio: np.ndarray, path: Path) -> np.ndarray:
    if audio.size == 0:
        raise QuiltError(f"{path.name} has an empty audio track")
    return audio
