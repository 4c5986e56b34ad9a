"""Twitter API v2 conformance for the OpenPath source: responses written here after the v2
reference (tweet, media, user objects; ``includes``; partial errors) and what real hydrators
(twarc2 pages, twarc2 flattened tweets, hand-rolled lookups) write. No third-party file is copied.

Covered: ``includes.media`` and ``includes.users``; errors of every resource type (tweet not
found, tweet not authorized, user suspended / not found, media, place and poll) and request-level
errors with no resource; ``withheld`` tweets and authors; placeholder texts on the root and on a
self-reply; retweets and quote tweets; twarc2 flattened lines (media inline); a photo with
``alt_text``; videos and GIFs (no photo); and the inputs that are not v2: API v1.1 objects and the
Twitter archive's ``tweets.js``, refused with a clear error.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sources_fixtures import ImageServer, make_jpeg, write_jsonl

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate
from quilt_hf.sources import openpath
from quilt_hf.text.clean import clean_caption

DOWNLOAD = {"download": {"timeout": 2, "retries": 0, "threads": 2}}


def tweet(tweet_id, text, author="10", media=(), conversation=None, **extra):
    obj = {
        "id": tweet_id,
        "text": text,
        "author_id": author,
        "conversation_id": conversation or tweet_id,
        "edit_history_tweet_ids": [tweet_id],
        "created_at": "2021-03-04T05:06:07.000Z",
    }
    if media:
        obj["attachments"] = {"media_keys": list(media)}
    obj.update(extra)
    return obj


def photo(key, url, **extra):
    return {"media_key": key, "type": "photo", "url": url, "width": 64, "height": 48, **extra}


def not_found(kind, resource_id, detail, title="Not Found Error", parameter="ids"):
    return {
        "value": resource_id,
        "detail": detail,
        "title": title,
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": resource_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def build(tmp_path, lines, requested=None):
    path = write_jsonl(tmp_path / "tweets.jsonl", lines)
    config = {"tweets": [path.name]}
    if requested:
        (tmp_path / "ids.txt").write_text("\n".join(requested) + "\n")
        config["requested_ids"] = "ids.txt"
    out = []
    for task in openpath.plan_shards(config, tmp_path, 50, DOWNLOAD):
        json.dumps(list(task.items))
        out.extend(openpath.iter_candidates(task))
    return [c for c in out if isinstance(c, Candidate)], [
        s for s in out if isinstance(s, SkipRecord)
    ]


@pytest.fixture()
def server():
    with ImageServer() as running:
        yield running


# --- issue 13 regressions -------------------------------------------------------------------


def test_user_errors_are_not_missing_tweets(tmp_path, server):
    url = server.add("/a.jpg", body=make_jpeg(1))
    response = {
        "data": [tweet("1", "Granuloma, H&E", author="77", media=["3_1"])],
        "includes": {"media": [photo("3_1", url)]},
        "errors": [
            not_found("user", "77", "User has been suspended: [77].", "Forbidden", "author_id"),
            not_found("user", "78", "Could not find user with id: [78].", parameter="author_id"),
        ],
    }
    kept, skips = build(tmp_path, [response], requested=["1"])
    assert [c.caption for c in kept] == ["Granuloma, H&E"]  # the tweet itself is kept
    reasons = Counter(s.reason for s in skips)
    assert reasons == {"author_unavailable": 2}
    assert "tweet_not_hydrated" not in reasons
    assert any("suspended" in s.detail for s in skips)


def test_media_policy_placeholder_is_a_counted_skip(tmp_path, server):
    url = server.add("/b.jpg", body=make_jpeg(2))
    text = (
        "@x's account is temporarily unavailable because it violates the Twitter Media Policy."
        " Learn more."
    )
    response = {
        "data": [tweet("5", text, media=["3_5"])],
        "includes": {"media": [photo("3_5", url)]},
    }
    kept, skips = build(tmp_path, [response])
    assert kept == []
    assert [s.reason for s in skips] == ["placeholder_text"]


# --- errors of every resource type --------------------------------------------------------


def test_errors_of_every_resource_type(tmp_path, server):
    url = server.add("/c.jpg", body=make_jpeg(3))
    response = {
        "data": [tweet("1", "Dermpath case", media=["3_1"])],
        "includes": {"media": [photo("3_1", url)]},
        "errors": [
            not_found("tweet", "2", "Could not find tweet with ids: [2]."),
            {
                **not_found(
                    "tweet",
                    "3",
                    "Sorry, you are not authorized to see the Tweet with ids: [3].",
                    "Authorization Error",
                ),  # fmt: skip
                "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
            },
            not_found("user", "9", "User has been suspended: [9].", "Forbidden"),
            not_found("media", "3_9", "Could not find media with key: [3_9]."),
            not_found("place", "01a9a39529b27f36", "Could not find place."),
            not_found("poll", "1199786642468413448", "Could not find poll."),
        ],
    }
    request_error = {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    invalid = {
        "errors": [
            {"parameters": {"ids": ["x"]}, "message": "The `ids` query parameter value [x] is"}
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    kept, skips = build(tmp_path, [response, {"errors": [request_error]}, invalid])
    assert [c.source_id for c in kept] == ["1"]
    assert Counter(s.reason for s in skips) == {
        "tweet_not_hydrated": 2,  # not found and not authorized
        "author_unavailable": 1,
        "media_unavailable": 1,
        "api_error": 2,  # the rate limit and the invalid request name no resource
    }  # place and poll errors concern fields the source does not read
    details = " ".join(s.detail for s in skips)
    assert "Authorization Error" in details and "Too Many Requests" in details


# --- withheld, retweets, quotes, placeholders ---------------------------------------------


def test_withheld_retweets_quotes_and_placeholders(tmp_path, server):
    urls = [server.add(f"/w{i}.jpg", body=make_jpeg(10 + i)) for i in range(6)]
    withheld = {"copyright": False, "country_codes": ["DE", "FR"], "scope": "tweet"}
    data = [
        tweet("1", "Withheld case", media=["k1"], withheld=withheld),
        tweet("2", "By a withheld author", author="66", media=["k2"]),
        tweet(
            "3",
            "RT @path: Original text that was truncat…",
            media=["k3"],
            referenced_tweets=[{"type": "retweeted", "id": "99"}],
        ),
        tweet(
            "4",
            "Look at this one https://t.co/quoted",
            media=["k4"],
            referenced_tweets=[{"type": "quoted", "id": "98"}],
        ),
        tweet("5", "This Tweet is unavailable.", media=["k5"]),
        tweet("6", "Classic spitz nevus #dermpath", media=["k6"]),
        tweet("7", "This Tweet was deleted by the Tweet author.", conversation="6"),
        tweet("8", "Epithelioid cells in nests.", conversation="6"),
    ]
    response = {
        "data": data,
        "includes": {
            "media": [photo(f"k{i + 1}", u) for i, u in enumerate(urls)],
            "users": [
                {"id": "66", "username": "w", "name": "W", "withheld": {"country_codes": ["IN"]}},
                {"id": "10", "username": "p", "name": "P"},
            ],
            "tweets": [tweet("99", "Original text that was truncated in the retweet", "11")],
        },
    }
    kept, skips = build(tmp_path, [response])
    assert {c.source_id: c.caption for c in kept} == {
        "4": "Look at this one",
        "6": "Classic spitz nevus Epithelioid cells in nests.",
    }
    assert Counter(s.reason for s in skips) == {
        "withheld": 2,
        "retweet": 1,
        "placeholder_text": 1,
    }


def test_photo_alt_text_videos_and_gifs(tmp_path, server):
    url = server.add("/p.jpg", body=make_jpeg(20))
    response = {
        "data": [
            tweet("1", "Photo with alt text", media=["p"]),
            tweet("2", "A video", media=["v"]),
            tweet("3", "A GIF", media=["g"]),
        ],
        "includes": {
            "media": [
                photo("p", url, alt_text="H&E section"),
                {"media_key": "v", "type": "video", "preview_image_url": url, "duration_ms": 5},
                {"media_key": "g", "type": "animated_gif", "preview_image_url": url},
            ]
        },
    }
    kept, skips = build(tmp_path, [response])
    assert [c.source_id for c in kept] == ["1"]
    assert Counter(s.reason for s in skips) == {"no_media": 2}


def test_twarc2_flattened_tweets_with_inline_media(tmp_path, server):
    url = server.add("/f.jpg", body=make_jpeg(21))
    flat = tweet("1", "Flattened #gipath case", media=["3_1"])
    flat["attachments"]["media"] = [photo("3_1", url)]
    flat["author"] = {"id": "10", "username": "p"}
    flat["__twarc"] = {"url": "https://api.twitter.com/2/tweets", "version": "2.10.4"}
    kept, skips = build(tmp_path, [flat])
    assert [(c.caption, c.fields["pathology"]) for c in kept] == [
        ("Flattened case", ["gastrointestinal"])
    ]
    assert skips == []


# --- not v2: a clear error before any work ----------------------------------------------------


def test_api_v1_1_tweets_are_refused_with_a_clear_error(tmp_path):
    v1 = {
        "id": 1364,
        "id_str": "1364",
        "full_text": "A v1.1 tweet",
        "truncated": False,
        "user": {"id_str": "10", "screen_name": "p"},
        "extended_entities": {
            "media": [{"type": "photo", "media_url_https": "https://pbs.twimg.com/a.jpg"}]
        },
    }
    path = write_jsonl(tmp_path / "v1.jsonl", [v1])
    with pytest.raises(QuiltError, match="v1.1"):
        openpath.plan_shards({"tweets": [path.name]}, tmp_path, 10, DOWNLOAD)
    # an archive entry wraps the same object under "tweet"
    write_jsonl(tmp_path / "v1.jsonl", [{"tweet": {**v1, "text": "x"}}])
    with pytest.raises(QuiltError, match="v1.1"):
        openpath.plan_shards({"tweets": [path.name]}, tmp_path, 10, DOWNLOAD)


def test_twitter_archive_tweets_js_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "tweets.js"
    path.write_text('window.YTD.tweets.part0 = [ {\n  "tweet" : {\n    "id_str" : "1"\n  }\n} ]\n')
    with pytest.raises(QuiltError, match="Twitter archive"):
        openpath.plan_shards({"tweets": [path.name]}, tmp_path, 10, DOWNLOAD)


def test_valid_v2_lines_beside_junk_are_still_read(tmp_path, server):
    url = server.add("/j.jpg", body=make_jpeg(22))
    good = {"data": [tweet("1", "Good", media=["m"])], "includes": {"media": [photo("m", url)]}}
    empty_page = {"meta": {"result_count": 0}}
    unauthorized = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "x"}
    lines = ["{not json", good, "[1, 2]", '{"data": 5}', empty_page, unauthorized]
    kept, skips = build(tmp_path, lines)
    assert [c.source_id for c in kept] == ["1"]
    assert Counter(s.reason for s in skips) == {
        "malformed_json": 1,
        "not_a_v2_response": 2,  # valid JSON, but no tweets, no errors, not an empty page
        "api_error": 1,  # a whole response that is one problem document
    }


# --- the shared cleaner on tweet texts ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "This Tweet is unavailable.",
        "This Tweet was deleted by the Tweet author. Learn more",
        "This Tweet violated the Twitter Rules. Learn more",
        "This Tweet is from an account that no longer exists. Learn more",
        "This media has been disabled in response to a report by the copyright owner.",
        "Tweet withheld in Germany in response to a legal demand.",
        "@x's account is temporarily unavailable because it violates the Twitter Media Policy.",
    ],
)
def test_twitter_placeholder_texts(text):
    assert clean_caption(text).reason == "placeholder_text"
    assert clean_caption("This tweet shows a granuloma.").ok  # a real text is kept
