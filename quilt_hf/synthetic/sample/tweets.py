"""OpenPath-style tweets as Twitter API v2 responses (``openpath/tweets.jsonl``).

Each line is what ``GET /2/tweets?ids=...&expansions=attachments.media_keys,author_id
&media.fields=url,type,width,height&tweet.fields=conversation_id,author_id,created_at,entities,
in_reply_to_user_id,referenced_tweets`` returns for one batch of requested ids: ``data`` (the
tweets found, in no particular thread order), ``includes.media`` / ``includes.users`` and ``errors``
for ids that could not be hydrated (deleted: "Not Found Error"; protected: "Authorization Error").
The requested ids are shuffled before batching, as a real hydration of an id list is, so a thread's
root and replies land on different lines: a reader must group by ``conversation_id``.

Threads: a pathologist posts photos with hashtags, an emoji and t.co links; replies by the same
author continue the text; replies by others (starting with ``@author``) do not. Deliberate bad
input: a text-only root (no media), media urls that 404, a non-histology photo (people at a
meeting, a chart, a slide screenshot), ids never hydrated, and one malformed JSON line (a
truncated copy of another line, so no tweet is lost through it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quilt_hf.synthetic.histology import Tile, histology_tiles
from quilt_hf.synthetic.sample.captions import GENERAL_HASHTAGS, entity_for, finding_sentence, pick
from quilt_hf.synthetic.sample.common import CorpusWriter, jpeg_bytes
from quilt_hf.synthetic.sample.nonhistology import non_histology_image

SUBSET = "openpath"
TWEETS_FILE = "openpath/tweets.jsonl"
IDS_FILE = "openpath/tweet_ids.txt"
BATCH_SIZE = 10  # ids per hydration request (the API allows 100; small makes several lines)
TWITTER_EPOCH_MS = 1288834974657
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# One row per thread: (photos, replies by the author, replies by others).
# photo kinds: "histo" | "broken" (404) | a non-histology kind.
THREADS: tuple[tuple[tuple[str, ...], int, int], ...] = (
    (("histo",), 1, 1),
    (("histo", "histo"), 0, 2),
    (("histo", "histo", "histo"), 1, 0),
    (("histo", "broken"), 0, 1),
    (("people",), 0, 1),
    ((), 0, 1),  # text-only root: no_media
    (("histo",), 2, 1),
    (("histo", "histo", "histo", "histo"), 1, 1),
    (("broken",), 0, 0),
    (("histo",), 0, 0),
    (("histo", "histo"), 1, 2),
    (("histo", "chart"), 0, 0),
    (("text_slide",), 0, 0),
    (("histo",), 1, 0),
    (("histo", "histo"), 0, 1),
    (("histo",), 1, 1),
)
PATHOLOGISTS = (
    ("DermpathDoc", "Ana Derm, MD"),
    ("GIpathGuy", "Ben Gastro"),
    ("SlideSeer", "Chris Slide"),
    ("PathResident", "Dana Resident"),
    ("HistoQuiz", "Eli Quiz"),
)
OTHERS = (
    ("CuriousMedStudent", "Fay Student"),
    ("LabTechLife", "Gus Tech"),
    ("OncoNurse", "Hal Nurse"),
)
OTHER_REPLIES = (
    "Great case, thanks for sharing!",
    "Beautiful images. What was the clinical impression?",
    "Classic. Saving this for teaching.",
    "Would you do any stains on this one?",
)
OPENERS = ("Case of the day:", "Quiz time!", "Teaching case:", "Interesting one today:", "")


@dataclass
class _TextBuilder:
    """Builds tweet text and its v2 ``entities`` with code-point offsets, as the API reports."""

    text: str = ""
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, piece: str) -> None:
        self.text += piece if not self.text or not piece else " " + piece

    def _span(self, piece: str) -> tuple[int, int]:
        self.add(piece)
        return len(self.text) - len(piece), len(self.text)

    def hashtag(self, tag: str) -> None:
        start, end = self._span(f"#{tag}")
        self.entities.setdefault("hashtags", []).append({"start": start, "end": end, "tag": tag})

    def mention(self, username: str, user_id: str) -> None:
        start, end = self._span(f"@{username}")
        self.entities.setdefault("mentions", []).append(
            {"start": start, "end": end, "username": username, "id": user_id}
        )

    def url(self, short: str, expanded: str, display: str, **extra: Any) -> tuple[int, int]:
        start, end = self._span(short)
        self.entities.setdefault("urls", []).append(
            {
                "start": start,
                "end": end,
                "url": short,
                "expanded_url": expanded,
                "display_url": display,
                **extra,
            }
        )
        return start, end


class _Ids:
    """Snowflake-style ids (time-ordered, 19 digits) and short codes, all drawn from ``rng``."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def snowflake(self, when: dt.datetime) -> str:
        ms = int(when.timestamp() * 1000) - TWITTER_EPOCH_MS
        return str((ms << 22) | int(self.rng.integers(0, 1 << 22)))

    def code(self, length: int) -> str:
        return "".join(ALPHABET[int(i)] for i in self.rng.integers(0, 62, size=length))

    def tco(self) -> str:
        return f"https://t.co/{self.code(10)}"


