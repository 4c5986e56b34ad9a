"""Fetch and discover for real with yt-dlp against a loopback ``http.server`` serving HTML pages
with ``<video>`` and ``<track>`` (yt-dlp's generic/HTML5 extractor), videos made with PyAV."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from test_youtube_media import VTT, make_video, serve, write_page

from quilt_hf.cli import main
from quilt_hf.sources.youtube.discover import discover, list_sources
from quilt_hf.sources.youtube.fetch import (
    FetchOptions,
    classify_error,
    fetch_video,
    ffmpeg_location,
    ydl_params,
)
from quilt_hf.sources.youtube.relevance import FilterConfig


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Path:
    """Pages: a lecture offered at 480p and 240p with captions; one without captions."""
    folder = tmp_path_factory.mktemp("web")
    make_video(folder / "lecture_480.mp4", width=640, height=480)
    make_video(folder / "lecture_240.mp4", width=320, height=240)
    make_video(folder / "silent.mp4", audio=False)
    (folder / "lecture.vtt").write_text(VTT)
    write_page(
        folder,
        "lecture",
        [("lecture_480.mp4", 480), ("lecture_240.mp4", 240)],
        "lecture.vtt",
        "Liver",
    )
    write_page(folder, "nocaptions", [("silent.mp4", None)], None, "Silent")
    (folder / "empty.vtt").write_text("")
    write_page(folder, "emptycaptions", [("lecture_240.mp4", 240)], "empty.vtt", "Empty")
    return folder


@pytest.fixture(scope="module")
def base_url(web) -> str:
    with serve(web) as url:
        yield url


def test_fetch_takes_at_most_360p_with_audio_captions_and_info(base_url, tmp_path):
    out = tmp_path / "out"
    result = fetch_video({"id": "lec1", "webpage_url": f"{base_url}/lecture.html"}, out)
    assert result["status"] == "fetched", result
    assert result["video"] == "lec1/lec1.mp4"
    assert result["captions"] == "lec1/lec1.en.vtt" and result["captions_kind"] == "manual"
    with av.open(str(out / result["video"])) as container:
        assert container.streams.video[0].height == 240  # the 480p source was not taken
        assert len(container.streams.audio) == 1
    assert (out / result["captions"]).read_text() == VTT
    info = json.loads((out / result["info_json"]).read_text())
    assert info["webpage_url"] == f"{base_url}/lecture.html" and info["title"].startswith("Liver")
    assert (out / "download_archive.txt").read_text().strip()
    assert sorted(p.name for p in out.iterdir()) == ["download_archive.txt", "lec1"]

    # a rerun skips the finished video without touching the network
    again = fetch_video({"id": "lec1", "webpage_url": "http://127.0.0.1:9/unreachable.html"}, out)
    assert again["status"] == "already_fetched"

    # the yt-dlp archive remembers it: with the mp4 gone, the archive still skips it, and says so
    (out / "lec1" / "lec1.mp4").unlink()
    archived = fetch_video({"id": "lec1", "webpage_url": f"{base_url}/lecture.html"}, out)
    assert archived["status"] == "failed" and archived["reason"] == "archived_but_missing"
    refetched = fetch_video(
        {"id": "lec1", "webpage_url": f"{base_url}/lecture.html"},
        out,
        FetchOptions(use_archive=False),
    )
    assert refetched["status"] == "fetched"


def test_fetch_without_captions_and_without_audio(base_url, tmp_path):
    result = fetch_video({"id": "quiet", "webpage_url": f"{base_url}/nocaptions.html"}, tmp_path)
    assert result["status"] == "fetched" and result["captions"] is None
    assert result["captions_kind"] is None


def test_broken_captions_do_not_cost_the_video(base_url, tmp_path):
    result = fetch_video({"id": "e", "webpage_url": f"{base_url}/emptycaptions.html"}, tmp_path)
    assert result["status"] == "fetched" and result["captions"] is None
    assert "subtitles" in result["captions_error"]
    assert (tmp_path / "e" / "e.mp4").is_file()


def test_fetch_failures_have_reasons_and_write_nothing_outside(base_url, tmp_path):
    missing = fetch_video({"id": "gone", "webpage_url": f"{base_url}/missing.html"}, tmp_path / "o")
    assert missing["status"] == "failed" and missing["reason"] == "not_found", missing
    unsafe = fetch_video(
        {"id": "../escape", "webpage_url": f"{base_url}/lecture.html"}, tmp_path / "o"
    )
    assert unsafe["status"] == "failed" and unsafe["reason"] == "unsafe_id"
    assert not (tmp_path / "escape").exists()
    refused = fetch_video(
        {"id": "closed", "webpage_url": "http://127.0.0.1:9/x.html"}, tmp_path / "o"
    )
    assert refused["status"] == "failed" and refused["reason"] == "unreachable", refused


def test_ffmpeg_comes_from_imageio_when_the_system_has_none(monkeypatch, tmp_path):
    monkeypatch.setattr("shutil.which", lambda name: None)
    location = ffmpeg_location()
    assert location is not None and Path(location).is_file()
    params = ydl_params("abc", tmp_path, FetchOptions())
    assert params["ffmpeg_location"] == location
    assert params["format"] == "bv*[height<=360]+ba/b[height<=360]/wv*+ba/w"
    assert params["merge_output_format"] == "mp4"
    assert (params["retries"], params["fragment_retries"], params["extractor_retries"]) == (
        10,
        10,
        3,
    )
    assert params["writesubtitles"] and params["writeautomaticsub"] and params["writeinfojson"]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "[youtube] abc: Video unavailable. This video has been removed by the uploader",
            "unavailable",
        ),
        ("[youtube] abc: Private video. Sign in if you've been granted access", "unavailable"),
        ("[youtube] abc: Sign in to confirm you’re not a bot. Use --cookies", "bot_check"),
        ("[youtube] abc: Sign in to confirm you're not a bot", "bot_check"),
        (
            "[youtube] abc: Sign in to confirm your age. This video may be inappropriate",
            "login_required",
        ),
        (
            "[youtube] abc: This video is available to this channel's members. Sign in",
            "login_required",
        ),
        ("Unable to download webpage: HTTP Error 429: Too Many Requests", "rate_limited"),
        ("Requested format is not available. Use --list-formats", "no_format"),
        ("[download] Got error: HTTP Error 503: Service Unavailable. Giving up", "server_error"),
        ("[download] Got error: 2000 bytes read, 141017 more expected. Giving up", "incomplete"),
        ("something new", "download_error"),
    ],
)
def test_error_messages_map_to_stable_reasons(message, reason):
    assert classify_error(message) == reason


def test_discover_pages_keeps_captioned_lectures_and_says_why_others_go(base_url):
    sources = list_sources(
        [],
        1,
        pages=[f"{base_url}/lecture.html", f"{base_url}/nocaptions.html", f"{base_url}/nope.html"],
    )
    result = discover(sources, FilterConfig(min_duration=0))
    assert [row["webpage_url"] for row in result.kept] == [f"{base_url}/lecture.html"]
    assert result.kept[0]["manual_captions"] is True
    assert [row["reason"] for row in result.rejected] == ["language"]
    assert result.rejected[0]["title"].startswith("Silent")
    assert len(result.errors) == 1 and "nope.html" in result.errors[0]["source"]


def rss_feed(base: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS feed (a channel-like listing): items are (guid, page, itunes duration)."""
    body = "".join(
        f"<item><title>{guid}</title><link>{base}/{page}</link><guid>{guid}</guid>"
        f"<itunes:duration>{duration}</itunes:duration></item>"
        for guid, page, duration in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>Pathology lectures</title>{body}</channel></rss>"
    )


