"""One video in, its pairs out: the per-video task of ``quilt youtube run`` and of the ``quilt``
build source (``sources/quilt.py``), run on the shared executors (``executors.LocalExecutor``,
``ray_executor.RayExecutor``).

``run_video`` works in ``OUT/<video_id>/`` (the fetch layout, then ``process_video``'s ``images/``,
``pairs.jsonl`` and ``stats.json``). A row is a video page to fetch with yt-dlp (a
``videos.jsonl`` row: ``id``, ``webpage_url``) or a local video (``id``, ``video_path``,
``captions_path``, ``info_path``: nothing to fetch). ``stats.json`` is written last by
``process_video``, so a folder that has it is done and a rerun skips it; anything else is redone.
A failing video is a result row with its stage and reason, never an exception, so one bad video
never stops the others; ``run_videos`` writes them all to ``OUT/run_summary.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.executors import LocalExecutor, TaskOutcome
from quilt_hf.records import ShardTask
from quilt_hf.sources.youtube.fetch import (
    FetchOptions,
    VideoFiles,
    fetch_video,
    find_files,
    unsafe_id_result,
)
from quilt_hf.video_id import InvalidVideoId, check_video_id

log = logging.getLogger(__name__)

SUMMARY_NAME = "run_summary.json"
# the build subset these videos feed: `--ray-resources quilt=num_gpus:1` and `--ray-actors quilt=N`
# place `quilt youtube run`'s videos exactly as they place the build's
SUBSET = "quilt"


@dataclass
class ProcessOptions:
    """How ``process_video`` turns a fetched video into pairs (see ``quilt youtube process``)."""

    asr: str = "captions"  # captions | whisper | pocketsphinx
    asr_fallback: str | None = None  # used when asr == captions and the video has none
    corrector: str = "lexicon"  # one of quilt_hf.text.pipeline.CORRECTORS
    classifier: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more process_video keyword arguments


def process_files(
    video_id: str, folder: Path, files: VideoFiles, options: ProcessOptions
) -> dict[str, Any]:
    """Run ``process_video`` on one video's files into ``folder``; return its stats."""
    if files.video is None:
        raise SkipRecord("no_video_file", f"no {video_id} video in {folder}")
    asr = options.asr
    if asr == "captions" and files.captions is None:
        if not options.asr_fallback:
            raise SkipRecord(
                "no_captions", f"{files.video.name}: no captions; pass --asr-fallback whisper"
            )
        asr = options.asr_fallback
    from quilt_hf.video.pipeline import process_video

    return process_video(
        files.video,
        folder,
        captions=files.captions if asr == "captions" else None,
        asr=asr,
        corrector=options.corrector,
        classifier=options.classifier,
        video_id=video_id,
        info=files.info(),
        **options.extra,
    )


def local_files(row: dict[str, Any]) -> VideoFiles:
    """The files of a local-video row (``video_path``, optional ``captions_path``, ``info_path``)."""

    def path(key: str) -> Path | None:
        return Path(row[key]) if row.get(key) else None

    return VideoFiles(path("video_path"), path("captions_path"), path("info_path"))


def run_video(
    row: dict[str, Any], out_dir: str, fetch_options: FetchOptions, process_options: ProcessOptions
) -> dict[str, Any]:
    """One resumable video: fetch (unless local), then process. Never raises: the result row says
    what happened (``status``; on failure ``stage``, ``reason``, ``detail``)."""
    started = time.perf_counter()
    try:
        video_id = check_video_id(row.get("id"))
    except InvalidVideoId as error:
        return {**unsafe_id_result(row, error), "stage": "input"}
    out = Path(out_dir)
    folder = out / video_id
    if (folder / "stats.json").is_file():
        return {"id": video_id, "status": "done_before", "pairs": _pairs_in(folder)}
    fetched: dict[str, Any] = {}
    if row.get("video_path"):
        files = local_files(row)
    else:
        fetched = fetch_video(row, out, fetch_options)
        if fetched["status"] == "failed":
            return {**fetched, "stage": "fetch"}
        files = find_files(folder, video_id)
    try:
        stats = process_files(video_id, folder, files, process_options)
    except SkipRecord as skip:
        detail = skip.detail
        if skip.reason == "no_captions" and fetched.get("captions_error"):
            detail = f"captions could not be fetched: {fetched['captions_error']}"
        return {
            "id": video_id,
            "status": "failed",
            "stage": "process",
            "reason": skip.reason,
            "detail": detail,
        }
    except QuiltError as error:
        return {
            "id": video_id,
            "status": "failed",
            "stage": "process",
            "reason": "process_error",
            "detail": str(error),
        }
    except Exception as error:  # a decoder or model crash on one video must not lose the others
        log.exception("processing %s crashed", video_id)
        return {
            "id": video_id,
            "status": "failed",
            "stage": "process",
            "reason": "crash",
            "detail": f"{type(error).__name__}: {error}"[:500],
        }
    return {
        "id": video_id,
        "status": "processed",
        "pairs": (stats or {}).get("pairs"),
        "seconds": round(time.perf_counter() - started, 2),
    }


def video_task(row: dict[str, Any]) -> ShardTask:
    """A video row as the unit the executors run (a ``quilt`` task; the row travels as JSON)."""
    return ShardTask(SUBSET, str(row.get("id")), (("video_row", json.dumps(row, sort_keys=True)),))


def run_video_task(
    task: ShardTask, out_dir: str, fetch_options: FetchOptions, process_options: ProcessOptions
) -> dict[str, Any]:
    """``run_video`` on the row of a ``video_task``: the function the executors call."""
    [(_, row)] = task.items
    return run_video(json.loads(row), out_dir, fetch_options, process_options)


def _pairs_in(folder: Path) -> int | None:
    try:
        return json.loads((folder / "stats.json").read_text()).get("pairs")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def run_videos(
    rows: list[dict[str, Any]],
    out_dir: Path,
    *,
    fetch_options: FetchOptions | None = None,
    process_options: ProcessOptions | None = None,
    executor: Any = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run every video on ``executor`` (default: a ``LocalExecutor`` of ``workers`` processes);
    write and return ``OUT/run_summary.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fetch_options = fetch_options or FetchOptions()
    process_options = process_options or ProcessOptions()
    executor = executor or LocalExecutor(workers=workers)
    tasks = [video_task(row) for row in rows]
    report = executor.run(
        run_video_task, tasks, str(out_dir), fetch_options, process_options, desc="videos"
    )
    results = [
        outcome.result if outcome.ok else _worker_failure(outcome) for outcome in report.outcomes
    ]
    results.sort(key=lambda r: str(r.get("id")))
    summary = {
        "videos": len(rows),
        "status": dict(Counter(r["status"] for r in results)),
        "failures": dict(Counter(r["reason"] for r in results if r["status"] == "failed")),
        "pairs": sum(r.get("pairs") or 0 for r in results),
        "fetch_options": {k: v for k, v in asdict(fetch_options).items() if k != "extra"},
        "process_options": {k: v for k, v in asdict(process_options).items() if k != "extra"},
        "results": results,
    }
    write_text_atomic(out_dir / SUMMARY_NAME, json.dumps(summary, indent=2, default=str))
    return summary


def _worker_failure(outcome: TaskOutcome) -> dict[str, Any]:
    """The result row of a video whose worker died (killed, out of memory, Ray retries spent)."""
    [(_, row)] = outcome.task.items
    return {
        "id": json.loads(row).get("id"),
        "status": "failed",
        "stage": "worker",
        "reason": "worker_died",
        "detail": outcome.error,
    }