def _created_at(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_sample_tweets(
    writer: CorpusWriter, rng: np.random.Generator
) -> tuple[dict[str, Any], list[tuple[bytes, Tile]]]:
    """Write the tweets, their media and the requested ids.

    Returns the build config entry and the histology photos written (bytes, tile), which the web
    part re-uses as cross-source duplicates.
    """
    ids = _Ids(rng)
    users = [
        {"id": str(int(rng.integers(10**8, 10**10))), "name": name, "username": username}
        for username, name in (*PATHOLOGISTS, *OTHERS)
    ]
    pathologists, others = users[: len(PATHOLOGISTS)], users[len(PATHOLOGISTS) :]
    histo_count = sum(kind == "histo" for photos, _, _ in THREADS for kind in photos)
    tiles = iter(histology_tiles(rng, histo_count))
    tweets: list[dict[str, Any]] = []
    media: dict[str, dict[str, Any]] = {}  # media_key -> media object
    written: list[tuple[bytes, Tile]] = []
    when = dt.datetime(2019, 6, 3, 14, 0, tzinfo=dt.timezone.utc)

    for photos, own_replies, other_replies in THREADS:
        when += dt.timedelta(hours=float(rng.uniform(20, 400)))
        author = pick(rng, pathologists)
        root_id = ids.snowflake(when)
        thread_tiles = [next(tiles) for kind in photos if kind == "histo"]
        stain = thread_tiles[0].stain if thread_tiles else "H&E"
        magnification = thread_tiles[0].magnification if thread_tiles else None
        entity = entity_for(rng, stain)

        # Media first: the root's attachments and the t.co links that point at them.
        media_keys = []
        for position, kind in enumerate(photos, start=1):
            key = f"3_{ids.snowflake(when)}"
            name = ids.code(15)
            url_path = f"/media/{name}.jpg"
            if kind == "histo":
                tile = thread_tiles.pop(0)
                image = tile.image
                data = jpeg_bytes(image, quality=int(rng.integers(75, 93)))
                written.append((data, tile))
                writer.write_web(url_path, data)
                writer.label(
                    data,
                    subset=SUBSET,
                    source_id=root_id,
                    path=f"web{url_path}",
                    histology=True,
                    magnification=tile.magnification,
                    kind=tile.stain,
                )
                size = image.size
            elif kind == "broken":  # listed by the API, gone from the CDN: the server says 404
                size = (int(rng.integers(300, 900)), int(rng.integers(300, 900)))
            else:
                picture = non_histology_image(rng, kind)
                data = jpeg_bytes(picture.image)
                writer.write_web(url_path, data)
                writer.label(
                    data,
                    subset=SUBSET,
                    source_id=root_id,
                    path=f"web{url_path}",
                    histology=False,
                    magnification=None,
                    kind=picture.kind,
                )
                size = picture.image.size
            media[key] = {
                "media_key": key,
                "type": "photo",
                "url": writer.url(url_path),
                "width": size[0],
                "height": size[1],
            }
            media_keys.append((key, position))

        text = _TextBuilder()
        opener = pick(rng, OPENERS)
        if opener:
            text.add(opener)
        text.add(f"{entity.diagnosis.capitalize()} in the {entity.organ}.")
        text.add(finding_sentence(rng, entity, magnification))
        if rng.random() < 0.5:
            text.add("\U0001f52c")  # microscope emoji: offsets count code points, not bytes
        text.hashtag(entity.hashtag)
        text.hashtag(pick(rng, GENERAL_HASHTAGS))
        if rng.random() < 0.4:
            text.add("Review:")
            text.url(
                ids.tco(),
                f"https://www.ncbi.nlm.nih.gov/pmc/articles/PMC{rng.integers(10**6, 10**7)}/",
                "ncbi.nlm.nih.gov/pmc/articles/…",
            )
        if media_keys:
            short = ids.tco()
            for key, position in media_keys:
                if position > 1:  # every photo of a tweet shares one t.co link (same span)
                    text.entities["urls"].append(dict(text.entities["urls"][-1]))
                    text.entities["urls"][-1].update(
                        {
                            "expanded_url": f"https://twitter.com/{author['username']}/status/{root_id}/photo/{position}",
                            "media_key": key,
                        }
                    )
                    continue
                text.url(
                    short,
                    f"https://twitter.com/{author['username']}/status/{root_id}/photo/1",
                    f"pic.twitter.com/{short[-10:]}",
                    media_key=key,
                )
        root = {
            "id": root_id,
            "text": text.text,
            "author_id": author["id"],
            "conversation_id": root_id,
            "created_at": _created_at(when),
            "edit_history_tweet_ids": [root_id],
            "entities": text.entities,
        }
        if media_keys:
            root["attachments"] = {"media_keys": [key for key, _ in media_keys]}
        tweets.append(root)

        # Replies: the author's continue the thread (each replies to the previous one).
        parent = root
        for _ in range(own_replies):
            when += dt.timedelta(minutes=float(rng.uniform(1, 30)))
            reply = _TextBuilder()
            reply.add(finding_sentence(rng, entity, None))
            reply.add(f"Diagnosis: {entity.diagnosis}.")
            if rng.random() < 0.5:
                reply.hashtag(entity.hashtag)
            parent = _reply(ids, when, reply, author, parent, root_id, author)
            tweets.append(parent)
        for _ in range(other_replies):
            when += dt.timedelta(minutes=float(rng.uniform(1, 120)))
            other = pick(rng, others)
            reply = _TextBuilder()
            reply.mention(author["username"], author["id"])
            reply.add(pick(rng, OTHER_REPLIES))
            tweets.append(_reply(ids, when, reply, other, root, root_id, author))

    _write_responses(writer, rng, ids, tweets, media, {u["id"]: u for u in users}, when)
    config = {SUBSET: {"tweets": [TWEETS_FILE], "requested_ids": IDS_FILE}}
    return config, written


def _reply(
    ids: _Ids,
    when: dt.datetime,
    text: _TextBuilder,
    author: dict[str, str],
    parent: dict[str, Any],
    conversation_id: str,
    parent_author: dict[str, str],
) -> dict[str, Any]:
    tweet_id = ids.snowflake(when)
    tweet = {
        "id": tweet_id,
        "text": text.text,
        "author_id": author["id"],
        "conversation_id": conversation_id,
        "created_at": _created_at(when),
        "edit_history_tweet_ids": [tweet_id],
        "in_reply_to_user_id": parent_author["id"],
        "referenced_tweets": [{"type": "replied_to", "id": parent["id"]}],
    }
    if text.entities:
        tweet["entities"] = text.entities
    return tweet


def _write_responses(
    writer: CorpusWriter,
    rng: np.random.Generator,
    ids: _Ids,
    tweets: list[dict[str, Any]],
    media: dict[str, dict[str, Any]],
    users: dict[str, dict[str, str]],
    when: dt.datetime,
) -> None:
    """Batch the requested ids as a hydration client would and write one response per line."""
    by_id = {tweet["id"]: tweet for tweet in tweets}
    missing = {
        ids.snowflake(when - dt.timedelta(days=30 * k)): "Not Found Error" for k in range(1, 4)
    }
    missing[ids.snowflake(when - dt.timedelta(days=200))] = "Authorization Error"
    requested = [str(i) for i in rng.permutation([*by_id, *missing])]

    lines = []
    for start in range(0, len(requested), BATCH_SIZE):
        batch = requested[start : start + BATCH_SIZE]
        found = [by_id[i] for i in batch if i in by_id]
        response: dict[str, Any] = {}
        if found:
            response["data"] = found
            keys = [
                k for tweet in found for k in tweet.get("attachments", {}).get("media_keys", [])
            ]
            authors = dict.fromkeys(tweet["author_id"] for tweet in found)
            response["includes"] = {"users": [users[a] for a in authors]}
            if keys:
                response["includes"]["media"] = [media[k] for k in keys]
        errors = [_error(i, missing[i]) for i in batch if i in missing]
        if errors:
            response["errors"] = errors
        lines.append(json.dumps(response, ensure_ascii=False))
    # A malformed line: a truncated copy of the first response (as an interrupted append leaves).
    lines.insert(1, lines[0][: len(lines[0]) // 2])
    writer.write(TWEETS_FILE, ("\n".join(lines) + "\n").encode())
    writer.write(IDS_FILE, ("\n".join(requested) + "\n").encode())


def _error(tweet_id: str, title: str) -> dict[str, str]:
    if title == "Authorization Error":
        return {
            "value": tweet_id,
            "detail": f"Sorry, you are not authorized to see the Tweet with ids: [{tweet_id}].",
            "title": title,
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": tweet_id,
            "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
        }
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with ids: [{tweet_id}].",
        "title": title,
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }
