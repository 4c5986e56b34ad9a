"""Property tests (hypothesis) for the parsers of untrusted input: WebVTT/SRT captions, JATS
articles in PMC packages, and Twitter API v2 JSONL.

The property is the same for all three: any input ends in a result or in our own clear error
(``QuiltError`` raised, or ``SkipRecord`` raised or yielded), never in another exception. Inputs are
drawn three ways: arbitrary values, structured generators of the format (so the deep code paths are
reached, not only the first syntax check), and mutations (truncation, deletion, byte flips, hostile
snippets) of valid documents. Examples are bounded and deadlines off so CI stays stable.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sources_fixtures import api_response, fig, jats_article, make_composite, photo, tweet

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources import pubmed, twitter
from quilt_hf.text.captions import parse_captions, read_captions

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW_FUZZ = settings(FUZZ, max_examples=100)  # each example writes files


# --- mutations of valid documents -----------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, snippets: list[bytes]) -> bytes:
    """``seed`` after 1-4 random edits: truncate, delete a span, insert a snippet, flip a byte."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["truncate", "delete", "insert", "flip"]))
        if edit == "truncate":
            del data[at:]
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif edit == "insert":
            snippet = draw(st.one_of(st.sampled_from(snippets), st.binary(max_size=16)))
            data[at:at] = snippet
        elif data and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


# --- WebVTT / SRT -----------------------------------------------------------------------------

ROLLING_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.350 align:start position:0%

here<00:00:00.480><c> we</c><00:00:00.960><c> see</c><00:00:01.440><c> a</c>

00:00:02.350 --> 00:00:02.360 align:start position:0%
here we see a
\u0020
00:00:02.360 --> 00:00:05.000 align:start position:0%
here we see a
lymph<00:00:02.800><c> node</c><00:00:03.500><c> with</c> [Music]

NOTE a comment block

