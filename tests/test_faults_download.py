"""Fault injection for image downloads (web and Twitter media) against a real loopback server.

Every url must end either downloaded and verified (sha256 equal to the body the server really sent
in full) or failed with its stable reason; no test may hang (pytest-timeout backs the explicit
time bounds), and retries and redirects must stay bounded (asserted on the server's hit counts).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import pyarrow.parquet as pq
import pytest
from fault_server import FaultServer
from sources_fixtures import api_response, make_jpeg, photo, tweet, write_jsonl

from quilt_hf.build_config import FilterOptions, ImageOptions
from quilt_hf.download import DownloadOptions, download_many
from quilt_hf.errors import SkipRecord
from quilt_hf.images import load_image
from quilt_hf.records import Candidate
from quilt_hf.shards import read_all_stats
from quilt_hf.sources import openpath
from quilt_hf.tasks import ShardSettings, run_shard_task

# Short limits keep the stalls cheap; retries=2 means at most 3 attempts per url.
TIMEOUT, DEADLINE, RETRIES = 0.5, 1.5, 2
SETTINGS = {"timeout": TIMEOUT, "deadline": DEADLINE, "retries": RETRIES, "threads": 8}
MAX_BYTES = 1_000_000
IMAGE = make_jpeg(1, (200, 150))  # big enough to pass the builder's min_side
SHA = hashlib.sha256(IMAGE).hexdigest()


@dataclass
class Case:
    name: str
    plan: tuple[str, ...]
    reason: str  # "" = downloaded and verified
    hits: int  # requests the server must have seen for this path
    route: dict | None = None


CASES = [
    Case("ok", ("ok",), "", 1),
    Case("gzip", ("gzip",), "", 1),  # decoded body is verified, not the compressed one
    Case("chunked", ("chunked",), "", 1),
    Case("slow_but_in_time", ("drip",), "", 1, {"body": IMAGE[:8] * 2, "drip_s": 0.01}),
    # transient faults, then the image: retried and verified
    Case("500_then_ok", ("status", "ok"), "", 2, {"status": 500}),
    Case("429_then_ok", ("status", "ok"), "", 2, {"status": 429}),
    Case("reset_then_ok", ("reset_before", "reset_mid_body", "ok"), "", 3),
    Case("stall_then_ok", ("stall_headers", "ok"), "", 2),
    Case("truncated_then_ok", ("truncated", "ok"), "", 2),
    # persistent faults: every attempt used, then the reason
    Case("always_500", ("status",), "http_500", 1 + RETRIES, {"status": 500}),
    Case("always_503", ("status",), "http_503", 1 + RETRIES, {"status": 503}),
    Case("reset_before", ("reset_before",), "connection_error", 1 + RETRIES),
    Case("reset_mid_body", ("reset_mid_body",), "truncated", 1 + RETRIES),
    Case("stall_headers", ("stall_headers",), "timeout", 1 + RETRIES),
    Case("stall_body", ("stall_body",), "timeout", 1 + RETRIES),
    Case("drip_past_deadline", ("drip",), "timeout", 1 + RETRIES, {"drip_s": 0.2}),
    Case("truncated", ("truncated",), "truncated", 1 + RETRIES),
    Case("chunked_truncated", ("chunked_truncated",), "connection_error", 1 + RETRIES),
    Case("garbage", ("garbage",), "connection_error", 1 + RETRIES),
    # final faults: one request, no retry
    Case("404", ("status",), "http_404", 1, {"status": 404}),
    Case("html", ("wrong_type",), "not_an_image", 1, {"content_type": "text/html"}),
    Case("octet", ("wrong_type",), "not_an_image", 1, {"content_type": "application/octet-stream"}),
    Case("json", ("wrong_type",), "not_an_image", 1, {"content_type": "application/json"}),
    Case("huge_declared", ("huge_declared",), "too_large", 1),
]


def add_case(server: FaultServer, case: Case, prefix: str = "/c/") -> str:
    route = {"body": IMAGE, **(case.route or {})}
    return server.add(f"{prefix}{case.name}.jpg", plan=case.plan, **route)


def add_redirects(server: FaultServer) -> dict[str, tuple[str, str]]:
    """Redirect cases: name -> (url, expected reason)."""
    final = server.add("/r/final.jpg", body=IMAGE)
    server.add("/r/hop2", plan="redirect", location="/r/final.jpg")
    chain = server.add("/r/hop1", plan="redirect", location="/r/hop2")
    server.add("/r/loop_b", plan="redirect", location="/r/loop_a")
    loop = server.add("/r/loop_a", plan="redirect", location="/r/loop_b")
    to_500 = server.add("/r/to_500", plan="redirect", location="/r/always_500")
    server.add("/r/always_500", plan="status", status=500)
    to_file = server.add("/r/to_file", plan="redirect", location="file:///etc/passwd")
    return {
        "chain": (chain, ""),
        "direct": (final, ""),
        "loop": (loop, "redirect_loop"),
        "to_500": (to_500, "http_500"),
        "to_file": (to_file, "invalid_url"),
    }


def assert_verified(server: FaultServer, path: str, data: bytes | None, sha256: str) -> None:
    """The client holds exactly what the server sent in full for that path."""
    assert data is not None and hashlib.sha256(data).hexdigest() == sha256
    assert sha256 in server.sha256_served(path)


@pytest.mark.timeout(60)
def test_every_url_ends_verified_or_failed_with_its_reason():
    with FaultServer() as server:
        urls = [add_case(server, case) for case in CASES]
        redirects = add_redirects(server)
        all_urls = urls + [url for url, _ in redirects.values()]
        started = time.monotonic()
        results = list(download_many(all_urls, DownloadOptions(max_bytes=MAX_BYTES, **SETTINGS)))
        elapsed = time.monotonic() - started

        assert [r.url for r in results] == all_urls  # one result per url, in order
        for case, url, result in zip(CASES, urls, results, strict=False):
            path = url.removeprefix(server.base)
            assert result.reason == case.reason, (case.name, result)
            assert server.hits[path] == case.hits, (case.name, server.hits[path])
            assert result.attempts <= 1 + RETRIES
            if case.reason:
                assert not result.ok and result.data is None and not result.sha256
            else:
                assert result.ok
                assert_verified(server, path, result.data, result.sha256)
                body = (case.route or {}).get("body", IMAGE)
                assert result.sha256 == hashlib.sha256(body).hexdigest()
        for (name, (_url, reason)), result in zip(
            redirects.items(), results[len(CASES) :], strict=True
        ):
            assert result.reason == reason, (name, result)
            assert result.ok == (reason == "")
            if result.ok:
                assert_verified(server, "/r/final.jpg", result.data, SHA)
        # A redirect loop is cut after urllib3's 5 redirects and never retried.
        assert server.hits["/r/loop_a"] + server.hits["/r/loop_b"] <= 6
        assert server.hits["/r/always_500"] == 1 + RETRIES
    # Stalls cost at most (1 + retries) x deadline each, and run 8 at a time.
    assert elapsed < 30, elapsed


@pytest.mark.timeout(60)
def test_a_server_that_stalls_everything_cannot_hold_the_run():
    # 48 urls, every one stalls for 30 s; 8 threads x 2 attempts x 0.3 s bound the whole run.
    with FaultServer() as server:
        urls = [server.add(f"/s/{i}.jpg", plan="stall_headers") for i in range(48)]
        started = time.monotonic()
        results = list(download_many(urls, DownloadOptions(timeout=0.3, retries=1, threads=8)))
        elapsed = time.monotonic() - started
        assert [r.reason for r in results] == ["timeout"] * 48
        assert all(server.hits[f"/s/{i}.jpg"] == 2 for i in range(48))
    assert elapsed < 20, elapsed


@pytest.mark.timeout(60)
def test_stopping_early_on_stalled_downloads_returns_promptly():
    # The consumer leaves after the first result: queued downloads are cancelled and the ones in
    # flight end at their timeout; closing does not wait for 200 stalls.
    with FaultServer() as server:
        urls = [server.add(f"/e/{i}.jpg", plan="stall_body", body=IMAGE) for i in range(200)]
        results = download_many(urls, DownloadOptions(timeout=0.3, retries=0, threads=4))
        first = next(results)
        started = time.monotonic()
        results.close()
        closing = time.monotonic() - started
        assert first.reason == "timeout"
        assert sum(server.hits.values()) < 200
    assert closing < 5, closing


# --- the Twitter media path -------------------------------------------------------------


def twitter_corpus(server: FaultServer, tmp_path) -> tuple[dict, dict[str, Case]]:
    """One conversation per case (each root tweet has one photo at a fault url), plus a thread
    with two photos, written as Twitter API v2 responses, two conversations per line."""
    cases: dict[str, Case] = {}
    roots, media = [], []
    for number, case in enumerate(CASES, start=1):
        conversation = str(1000 + number)
        url = add_case(server, case, prefix="/media/")
        roots.append(tweet(conversation, f"Case {number}: granulomas #dermpath", f"u{number}",
                           media_keys=[f"m{number}"]))  # fmt: skip
        media.append(photo(f"m{number}", url))
        cases[url] = case
    # A root tweet with two photos: one good, one that always resets.
    good = add_case(server, Case("thread_good", ("ok",), "", 1), prefix="/media/")
    bad = add_case(
        server, Case("thread_reset", ("reset_before",), "connection_error", 3), "/media/"
    )
    roots.append(tweet("9000", "Two views of the lesion", "u0", media_keys=["g", "b"]))
    media += [photo("g", good), photo("b", bad)]
    cases[good] = Case("thread_good", ("ok",), "", 1)
    cases[bad] = Case("thread_reset", ("reset_before",), "connection_error", 3)
    lines = [
        api_response(
            roots[i : i + 2], [m for m in media if m["media_key"] in _keys(roots[i : i + 2])]
        )
        for i in range(0, len(roots), 2)
    ]
    write_jsonl(tmp_path / "tweets.jsonl", lines)
    return {"tweets": ["tweets.jsonl"]}, cases


def _keys(tweets: list[dict]) -> set[str]:
    return {key for t in tweets for key in t["attachments"]["media_keys"]}


@pytest.mark.timeout(60)
def test_twitter_media_urls_end_verified_or_skipped_with_their_reason(tmp_path):
    with FaultServer() as server:
        config, cases = twitter_corpus(server, tmp_path)
        tasks = openpath.plan_shards(config, tmp_path, shard_size=4, options={"download": SETTINGS})
        json.dumps([list(t.items) for t in tasks])  # tasks must travel to other processes
        outcomes: dict[str, Candidate | SkipRecord] = {}
        started = time.monotonic()
        for task in tasks:
            for item in openpath.iter_candidates(task):
                if isinstance(item, Candidate):
                    url = item.fields["image_url"]
                else:
                    url = item.detail.split(": ", 1)[1]
                assert url not in outcomes, url  # every url ends exactly once
                outcomes[url] = item
        elapsed = time.monotonic() - started

        assert set(outcomes) == set(cases)
        for url, case in cases.items():
            outcome = outcomes[url]
            path = url.removeprefix(server.base)
            assert server.hits[path] == case.hits, (case.name, server.hits[path])
            if case.reason:
                assert isinstance(outcome, SkipRecord), (case.name, outcome)
                assert outcome.reason == case.reason, (case.name, outcome)
            else:
                assert isinstance(outcome, Candidate), (case.name, outcome)
                body = (case.route or {}).get("body", IMAGE)
                assert_verified(server, path, outcome.image_bytes, hashlib.sha256(body).hexdigest())
                assert "granulomas" in outcome.caption or "lesion" in outcome.caption
    assert elapsed < 45, elapsed


@pytest.mark.timeout(90)
def test_openpath_shard_task_counts_every_faulty_url_as_a_row_or_a_reasoned_skip(tmp_path):
    """The whole shard task (download -> decode -> write): rows + skips account for every photo,
    and an image whose bytes are not an image (served as image/jpeg) is a corrupt_image skip."""
    with FaultServer() as server:
        config, cases = twitter_corpus(server, tmp_path)
        liar = server.add("/media/liar.jpg", body=b"<html>not an image</html>")
        write_jsonl(
            tmp_path / "liar.jsonl",
            [
                api_response(
                    [tweet("7000", "Lying content type", "u9", media_keys=["l"])],
                    [photo("l", liar)],
                )
            ],  # fmt: skip
        )
        config["tweets"].append("liar.jsonl")
        tasks = openpath.plan_shards(config, tmp_path, shard_size=5, options={"download": SETTINGS})
        filters = FilterOptions(keep_non_histology=True, min_caption_chars=0)
        settings = ShardSettings(ImageOptions(), filters, val_fraction=0.0, seed=0)
        for task in tasks:
            run_shard_task(task, tmp_path / "work", settings)
    stats = read_all_stats(tmp_path / "work" / "openpath")
    assert len(stats) == len(tasks)
    rows = sum(s.rows for s in stats)
    skipped: dict[str, int] = {}
    for s in stats:
        for reason, count in s.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    # downloads that succeed but are not images: the liar and the short dripped body
    not_images = 1 + sum(1 for c in cases.values() if not c.reason and (c.route or {}).get("body"))
    expected_skips: dict[str, int] = {"corrupt_image": not_images}
    for case in cases.values():
        if case.reason:
            expected_skips[case.reason] = expected_skips.get(case.reason, 0) + 1
    assert skipped == expected_skips
    assert rows == sum(1 for case in cases.values() if not case.reason) + 1 - not_images
    table = pq.read_table(sorted((tmp_path / "work" / "openpath").glob("*.parquet")))
    assert table.num_rows == rows
    # Every stored image is the verified download, decoded and re-encoded.
    for image in table.column("image").to_pylist():
        assert load_image(image["bytes"]).width > 0
