"""Which discovered videos are relevant (worth fetching), judged on metadata, and why not.

It reads yt-dlp info dicts (the ``.info.json`` format, or the flat entries of a search or playlist,
which carry fewer fields). Every rule returns a stable reason key so that ``rejected.jsonl`` says
exactly why a video was dropped. A field that is missing never rejects a video on its own, except
where the rule needs it (a language or captions requirement on a full info dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quilt_hf.video_id import InvalidVideoId, check_video_id

# yt-dlp's ``live_status`` values that mean the video is not a finished recording.
NOT_RECORDED = {"is_live", "is_upcoming", "post_live"}
# ``availability`` values we cannot download without an account.
RESTRICTED = {"private", "premium_only", "subscriber_only", "needs_auth"}
SHORTS_MAX_SECONDS = 180  # YouTube Shorts are at most 3 minutes


@dataclass(frozen=True)
class FilterConfig:
    """What a usable lecture looks like. Defaults follow the paper's aim: English narrated videos."""

    languages: tuple[str, ...] = ("en",)  # ISO 639-1 prefixes; empty = any language
    min_duration: float = 60.0  # seconds
    max_duration: float = 4 * 3600.0
    captions: str = "any"  # "any" | "required" (manual or automatic) | "manual"
    licenses: tuple[str, ...] = ()  # substrings, case-insensitive; empty = any licence
    allow_was_live: bool = True  # recorded livestreams are often full lectures
    exclude_shorts: bool = True


def _language_matches(language: str, wanted: tuple[str, ...]) -> bool:
    base = language.lower().replace("_", "-").split("-")[0]
    return base in {w.lower() for w in wanted}


def spoken_language(info: Mapping[str, Any]) -> str | None:
    """The video's language: yt-dlp's ``language``, else the ``<lang>-orig`` automatic captions.

    YouTube marks the automatic captions in the original audio language with an ``-orig`` key
    (``en-orig``); the other automatic caption languages are machine translations.
    """
    if info.get("language"):
        return str(info["language"])
    for key in info.get("automatic_captions") or {}:
        if key.endswith("-orig"):
            return key[: -len("-orig")]
    return None


def caption_languages(info: Mapping[str, Any], wanted: tuple[str, ...]) -> tuple[bool, bool]:
    """(manual captions in a wanted language, automatic captions in the original wanted language)."""
    wanted = wanted or ("en",)
    manual = any(
        _language_matches(lang, wanted) and tracks
        for lang, tracks in (info.get("subtitles") or {}).items()
        if lang != "live_chat"
    )
    automatic_keys = info.get("automatic_captions") or {}
    original = [k[: -len("-orig")] for k in automatic_keys if k.endswith("-orig")]
    if original:  # only the original-language track is real ASR; the rest are translations
        automatic = any(_language_matches(lang, wanted) for lang in original)
    else:
        language = spoken_language(info)
        automatic = any(
            _language_matches(lang, wanted)
            and (language is None or _language_matches(language, (lang,)))
            for lang in automatic_keys
        )
    return manual, automatic


def is_short(info: Mapping[str, Any]) -> bool:
    url = str(info.get("webpage_url") or info.get("url") or "")
    if "/shorts/" in url:
        return True
    duration = info.get("duration")
    width, height = info.get("width"), info.get("height")
    ratio = info.get("aspect_ratio")
    if ratio is None and width and height:
        ratio = width / height
    vertical = ratio is not None and ratio < 1.0
    return vertical and duration is not None and duration <= SHORTS_MAX_SECONDS


def rejection(info: Mapping[str, Any], config: FilterConfig) -> tuple[str, str] | None:
    """Return ``(reason, detail)`` for a video the filter drops, or ``None`` to keep it.

    Works on flat entries too (search results carry id, title, duration, live_status, url): rules
    whose field is absent are skipped, so a flat pre-filter can run before the full extraction.
    """
    flat = info.get("_type") in ("url", "url_transparent")
    if not (flat and info.get("id") is None):  # a feed's flat entry gets its id on extraction
        try:
            check_video_id(info.get("id"))
        except InvalidVideoId as error:
            return "unsafe_id", str(error)
    live_status = info.get("live_status")
    if live_status in NOT_RECORDED or info.get("is_live"):
        return "live", f"live_status={live_status}"
    if not config.allow_was_live and (live_status == "was_live" or info.get("was_live")):
        return "was_live", "a recorded livestream"
    if info.get("availability") in RESTRICTED:
        return "unavailable", f"availability={info['availability']}"
    if config.exclude_shorts and is_short(info):
        return "short", f"duration={info.get('duration')} aspect={info.get('aspect_ratio')}"
    duration = info.get("duration")
    if duration is not None:
        if duration < config.min_duration:
            return "too_short", f"{duration:.0f}s < {config.min_duration:.0f}s"
        if duration > config.max_duration:
            return "too_long", f"{duration:.0f}s > {config.max_duration:.0f}s"
    if flat:
        return None  # a flat entry: the remaining rules need the full info dict
    language = spoken_language(info)
    if (
        config.languages
        and language is not None
        and not _language_matches(language, config.languages)
    ):
        return "language", f"language={language}"
    manual, automatic = caption_languages(info, config.languages)
    if config.languages and language is None and not (manual or automatic):
        return "language", "language unknown and no captions in " + "/".join(config.languages)
    if config.captions == "manual" and not manual:
        return "no_manual_captions", "no manual captions in " + "/".join(config.languages)
    if config.captions == "required" and not (manual or automatic):
        return "no_captions", "no manual or automatic captions in " + "/".join(config.languages)
    if config.licenses:
        license_name = str(info.get("license") or "")
        if not any(want.lower() in license_name.lower() for want in config.licenses):
            return "license", f"license={license_name or 'unknown'}"
    return None


def summarize(info: Mapping[str, Any], config: FilterConfig) -> dict[str, Any]:
    """The row written to ``videos.jsonl`` for a kept video (a small subset of the info dict)."""
    manual, automatic = caption_languages(info, config.languages)
    return {
        "id": info.get("id"),
        "title": info.get("title"),
        "webpage_url": info.get("webpage_url") or info.get("url"),
        "channel": info.get("channel") or info.get("uploader"),
        "duration": info.get("duration"),
        "language": spoken_language(info),
        "license": info.get("license"),
        "manual_captions": manual,
        "automatic_captions": automatic,
        "extractor": info.get("extractor_key") or info.get("extractor"),
    }
