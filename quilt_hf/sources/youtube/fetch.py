"""Fetch discovered videos with yt-dlp: a low-resolution mp4 with audio, English WebVTT captions
and the info json, one folder per video.

Layout (shared with ``quilt youtube run`` and the ``quilt`` build source)::

    OUT/<video_id>/<video_id>.mp4
    OUT/<video_id>/<video_id>.<lang>.vtt      manual captions if any, else automatic ones
    OUT/<video_id>/<video_id>.info.json
    OUT/download_archive.txt                   yt-dlp's archive: reruns skip finished videos

Each video is fetched on its own; a failure is recorded with a reason and never stops the run.
YouTube's bot check ("Sign in to confirm you're not a bot") and HTTP 429 are retried after an
exponential backoff and, when they persist, recorded with their own reason and a hint.

yt-dlp (>= 2025.11) solves YouTube's JavaScript challenges with an external runtime and its EJS
scripts: the ``deno`` package puts a Deno binary in the environment's ``bin/`` and ``yt-dlp-ejs``
ships the scripts; ``js_runtimes()`` hands that binary to yt-dlp explicitly.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.sources.youtube.ytdlp_log import YtdlpLogger
from quilt_hf.video_id import InvalidVideoId, check_video_id

log = logging.getLogger(__name__)

# <= 360p: best video+audio at or under 360p, else a single file at or under 360p, else the
# smallest available (a lecture at 240p is still useful; at 1080p it is a waste of bandwidth).
FORMAT_360P = "bv*[height<=360]+ba/b[height<=360]/wv*+ba/w"
ARCHIVE_NAME = "download_archive.txt"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov")


@dataclass
class FetchOptions:
    format: str = FORMAT_360P
    subtitle_langs: tuple[str, ...] = ("en", "en-.*")  # yt-dlp regexes; "en-orig" = original ASR
    retries: int = 10
    fragment_retries: int = 10
    extractor_retries: int = 3
    socket_timeout: float = 30.0
    ffmpeg_location: str | None = None  # None: system ffmpeg, else imageio-ffmpeg's binary
    use_archive: bool = True
    # yt-dlp's js_runtimes, e.g. {"node": {"path": "/usr/bin/node"}}; None: the deno package's binary
    js_runtimes: dict[str, dict[str, str]] | None = None
    # after a bot check or HTTP 429: wait backoff_s, then 2x, ... (at most max_backoff_s), and retry
    # the same video up to backoff_retries times before recording the failure
    backoff_s: float = 30.0
    max_backoff_s: float = 600.0
    backoff_retries: int = 2
    extra: dict[str, Any] = field(default_factory=dict)  # any other YoutubeDL option


# Reasons that mean "this address is being throttled", not "this video is broken".
THROTTLE_REASONS = ("bot_check", "rate_limited")
HINTS = {
    "bot_check": "YouTube asks this address to sign in to prove it is not a bot: pass --cookies "
    "FILE (cookies.txt exported from a browser logged in to YouTube) and slow down with --sleep "
    "and --sleep-requests",
    "rate_limited": "YouTube answers HTTP 429 Too Many Requests: slow down with --sleep and "
    "--sleep-requests, use fewer --workers, or pass --cookies FILE",
}


def deno_path() -> str | None:
    """The Deno binary of the ``deno`` package (installed with quilt-hf[video]), else one on PATH."""
    try:
        from deno import find_deno_bin

        return find_deno_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("deno")


def js_runtimes(options: FetchOptions | None = None) -> dict[str, dict[str, str]]:
    """yt-dlp's ``js_runtimes`` parameter: the configured ones, else Deno at an explicit path."""
    if options is not None and options.js_runtimes is not None:
        return options.js_runtimes
    path = deno_path()
    return {"deno": {"path": path} if path else {}}  # {}: yt-dlp looks for deno itself


