"""Video relevance (the rules of discover) on info dicts in yt-dlp's ``.info.json`` format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_youtube_media import flat_search_entry, youtube_info

from quilt_hf.errors import QuiltError
from quilt_hf.sources.youtube.discover import default_keywords, list_sources, read_keywords_text
from quilt_hf.sources.youtube.relevance import (
    FilterConfig,
    caption_languages,
    rejection,
    spoken_language,
    summarize,
)
from quilt_hf.video_id import InvalidVideoId, check_video_id

DEFAULT = FilterConfig()


def roundtrip(tmp_path: Path, info: dict) -> dict:
    """Write the dict as yt-dlp writes ``<id>.info.json`` and read it back (JSON types only)."""
    path = tmp_path / f"{info['id']}.info.json"
    path.write_text(json.dumps(info, ensure_ascii=False))
    return json.loads(path.read_text())


def test_a_normal_english_lecture_is_kept_and_summarised(tmp_path):
    info = roundtrip(tmp_path, youtube_info())
    assert rejection(info, DEFAULT) is None
    row = summarize(info, DEFAULT)
    assert row["id"] == "dQw4w9WgXcQ"
    assert row["webpage_url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert row["manual_captions"] and row["automatic_captions"]
    assert row["language"] == "en" and row["duration"] == 1834


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {
                "language": "de",
                "subtitles": {},
                "automatic_captions": {"de-orig": [{"ext": "vtt"}]},
            },
            "language",
        ),
        ({"live_status": "is_live", "is_live": True}, "live"),
        ({"live_status": "is_upcoming"}, "live"),
        ({"live_status": "post_live"}, "live"),
        ({"availability": "subscriber_only"}, "unavailable"),
        ({"duration": 45}, "too_short"),
        ({"duration": 6 * 3600}, "too_long"),
        ({"duration": 59, "width": 1080, "height": 1920, "aspect_ratio": 0.56}, "short"),
        ({"webpage_url": "https://www.youtube.com/shorts/dQw4w9WgXcQ", "duration": 150}, "short"),
        ({"id": "../../etc"}, "unsafe_id"),
    ],
)
def test_each_rejection_has_its_reason(tmp_path, overrides, reason):
    info = roundtrip(tmp_path, youtube_info(**overrides))
    verdict = rejection(info, DEFAULT)
    assert verdict is not None and verdict[0] == reason, verdict
    assert verdict[1]  # a human-readable detail


def test_a_vertical_long_video_is_not_a_short(tmp_path):
    info = roundtrip(
        tmp_path, youtube_info(duration=900, width=1080, height=1920, aspect_ratio=0.56)
    )
    assert rejection(info, DEFAULT) is None


def test_language_falls_back_to_the_original_automatic_captions(tmp_path):
    info = roundtrip(tmp_path, youtube_info(language=None, subtitles={}))
    assert spoken_language(info) == "en"
    assert rejection(info, DEFAULT) is None
    # a French lecture whose automatic captions are translated into English is not English
    french = youtube_info(
        language=None,
        subtitles={},
        automatic_captions={
            "fr-orig": [{"ext": "vtt"}],
            "en": [{"ext": "vtt"}],
            "fr": [{"ext": "vtt"}],
        },
    )
    assert spoken_language(french) == "fr"
    assert caption_languages(french, ("en",)) == (False, False)
    assert rejection(french, DEFAULT)[0] == "language"


def test_unknown_language_without_english_captions_is_rejected_unless_any_language():
    info = youtube_info(language=None, subtitles={}, automatic_captions={})
    assert rejection(info, DEFAULT)[0] == "language"
    assert rejection(info, FilterConfig(languages=())) is None


def test_caption_requirements():
    auto_only = youtube_info(subtitles={"live_chat": [{"ext": "json"}]})
    assert caption_languages(auto_only, ("en",)) == (False, True)
    assert rejection(auto_only, FilterConfig(captions="required")) is None
    assert rejection(auto_only, FilterConfig(captions="manual"))[0] == "no_manual_captions"
    none = youtube_info(subtitles={}, automatic_captions={})
    assert rejection(none, FilterConfig(captions="required"))[0] == "no_captions"
    assert rejection(none, FilterConfig(captions="any")) is None  # language "en" is declared


def test_license_filter_and_past_streams():
    cc = youtube_info(license="Creative Commons Attribution license (reuse allowed)")
    standard = youtube_info(license=None)
    only_cc = FilterConfig(licenses=("creative commons",))
    assert rejection(cc, only_cc) is None
    reason, detail = rejection(standard, only_cc)
    assert reason == "license" and "unknown" in detail
    past = youtube_info(live_status="was_live", was_live=True)
    assert rejection(past, DEFAULT) is None
    assert rejection(past, FilterConfig(allow_was_live=False))[0] == "was_live"


def test_flat_search_entries_are_prefiltered_on_the_fields_they_have():
    assert rejection(flat_search_entry(), DEFAULT) is None  # no language field: decided later
    assert rejection(flat_search_entry(duration=20.0), DEFAULT)[0] == "too_short"
    assert rejection(flat_search_entry(live_status="is_live"), DEFAULT)[0] == "live"
    short = flat_search_entry(url="https://www.youtube.com/shorts/abcdefghijk", duration=40.0)
    assert rejection(short, DEFAULT)[0] == "short"


@pytest.mark.parametrize(
    "bad", ["../x", "a/b", "a\\b", ".hidden", "", "x" * 200, "a\0b", None, 12, "a..b"]
)
def test_ids_with_path_characters_are_refused(bad):
    with pytest.raises(InvalidVideoId, match="invalid video id") as error:
        check_video_id(bad)
    # one exception type: a user-facing QuiltError (the CLI prints it) that is also a ValueError
    assert isinstance(error.value, QuiltError) and isinstance(error.value, ValueError)


@pytest.mark.parametrize("good", ["dQw4w9WgXcQ", "-abc_DEF123", "lec-1", "lecture_01.v2"])
def test_real_ids_pass(good):
    assert check_video_id(good) == good


def test_the_shipped_keyword_list_is_a_few_hundred_real_queries():
    queries = default_keywords()
    assert len(queries) >= 300
    assert len(set(queries)) == len(queries)
    for expected in (
        "liver histopathology",
        "dermpath unknown",
        "H&E stain histology",
        "pathology lecture",
    ):
        assert expected in queries
    assert not any(q.startswith("#") for q in queries)


def test_keyword_files_and_sources():
    assert read_keywords_text("# c\nliver histology\n\nliver histology  # dup\nskin\n") == [
        "liver histology",
        "skin",
    ]
    sources = list_sources(
        ["skin"],
        5,
        channels=["https://www.youtube.com/@somepathologist"],
        playlists=["https://www.youtube.com/playlist?list=PL123"],
    )
    assert sources == [
        ("search:skin", "ytsearch5:skin"),
        (
            "channel:https://www.youtube.com/@somepathologist/videos",
            "https://www.youtube.com/@somepathologist/videos",
        ),
        (
            "playlist:https://www.youtube.com/playlist?list=PL123",
            "https://www.youtube.com/playlist?list=PL123",
        ),
    ]
