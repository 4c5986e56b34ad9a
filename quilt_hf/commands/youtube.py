"""``quilt youtube discover | fetch | process | run``: the YouTube curation pipeline's commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError
from quilt_hf.text.pipeline import CORRECTORS  # the choices are the pipeline's own registries
from quilt_hf.text.sentences import DEFAULT_PUNCTUATION_MODEL, SENTENCE_METHODS
from quilt_hf.text.transcribe import BACKENDS as ASR_BACKENDS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "youtube",
        help="discover, fetch and process narrated histopathology lectures",
        description="The YouTube pipeline of QUILT: discover lectures with yt-dlp searches, fetch "
        "low-resolution video + English captions, and turn each video into aligned image-text pairs.",
    )
    commands = parser.add_subparsers(title="steps", metavar="STEP")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    _register_discover(commands)
    _register_fetch(commands)
    _register_process(commands)
    _register_run(commands)
    _register_doctor(commands)


# ----------------------------------------------------------------------------------- discover
def _register_discover(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "discover",
        help="search YouTube (and channels, playlists, pages) and filter by metadata",
        description="List videos with yt-dlp (`ytsearchN:` over a histopathology keyword list, "
        "channel and playlist urls, single pages), extract each candidate's metadata and keep "
        "English, recorded, non-Short lectures in a duration range. Kept videos go to --out, "
        "rejected ones (with the reason) to rejected.jsonl beside it.",
    )
    p.add_argument("--out", type=Path, required=True, help="videos.jsonl to write")
    p.add_argument(
        "--keywords",
        type=Path,
        help="file of search queries, one a line (default: the shipped histopathology list)",
    )
    p.add_argument("--no-search", action="store_true", help="skip keyword searches")
    p.add_argument("--per-keyword", type=int, default=20, help="search results per query (20)")
    p.add_argument("--max-keywords", type=int, help="use only the first N queries")
    p.add_argument(
        "--channel", action="append", default=[], metavar="URL", help="a channel url (repeatable)"
    )
    p.add_argument(
        "--playlist", action="append", default=[], metavar="URL", help="a playlist url (repeatable)"
    )
    p.add_argument(
        "--url", action="append", default=[], metavar="URL", help="a single video page (repeatable)"
    )
    p.add_argument(
        "--language",
        action="append",
        default=None,
        help="keep these spoken languages (ISO 639-1, repeatable; default en; 'any' for all)",
    )
    p.add_argument("--min-duration", type=float, default=60.0, help="seconds (60)")
    p.add_argument("--max-duration", type=float, default=4 * 3600.0, help="seconds (14400)")
    p.add_argument(
        "--captions",
        choices=("any", "required", "manual"),
        default="any",
        help="require English captions: any (no), required (manual or automatic), manual",
    )
    p.add_argument(
        "--license",
        action="append",
        default=[],
        help="keep only licences containing this text, e.g. 'Creative Commons' (repeatable)",
    )
    p.add_argument("--no-past-streams", action="store_true", help="drop recorded livestreams")
    p.add_argument("--keep-shorts", action="store_true", help="do not drop YouTube Shorts")
    p.set_defaults(func=cmd_discover)


def cmd_discover(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from quilt_hf.sources.youtube.discover import (
        default_keywords,
        discover,
        list_sources,
        read_keywords_text,
        write_jsonl,
    )
    from quilt_hf.sources.youtube.relevance import FilterConfig

    if args.no_search:
        queries: list[str] = []
    elif args.keywords:
        if not args.keywords.is_file():
            raise QuiltError(f"keywords file not found: {args.keywords}")
        queries = read_keywords_text(args.keywords.read_text(encoding="utf-8"))
    else:
        queries = default_keywords()
    if args.max_keywords is not None:
        queries = queries[: args.max_keywords]
    sources = list_sources(queries, args.per_keyword, args.channel, args.playlist, args.url)
    if not sources:
        raise QuiltError("nothing to discover: give keywords, --channel, --playlist or --url")
    languages = tuple(args.language or ["en"])
    config = FilterConfig(
        languages=() if "any" in languages else languages,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        captions=args.captions,
        licenses=tuple(args.license),
        allow_was_live=not args.no_past_streams,
        exclude_shorts=not args.keep_shorts,
    )
    result = discover(sources, config, progress=lambda it: tqdm(it, desc="discover", unit="item"))
    kept = write_jsonl(args.out, result.kept)
    rejected_path = args.out.with_name("rejected.jsonl")
    rejected = write_jsonl(rejected_path, result.rejected)
    for error in result.errors:
        print(f"warning: could not list {error['source']}: {error['error']}", file=sys.stderr)
    reasons: dict[str, int] = {}
    for row in result.rejected:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    print(
        f"kept {kept} videos -> {args.out}; rejected {rejected} -> {rejected_path} {reasons}; "
        f"{len(result.errors)} sources failed to list"
    )
    return 0 if kept or not result.errors else 1


# -------------------------------------------------------------------------------------- fetch
def _add_fetch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", default=None, help="yt-dlp format selector (default: <= 360p with audio)"
    )
    p.add_argument("--retries", type=int, default=10, help="HTTP and fragment retries (10)")
    p.add_argument(
        "--ffmpeg", default=None, help="ffmpeg binary (default: system, else imageio-ffmpeg's)"
    )
    p.add_argument("--no-archive", action="store_true", help="do not use download_archive.txt")
    _add_cookies_option(p)
    p.add_argument("--sleep", type=float, default=0.0, help="seconds to wait between downloads")
    p.add_argument(
        "--sleep-requests",
        type=float,
        default=0.0,
        help="seconds to wait between the HTTP requests of one video's extraction",
    )
    p.add_argument(
        "--backoff",
        type=float,
        default=30.0,
        help="after a bot check or HTTP 429, wait this many seconds, then twice as long, ... "
        "(at most 600) and retry the video, twice (30)",
    )
    _add_js_runtime_option(p)


def _add_cookies_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cookies", type=Path, help="Netscape cookies file (YouTube bot checks)")


def _add_js_runtime_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--js-runtime",
        metavar="RUNTIME[:PATH]",
        help="JavaScript runtime for yt-dlp's YouTube challenges: deno, node, bun or quickjs "
        "(default: the deno binary installed with quilt-hf)",
    )


def _js_runtimes(spec: str | None) -> dict[str, dict[str, str]] | None:
    """``--js-runtime node:/usr/bin/node`` as yt-dlp's ``js_runtimes`` parameter."""
    if spec is None:
        return None
    from quilt_hf.sources.youtube.doctor import EXECUTABLES

    name, _, path = spec.partition(":")
    if name not in EXECUTABLES:
        raise QuiltError(f"--js-runtime: unknown runtime {name!r}; use one of {list(EXECUTABLES)}")
    return {name: {"path": path} if path else {}}