def test_discover_a_listing_prefilters_flat_entries_then_extracts_each(web, base_url):
    """A feed lists entries flat (like a channel or search): short ones never get extracted."""
    (web / "feed.xml").write_text(
        rss_feed(
            base_url,
            [
                ("lec-a", "lecture.html", "00:10:00"),
                ("clip-b", "lecture.html", "00:00:20"),
                ("quiet-c", "nocaptions.html", "00:12:00"),
                ("gone-d", "missing.html", "00:15:00"),
                ("lec-a", "lecture.html", "00:10:00"),  # listed twice
            ],
        )
    )
    result = discover(list_sources([], 1, playlists=[f"{base_url}/feed.xml"]), FilterConfig())
    # the page names the video (html5 entries are "<page>-1"); the feed supplies its duration
    assert [(row["id"], row["duration"]) for row in result.kept] == [("lecture-1", 600)]
    assert result.kept[0]["found_by"] == [f"playlist:{base_url}/feed.xml"] * 2
    reasons = sorted((row["reason"], row["title"]) for row in result.rejected)
    assert reasons == [
        ("extract_failed", "gone-d"),
        ("language", "quiet-c"),
        ("too_short", "clip-b"),
    ]


def test_discover_and_fetch_cli_end_to_end(base_url, tmp_path, capsys):
    videos = tmp_path / "videos.jsonl"
    code = main(
        [
            "youtube",
            "discover",
            "--no-search",
            "--url",
            f"{base_url}/lecture.html",
            "--url",
            f"{base_url}/nocaptions.html",
            "--min-duration",
            "0",
            "--out",
            str(videos),
        ]
    )
    assert code == 0
    kept = [json.loads(line) for line in videos.read_text().splitlines()]
    rejected = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert len(kept) == 1 and rejected[0]["reason"] == "language"
    # add a row that cannot be fetched: the run goes on and records why
    with videos.open("a") as handle:
        handle.write(json.dumps({"id": "broken", "webpage_url": f"{base_url}/missing.html"}) + "\n")
    out = tmp_path / "fetched"
    assert main(["youtube", "fetch", "--videos", str(videos), "--out", str(out)]) == 0
    results = {
        r["id"]: r for r in map(json.loads, (out / "fetch_results.jsonl").read_text().splitlines())
    }
    assert results[kept[0]["id"]]["status"] == "fetched"
    assert results["broken"]["status"] == "failed" and results["broken"]["reason"] == "not_found"
    assert (out / kept[0]["id"] / f"{kept[0]['id']}.en.vtt").is_file()
