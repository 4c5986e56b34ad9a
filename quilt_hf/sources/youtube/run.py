"""``quilt youtube run``: fetch + process many videos as resumable per-video tasks.

One task per video, in ``OUT/<video_id>/`` (the fetch layout, then ``process_video``'s
``images/``, ``pairs.jsonl`` and ``stats.json``). ``stats.json`` is written last by
``process_video``, so a folder that has it is done and a rerun skips it; anything else is redone.
A failing video is recorded with its reason in ``OUT/run_summary.json`` and never stops the others.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quilt_hf.atomic import write_text_atomic
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.sources.youtube.fetch import FetchOptions, fetch_video, find_files
from quilt_hf.video_id import InvalidVideoId, check_video_id

log = logging.getLogger(__name__)

SUMMARY_NAME = "run_summary.json"


@dataclass
class ProcessOptions:
    """How ``process_video`` turns a fetched video into pairs (see ``quilt youtube process``)."""

    asr: str = "captions"  # captions | whisper | pocketsphinx
    asr_fallback: str | None = None  # used when asr == captions and the video has none
    corrector: str = "lexicon"  # one of quilt_hf.text.pipeline.CORRECTORS
    classifier: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more process_video keyword arguments


def process_folder(
    video_id: str, folder: Path, options: ProcessOptions, info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run ``process_video`` on the fetched files of ``folder``; return its stats."""
    files = find_files(folder, video_id)
    if files.video is None:
        raise SkipRecord("no_video_file", f"no {video_id}.mp4 in {folder}")
    asr = options.asr
    if asr == "captions" and files.captions is None:
        if not options.asr_fallback:
            raise SkipRecord("no_captions", "no English captions; pass --asr-fallback whisper")
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
        info=info if info is not None else files.info(),
        **options.extra,
    )


def run_video(
    row: dict[str, Any], out_dir: str, fetch_options: FetchOptions, process_options: ProcessOptions
) -> dict[str, Any]:
    """One resumable task: fetch, then process. Never raises: the result row says what happened."""
    started = time.perf_counter()
    try:
        video_id = check_video_id(row.get("id"))
    except InvalidVideoId as error:
        return {
            "id": row.get("id"),
            "status": "failed",
            "stage": "input",
            "reason": "unsafe_id",
            "detail": str(error),
        }
    out = Path(out_dir)
    folder = out / video_id
    if (folder / "stats.json").is_file():
        return {"id": video_id, "status": "done_before", "pairs": _pairs_in(folder)}
    fetched = fetch_video(row, out, fetch_options)
    if fetched["status"] == "failed":
        return {**fetched, "stage": "fetch"}
    try:
        stats = process_folder(video_id, folder, process_options)
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
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every video (``workers`` processes), write and return ``OUT/run_summary.json``."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fetch_options = fetch_options or FetchOptions()
    process_options = process_options or ProcessOptions()
    results: list[dict[str, Any]] = []
    bar = tqdm(total=len(rows), desc="videos", unit="video", disable=not progress)
    if workers <= 1:
        for row in rows:
            results.append(run_video(row, str(out_dir), fetch_options, process_options))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures: dict[Future, dict[str, Any]] = {
                pool.submit(run_video, row, str(out_dir), fetch_options, process_options): row
                for row in rows
            }
            for future in as_completed(futures):
                try:
                    results.append(future.result())
                except Exception as error:  # a worker killed by the OS (e.g. out of memory)
                    row = futures[future]
                    results.append(
                        {
                            "id": row.get("id"),
                            "status": "failed",
                            "stage": "worker",
                            "reason": "worker_died",
                            "detail": str(error),
                        }
                    )
                bar.update()
    bar.close()
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
