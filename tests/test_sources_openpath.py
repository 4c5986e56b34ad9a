"""The OpenPath (Twitter API v2) source on hand-made API responses served from loopback."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sources_fixtures import ImageServer, api_response, make_jpeg, photo, tweet, write_jsonl

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate
from quilt_hf.sources import openpath

DOWNLOAD = {"download": {"timeout": 2.0, "retries": 0, "threads": 4}}


def run_all(tasks):
    out = []
    for task in tasks:
        json.dumps(list(task.items))  # items must travel to other processes
        out.extend(openpath.iter_candidates(task))
    return out


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "RT @path_doc: Classic #melanoma in situ https://t.co/abc #dermpath #pathology",
            "Classic melanoma in situ",
        ),
        (
            "@someone @other thanks!  Lots of   space &amp; entities",
            "thanks! Lots of space & entities",
        ),
        ("Granulomas here . www.example.org/x #GIpath", "Granulomas here."),
    ],
)
def test_clean_tweet_text(raw, clean):
    assert openpath.clean_tweet_text(raw) == clean


@pytest.fixture()
def corpus(tmp_path):
    with ImageServer() as server:
        good = [server.add(f"/media/{i}.jpg", body=make_jpeg(i)) for i in range(3)]
        broken = server.base + "/media/gone.jpg"
        # Thread 100: two photos, a self-reply (on another line) and a reply by someone else.
        root = tweet(
            "100",
            "Case of the day: #dermpath lesion https://t.co/x1",
            "u1",
            media_keys=["m1", "m2"],
        )
        self_reply = tweet("105", "Diagnosis: spitz nevus. #dermpath", "u1", "100", reply_to="100")
        other = tweet("106", "@u1 great case!", "u2", "100", reply_to="100")
        text_only = tweet("200", "No picture today #pathology", "u1")
        with_broken = tweet("300", "Look at this", "u3", media_keys=["m3", "m4"])
        video = tweet("400", "A video", "u3", media_keys=["m5"])
        lines = [
            api_response([root, text_only], [photo("m1", good[0]), photo("m2", good[1])], ["999"]),
            "{this is not json",
            [self_reply, other],  # a plain list of tweets
            api_response(
                [with_broken, video],
                [
                    photo("m3", good[2]),
                    photo("m4", broken),
                    {"media_key": "m5", "type": "video", "preview_image_url": good[0]},
                ],
            ),
        ]
        tweets = write_jsonl(tmp_path / "tweets.jsonl", lines)
        (tmp_path / "ids.txt").write_text("100\n105\n106\n200\n300\n400\n999\n777\n")
        config = {"tweets": [tweets.name], "requested_ids": "ids.txt"}
        yield config, tmp_path, good


def test_pairs_threads_and_counted_skips(corpus):
    config, base, good = corpus
    tasks = openpath.plan_shards(config, base, shard_size=2, options=DOWNLOAD)
    assert [t.shard_id for t in tasks] == [f"openpath-{i:05d}" for i in range(len(tasks))]
    assert tasks == openpath.plan_shards(config, base, shard_size=2, options=DOWNLOAD)
    out = run_all(tasks)
    candidates = [c for c in out if isinstance(c, Candidate)]
    skips = Counter(s.reason for s in out if isinstance(s, SkipRecord))

    by_url = {c.fields["image_url"]: c for c in candidates}
    assert set(by_url) == set(good)  # the two photos of 100 and the good photo of 300
    first = by_url[good[0]]
    assert first.subset == "openpath" and first.source_id == "100"
    assert first.caption == "Case of the day: lesion Diagnosis: spitz nevus."
    assert first.image_bytes == make_jpeg(0)
    assert first.fields["pathology"] == ["dermatopathology"]
    assert first.fields["text_source"] == "tweet"
    assert "#dermpath" in first.fields["noisy_text"]
    assert by_url[good[1]].source_id == "100"
    assert by_url[good[2]].source_id == "300" and by_url[good[2]].caption == "Look at this"

    assert skips == {
        "tweet_not_hydrated": 2,  # 999 (API error) and 777 (never answered)
        "malformed_json": 1,
        "reply_by_other_author": 1,
        "no_media": 2,  # text-only 200 and the video-only 400
        "http_404": 1,
    }
    details = " ".join(str(s) for s in out if isinstance(s, SkipRecord))
    assert "999" in details and "777" in details and "Not Found Error" in details


def test_thread_never_straddles_shards(corpus):
    config, base, _ = corpus
    for size in (1, 2, 3, 50):
        tasks = openpath.plan_shards(config, base, shard_size=size, options=DOWNLOAD)
        homes = Counter(
            item["id"] for task in tasks for item in task.items if item["kind"] == "conversation"
        )
        assert homes and max(homes.values()) == 1


def test_missing_root_and_config_errors(tmp_path):
    reply = tweet("11", "only the reply survived", "u1", "10", reply_to="10")
    write_jsonl(tmp_path / "t.jsonl", [api_response([reply], [])])
    (task,) = openpath.plan_shards({"tweets": ["t.jsonl"]}, tmp_path, 10, DOWNLOAD)
    assert [s.reason for s in openpath.iter_candidates(task)] == ["root_not_hydrated"]
    with pytest.raises(QuiltError, match="nothing matches"):
        openpath.plan_shards({"tweets": ["nope/*.jsonl"]}, tmp_path, 10, DOWNLOAD)
    with pytest.raises(QuiltError, match="requested_ids"):
        openpath.plan_shards({"tweets": ["t.jsonl"], "requested_ids": "x.txt"}, tmp_path, 10, {})
