"""Build source for the ``quilt`` subset: YouTube lecture pairs into the unified dataset.

``build.yaml`` ``sources.quilt`` takes one of

- ``{pairs: ["youtube/*/pairs.jsonl", ...]}``: videos already processed (``quilt youtube run``);
- ``{videos: ["web/videos/*.mp4"], captions: vtt, asr: captions, corrector: lexicon}``: local
  videos, processed first by ``process_video`` into ``work_dir`` (default ``youtube_work/``);
  ``captions`` is ``vtt`` (the sibling ``<stem>.vtt``), ``none``, or a path template with
  ``{stem}`` (``captions/{stem}.en.vtt``); a sibling ``<stem>.info.json`` is read when present;
- ``{pages: [url, ...]}``: video pages fetched with yt-dlp into ``work_dir`` first, then processed.

Globs and relative paths are relative to the build's ``base_dir``. One candidate per pair row;
images are renamed as released, ``{video_id}_image_{uuid}.jpg`` (uuid5 of the video id and the
frame file, so a rerun and every row of one image give the same name).
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import check_source_keys, expand_patterns
from quilt_hf.sources.youtube.fetch import FetchOptions
from quilt_hf.sources.youtube.run import ProcessOptions, run_video
from quilt_hf.video_id import InvalidVideoId, check_video_id

log = logging.getLogger(__name__)

SUBSET = "quilt"
DEFAULT_WORK_DIR = "youtube_work"
IMAGE_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-4c5d-9e6f-7a8b9c0d1e2f")  # fixed: stable image names
PROCESS_KEYS = ("asr", "asr_fallback", "corrector", "classifier")  # ProcessOptions fields
SOURCE_KEYS = frozenset({"pairs", "videos", "pages", "work_dir", "captions", *PROCESS_KEYS})


def plan_shards(
    config: dict[str, Any], base_dir: Path, shard_size: int, options: dict[str, Any] | None = None
) -> list[ShardTask]:
    """Shard tasks: pairs files packed to about ``shard_size`` rows; one video or page per task."""
    base_dir = Path(base_dir)
    config = dict(config or {})
    check_source_keys("quilt", config, SOURCE_KEYS)
    if config.get("pairs"):
        files = expand_patterns(config["pairs"], base_dir, what="sources.quilt.pairs")
        return _pack_pairs(files, max(1, int(shard_size)))
    # Processing output goes where the config says, else into the build's own work folder (so a
    # build writes nothing outside its output folder), else next to the inputs.
    if config.get("work_dir"):
        work_dir = base_dir / config["work_dir"]
    elif (options or {}).get("work_dir"):
        work_dir = Path(options["work_dir"]) / SUBSET
    else:
        work_dir = base_dir / DEFAULT_WORK_DIR
    task_options = {
        "base_dir": str(base_dir),
        "work_dir": str(work_dir),
        "captions": config.get("captions", "vtt"),
        "process": process_options(config),
    }
    if config.get("videos"):
        videos = expand_patterns(config["videos"], base_dir, what="sources.quilt.videos")
        items = [("video", str(path)) for path in videos]
    elif config.get("pages"):
        items = [("page", str(url)) for url in config["pages"]]
    else:
        raise QuiltError("sources.quilt needs 'pairs', 'videos' or 'pages'")
    return [_task([item], task_options) for item in items]


def process_options(config: dict[str, Any]) -> ProcessOptions:
    """``sources.quilt``'s processing keys as the ``ProcessOptions`` that ``quilt youtube run``
    uses too; backends are checked against the pipeline's registries."""
    from quilt_hf.text.pipeline import CORRECTORS
    from quilt_hf.text.transcribe import BACKENDS

    options = ProcessOptions(**{key: config[key] for key in PROCESS_KEYS if key in config})
    for key, value, valid in (
        ("asr", options.asr, BACKENDS),
        ("asr_fallback", options.asr_fallback, (None, *BACKENDS)),
        ("corrector", options.corrector, CORRECTORS),
    ):
        if value not in valid:
            raise QuiltError(f"sources.quilt.{key}: {value!r} is not one of {list(valid)}")
    return options


def _pack_pairs(files: list[Path], shard_size: int) -> list[ShardTask]:
    tasks, current, rows = [], [], 0
    for path in files:
        current.append(("pairs", str(path)))
        rows += _count_lines(path)
        if rows >= shard_size:
            tasks.append(_task(current, {}))
            current, rows = [], 0
    if current:
        tasks.append(_task(current, {}))
    return tasks


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _task(items: list[tuple[str, str]], options: dict[str, Any]) -> ShardTask:
    # the id hashes the inputs, so adding videos later leaves the finished shards' ids unchanged
    digest = hashlib.sha1(json.dumps(items).encode()).hexdigest()[:12]
    return ShardTask(SUBSET, f"{SUBSET}-{digest}", tuple(items), options)


