"""OpenPath-style pairs from hydrated tweets (Twitter API v2 responses, one JSON value per line).

A pair is a photo of a conversation's root tweet with the text of the root tweet plus the replies in
the same conversation written by the same author (pathologists often continue a case description in
a self-reply thread, which OpenPath kept). One candidate per photo; ``source_id`` is the conversation
id, so a thread never straddles the train/val split.

Text cleaning (``clean_tweet_text``): HTML entities are unescaped, a leading ``RT @user:``, every
url (t.co links) and every ``@mention`` are removed; a run of hashtags at the end of the text is
removed, community hashtags (``#dermpath``, ``#pathology``, ``#FOAMed``...) are removed wherever they
stand, and any other inline hashtag keeps its word without ``#`` ("classic #melanoma in situ" ->
"classic melanoma in situ") so the sentence still reads; whitespace is normalised. Known pathology
hashtags (``#dermpath``...) fill the ``pathology`` column before they are stripped.

Accounting: every requested id that was never hydrated, every id the API listed in ``errors`` and
every malformed line becomes a counted ``SkipRecord`` (``tweet_not_hydrated``, ``malformed_json``),
as do conversations without a photo (``no_media``), without their root tweet
(``root_not_hydrated``) and replies by other authors (``reply_by_other_author``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from quilt_hf.download import DownloadOptions, download_many
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import expand_patterns

SUBSET = "openpath"

# Pathology hashtags from the USCAP/OpenPath hashtag ontology -> our `pathology` names.
PATHOLOGY_HASHTAGS = {
    "dermpath": "dermatopathology",
    "gipath": "gastrointestinal",
    "livpath": "liver",
    "gupath": "genitourinary",
    "renalpath": "renal",
    "neuropath": "neuropathology",
    "hemepath": "hematopathology",
    "breastpath": "breast",
    "gynpath": "gynecologic",
    "pulmpath": "pulmonary",
    "cytopath": "cytopathology",
    "bstpath": "bone_soft_tissue",
    "entpath": "head_and_neck",
    "headandneckpath": "head_and_neck",
    "endopath": "endocrine",
    "pedipath": "pediatric",
    "cardiacpath": "cardiac",
    "eyepath": "ophthalmic",
}

# Community / topic-channel hashtags that carry no description of the image.
COMMUNITY_HASHTAGS = frozenset(
    {
        *PATHOLOGY_HASHTAGS,
        "pathology",
        "pathologists",
        "pathtwitter",
        "foamed",
        "meded",
        "pathresidents",
        "twitjc",
        "pathboards",
        "histopathology",
        "path",
    }
)

_RETWEET = re.compile(r"^\s*RT\b\s*(@\w+\s*:?)?\s*")
_URL = re.compile(r"https?://\S+|\bwww\.\S+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+[.,!?]*)+\s*$")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_SPACE = re.compile(r"\s+")


def clean_tweet_text(text: str) -> str:
    """The tweet text as OpenPath trained on it (see the module doc for the rules)."""
    text = html.unescape(text)
    text = _RETWEET.sub("", text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _TRAILING_TAGS.sub("", text)
    text = _HASHTAG.sub(lambda m: "" if m[1].lower() in COMMUNITY_HASHTAGS else m[1], text)
    text = _SPACE.sub(" ", text).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def pathology_tags(texts: Iterable[str]) -> list[str]:
    found = {
        PATHOLOGY_HASHTAGS[tag.lower()]
        for text in texts
        for tag in _HASHTAG.findall(text)
        if tag.lower() in PATHOLOGY_HASHTAGS
    }
    return sorted(found)


def tweets_in(value: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """(tweets, media, errors) of one parsed line: a v2 response, a list of tweets, or one tweet."""
    if isinstance(value, list):
        return [t for t in value if _is_tweet(t)], [], []
    if not isinstance(value, dict):
        return [], [], []
    if _is_tweet(value):
        return [value], [], []
    data = value.get("data") or []
    if isinstance(data, dict):
        data = [data]
    includes = value.get("includes") or {}
    media = includes.get("media") if isinstance(includes, dict) else None
    errors = value.get("errors") or []
    # a field of the wrong type is treated as absent: the line is data, not code we trust
    return (
        [t for t in _as_list(data) if _is_tweet(t)],
        [m for m in _as_list(media) if isinstance(m, dict) and isinstance(m.get("media_key"), str)],
        [e for e in _as_list(errors) if isinstance(e, dict)],
    )


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def media_keys(tweet: dict) -> list[str]:
    attachments = tweet.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    return [k for k in _as_list(keys) if isinstance(k, str)]


def _is_tweet(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "text" in value


def _error_id(error: dict) -> str | None:
    value = error.get("resource_id") or error.get("value")
    return str(value) if value is not None else None


def _id_key(tweet_id: str) -> tuple[int, str]:
    """Snowflake ids sort chronologically as integers; anything else sorts after, as text."""
    return (int(tweet_id), "") if tweet_id.isdigit() else (1 << 64, tweet_id)


def _read_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, raw line) for every non-blank line."""
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, offset, raw
            offset += len(raw)


def _read_requested_ids(path: Path) -> list[str]:
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line)
    return ids


