"""YouTube's throttles, met by the real yt-dlp extractors over loopback.

* The bot check: yt-dlp's own YouTube extractor fetches ``http://www.youtube.com/watch?v=...``
  (``prefer_insecure``) through a loopback proxy that answers with a watch page whose player
  response carries ``LOGIN_REQUIRED`` / "Sign in to confirm you’re not a bot" (the shape YouTube
  serves a throttled address); https requests (the iframe API) are refused at CONNECT.
* HTTP 429: the fault server answers a lecture page with 429 Too Many Requests, for a while or
  for good, and yt-dlp's generic extractor reads it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fault_server import FaultServer
from test_youtube_media import make_video

from quilt_hf.cli import main
from quilt_hf.sources.youtube.fetch import HINTS, FetchOptions, fetch_video

VIDEO_ID = "dQw4w9WgXcQ"
BOT_CHECK = {
    "playabilityStatus": {
        "status": "LOGIN_REQUIRED",
        "reason": "Sign in to confirm you\u2019re not a bot",
    },
    "videoDetails": {"videoId": VIDEO_ID, "title": "Liver pathology"},
}


def watch_page(player_response: dict) -> bytes:
    """A watch page with the two inline JSON blobs the extractor reads first."""
    initial_data = {"contents": {"twoColumnWatchNextResults": {}}}
    return (
        "<html><body><script>var ytcfg = {};"
        f"var ytInitialData = {json.dumps(initial_data)};"
        f"var ytInitialPlayerResponse = {json.dumps(player_response)};"
        "</script></body></html>"
    ).encode()


class YouTubeProxy:
    """An HTTP proxy standing in for www.youtube.com: every watch page is a bot check."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.hits["watch" if "/watch?" in self.path else self.path] += 1
                body = watch_page(BOT_CHECK)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_CONNECT(self) -> None:  # no TLS here: https calls fail as unreachable
                proxy.hits["CONNECT"] += 1
                self.send_response(502)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> YouTubeProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_bot_check_is_retried_after_backoff_then_recorded_with_a_hint(tmp_path):
    with YouTubeProxy() as proxy:
        options = FetchOptions(
            backoff_s=0.05,
            backoff_retries=2,
            extractor_retries=0,
            extra={
                "proxy": proxy.url,
                "prefer_insecure": True,
                "cachedir": False,
                "extractor_args": {"youtube": {"player_client": ["web"]}},
            },
        )
        row = {"id": VIDEO_ID, "webpage_url": f"https://www.youtube.com/watch?v={VIDEO_ID}"}
        result = fetch_video(row, tmp_path, options)
    assert result["status"] == "failed" and result["reason"] == "bot_check", result
    assert "not a bot" in result["detail"]
    assert result["hint"] == HINTS["bot_check"] and "--cookies" in result["hint"]
    assert result["backoff_waits"] == [0.05, 0.1]  # doubling
    assert proxy.hits["watch"] == 3  # the first try and two retries
    assert not list((tmp_path / VIDEO_ID).iterdir())  # nothing half-written


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> tuple[bytes, bytes]:
    folder = tmp_path_factory.mktemp("lecture")
    video = make_video(folder / "l.mp4").read_bytes()
    page = b'<html><head><title>Lecture</title></head><body><video controls><source src="l.mp4" type="video/mp4"></video></body></html>'
    return page, video


def test_429_once_costs_one_backoff_then_the_video_is_fetched(lecture, tmp_path):
    page, video = lecture
    with FaultServer() as server:
        url = server.add(
            "/lecture.html", plan=("status", "ok"), status=429, body=page, content_type="text/html"
        )
        server.add("/l.mp4", body=video, content_type="video/mp4")
        result = fetch_video(
            {"id": "lec", "webpage_url": url}, tmp_path, FetchOptions(backoff_s=0.01)
        )
    assert result["status"] == "fetched", result
    assert result["backoff_waits"] == [0.01]
    assert server.hits["/lecture.html"] == 2
    assert (tmp_path / "lec" / "lec.mp4").read_bytes()


def test_persistent_429_through_the_cli_gives_reason_hint_and_stats(lecture, tmp_path, capsys):
    page, video = lecture
    with FaultServer() as server:
        limited = server.add("/limited.html", plan="status", status=429, body=page)
        ok = server.add("/lecture.html", body=page, content_type="text/html")
        server.add("/l.mp4", body=video, content_type="video/mp4")
        videos = tmp_path / "videos.jsonl"
        videos.write_text(
            json.dumps({"id": "busy", "webpage_url": limited})
            + "\n"
            + json.dumps({"id": "fine", "webpage_url": ok})
            + "\n"
        )
        out = tmp_path / "out"
        code = main(
            [
                "youtube",
                "fetch",
                "--videos",
                str(videos),
                "--out",
                str(out),
                "--backoff",
                "0.01",
                "--sleep-requests",
                "0.01",
            ]
        )
        hits = server.hits["/limited.html"]
    assert code == 0  # one video fetched: the run is not a total failure
    results = {
        r["id"]: r for r in map(json.loads, (out / "fetch_results.jsonl").read_text().splitlines())
    }
    assert results["fine"]["status"] == "fetched"
    busy = results["busy"]
    assert (busy["status"], busy["reason"]) == ("failed", "rate_limited")
    assert "429" in busy["detail"] and busy["backoff_waits"] == [0.01, 0.02]
    assert hits == 3
    captured = capsys.readouterr()
    assert "'rate_limited': 1" in captured.out
    assert f"hint: {HINTS['rate_limited']}" in captured.err
    assert "--sleep" in HINTS["rate_limited"]


def test_rate_flags_reach_yt_dlp(tmp_path):
    """--sleep, --sleep-requests, --cookies and --js-runtime become yt-dlp parameters."""
    import argparse

    from quilt_hf.commands.youtube import _add_fetch_options, _fetch_options
    from quilt_hf.sources.youtube.fetch import ydl_params

    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    parser = argparse.ArgumentParser()
    _add_fetch_options(parser)
    args = parser.parse_args(
        [
            "--sleep",
            "5",
            "--sleep-requests",
            "1.5",
            "--cookies",
            str(cookies),
            "--js-runtime",
            "node:/opt/node/bin/node",
            "--backoff",
            "120",
        ]
    )
    options = _fetch_options(args)
    params = ydl_params("abc", tmp_path, options)
    assert params["sleep_interval"] == 5 and params["sleep_interval_requests"] == 1.5
    assert params["cookiefile"] == str(cookies)
    assert params["js_runtimes"] == {"node": {"path": "/opt/node/bin/node"}}
    assert options.backoff_s == 120
    with pytest.raises(SystemExit):
        parser.parse_args(["--sleep", "soon"])
    from quilt_hf.errors import QuiltError

    with pytest.raises(QuiltError, match="unknown runtime"):
        _fetch_options(parser.parse_args(["--js-runtime", "rhino"]))


def test_default_params_hand_yt_dlp_the_deno_binary_of_the_deno_package(tmp_path):
    import deno  # declared in quilt-hf[video]: a missing runtime fails here, it is not skipped

    from quilt_hf.sources.youtube.fetch import ydl_params

    params = ydl_params("abc", tmp_path, FetchOptions())
    assert params["js_runtimes"] == {"deno": {"path": deno.find_deno_bin()}}
    assert Path(params["js_runtimes"]["deno"]["path"]).is_file()