def ffmpeg_location() -> str | None:
    """The system ffmpeg if there is one, else the binary that ships in the imageio-ffmpeg wheel."""
    if shutil.which("ffmpeg"):
        return None  # yt-dlp finds it on PATH
    try:
        import imageio_ffmpeg
    except ImportError:
        log.warning("no ffmpeg on PATH and imageio-ffmpeg is not installed: no merging")
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ydl_params(video_id: str, out_dir: Path, options: FetchOptions) -> dict[str, Any]:
    folder = out_dir / video_id
    params: dict[str, Any] = {
        "format": options.format,
        "merge_output_format": "mp4",
        "outtmpl": {"default": str(folder / f"{video_id}.%(ext)s")},
        "writesubtitles": True,
        "writeautomaticsub": True,  # yt-dlp takes manual captions over automatic ones per language
        "subtitleslangs": list(options.subtitle_langs),
        "subtitlesformat": "vtt/best",
        "writeinfojson": True,
        "retries": options.retries,
        "fragment_retries": options.fragment_retries,
        "extractor_retries": options.extractor_retries,
        "socket_timeout": options.socket_timeout,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": YtdlpLogger(),
        "noplaylist": True,
        "overwrites": False,
        "continuedl": True,
        "js_runtimes": js_runtimes(options),
    }
    location = options.ffmpeg_location or ffmpeg_location()
    if location:
        params["ffmpeg_location"] = location
    if options.use_archive:
        params["download_archive"] = str(out_dir / ARCHIVE_NAME)
    return {**params, **options.extra}


@dataclass(frozen=True)
class VideoFiles:
    video: Path | None
    captions: Path | None
    info_json: Path | None

    def info(self) -> dict[str, Any]:
        if self.info_json is None:
            return {}
        try:
            return json.loads(self.info_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}


def find_files(folder: Path, video_id: str) -> VideoFiles:
    """The fetched video, best English captions (manual ``en`` first) and info json, if present."""
    video = next(
        (
            folder / f"{video_id}{ext}"
            for ext in VIDEO_EXTENSIONS
            if (folder / f"{video_id}{ext}").is_file()
        ),
        None,
    )
    vtts = sorted(folder.glob(f"{video_id}.*.vtt"))
    captions = next((p for p in vtts if p.name == f"{video_id}.en.vtt"), vtts[0] if vtts else None)
    info = folder / f"{video_id}.info.json"
    return VideoFiles(video, captions, info if info.is_file() else None)


def classify_error(message: str) -> str:
    """A stable reason key for a yt-dlp error message (the full message goes in ``detail``)."""
    text = message.lower()
    rules = [
        ("unsupported url", "unsupported_url"),
        ("not a bot", "bot_check"),  # before "sign in": YouTube's throttle, not a login wall
        ("private video", "unavailable"),
        ("video unavailable", "unavailable"),
        ("has been removed", "unavailable"),
        ("sign in", "login_required"),
        ("confirm your age", "login_required"),
        ("http error 404", "not_found"),
        ("http error 403", "forbidden"),
        ("http error 429", "rate_limited"),
        ("too many requests", "rate_limited"),
        ("http error 5", "server_error"),
        ("more expected", "incomplete"),
        ("timed out", "timeout"),
        ("connection refused", "unreachable"),
        ("name or service not known", "unreachable"),
        ("urlopen error", "unreachable"),
        ("requested format is not available", "no_format"),
        ("ffmpeg", "ffmpeg"),
    ]
    return next((reason for needle, reason in rules if needle in text), "download_error")


def unsafe_id_result(row: dict[str, Any], error: InvalidVideoId) -> dict[str, Any]:
    """The failed result row of a row whose id cannot name a folder (fetch and run share it)."""
    return {"id": row.get("id"), "status": "failed", "reason": "unsafe_id", "detail": str(error)}