def plan_shards(
    config: dict, base_dir: Path, shard_size: int, options: dict | None = None
) -> list[ShardTask]:
    """One pass over the tweet files: group line offsets by conversation, then cut into shards.

    Items are ``{"kind": "conversation", "id", "lines": [[path, offset], ...]}``, then
    ``{"kind": "malformed", "path", "line"}`` and ``{"kind": "missing", "id", "detail"}``.
    """
    if shard_size < 1:
        raise QuiltError("shard_size must be >= 1")
    files = expand_patterns(config.get("tweets"), base_dir, what="openpath tweets")
    conversations: dict[str, set[tuple[str, int]]] = {}
    malformed: list[dict] = []
    hydrated: set[str] = set()
    errors: dict[str, str] = {}
    for path in files:
        for number, offset, raw in _read_lines(path):
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                malformed.append({"kind": "malformed", "path": str(path), "line": number})
                continue
            tweets, _media, line_errors = tweets_in(value)
            for tweet in tweets:
                tweet_id = str(tweet["id"])
                hydrated.add(tweet_id)
                conversation = str(tweet.get("conversation_id") or tweet_id)
                conversations.setdefault(conversation, set()).add((str(path), offset))
            for error in line_errors:
                error_id = _error_id(error)
                if error_id:
                    errors[error_id] = str(error.get("title") or error.get("detail") or "error")
    requested: list[str] = []
    if config.get("requested_ids"):
        requested_path = (base_dir / config["requested_ids"]).resolve()
        if not requested_path.is_file():
            raise QuiltError(f"openpath requested_ids file not found: {requested_path}")
        requested = _read_requested_ids(requested_path)
    missing_ids = sorted({i for i in [*requested, *errors] if i not in hydrated}, key=_id_key)
    entries: list[dict] = [
        {"kind": "conversation", "id": cid, "lines": sorted([p, o] for p, o in lines)}
        for cid, lines in sorted(conversations.items(), key=lambda item: _id_key(item[0]))
    ]
    entries += malformed
    entries += [
        {"kind": "missing", "id": i, "detail": errors.get(i, "requested but not in any response")}
        for i in missing_ids
    ]
    task_options = {"download": DownloadOptions.of((options or {}).get("download"))}
    return [
        ShardTask(
            subset=SUBSET,
            shard_id=f"{SUBSET}-{number:05d}",
            items=tuple(entries[start : start + shard_size]),
            options=task_options,
        )
        for number, start in enumerate(range(0, len(entries), shard_size))
    ]


def _load_lines(items: Iterable[dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Tweets by id and media by key from every line the shard's conversations reference."""
    by_path: dict[str, set[int]] = {}
    for item in items:
        for path, offset in item["lines"]:
            by_path.setdefault(path, set()).add(offset)
    tweets: dict[str, dict] = {}
    media: dict[str, dict] = {}
    for path, offsets in sorted(by_path.items()):
        with open(path, "rb") as handle:
            for offset in sorted(offsets):
                handle.seek(offset)
                line_tweets, line_media, _ = tweets_in(json.loads(handle.readline()))
                for tweet in line_tweets:
                    tweets.setdefault(str(tweet["id"]), tweet)
                for item in line_media:
                    media.setdefault(str(item["media_key"]), item)
    return tweets, media


def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    conversations = [item for item in task.items if item["kind"] == "conversation"]
    for item in task.items:
        if item["kind"] == "malformed":
            yield SkipRecord("malformed_json", f"{item['path']}:{item['line']}")
        elif item["kind"] == "missing":
            yield SkipRecord("tweet_not_hydrated", f"{item['id']}: {item['detail']}")
    tweets, media = _load_lines(conversations)
    by_conversation: dict[str, list[dict]] = {}
    for tweet in tweets.values():
        key = str(tweet.get("conversation_id") or tweet["id"])
        by_conversation.setdefault(key, []).append(tweet)

    pending: list[tuple[str, str, str, list[str], str]] = []  # conv, caption, raw, tags, url
    for item in conversations:
        conversation = item["id"]
        root = tweets.get(conversation)
        if root is None:
            yield SkipRecord("root_not_hydrated", conversation)
            continue
        thread = [root]
        for tweet in sorted(
            by_conversation.get(conversation, []), key=lambda t: _id_key(str(t["id"]))
        ):
            if tweet is root:
                continue
            if tweet.get("author_id") == root.get("author_id"):
                thread.append(tweet)
            else:
                yield SkipRecord("reply_by_other_author", f"{conversation}/{tweet['id']}")
        photos = [media[k] for k in media_keys(root) if media.get(k, {}).get("type") == "photo"]
        urls = [p["url"] for p in photos if p.get("url")]
        if not urls:
            yield SkipRecord("no_media", conversation)
            continue
        texts = [str(t.get("text") or "") for t in thread]
        caption = clean_tweet_text(" ".join(texts))
        if not caption:
            yield SkipRecord("empty_text", conversation)
            continue
        tags = pathology_tags(texts)
        pending.extend((conversation, caption, "\n".join(texts), tags, url) for url in urls)

    results = download_many((url for *_, url in pending), task.options["download"])
    for (conversation, caption, raw, tags, url), result in zip(pending, results, strict=True):
        if not result.ok:
            yield SkipRecord(result.reason, f"{conversation}: {url}")
            continue
        yield Candidate(
            subset=SUBSET,
            source_id=conversation,
            caption=caption,
            image_bytes=result.data,
            fields={
                "noisy_text": raw,
                "text_source": "tweet",
                "image_url": url,
                "pathology": tags,
            },
        )