def _fetch_options(args: argparse.Namespace):
    from quilt_hf.sources.youtube.fetch import FORMAT_360P, FetchOptions

    if args.backoff < 0:
        raise QuiltError("--backoff must be >= 0 seconds")
    return FetchOptions(
        format=args.format or FORMAT_360P,
        retries=args.retries,
        fragment_retries=args.retries,
        ffmpeg_location=args.ffmpeg,
        use_archive=not args.no_archive,
        js_runtimes=_js_runtimes(args.js_runtime),
        backoff_s=args.backoff,
        extra=_ytdlp_extra(args),
    )


def _ytdlp_extra(args: argparse.Namespace) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if args.cookies is not None:
        if not args.cookies.is_file():
            raise QuiltError(f"cookies file not found: {args.cookies}")
        extra["cookiefile"] = str(args.cookies)
    if args.sleep > 0:
        extra["sleep_interval"] = args.sleep
    if args.sleep_requests > 0:
        extra["sleep_interval_requests"] = args.sleep_requests
    return extra


def _warn_if_youtube_cannot_work(rows: list[dict[str, Any]], options) -> None:
    """Before fetching YouTube urls: say on stderr what yt-dlp lacks (runtime, EJS scripts)."""
    from quilt_hf.sources.youtube.doctor import check_ejs, check_js_runtime, ytdlp_header
    from quilt_hf.sources.youtube.fetch import js_runtimes

    if not any("youtube" in (row.get("webpage_url") or "youtube") for row in rows):
        return
    runtimes = js_runtimes(options)
    for check in (check_js_runtime(runtimes, ytdlp_header(runtimes)), check_ejs()):
        if not check.ok:
            print(
                f"warning: {check.name}: {check.detail}; YouTube formats may be missing. "
                f"{check.hint} (see `quilt youtube doctor`)",
                file=sys.stderr,
            )


def _print_hints(results: list[dict[str, Any]]) -> None:
    for hint in dict.fromkeys(r["hint"] for r in results if r.get("hint")):
        print(f"hint: {hint}", file=sys.stderr)


def _register_fetch(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "fetch",
        help="download videos (<= 360p mp4), English WebVTT captions and info json",
        description="Fetch every row of a videos.jsonl with yt-dlp into OUT/<id>/. Reruns skip "
        "finished videos; each failure is recorded with a reason in OUT/fetch_results.jsonl.",
    )
    p.add_argument("--videos", type=Path, required=True, help="videos.jsonl from `discover`")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    _add_fetch_options(p)
    p.set_defaults(func=cmd_fetch)