def fetch_video(
    row: dict[str, Any], out_dir: Path, options: FetchOptions | None = None
) -> dict[str, Any]:
    """Fetch one ``videos.jsonl`` row; return a result row with ``status`` and, on failure, ``reason``."""
    options = options or FetchOptions()
    out_dir = Path(out_dir)
    try:
        video_id = check_video_id(row.get("id"))
    except InvalidVideoId as error:
        return unsafe_id_result(row, error)
    url = row.get("webpage_url") or f"https://www.youtube.com/watch?v={video_id}"
    folder = out_dir / video_id
    result: dict[str, Any] = {"id": video_id, "url": url}

    files = find_files(folder, video_id)
    if files.video and files.info_json:
        return {**result, "status": "already_fetched", **_describe(files, out_dir)}

    folder.mkdir(parents=True, exist_ok=True)
    params = ydl_params(video_id, out_dir, options)
    waits: list[float] = []
    while True:
        info, failure = _download(url, params, result)
        if failure is None or failure["reason"] not in THROTTLE_REASONS:
            break
        if len(waits) >= options.backoff_retries:
            failure["hint"] = HINTS[failure["reason"]]
            break
        waits.append(min(options.backoff_s * 2 ** len(waits), options.max_backoff_s))
        log.warning("%s: %s; retrying in %.0f s", video_id, failure["reason"], waits[-1])
        time.sleep(waits[-1])
    if waits:
        result["backoff_waits"] = waits
    if failure is not None:
        return {**result, "status": "failed", **failure}

    files = find_files(folder, video_id)
    if files.video is None:
        if info is None or not info.get("requested_downloads"):
            return {
                **result,
                "status": "failed",
                "reason": "archived_but_missing",
                "detail": f"listed in {ARCHIVE_NAME} but no video in {folder}; remove its line to refetch",
            }
        return {**result, "status": "failed", "reason": "no_video_file", "detail": str(folder)}
    requested = (info or {}).get("requested_subtitles") or {}
    manual = set((info or {}).get("subtitles") or {})
    result["captions_kind"] = next(
        ("manual" if lang in manual else "automatic" for lang in requested), None
    )
    return {**result, "status": "fetched", **_describe(files, out_dir)}


def _download(
    url: str, params: dict[str, Any], result: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """One yt-dlp attempt: (info, None), or (None, {"reason", "detail"}) when it failed."""
    import yt_dlp

    try:
        try:
            with yt_dlp.YoutubeDL(params) as ydl:
                return ydl.extract_info(url, download=True), None
        except yt_dlp.utils.DownloadError as error:
            if "unable to download video subtitles" not in str(error).lower():
                raise
            # broken captions (empty, 404) must not cost the video: fetch it without them
            result["captions_error"] = _message(error)[:300]
            params = {**params, "writesubtitles": False, "writeautomaticsub": False}
            with yt_dlp.YoutubeDL(params) as ydl:
                return ydl.extract_info(url, download=True), None
    except yt_dlp.utils.DownloadError as error:
        message = _message(error)
        return None, {"reason": classify_error(message), "detail": message[:500]}
    except Exception as error:  # one broken video must never stop the run
        log.exception("fetch of %s crashed", url)
        return None, {"reason": "crash", "detail": f"{type(error).__name__}: {error}"}


def _message(error: BaseException) -> str:
    return str(error).replace("ERROR: ", "").strip()


def _describe(files: VideoFiles, out_dir: Path) -> dict[str, Any]:
    def relative(path: Path | None) -> str | None:
        return str(path.relative_to(out_dir)) if path else None

    return {
        "video": relative(files.video),
        "captions": relative(files.captions),
        "info_json": relative(files.info_json),
    }


def fetch_all(
    rows: list[dict[str, Any]],
    out_dir: Path,
    options: FetchOptions | None = None,
    progress: bool = True,
) -> Iterator[dict[str, Any]]:
    """Fetch rows one by one (yt-dlp is network-bound; parallelism is the run command's job)."""
    from tqdm import tqdm

    for row in tqdm(rows, desc="fetch", unit="video", disable=not progress):
        yield fetch_video(row, out_dir, options)