00:00:05.000 --> 00:00:07.500
<v Speaker>granulomas &amp; giant cells</v>
"""
SRT = "1\n00:00:00,000 --> 00:00:02,000\nH&amp;E stain\n\n2\n00:00:02,000 --> 00:00:04,500\nof a <i>lymph node</i>\n"
VTT_SNIPPETS = [
    b"-->",
    b" --> ",
    b"\n\n",
    b"\r",
    b"<00:00:01.000>",
    b"<99:99:99.999>",
    b"<c>",
    b"</c>",
    b"&amp;",
    b"&#x0;",
    b"NOTE ",
    b"STYLE\n::cue {}",
    b"REGION\nid:x",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"00:00:00.000 --> 00:00:00.000",
    b"[Music]",
    b"\x00",
]

_time = st.builds(
    lambda h, m, s, ms, short: (
        f"{m:02d}:{s:02d}.{ms:03d}" if short else f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    ),
    st.integers(0, 99),
    st.integers(0, 99),  # out-of-range minutes/seconds on purpose
    st.integers(0, 99),
    st.integers(0, 999),
    st.booleans(),
)
_word = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
_rolling_line = st.builds(
    lambda first, rest: first + "".join(f"<{t}><c> {w}</c>" for t, w in rest),
    _word,
    st.lists(st.tuples(_time, _word), max_size=4),
)
_cue_text = st.lists(st.one_of(_word, _rolling_line, st.just("[Music]"), st.just("")), max_size=3)
_cue = st.builds(
    lambda ident, start, end, settings_, lines: (
        (f"{ident}\n" if ident else "") + f"{start} --> {end}{settings_}\n" + "\n".join(lines)
    ),
    st.one_of(st.none(), st.text(alphabet="abc123-", max_size=6)),
    _time,
    _time,
    st.sampled_from(["", " align:start position:0%", " line:90%", " bogus"]),
    _cue_text,
)
structured_vtt = st.builds(
    lambda header, cues, sep: header + sep.join(cues),
    st.sampled_from(["WEBVTT\n\n", "WEBVTT - title\nKind: captions\n\n", "\ufeffWEBVTT\n\n", ""]),
    st.lists(_cue, max_size=6),
    st.sampled_from(["\n\n", "\n", "\r\n\r\n", "\n\n\n"]),
)


def assert_transcript_or_quilt_error(text: str, fmt: str) -> None:
    try:
        transcript = parse_captions(text, fmt=fmt)
    except QuiltError:
        return
    assert transcript.words, "a transcript without words must be a QuiltError"
    for word in transcript.words:
        assert 0 <= word.start <= word.end and word.text.strip()


@FUZZ
@given(st.one_of(structured_vtt, mutated(ROLLING_VTT.encode(), VTT_SNIPPETS)))
def test_vtt_parser_gives_a_transcript_or_a_quilt_error(document):
    text = document if isinstance(document, str) else document.decode("utf-8", errors="replace")
    assert_transcript_or_quilt_error(text, "vtt")


@FUZZ
@given(st.one_of(st.text(max_size=300), mutated(SRT.encode(), [b",", b" --> ", b"\n\n", b"1\n"])))
def test_srt_parser_gives_a_transcript_or_a_quilt_error(document):
    text = document if isinstance(document, str) else document.decode("utf-8", errors="replace")
    assert_transcript_or_quilt_error(text, "srt")


@SLOW_FUZZ
@given(st.binary(max_size=400), st.sampled_from([".vtt", ".srt", ".txt"]))
def test_caption_files_of_any_bytes_read_or_raise_quilt_error(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"captions{suffix}"
        path.write_bytes(data)
        try:
            transcript = read_captions(path)
        except QuiltError:
            return
        assert transcript.words


def test_the_vtt_seeds_are_valid():
    # The mutations start from documents the parser accepts (else the fuzzing proves little).
    rolling = parse_captions(ROLLING_VTT)
    assert [w.text for w in rolling.words][:6] == ["here", "we", "see", "a", "lymph", "node"]
    srt = parse_captions(SRT, fmt="srt")
    assert " ".join(w.text for w in srt.words) == "H&E stain of a lymph node"


# --- JATS in PMC packages ---------------------------------------------------------------------

FIGURE_PNG = make_composite((1, 2))
JATS_SEED = jats_article(
    "PMC123",
    [
        fig("f1", "Figure 1", "Lymph node", "(A) Granulomas. (B) Giant cells.", "f1"),
        fig("f2", "Figure 2", "", "Figure 2. H&amp;E of skin, 20x.", "missing"),
    ],
    license_href="https://creativecommons.org/licenses/by/4.0/",
).encode()
JATS_SNIPPETS = [
    b'<!DOCTYPE article [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    b'<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!ENTITY % pe SYSTEM "http://127.0.0.1:9/x.dtd"> %pe;',
    b"&lol2;",
    b"&xxe;",
    b"&undefined;",
    b"&#0;",
    b"&#x110000;",
    b"<![CDATA[ <fig> ]]>",
    b"<!-- -->",
    b"<?pi data?>",
    b'<?xml version="1.1" encoding="latin-1"?>',
    b"<fig>",
    b'<fig id="../../x">',
    b"</caption>",
    b'<graphic xlink:href="../../etc/passwd"/>',
    b'<graphic xlink:href="C:\\\\x.jpg"/>',
    b'<graphic xlink:href="http://127.0.0.1:9/x.jpg"/>',
    b'<graphic xlink:href="/abs.png"/>',
    b'<article-id pub-id-type="pmc">PMC</article-id>',
    b'<license xlink:href="">',
    b'xmlns:ali="http://www.niso.org/schemas/ali/1.0/"',
    b"<ali:license_ref>https://creativecommons.org/publicdomain/zero/1.0/</ali:license_ref>",
    b"\x00",
    b"\xff\xfe",
]

_tags = st.sampled_from(
    [
        "fig",
        "caption",
        "label",
        "title",
        "p",
        "graphic",
        "article-id",
        "license",
        "sec",
        "body",
        "permissions",
        "license-p",
        "fig-group",
        "bold",
        "italic",
    ]  # fmt: skip
)
_attr_values = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(
        ["f1", "../x", "pmc", "PMC42", "a/b", "https://creativecommons.org/licenses/by/4.0/"]
    ),
)
_attrs = st.dictionaries(
    st.sampled_from(["id", "xlink:href", "href", "pub-id-type", "license-type"]),
    _attr_values,
    max_size=3,
)
_xml_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20
).map(lambda s: s.replace("&", "&amp;").replace("<", "&lt;"))


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def render(tag: str, attrs: dict, parts: list[str]) -> str:
        attributes = "".join(
            f' {k}="{v.replace(chr(34), "&quot;").replace("&", "&amp;").replace("<", "&lt;")}"'
            for k, v in attrs.items()
        )
        return f"<{tag}{attributes}>{''.join(parts)}</{tag}>"

    return st.builds(render, _tags, _attrs, st.lists(children, max_size=4))


_body = st.recursive(
    st.one_of(_xml_text, st.sampled_from(["&amp;", "&#955;", "&lt;b&gt;"])), _element, max_leaves=20
)
structured_jats = st.builds(
    lambda body: (
        '<?xml version="1.0"?><article xmlns:xlink="http://www.w3.org/1999/xlink">'
        f'<front><article-meta><article-id pub-id-type="pmc">7</article-id></article-meta></front>{body}</article>'
    ).encode(),
    _body,
)


def _package(folder: Path, nxml: bytes) -> Path:
    path = folder / "PMC7.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("PMC7/article.nxml", nxml), ("PMC7/f1.png", FIGURE_PNG)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def run_pubmed(nxml: bytes) -> list[Candidate | SkipRecord]:
    with tempfile.TemporaryDirectory() as folder:
        task = ShardTask("pubmed", "pubmed-00000", (str(_package(Path(folder), nxml)),), {})
        items = list(pubmed.iter_candidates(task))
    for item in items:
        assert isinstance(item, (Candidate, SkipRecord)), item
        if isinstance(item, Candidate):
            assert item.caption.strip() and item.image_bytes and item.source_id.startswith("PMC")
    return items


def test_jats_with_an_unknown_encoding_is_a_malformed_xml_skip():
    data = JATS_SEED.replace(b'encoding="UTF-8"', b'encoding="TF-8"', 1)
    (skip,) = run_pubmed(data)
    assert skip.reason == "malformed_xml"


@FUZZ
@given(st.one_of(st.binary(max_size=300), structured_jats, mutated(JATS_SEED, JATS_SNIPPETS)))
def test_jats_parser_returns_an_element_or_a_skip(data):
    try:
        root = pubmed.parse_jats(data, "fuzz.nxml")
    except SkipRecord as skip:
        assert skip.reason in ("hostile_xml", "malformed_xml")
        return
    pubmed.article_license(root)
    for figure in root.iter("fig"):
        caption, raw = pubmed.figure_caption(figure)
        assert isinstance(caption, str) and isinstance(raw, str)


@SLOW_FUZZ
@given(st.one_of(structured_jats, mutated(JATS_SEED, JATS_SNIPPETS)))
def test_pmc_packages_with_any_article_give_pairs_or_skips(nxml):
    run_pubmed(nxml)


def test_the_jats_seed_is_valid_and_entity_declarations_are_hostile():
    items = run_pubmed(JATS_SEED)
    assert sum(isinstance(i, Candidate) for i in items) == 3  # the figure and its two panels
    assert any(isinstance(i, SkipRecord) and i.reason == "graphic_not_found" for i in items)
    head, _, article = JATS_SEED.partition(b"<article ")
    bomb = head.split(b"<!DOCTYPE")[0] + JATS_SNIPPETS[0] + b"<article " + article
    bomb = bomb.replace(b"A case", b"&lol2;")
    (skip,) = run_pubmed(bomb)
    assert skip.reason == "hostile_xml"


# --- Twitter API v2 JSONL ---------------------------------------------------------------------

# Strings without ":" so that no generated value is a fetchable url: arbitrary JSON must never
# make the downloader reach for the network (unsupported_url is decided before any connection).
_json_text = st.text(max_size=12).map(lambda s: s.replace(":", "_"))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        _json_text,
        st.sampled_from(["100", "m1", "photo", "data", "includes", "media"]),
    ),  # fmt: skip
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                _json_text,
                st.sampled_from(
                    [
                        "id",
                        "text",
                        "data",
                        "includes",
                        "media",
                        "errors",
                        "media_key",
                        "type",
                        "url",
                        "attachments",
                        "media_keys",
                        "conversation_id",
                        "author_id",
                        "resource_id",
                        "value",
                        "title",
                    ]  # fmt: skip
                ),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def _api_seed(url: str) -> dict:
    root = tweet("100", "Granulomas in a lymph node #dermpath", "u1", media_keys=["m1"])
    reply = tweet("101", "H&amp;E, 40x", "u1", "100", reply_to="100")
    return api_response([root, reply], [photo("m1", url)], missing_ids=["999"])


@st.composite
def mutated_api_response(draw: st.DrawFn, url: str) -> object:
    """A valid v2 response with 1-3 values anywhere in it replaced by arbitrary JSON."""
    value: object = _api_seed(url)
    for _ in range(draw(st.integers(1, 3))):
        value = _replace_somewhere(draw, value)
    return value


def _replace_somewhere(draw: st.DrawFn, value: object) -> object:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _replace_somewhere(draw, value[key])}
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], _replace_somewhere(draw, value[index]), *value[index + 1 :]]
    return draw(json_values)


WRONG_TYPED_TWEETS = {
    "data_scalar": [{"data": 1}],
    "media_scalar": [{"includes": {"media": 1}}],
    "errors_scalar": [{"errors": True}],
    "attachments_scalar": [{"id": "1", "text": "x", "attachments": 1}],
    "media_keys_scalar": [{"id": "1", "text": "x", "attachments": {"media_keys": 7}}],
    "media_key_list": [{"id": "1", "text": "x", "attachments": {"media_keys": [["m"]]}}],
}


@pytest.mark.parametrize("name", sorted(WRONG_TYPED_TWEETS))
def test_wrong_typed_tweet_fields_become_skips(name, tmp_path):
    lines = WRONG_TYPED_TWEETS[name]
    items = run_twitter(lines, tmp_path)
    assert all(isinstance(i, SkipRecord) for i in items)


def test_a_deeply_nested_line_is_malformed_json(tmp_path):
    (skip,) = run_twitter([b"[" * 100_000], tmp_path)
    assert skip.reason == "malformed_json"


def run_twitter(lines: list[object | bytes], folder: Path) -> list[Candidate | SkipRecord]:
    tweets = folder / "tweets.jsonl"
    with tweets.open("wb") as handle:
        for line in lines:
            raw = line if isinstance(line, bytes) else json.dumps(line).encode()
            handle.write(raw.replace(b"\n", b" ") + b"\n")
    download = {"download": {"timeout": 1.0, "retries": 0, "threads": 2}}
    try:
        tasks = twitter.plan_shards({"tweets": [tweets.name]}, folder, 3, download)
    except QuiltError:
        return []
    items = []
    for task in tasks:
        json.dumps(list(task.items))
        for item in twitter.iter_candidates(task):
            assert isinstance(item, (Candidate, SkipRecord)), item
            items.append(item)
    return items


@pytest.fixture(scope="module")
def media_server():
    from fault_server import FaultServer
    from sources_fixtures import make_jpeg

    with FaultServer() as server:
        server.add("/m1.jpg", body=make_jpeg(0))
        yield server


def test_the_tweet_seed_is_valid(media_server, tmp_path):
    items = run_twitter([_api_seed(media_server.base + "/m1.jpg")], tmp_path)
    (pair,) = [i for i in items if isinstance(i, Candidate)]
    assert pair.caption == "Granulomas in a lymph node H&E, 40x"
    assert [i.reason for i in items if isinstance(i, SkipRecord)] == ["tweet_not_hydrated"]


@SLOW_FUZZ
@given(
    lines=st.lists(
        st.one_of(json_values, st.binary(max_size=40), st.just(b"[" * 5000)), min_size=1, max_size=4
    )
)
def test_tweet_lines_of_any_json_give_pairs_or_skips(lines):
    with tempfile.TemporaryDirectory() as folder:
        run_twitter(lines, Path(folder))


@SLOW_FUZZ
@given(data=st.data())
def test_mutated_api_responses_give_pairs_or_skips(media_server, data):
    url = media_server.base + "/m1.jpg"
    lines = data.draw(st.lists(mutated_api_response(url), min_size=1, max_size=3))
    with tempfile.TemporaryDirectory() as folder:
        run_twitter(lines, Path(folder))


@FUZZ
@given(st.text(max_size=200))
def test_tweet_text_cleaning_never_fails(text):
    cleaned = twitter.clean_tweet_text(text)
    assert cleaned == cleaned.strip()
    assert not re.search(r"https?://\S", cleaned)
    assert isinstance(twitter.pathology_tags([text]), list)
