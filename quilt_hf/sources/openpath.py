"""OpenPath-style pairs from hydrated tweets (Twitter API v2 responses, one JSON value per line).

A pair is a photo of a conversation's root tweet with the text of the root tweet plus the replies in
the same conversation written by the same author (pathologists often continue a case description in
a self-reply thread, which OpenPath kept). One candidate per photo; ``source_id`` is the conversation
id, so a thread never straddles the train/val split.

Text cleaning (``clean_tweet_text``): a leading ``RT @user:`` is removed, then the shared caption
cleaner (``quilt_hf.text.clean``) unescapes HTML entities, strips tags, fixes mojibake and removes
every url (t.co links) and every ``@mention``; a run of hashtags at the end of the text is
removed, community hashtags (``#dermpath``, ``#pathology``, ``#FOAMed``...) are removed wherever they
stand, and any other inline hashtag keeps its word without ``#`` ("classic #melanoma in situ" ->
"classic melanoma in situ") so the sentence still reads; whitespace is normalised. Known pathology
hashtags (``#dermpath``...) fill the ``pathology`` column before they are stripped.

Accounting: every requested id that was never hydrated, every tweet the API listed in ``errors``
and every malformed line becomes a counted ``SkipRecord`` (``tweet_not_hydrated``,
``malformed_json``; ``not_a_v2_response`` for valid JSON holding neither tweets, errors nor an
empty page), as do conversations without a photo (``no_media``), without their root tweet
(``root_not_hydrated``) and replies by other authors (``reply_by_other_author``). API v2 ``errors``
are told apart by ``resource_type``: ``tweet`` (or none, with an id) is a missing tweet; ``user`` (a
suspended, protected or deleted author, met through the ``author_id`` expansion) is
``author_unavailable``, one per user, and the user's tweets that did arrive are still used; ``media``
is ``media_unavailable``; an error naming no resource (rate limit, invalid request) is ``api_error``;
errors on other resources (``place``, ``poll``) concern fields we do not read and are not counted.
A root tweet or author carrying ``withheld`` (withheld in some country, or for copyright) is
``withheld``; a retweet (``referenced_tweets`` type ``retweeted``) is ``retweet``, since its text is
a truncated copy of the original, which stands on its own; a quote tweet is an ordinary tweet (the
quoted tweet's link is removed with the other urls). Twitter's placeholder texts ("This Tweet is
unavailable", "... violates the Twitter Media Policy") are ``placeholder_text``; a caption that
cleaning empties is ``emptied_by_cleaning``.

API v1.1 objects (``id_str``, ``full_text``, ``extended_entities``, a ``user`` object) and the
Twitter archive's ``tweets.js`` (``window.YTD.tweets.part0 = [...]``) are refused with a clear error
before any work starts: they have no ``conversation_id`` or ``includes.media``, so reading them as
v2 would silently lose every photo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from quilt_hf.download import DownloadOptions, download_many
from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import check_source_keys, expand_patterns
from quilt_hf.text.clean import EMPTY, CleanCaption, clean_caption, normalise_space

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
_TRAILING_TAGS = re.compile(r"(?:\s*#\w+[.,!?]*)+\s*$")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
# API v2 errors[].resource_type -> skip reason; other resources (place, poll) are not counted
_ERROR_REASONS = {
    "tweet": "tweet_not_hydrated",
    "user": "author_unavailable",
    "media": "media_unavailable",
}
# API v1.1 fields that a v2 tweet object never has
_V1_FIELDS = ("id_str", "full_text", "extended_entities", "user", "in_reply_to_status_id_str")


def tweet_caption(text: str) -> CleanCaption:
    """The tweet text as OpenPath trained on it (see the module doc), or why there is none."""
    cleaned = clean_caption(_RETWEET.sub("", text), citations=False)
    if not cleaned.ok:
        return cleaned
    text = _TRAILING_TAGS.sub("", cleaned.text)
    text = _HASHTAG.sub(lambda m: "" if m[1].lower() in COMMUNITY_HASHTAGS else m[1], text)
    text = normalise_space(text)
    return CleanCaption(text) if text else CleanCaption("", "emptied_by_cleaning")


def clean_tweet_text(text: str) -> str:
    return tweet_caption(text).text


def pathology_tags(texts: Iterable[str]) -> list[str]:
    found = {
        PATHOLOGY_HASHTAGS[tag.lower()]
        for text in texts
        for tag in _HASHTAG.findall(text)
        if tag.lower() in PATHOLOGY_HASHTAGS
    }
    return sorted(found)


def tweets_in(value: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """(tweets, media, errors) of one parsed line: a v2 response, a list of tweets, or one tweet
    (twarc2's flattened tweets carry their media objects in ``attachments.media``)."""
    if isinstance(value, list):
        tweets = [t for t in value if _is_tweet(t)]
        return tweets, _inline_media(tweets), []
    if not isinstance(value, dict):
        return [], [], []
    if _is_tweet(value):
        return [value], _inline_media([value]), []
    data = value.get("data") or []
    if isinstance(data, dict):
        data = [data]
    includes = value.get("includes") or {}
    media = includes.get("media") if isinstance(includes, dict) else None
    errors = value.get("errors") or []
    if not errors and not data and "title" in value and "type" in value:
        errors = [value]  # a whole response that is one problem document (401, 429...)
    # a field of the wrong type is treated as absent: the line is data, not code we trust
    return (
        [t for t in _as_list(data) if _is_tweet(t)],
        [m for m in _as_list(media) if _is_media(m)],
        [e for e in _as_list(errors) if isinstance(e, dict)],
    )


def _is_media(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("media_key"), str)


def _inline_media(tweets: list[dict]) -> list[dict]:
    found = []
    for tweet in tweets:
        attachments = tweet.get("attachments")
        inline = attachments.get("media") if isinstance(attachments, dict) else None
        found += [m for m in _as_list(inline) if _is_media(m)]
    return found


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def media_keys(tweet: dict) -> list[str]:
    attachments = tweet.get("attachments")
    if not isinstance(attachments, dict):
        return []
    keys = [k for k in _as_list(attachments.get("media_keys")) if isinstance(k, str)]
    inline = [m["media_key"] for m in _as_list(attachments.get("media")) if _is_media(m)]
    return keys or inline


def _is_tweet(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "text" in value


def _error_id(error: dict) -> str | None:
    value = error.get("resource_id") or error.get("value")
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def error_reason(error: dict) -> str | None:
    """The skip reason of one API v2 ``errors`` entry (see the module doc), None if not counted."""
    if _error_id(error) is None:
        return "api_error"
    return _ERROR_REASONS.get(str(error.get("resource_type") or "tweet").lower())


def _error_detail(error: dict) -> str:
    """ "Not Found Error: Could not find tweet with ids: [1]." (what the API said, briefly)."""
    parts = [str(error.get(k)) for k in ("title", "detail", "message") if error.get(k)]
    return ": ".join(parts)[:300] or "error"


def _is_empty_page(value: Any) -> bool:
    """A v2 page that found nothing: ``{"meta": {"result_count": 0}}``."""
    return isinstance(value, dict) and "meta" in value and not value.get("data")


def _refuse_other_formats(path: Path, first_line: bytes, value: Any) -> None:
    """A clear error for the Twitter archive and for API v1.1 tweets (see the module doc)."""
    if first_line.lstrip().startswith(b"window.YTD."):
        raise QuiltError(
            f"{path} is a Twitter archive (tweets.js), not API v2 responses: hydrate its ids "
            "with the v2 tweets lookup (expansions=attachments.media_keys, "
            "tweet.fields=conversation_id,author_id,attachments, media.fields=url,type)"
        )
    if isinstance(value, dict) and isinstance(value.get("data"), (list, dict)):
        return  # a v2 response
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("tweet", item)  # an archive entry wraps its tweet
        found = [k for k in _V1_FIELDS if isinstance(item, dict) and k in item]
        if found and "id" in item:
            raise QuiltError(
                f"{path} holds Twitter API v1.1 tweets (fields {found}); openpath reads API v2 "
                "responses: re-hydrate the ids with the v2 tweets lookup"
            )


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


SOURCE_KEYS = ("tweets", "requested_ids")  # build.yaml keys of sources.openpath


def plan_shards(
    config: dict, base_dir: Path, shard_size: int, options: dict | None = None
) -> list[ShardTask]:
    """One pass over the tweet files: group line offsets by conversation, then cut into shards.

    Items are ``{"kind": "conversation", "id", "lines": [[path, offset], ...]}``, then
    ``{"kind": "malformed", "path", "line"}`` and ``{"kind": "missing", "id", "detail"}``.
    """
    check_source_keys("openpath", config, SOURCE_KEYS)
    if shard_size < 1:
        raise QuiltError("shard_size must be >= 1")
    files = expand_patterns(config.get("tweets"), base_dir, what="openpath tweets")
    conversations: dict[str, set[tuple[str, int]]] = {}
    malformed: list[dict] = []
    hydrated: set[str] = set()
    errors: dict[str, str] = {}
    other_errors: dict[tuple[str, str], dict] = {}  # (reason, id) -> item; one per user/media
    for path in files:
        for number, offset, raw in _read_lines(path):
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                _refuse_other_formats(path, raw, None)
                malformed.append({"kind": "malformed", "path": str(path), "line": number})
                continue
            _refuse_other_formats(path, raw, value)
            tweets, _media, line_errors = tweets_in(value)
            if not tweets and not line_errors and not _is_empty_page(value):
                where = {"path": str(path), "line": number, "reason": "not_a_v2_response"}
                malformed.append({"kind": "malformed", **where})
            for tweet in tweets:
                tweet_id = str(tweet["id"])
                hydrated.add(tweet_id)
                conversation = str(tweet.get("conversation_id") or tweet_id)
                conversations.setdefault(conversation, set()).add((str(path), offset))
            for error in line_errors:
                reason, error_id = error_reason(error), _error_id(error)
                if reason == "tweet_not_hydrated" and error_id:
                    errors[error_id] = _error_detail(error)
                elif reason:
                    key = (reason, error_id or f"{path.name}:{number}")
                    detail = f"{key[1]}: {_error_detail(error)}"
                    other_errors.setdefault(
                        key, {"kind": "error", "reason": reason, "detail": detail}
                    )
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
    entries += [other_errors[key] for key in sorted(other_errors)]
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


def _withheld_users(value: Any) -> set[str]:
    """Ids of the users in a response's ``includes.users`` that carry ``withheld``."""
    includes = value.get("includes") if isinstance(value, dict) else None
    users = includes.get("users") if isinstance(includes, dict) else None
    return {str(u.get("id")) for u in _as_list(users) if isinstance(u, dict) and u.get("withheld")}


def _load_lines(items: Iterable[dict]) -> tuple[dict[str, dict], dict[str, dict], set[str]]:
    """Tweets by id, media by key and withheld user ids from every line the shard's
    conversations reference."""
    by_path: dict[str, set[int]] = {}
    for item in items:
        for path, offset in item["lines"]:
            by_path.setdefault(path, set()).add(offset)
    tweets: dict[str, dict] = {}
    media: dict[str, dict] = {}
    withheld: set[str] = set()
    for path, offsets in sorted(by_path.items()):
        with open(path, "rb") as handle:
            for offset in sorted(offsets):
                handle.seek(offset)
                value = json.loads(handle.readline())
                withheld |= _withheld_users(value)
                line_tweets, line_media, _ = tweets_in(value)
                for tweet in line_tweets:
                    tweets.setdefault(str(tweet["id"]), tweet)
                for item in line_media:
                    media.setdefault(str(item["media_key"]), item)
    return tweets, media, withheld


def _is_retweet(tweet: dict) -> bool:
    refs = _as_list(tweet.get("referenced_tweets"))
    return any(isinstance(r, dict) and r.get("type") == "retweeted" for r in refs)


def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    conversations = [item for item in task.items if item["kind"] == "conversation"]
    for item in task.items:
        if item["kind"] == "malformed":
            reason = item.get("reason", "malformed_json")
            yield SkipRecord(reason, f"{item['path']}:{item['line']}")
        elif item["kind"] == "missing":
            yield SkipRecord("tweet_not_hydrated", f"{item['id']}: {item['detail']}")
        elif item["kind"] == "error":
            yield SkipRecord(item["reason"], item["detail"])
    tweets, media, withheld_users = _load_lines(conversations)
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
        if _is_retweet(root):
            yield SkipRecord("retweet", conversation)
            continue
        if root.get("withheld") or str(root.get("author_id")) in withheld_users:
            yield SkipRecord("withheld", conversation)
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
        raw_texts = [str(t.get("text") or "") for t in thread]
        own = [clean_caption(text, citations=False).reason for text in raw_texts]
        if own[0] == "placeholder_text":
            yield SkipRecord("placeholder_text", conversation)
            continue
        # a self-reply that is only a placeholder notice (or a bare link) adds no text
        texts = [text for text, reason in zip(raw_texts, own, strict=True) if not reason]
        cleaned = tweet_caption(" ".join(texts))
        if not cleaned.ok:
            reason = "empty_text" if cleaned.reason == EMPTY else cleaned.reason
            yield SkipRecord(reason, conversation)
            continue
        caption = cleaned.text
        tags = pathology_tags(texts)
        pending.extend((conversation, caption, "\n".join(raw_texts), tags, url) for url in urls)

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