# ---------------------------------------------------------------------------------- candidates
def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    for kind, value in task.items:
        if kind == "pairs":
            yield from pair_candidates(Path(value))
            continue
        if kind == "video":
            row = _local_video_row(Path(value), task.options)
        elif kind == "page":
            row = {"id": Path(urllib.parse.urlparse(value).path).stem, "webpage_url": value}
        else:
            yield SkipRecord("bad_task_item", f"unknown item kind {kind!r}")
            continue
        # the same per-video task as `quilt youtube run`; a finished work folder is reused
        work_dir = task.options["work_dir"]
        result = run_video(row, work_dir, FetchOptions(), task.options["process"])
        if result["status"] == "failed":
            yield SkipRecord(_skip_reason(result), f"{value}: {result.get('detail', '')}")
            continue
        yield from pair_candidates(Path(work_dir) / result["id"] / "pairs.jsonl")


def _local_video_row(video: Path, options: dict[str, Any]) -> dict[str, Any]:
    """A local video as ``run_video``'s row: its captions (per ``captions``) and info json."""
    captions = _captions_for(video, options)
    info = video.with_name(f"{video.stem}.info.json")
    return {
        "id": video.stem,
        "video_path": str(video),
        "captions_path": str(captions) if captions else None,
        "info_path": str(info) if info.is_file() else None,
    }


def _skip_reason(result: dict[str, Any]) -> str:
    """A failed video's skip reason: ``run_video``'s reason, ``fetch_`` before a fetch failure's."""
    return f"fetch_{result['reason']}" if result.get("stage") == "fetch" else result["reason"]


def _captions_for(video: Path, options: dict[str, Any]) -> Path | None:
    setting = options["captions"]
    if setting in (None, "none"):
        return None
    if setting == "vtt":
        path = video.with_suffix(".vtt")
    else:
        path = Path(options["base_dir"]) / str(setting).format(stem=video.stem)
    return path if path.is_file() else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _video_info(folder: Path) -> dict[str, Any]:
    for path in sorted(folder.glob("*.info.json")):
        info = _read_json(path)
        if isinstance(info, dict):
            return info
    return {}


def license_of(info: dict[str, Any]) -> str:
    """yt-dlp sets ``license`` only for Creative Commons videos; the rest are YouTube-standard."""
    if info.get("license"):
        return str(info["license"])
    return "Standard YouTube License" if info.get("extractor_key") == "Youtube" else ""


def image_url_of(video_id: str, image_time: float | None, info: dict[str, Any]) -> str:
    """The YouTube watch url at the frame's second; a non-YouTube page gets a media fragment."""
    second = int(image_time or 0)
    page = info.get("webpage_url")
    if page and info.get("extractor_key") not in (None, "Youtube"):
        return f"{page}#t={second}"
    return f"https://www.youtube.com/watch?v={video_id}&t={second}s"


def pair_candidates(pairs_path: Path) -> Iterator[Candidate | SkipRecord]:
    """One candidate per row of a ``pairs.jsonl``; bad rows are reasoned skips."""
    folder = pairs_path.parent
    if not pairs_path.is_file():
        yield SkipRecord("missing_pairs", str(pairs_path))
        return
    root = folder.resolve()
    info = _video_info(folder)
    with pairs_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{pairs_path}:{number}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
                yield _candidate(row, root, info, where)
            except SkipRecord as skip:
                yield skip
            except (ValueError, TypeError, KeyError) as error:
                yield SkipRecord("bad_pair_row", f"{where}: {type(error).__name__}: {error}")


def _candidate(row: dict[str, Any], root: Path, info: dict[str, Any], where: str) -> Candidate:
    try:
        video_id = check_video_id(row.get("video_id"))
    except InvalidVideoId as error:
        raise SkipRecord("unsafe_id", f"{where}: {error}") from error
    relative = str(row.get("image_path") or "")
    image = (root / relative).resolve()
    if not relative or Path(relative).is_absolute() or not image.is_relative_to(root):
        raise SkipRecord("unsafe_path", f"{where}: image_path {relative!r} leaves {root}")
    try:
        image_bytes = image.read_bytes()
    except OSError as error:
        raise SkipRecord("missing_image", f"{where}: {error}") from error
    noisy = str(row.get("noisy_text") or "")
    corrected = str(row.get("corrected_text") or noisy)
    if not corrected.strip():
        raise SkipRecord("empty_text", where)
    image_time = _seconds(row.get("image_time"))
    name = uuid.uuid5(IMAGE_NAMESPACE, f"{video_id}/{relative}")
    magnification = row.get("magnification", -1)
    fields = {
        "image_path": f"{video_id}_image_{name}.jpg",
        "noisy_text": noisy,
        "corrected_text": corrected,
        "med_umls_ids": _strings(row.get("med_umls_ids")),
        "roi_text": _strings(row.get("roi_text")),
        "pathology": _strings(row.get("pathology")),
        "magnification": magnification if magnification in (-1, 0, 1, 2) else -1,
        "start_time": _seconds(row.get("start_time")),
        "end_time": _seconds(row.get("end_time")),
        "image_time": image_time,
        "image_url": image_url_of(video_id, image_time, info),
        "text_source": str(row.get("text_source") or ""),
        "license": license_of(info),
    }
    return Candidate(
        subset=SUBSET, source_id=video_id, caption=corrected, image_bytes=image_bytes, fields=fields
    )


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v is not None and str(v)]


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)
