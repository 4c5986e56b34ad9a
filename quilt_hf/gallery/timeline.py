"""Per-video timeline pages: keyframes, their static windows and the text windows (chunks) on one
time axis, drawn as inline SVG, so a curator sees why each image was paired with each text.

Inputs are what is written: the dataset's YouTube rows (``image_time``, ``start_time``,
``end_time``) and, when given, ``quilt youtube process`` folders (``pairs.jsonl`` adds the static
window end ``image_end_time`` and the ``chunk`` index; ``stats.json`` the duration and counts).
Windows that made no pair (non-histology slides, windows whose chunk had no words) are not written
by the video pipeline, so they cannot be drawn; the page says how many there were.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.gallery.links import clock, youtube_link
from quilt_hf.gallery.pages import page
from quilt_hf.gallery.thumbs import ThumbnailMaker, thumb_key

log = logging.getLogger(__name__)

LEFT = 120  # room for lane labels
THUMB_W, THUMB_H = 64, 48
CHUNK_COLOURS = ("#2e86c1", "#7d3c98")
MAX_KEY_ROWS = 3
MAX_WIDTH = 24000


@dataclass
class VideoPair:
    image_time: float | None
    start_time: float | None
    end_time: float | None
    caption: str
    thumb: str  # path relative to the site root, "" when none
    image_key: str
    image_end_time: float | None = None
    chunk: int | None = None


def read_video_dirs(
    dirs: list[Path] | tuple[Path, ...], site: Path, thumbs: ThumbnailMaker
) -> dict[str, dict[str, Any]]:
    """``video_id -> {"pairs", "stats", "source"}`` from ``quilt youtube process`` folders.

    A folder is one video (it holds ``pairs.jsonl``) or holds such folders below it.
    """
    from quilt_hf.errors import QuiltError

    videos: dict[str, dict[str, Any]] = {}
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise QuiltError(f"--videos {folder} is not a folder")
        found = sorted(folder.glob("pairs.jsonl")) or sorted(folder.glob("**/pairs.jsonl"))
        if not found:
            raise QuiltError(
                f"--videos {folder} holds no pairs.jsonl (quilt youtube process output)"
            )
        for pairs_file in found:
            video_id, entry = _read_video(pairs_file.parent, thumbs)
            if entry["pairs"]:
                videos[video_id] = entry
    return videos


def _read_video(folder: Path, thumbs: ThumbnailMaker) -> tuple[str, dict[str, Any]]:
    stats = None
    if (folder / "stats.json").is_file():
        try:
            stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("%s/stats.json is not valid JSON; ignored", folder)
    video_id = str((stats or {}).get("video_id") or folder.name)
    raw: list[dict[str, Any]] = []
    for number, line in enumerate(
        (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines(), 1
    ):
        if not line.strip():
            continue
        try:
            raw.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s/pairs.jsonl line %d is not JSON; skipped", folder, number)
    images: dict[str, str] = {}
    for pair in raw:
        name = Path(str(pair.get("image_path") or "")).name
        if name and name not in images:
            path = folder / "images" / name
            data = path.read_bytes() if path.is_file() else None
            images[name] = thumb_key(None, data) or ""
    thumbs.ensure([(k, (folder / "images" / n).read_bytes()) for n, k in images.items() if k])
    pairs = []
    for pair in raw:
        name = Path(str(pair.get("image_path") or "")).name
        key = images.get(name, "")
        pairs.append(
            VideoPair(
                image_time=_number(pair.get("image_time")),
                start_time=_number(pair.get("start_time")),
                end_time=_number(pair.get("end_time")),
                caption=str(
                    pair.get("corrected_text")
                    or pair.get("caption")
                    or pair.get("noisy_text")
                    or ""
                ),
                thumb=thumbs.path_for(key),
                image_key=key or name,
                image_end_time=_number(pair.get("image_end_time")),
                chunk=pair.get("chunk") if isinstance(pair.get("chunk"), int) else None,
            )
        )
    video_id = str(raw[0].get("video_id") or video_id) if raw else video_id
    return video_id, {"pairs": pairs, "stats": stats, "source": str(folder)}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class Keyframe:
    key: str
    time: float
    end: float | None
    thumb: str


@dataclass
class TextWindow:
    number: int
    start: float
    end: float
    caption: str
    keys: list[str]


def keyframes_and_windows(pairs: list[VideoPair]) -> tuple[list[Keyframe], list[TextWindow]]:
    """Unique keyframes (by image) and unique text windows (by chunk, else by start/end)."""
    keyframes: dict[str, Keyframe] = {}
    windows: dict[Any, TextWindow] = {}
    for pair in pairs:
        if pair.image_time is not None and pair.image_key not in keyframes:
            keyframes[pair.image_key] = Keyframe(
                pair.image_key, pair.image_time, pair.image_end_time, pair.thumb
            )
        if pair.start_time is None or pair.end_time is None:
            continue
        ident = pair.chunk if pair.chunk is not None else (pair.start_time, pair.end_time)
        window = windows.get(ident)
        if window is None:
            window = windows[ident] = TextWindow(
                0, pair.start_time, pair.end_time, pair.caption, []
            )
        if pair.image_key not in window.keys:
            window.keys.append(pair.image_key)
    ordered = sorted(windows.values(), key=lambda w: (w.start, w.end))
    for number, window in enumerate(ordered):
        window.number = number
    return sorted(keyframes.values(), key=lambda k: k.time), ordered


def _tick_step(duration: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if duration / step <= 16:
            return step
    return 3600


def _rows(spans: list[tuple[float, float]], gap: float) -> list[int]:
    """Greedy lane assignment so that spans in one lane do not overlap."""
    ends: list[float] = []
    lanes = []
    for start, end in spans:
        for lane, last in enumerate(ends):
            if start >= last + gap:
                ends[lane] = end
                lanes.append(lane)
                break
        else:
            ends.append(end)
            lanes.append(len(ends) - 1)
    return lanes


def timeline_svg(
    keyframes: list[Keyframe], windows: list[TextWindow], duration: float, prefix: str
) -> str:
    """The SVG drawing; ``prefix`` leads from the page to the site root (for thumbnails)."""
    duration = max(duration, 1.0)
    # Pixels per second: fit a typical page, but widen dense videos so thumbnails stay readable
    # in about MAX_KEY_ROWS rows (up to MAX_WIDTH pixels; the page scrolls sideways).
    dense = (THUMB_W + 4) * len(keyframes) / (MAX_KEY_ROWS * duration)
    scale = min(30.0, max(2.0, 1100.0 / duration, dense), MAX_WIDTH / duration)
    width = LEFT + duration * scale + 24

    def x(t: float) -> float:
        return round(LEFT + t * scale, 1)

    parts: list[str] = []
    y_axis = 22
    step = _tick_step(duration)
    t = 0.0
    while t <= duration + 1e-9:
        parts.append(
            f'<line class="tick" x1="{x(t)}" y1="{y_axis}" x2="{x(t)}" y2="{y_axis + 5}"/>'
        )
        parts.append(f'<text class="tick-label" x="{x(t)}" y="{y_axis - 6}">{clock(t)}</text>')
        t += step
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{y_axis}" x2="{x(duration)}" y2="{y_axis}"/>')

    # Keyframe thumbnails, staggered so that neighbours do not cover each other.
    y_key = y_axis + 14
    key_lanes = [
        min(lane, MAX_KEY_ROWS)
        for lane in _rows([(x(k.time), x(k.time) + THUMB_W) for k in keyframes], 4)
    ]
    key_rows = max(key_lanes, default=-1) + 1
    key_bottom: dict[str, float] = {}
    for keyframe, lane in zip(keyframes, key_lanes, strict=True):
        top = y_key + lane * (THUMB_H + 8)
        left = x(keyframe.time)
        title = escape(f"keyframe at {clock(keyframe.time)}")
        parts.append(f'<g class="keyframe" data-time="{keyframe.time}"><title>{title}</title>')
        if keyframe.thumb:
            href = escape(prefix + keyframe.thumb)
            parts.append(
                f'<image href="{href}" x="{left}" y="{top}" width="{THUMB_W}" height="{THUMB_H}" preserveAspectRatio="xMidYMid slice"/>'
            )
        parts.append(
            f'<rect class="frame" x="{left}" y="{top}" width="{THUMB_W}" height="{THUMB_H}"/>'
        )
        parts.append(
            f'<line class="marker" x1="{left}" y1="{top}" x2="{left}" y2="{top + THUMB_H + 6}"/></g>'
        )
        key_bottom[keyframe.key] = top + THUMB_H + 6
    y_windows = y_key + max(1, key_rows) * (THUMB_H + 8) + 10

    # Static windows of the keyframes (known when pairs.jsonl gave image_end_time).
    known = [k for k in keyframes if k.end is not None]
    if known:
        for keyframe in known:
            w = max(1.5, x(keyframe.end) - x(keyframe.time))
            title = escape(f"static window {clock(keyframe.time)}–{clock(keyframe.end)}")
            parts.append(
                f'<rect class="static-window" x="{x(keyframe.time)}" y="{y_windows}" width="{w}" height="12"><title>{title}</title></rect>'
            )
        y_text = y_windows + 30
    else:
        y_text = y_windows

    lanes = _rows([(w.start, w.end) for w in windows], 0.0)
    for window, lane in zip(windows, lanes, strict=True):
        top = y_text + lane * 26
        left, right = x(window.start), x(window.end)
        colour = CHUNK_COLOURS[window.number % 2]
        title = escape(
            f"text window #{window.number} {clock(window.start)}–{clock(window.end)}: {window.caption}"
        )
        parts.append(
            f'<g class="text-window" data-chunk="{window.number}"><title>{title}</title>'
            f'<rect x="{left}" y="{top}" width="{max(1.5, right - left)}" height="20" rx="3" fill="{colour}"/>'
            f'<text class="chunk-label" x="{left + 4}" y="{top + 14}">#{window.number}</text></g>'
        )
        for key in window.keys:
            keyframe = next((k for k in keyframes if k.key == key), None)
            if keyframe is not None:
                parts.append(
                    f'<line class="link" x1="{x(keyframe.time)}" y1="{key_bottom[key]}" x2="{round((left + right) / 2, 1)}" y2="{top}"/>'
                )
    height = y_text + (max(lanes, default=0) + 1) * 26 + 12
    labels = [
        (y_key + 14, "keyframes"),
        (y_windows + 10, "static windows" if known else ""),
        (y_text + 14, "text windows"),
    ]
    for y, label in labels:
        if label:
            parts.append(f'<text class="lane-label" x="8" y="{y}">{label}</text>')
    return (
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{round(width)}" height="{round(height)}" '
        f'viewBox="0 0 {round(width)} {round(height)}" role="img" aria-label="timeline">'
        + "".join(parts)
        + "</svg>"
    )


def _video_body(video_id: str, entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    keyframes, windows = keyframes_and_windows(entry["pairs"])
    stats = entry.get("stats") or {}
    ends = [w.end for w in windows] + [k.end or k.time for k in keyframes]
    duration = float(stats.get("duration") or 0) or (max(ends, default=0.0) + 1.0)
    svg = timeline_svg(keyframes, windows, duration, "../")
    facts = [
        f"{len(entry['pairs'])} pairs",
        f"{len(keyframes)} images",
        f"{len(windows)} text windows",
    ]
    if stats:
        facts.append(
            f"video pipeline: {stats.get('windows', '?')} static windows, {stats.get('keyframes', '?')} keyframes "
            f"({stats.get('histology_keyframes', '?')} histology), {stats.get('chunks', '?')} chunks "
            f"({stats.get('empty_chunks', '?')} without words), pair_chunk_time {stats.get('pair_chunk_time', '?')} s"
        )
        note = (
            "Static windows that made no pair (non-histology slides, windows whose chunk had no words) "
            "are not recorded in pairs.jsonl, so only the windows of paired images are drawn."
        )
    else:
        note = (
            "Drawn from the dataset rows: keyframes at image_time and text windows start..end. The "
            "extent of each static window and the chunk numbers are in the video pipeline's "
            "pairs.jsonl: pass its folder with --videos to draw them."
        )
    rows = []
    thumbs = {k.key: k.thumb for k in keyframes}
    for window in windows:
        images = "".join(
            f'<img src="../{escape(thumbs[k])}" alt="keyframe" loading="lazy">'
            for k in window.keys
            if thumbs.get(k)
        )
        link = youtube_link(video_id, window.start)
        rows.append(
            f'<tr id="chunk-{window.number}"><td>#{window.number}</td>'
            f'<td><a href="{escape(link)}" target="_blank" rel="noopener">{clock(window.start)}–{clock(window.end)}</a>'
            f"<br><small>{window.end - window.start:.1f} s</small></td>"
            f'<td class="imgs">{images}</td><td>{escape(window.caption)}</td></tr>'
        )
    body = (
        f'<main class="video"><p class="facts">{" · ".join(escape(f) for f in facts)} · '
        f'<a href="{escape(youtube_link(video_id, None))}" target="_blank" rel="noopener">open on YouTube</a></p>'
        f'<div class="timeline-wrap">{svg}</div><p class="note">{escape(note)}</p>'
        '<table class="chunks"><thead><tr><th>#</th><th>text window</th><th>images</th><th>text</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></main>"
    )
    summary = {
        "pairs": len(entry["pairs"]),
        "images": len(keyframes),
        "windows": len(windows),
        "duration": duration,
    }
    return body, summary


def write_timelines(
    timelines: dict[str, dict[str, Any]], folder: Path, page_name: Callable[[str], str]
) -> list[dict[str, Any]]:
    """Write ``folder/{video}.html`` per video and ``folder/index.html``; returns the index rows."""
    folder.mkdir(parents=True, exist_ok=True)
    listed = []
    for video_id in sorted(timelines):
        body, summary = _video_body(video_id, timelines[video_id])
        name = page_name(video_id)
        write_text_atomic(folder / name, page(f"Video {video_id}", body, prefix="../"))
        listed.append({"id": video_id, "page": name, **summary})
    rows = "".join(
        f'<tr><td><a href="{escape(v["page"])}">{escape(v["id"])}</a></td><td>{v["pairs"]}</td>'
        f"<td>{v['images']}</td><td>{v['windows']}</td><td>{clock(v['duration'])}</td></tr>"
        for v in listed
    )
    body = (
        '<main class="video"><table class="videos"><thead><tr><th>video</th><th>pairs</th><th>images</th>'
        f"<th>text windows</th><th>length</th></tr></thead><tbody>{rows}</tbody></table>"
        + ("" if listed else "<p>No YouTube pairs in this dataset.</p>")
        + "</main>"
    )
    write_text_atomic(folder / "index.html", page("Videos", body, prefix="../"))
    return listed
