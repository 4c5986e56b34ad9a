"""The concurrent downloader against a loopback server with good and bad responses."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
from sources_fixtures import ImageServer, make_jpeg

from quilt_hf.download import Downloader, DownloadOptions, download_many, is_disallowed
from quilt_hf.errors import QuiltError

FAST = {"timeout": 2.0, "retries": 2, "threads": 4}


@pytest.fixture()
def server():
    with ImageServer() as running:
        yield running


def test_downloads_images_in_input_order_with_sha256(server):
    images = {f"/img/{i}.jpg": make_jpeg(i) for i in range(30)}
    urls = [server.add(path, body=body) for path, body in images.items()]
    results = list(download_many(urls, DownloadOptions(**FAST)))
    assert [r.url for r in results] == urls
    assert [r.index for r in results] == list(range(30))
    for result, body in zip(results, images.values(), strict=True):
        assert result.ok and result.reason == ""
        assert result.data == body
        assert result.sha256 == hashlib.sha256(body).hexdigest()
        assert result.status == 200 and result.content_type == "image/jpeg"


def test_every_failure_has_a_stable_reason(server):
    good = server.add("/good.jpg", body=make_jpeg(1))
    urls = {
        "http_500": server.add("/500", body=b"x", status=500, content_type="text/plain"),
        "http_404": server.base + "/missing.jpg",
        "not_an_image": server.add("/page.html", body=b"<html></html>", content_type="text/html"),
        "x_robots_noai": server.add(
            "/noai.jpg", body=make_jpeg(2), headers={"X-Robots-Tag": "noindex, noai"}
        ),
        "too_large": server.add("/big.jpg", body=make_jpeg(3, (400, 400))),
        "truncated": server.add("/trunc.jpg", body=make_jpeg(4), behaviour="truncated"),
        "unsupported_url": "file:///etc/passwd",
        "connection_error": server.add("/reset.jpg", behaviour="reset"),
    }
    results = list(
        download_many(
            [good, *urls.values()],
            DownloadOptions(timeout=2.0, retries=1, threads=4, max_bytes=20_000),
        )
    )
    assert results[0].ok
    assert {r.url: r.reason for r in results[1:]} == {url: reason for reason, url in urls.items()}
    assert not any(r.ok for r in results[1:]) and all(r.data is None for r in results[1:])


def test_retries_5xx_with_backoff_but_not_4xx(server):
    flaky = server.add("/flaky.jpg", body=make_jpeg(5), behaviour="fail_then_ok", failures_left=2)
    broken = server.add("/always500", body=b"", status=503, content_type="text/plain")
    gone = server.add("/gone", body=b"", status=410, content_type="text/plain")
    results = list(
        download_many([flaky, broken, gone], DownloadOptions(timeout=2.0, retries=2, threads=3))
    )
    assert results[0].ok and results[0].attempts == 3
    assert results[1].reason == "http_503" and results[1].attempts == 3
    assert server.hits["/always500"] == 3
    assert results[2].reason == "http_410" and server.hits["/gone"] == 1


def test_slow_drip_server_is_cut_by_the_whole_response_deadline(server):
    # 200 bytes at one byte per 50 ms would take 10 s; every read arrives well within the read
    # timeout, so only the whole-response deadline can stop it.
    drip = server.add("/drip.jpg", body=b"\xff" * 200, behaviour="slow_drip")
    started = time.monotonic()
    (result,) = download_many(
        [drip], DownloadOptions(timeout=1.0, deadline=0.5, retries=0, threads=1)
    )
    assert result.reason == "timeout"
    assert time.monotonic() - started < 3.0


def test_unresponsive_server_times_out_and_total_time_is_bounded():
    # A listening socket that never answers: connect succeeds, the read times out.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/never.jpg"
    try:
        started = time.monotonic()
        results = list(
            download_many([url, url], DownloadOptions(timeout=0.3, retries=1, threads=2))
        )
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert [r.reason for r in results] == ["timeout", "timeout"]
    assert all(r.attempts == 2 for r in results)
    assert elapsed < 4.0


def test_refused_connection_is_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    (result,) = download_many(
        [f"http://127.0.0.1:{port}/x.jpg"], DownloadOptions(timeout=1.0, retries=0)
    )
    assert result.reason == "connection_error"


def test_connections_are_reused(server):
    urls = [server.add(f"/r/{i}.jpg", body=make_jpeg(i)) for i in range(40)]
    with Downloader(DownloadOptions(timeout=2.0, retries=0, threads=1)) as downloader:
        assert all(downloader.fetch(url).ok for url in urls)
        pool = downloader.pool.connection_from_url(urls[0])
        assert pool.num_connections == 1  # one TCP connection served all 40 requests


def test_lazy_input_and_early_stop(server):
    urls = (server.add(f"/lazy/{i}.jpg", body=make_jpeg(i)) for i in range(200))
    results = download_many(urls, DownloadOptions(timeout=2.0, retries=0, threads=2))
    first = [next(results) for _ in range(3)]
    results.close()
    assert all(r.ok for r in first)
    assert sum(server.hits.values()) < 200  # bounded window: not everything was fetched


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["noai"], True),
        (["noimageai, noindex"], True),
        (["quilt-hf: noai"], True),
        (["otherbot: noai"], False),
        (["noindex, nofollow"], False),
        ([], False),
    ],
)
def test_x_robots_tag_parsing(values, expected):
    assert is_disallowed(values) is expected


def test_redirects_are_followed_and_loops_stop(server):
    target = server.add("/final.jpg", body=make_jpeg(9))
    hop = server.add("/hop", status=302, content_type="text/plain", headers={"Location": target})
    loop = server.add("/loop", status=302, content_type="text/plain", headers={"Location": "/loop"})
    results = list(download_many([hop, loop], DownloadOptions(timeout=2.0, retries=0, threads=2)))
    assert results[0].ok and results[0].data == make_jpeg(9)
    assert results[1].reason == "redirect_loop"


def test_download_options_from_a_build_download_block():
    options = DownloadOptions.of(
        {"timeout": 3, "threads": 4, "deadline": 9, "respect_robots": False}
    )
    assert (options.timeout, options.threads, options.deadline) == (3, 4, 9)
    assert options.respect_robots is False and options.retries == DownloadOptions().retries
    assert DownloadOptions.of(None) == DownloadOptions()
    with pytest.raises(QuiltError, match=r"unknown key\(s\) \['timout'\]"):
        DownloadOptions.of({"timout": 3})


def test_max_bytes_applies_while_streaming_a_body_of_unknown_length(server):
    small = server.add("/small", body=make_jpeg(1), behaviour="unsized")
    large = server.add("/large", body=make_jpeg(2, (600, 600)), behaviour="unsized")
    results = list(
        download_many([small, large], DownloadOptions(timeout=2.0, retries=0, max_bytes=20_000))
    )
    assert results[0].ok and results[0].data == make_jpeg(1)
    assert results[1].reason == "too_large"