def cmd_fetch(args: argparse.Namespace) -> int:
    from collections import Counter

    from quilt_hf.sources.youtube.discover import read_videos_jsonl, write_jsonl
    from quilt_hf.sources.youtube.fetch import fetch_all

    rows = read_videos_jsonl(args.videos)
    options = _fetch_options(args)
    _warn_if_youtube_cannot_work(rows, options)
    args.out.mkdir(parents=True, exist_ok=True)
    results = list(fetch_all(rows, args.out, options))
    write_jsonl(args.out / "fetch_results.jsonl", results)
    status = Counter(r["status"] for r in results)
    reasons = Counter(r["reason"] for r in results if r["status"] == "failed")
    print(f"{dict(status)} failures: {dict(reasons)} -> {args.out / 'fetch_results.jsonl'}")
    _print_hints(results)
    return 0 if status.get("failed", 0) < len(results) or not results else 1


# ------------------------------------------------------------------------------------ process
def _add_process_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--asr", choices=ASR_BACKENDS, default="captions", help="transcript source (captions)"
    )
    p.add_argument(
        "--corrector",
        choices=CORRECTORS,
        default="lexicon",
        help="ASR correction backend (lexicon)",
    )
    p.add_argument("--llm-base-url", help="OpenAI-compatible endpoint for --corrector openai")
    p.add_argument("--llm-model", help="model name at --llm-base-url")
    p.add_argument("--classifier", type=Path, help="histology classifier config (JSON file)")
    p.add_argument(
        "--sentences",
        choices=SENTENCE_METHODS,
        default="auto",
        help="how unpunctuated captions become sentences (auto: the captions' own punctuation, "
        "else the LLM corrector's, else --sentence-model or the default punctuation model, "
        "fetched from the Hub on first use (~2.2 GB), else, offline, pauses; see "
        "docs/sentences.md)",
    )
    p.add_argument(
        "--sentence-model",
        help=f"token-classification punctuation model for --sentences model|auto (Hub id or "
        f"folder; default {DEFAULT_PUNCTUATION_MODEL})",
    )


def _sentence_extra(args: argparse.Namespace) -> dict[str, Any]:
    if args.sentences == "llm" and args.corrector not in ("openai", "transformers"):
        raise QuiltError("--sentences llm needs --corrector openai or transformers")
    if args.sentence_model and args.sentences not in ("auto", "model"):
        raise QuiltError("--sentence-model needs --sentences model (or auto)")
    extra: dict[str, Any] = {"sentences": args.sentences}
    if args.sentence_model:
        extra["sentence_model"] = args.sentence_model
    return extra


def _process_extra(args: argparse.Namespace) -> dict[str, Any]:
    """LLM and sentence settings for process_video, checked before any video is touched."""
    sentences = _sentence_extra(args)
    if args.corrector != "openai":
        if args.llm_base_url or args.llm_model:
            raise QuiltError("--llm-base-url/--llm-model need --corrector openai")
        return sentences
    if not args.llm_base_url or not args.llm_model:
        raise QuiltError("--corrector openai needs --llm-base-url and --llm-model")
    check_llm_endpoint(args.llm_base_url)
    # process_video hands text_options to quilt_hf.text.pipeline.TextStage
    text_options = {"llm_base_url": args.llm_base_url, "llm_model": args.llm_model}
    return {"text_options": text_options, **sentences}


def check_llm_endpoint(base_url: str, timeout: float = 5.0) -> None:
    """Fail fast, with a clear error, when the LLM endpoint cannot be reached at all."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise QuiltError("--llm-base-url must be an http(s) url")
    # user:password@ never reaches a log or an error message, nor the probe
    host = f"{parsed.hostname}:{parsed.port}" if parsed.port else str(parsed.hostname)
    where = f"{parsed.scheme}://{host}"
    probe = parsed._replace(netloc=host).geturl().rstrip("/") + "/models"
    try:
        urllib.request.urlopen(probe, timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # the server answered (401/404 are fine here: the corrector reports details)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise QuiltError(f"LLM endpoint {where} is unreachable: {reason}") from error


def _classifier_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise QuiltError(f"cannot read classifier config {path}: {error}") from error


def _register_process(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "process",
        help="turn one video into aligned image-text pairs",
        description="Decode frames, find static histology keyframes, transcribe and correct the "
        "narration, align them, and write DIR/images/*.jpg, DIR/pairs.jsonl and DIR/stats.json.",
    )
    p.add_argument("--video", type=Path, required=True, help="video file (mp4)")
    p.add_argument("--captions", type=Path, help="WebVTT captions (needed for --asr captions)")
    p.add_argument("--info", type=Path, help="yt-dlp .info.json of the video (licence, title)")
    p.add_argument("--video-id", help="id to record (default: the video's file stem)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    _add_process_options(p)
    p.set_defaults(func=cmd_process)


def cmd_process(args: argparse.Namespace) -> int:
    from quilt_hf.video_id import check_video_id

    if not args.video.is_file():
        raise QuiltError(f"video not found: {args.video}")
    if args.captions is not None and not args.captions.is_file():
        raise QuiltError(f"captions not found: {args.captions}")
    if args.asr == "captions" and args.captions is None:
        raise QuiltError("--asr captions needs --captions FILE.vtt (or choose --asr whisper)")
    video_id = check_video_id(args.video_id or args.video.stem)  # a QuiltError when unsafe
    info = None
    if args.info is not None:
        try:
            info = json.loads(args.info.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise QuiltError(f"cannot read info json {args.info}: {error}") from error
    extra = _process_extra(args)

    from quilt_hf.video.pipeline import process_video

    stats = process_video(
        args.video,
        args.out,
        captions=args.captions,
        asr=args.asr,
        corrector=args.corrector,
        classifier=_classifier_config(args.classifier),
        video_id=video_id,
        info=info,
        **extra,
    )
    print(json.dumps({"out": str(args.out), **(stats or {})}, default=str))
    return 0


# ---------------------------------------------------------------------------------------- run
def _register_run(commands: argparse._SubParsersAction) -> None:
    from quilt_hf.commands.build import add_executor_arguments

    p = commands.add_parser(
        "run",
        help="fetch + process every video of a videos.jsonl, resumably",
        description="For each video: fetch into DIR/<id>/, then process into the same folder. A "
        "video whose DIR/<id>/stats.json exists is skipped; failures are recorded with reasons in "
        "DIR/run_summary.json and never stop the other videos.",
    )
    p.add_argument("--videos", type=Path, required=True, help="videos.jsonl from `discover`")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="videos processed in parallel (1); with --executor ray and no --ray-address, the "
        "CPUs of the local Ray started here. Each worker loads its own models (on unpunctuated "
        "captions the punctuation model takes about 2.2 GB per worker) and gets CPUs/N threads "
        "for them unless OMP_NUM_THREADS, MKL_NUM_THREADS or OPENBLAS_NUM_THREADS is set",
    )
    add_executor_arguments(p)  # the same executors and flags as `quilt build`; videos are `quilt`
    p.add_argument(
        "--asr-fallback",
        choices=("whisper", "pocketsphinx"),
        help="transcribe videos that have no captions (default: skip them)",
    )
    _add_process_options(p)
    _add_fetch_options(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from quilt_hf.commands.build import make_executor
    from quilt_hf.sources.youtube.discover import read_videos_jsonl
    from quilt_hf.sources.youtube.run import ProcessOptions, run_videos

    rows = read_videos_jsonl(args.videos)
    extra = _process_extra(args)
    options = ProcessOptions(
        asr=args.asr,
        asr_fallback=args.asr_fallback,
        corrector=args.corrector,
        classifier=_classifier_config(args.classifier),
        extra=extra,
    )
    fetch_options = _fetch_options(args)
    _warn_if_youtube_cannot_work(rows, fetch_options)
    summary = run_videos(
        rows,
        args.out,
        fetch_options=fetch_options,
        process_options=options,
        executor=make_executor(args),  # a missing Ray cluster fails here, before any output
    )
    print(
        f"{summary['status']} failures: {summary['failures']} pairs: {summary['pairs']} "
        f"-> {args.out / 'run_summary.json'}"
    )
    _print_hints(summary["results"])
    failed = summary["status"].get("failed", 0)
    return 0 if failed < len(rows) or not rows else 1


# ------------------------------------------------------------------------------------- doctor
def _register_doctor(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "doctor",
        help="say what a YouTube fetch needs and what is missing here",
        description="Check what yt-dlp needs to download from YouTube: a JavaScript runtime "
        "(yt-dlp's own view, then a script run in it), the EJS challenge scripts, ffmpeg, and "
        "(optional) a cookies file. Exit 1 when a required piece is missing.",
    )
    _add_cookies_option(p)
    p.add_argument("--ffmpeg", default=None, help="ffmpeg binary to check (default: as fetch)")
    _add_js_runtime_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from quilt_hf.sources.youtube.doctor import as_json, run_checks

    checks, header = run_checks(args.cookies, args.ffmpeg, _js_runtimes(args.js_runtime))
    report = as_json(checks, header)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for check in checks:
            mark = "ok" if check.ok else ("MISSING" if check.required else "warning")
            print(f"{mark:8} {check.name:12} {check.detail}")
            if check.hint and not check.ok:
                print(f"{'':8} {'':12} -> {check.hint}")
        print(f"yt-dlp sees: JS runtimes: {header.get('JS runtimes')}")
    return 0 if report["ok"] else 1
