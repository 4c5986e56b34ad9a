"""Property tests (hypothesis) for the parsers of untrusted input: WebVTT/SRT captions, JATS
articles in PMC packages, and Twitter API v2 JSONL.

Two properties for each: any input ends in a result or in our own clear error (``QuiltError``
raised, or ``SkipRecord`` raised or yielded), never in another exception; and every *valid*
generated document round-trips, its content coming back out exactly (so a parser that refused
everything would fail). Junk is drawn three ways: arbitrary values, structured generators of the
format (so the deep code paths are reached, not only the first syntax check), and mutations
(truncation, deletion, byte flips, hostile snippets) of valid documents. Examples are bounded and
deadlines off so CI stays stable.
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
from quilt_hf.sources import openpath, pubmed
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


# Valid captions, drawn: words are letters (no markup, no sound events), cues do not overlap.
_spoken = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9)


@st.composite
def timed_lines(draw: st.DrawFn, min_words: int = 1) -> list[tuple[int, int, list[str]]]:
    """(start ms, end ms, words) for 1-6 consecutive cues, each line unlike the one before."""
    cues, t = [], draw(st.integers(0, 3_600_000))
    for _ in range(draw(st.integers(1, 6))):
        words = draw(st.lists(_spoken, min_size=min_words, max_size=5))
        if cues and words == cues[-1][2]:
            words = [*words, "more"]
        start = t + draw(st.integers(0, 5_000))
        end = start + draw(st.integers(100 * len(words), 10_000))
        cues.append((start, end, words))
        t = end
    return cues


def _clock(ms: int, comma: bool = False) -> str:
    text = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
    return text.replace(".", ",") if comma else text


def render_vtt(cues: list[tuple[int, int, list[str]]]) -> str:
    blocks = [f"{_clock(a)} --> {_clock(b)}\n{' '.join(w)}" for a, b, w in cues]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def render_srt(cues: list[tuple[int, int, list[str]]]) -> str:
    blocks = [
        f"{n}\n{_clock(a, True)} --> {_clock(b, True)}\n{' '.join(w)}"
        for n, (a, b, w) in enumerate(cues, start=1)
    ]
    return "\n\n".join(blocks) + "\n"


def render_youtube_rolling(cues: list[tuple[int, int, list[str]]]) -> tuple[str, list[float]]:
    """YouTube's auto-caption layout (see ROLLING_VTT): each cue repeats the previous line, then
    the new line with an inline time before every word after the first, then a 10 ms flip cue
    with the finished line alone. Returns the document and every word's start in seconds."""
    blocks, starts, previous = [], [], " "
    for start, end, words in cues:
        step = (end - start) // len(words)
        times = [start + i * step for i in range(len(words))]
        starts += [t / 1000 for t in times]
        timed = words[0] + "".join(
            f"<{_clock(t)}><c> {w}</c>" for t, w in zip(times[1:], words[1:], strict=True)
        )
        blocks.append(
            f"{_clock(start)} --> {_clock(end)} align:start position:0%\n{previous}\n{timed}"
        )
        previous = " ".join(words)
        blocks.append(
            f"{_clock(end)} --> {_clock(end + 10)} align:start position:0%\n{previous}\n "
        )
    return "WEBVTT\nKind: captions\nLanguage: en\n\n" + "\n\n".join(blocks) + "\n", starts


def assert_cue_words(transcript, cues: list[tuple[int, int, list[str]]]) -> None:
    assert [w.text for w in transcript.words] == [w for _, _, words in cues for w in words]
    at = 0
    for start, end, words in cues:  # every word inside its cue; a cue's words share its span
        mine = transcript.words[at : at + len(words)]
        at += len(words)
        assert mine[0].start == pytest.approx(start / 1000, abs=1e-3)
        assert mine[-1].end == pytest.approx(end / 1000, abs=1e-3)
        assert all(start / 1000 - 1e-3 <= w.start <= w.end <= end / 1000 + 1e-3 for w in mine)


@FUZZ
@given(timed_lines())
def test_valid_vtt_and_srt_round_trip(cues):
    assert_cue_words(parse_captions(render_vtt(cues)), cues)
    assert_cue_words(parse_captions(render_srt(cues), fmt="srt"), cues)


@FUZZ
@given(timed_lines(min_words=2))  # a one-word line carries no inline time: not a rolling line
def test_valid_youtube_rolling_captions_round_trip_with_word_times(cues):
    document, starts = render_youtube_rolling(cues)
    transcript = parse_captions(document)
    assert transcript.meta["rolling"] is True
    assert [w.text for w in transcript.words] == [w for _, _, words in cues for w in words]
    assert [w.start for w in transcript.words] == pytest.approx(starts, abs=1e-3)


@SLOW_FUZZ
@given(timed_lines(), st.sampled_from([".vtt", ".srt", ".VTT"]))
def test_valid_caption_files_round_trip(cues, suffix):
    text = render_srt(cues) if suffix == ".srt" else render_vtt(cues)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"captions{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # BOM, CRLF
        assert_cue_words(read_captions(path), cues)


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


# Valid articles, drawn: figures with a label, an optional title and a caption paragraph that
# uses entities and inline markup the way PMC articles do.
CAPTION_WORDS = [
    ("granulomas", "granulomas"),
    ("lymph", "lymph"),
    ("node", "node"),
    ("H&amp;E", "H&E"),
    ("<italic>in situ</italic>", "in situ"),
    ("<bold>Ki-67</bold>", "Ki-67"),
    ("40&#215;", "40\u00d7"),
    ("CD3<sup>+</sup>", "CD3\u207a"),  # sup rendered as its Unicode superscript
    ("&lt;5%", "<5%"),
    ("steatosis.", "steatosis."),
]
LICENSES = [("https://creativecommons.org/licenses/by/4.0/", "CC BY 4.0"), (None, "")]
_caption = st.lists(st.sampled_from(CAPTION_WORDS), min_size=1, max_size=8)


@st.composite
def valid_articles(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str, bytes]], str]:
    """(nxml, [(figure id, expected caption, image bytes)], expected licence)."""
    from sources_fixtures import make_jpeg

    figures, expected = [], []
    for number in range(1, draw(st.integers(1, 3)) + 1):
        title = draw(st.one_of(st.just([]), _caption))
        words = draw(_caption)
        xml_title = " ".join(x for x, _ in title)
        figures.append(
            fig(
                f"f{number}",
                f"Figure {number}",
                xml_title,
                " ".join(x for x, _ in words),
                f"f{number}",
            )
        )
        caption = " ".join(text for _, text in [*title, *words])
        expected.append((f"f{number}", caption, make_jpeg(number)))
    href, licence = draw(st.sampled_from(LICENSES))
    pmcid = f"PMC{draw(st.integers(1, 99_999_999))}"
    return jats_article(pmcid, figures, license_href=href).encode(), expected, licence


@FUZZ
@given(valid_articles())
def test_valid_jats_round_trips(article):
    nxml, expected, licence = article
    root = pubmed.parse_jats(nxml, "valid.nxml")
    assert pubmed.article_license(root) == licence
    assert [pubmed.figure_caption(f)[0] for f in root.iter("fig")] == [c for _, c, _ in expected]


@SLOW_FUZZ
@given(valid_articles())
def test_valid_pmc_packages_give_every_figure_as_a_pair(article):
    from sources_fixtures import write_package

    nxml, expected, licence = article
    pmcid = "PMC" + nxml.split(b'pub-id-type="pmc">')[1].split(b"<")[0].decode()
    files = {"article.nxml": nxml, **{f"{name}.jpg": image for name, _, image in expected}}
    with tempfile.TemporaryDirectory() as folder:
        package = write_package(Path(folder) / f"{pmcid}.tar.gz", pmcid, files)
        task = ShardTask("pubmed", "pubmed-00000", (str(package),), {})
        items = list(pubmed.iter_candidates(task))
    assert all(isinstance(i, Candidate) for i in items), items
    assert [(i.source_id, i.caption, i.image_bytes) for i in items] == [
        (f"{pmcid}/{name}", caption, image) for name, caption, image in expected
    ]
    assert {i.fields["license"] for i in items} == {licence}


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
    assert items and all(isinstance(i, SkipRecord) for i in items), items


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
        tasks = openpath.plan_shards({"tweets": [tweets.name]}, folder, 3, download)
    except QuiltError:
        return []
    items = []
    for task in tasks:
        json.dumps(list(task.items))
        for item in openpath.iter_candidates(task):
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


TWEET_WORDS = [
    ("granulomas", "granulomas"),
    ("lymph", "lymph"),
    ("node", "node"),
    ("H&amp;E", "H&E"),
    ("40x", "40x"),
    ("caf\u00e9-au-lait", "caf\u00e9-au-lait"),
    ("&lt;2mm", "<2mm"),
    ("#pathology", ""),  # a community hashtag: dropped wherever it stands
]
_tweet_words = st.lists(st.sampled_from(TWEET_WORDS), min_size=1, max_size=6).filter(
    lambda words: any(text for _, text in words)
)


@st.composite
def valid_threads(draw: st.DrawFn, url: str) -> tuple[dict, list[tuple[str, str]], int]:
    """(v2 response, [(conversation id, expected caption)], replies by other authors)."""
    tweets, expected, others = [], [], 0
    for number in range(draw(st.integers(1, 3))):
        root_id = str(1000 + 10 * number)
        words = draw(_tweet_words)
        mention = draw(st.sampled_from(["", "@histo_fan "]))
        link = draw(st.sampled_from(["", " https://t.co/Ab12Cd"]))
        tail = draw(st.sampled_from(["", " #dermpath", " #dermpath #FOAMed"]))
        text = mention + " ".join(x for x, _ in words) + link + tail
        tweets.append(tweet(root_id, text, "u1", media_keys=["m1"]))
        caption = [t for _, t in words if t]
        if draw(st.booleans()):  # the author continues the case in a self-reply
            more = draw(_tweet_words)
            tweets.append(
                tweet(
                    str(int(root_id) + 1),
                    " ".join(x for x, _ in more),
                    "u1",
                    root_id,
                    reply_to=root_id,
                )
            )
            caption += [t for _, t in more if t]
        if draw(st.booleans()):
            tweets.append(
                tweet(str(int(root_id) + 2), "nice case!", "u2", root_id, reply_to=root_id)
            )
            others += 1
        expected.append((root_id, " ".join(caption)))
    return api_response(tweets, [photo("m1", url)]), expected, others


@SLOW_FUZZ
@given(data=st.data())
def test_valid_threads_round_trip_to_pairs(media_server, data):
    from sources_fixtures import make_jpeg

    response, expected, others = data.draw(valid_threads(media_server.base + "/m1.jpg"))
    with tempfile.TemporaryDirectory() as folder:
        items = run_twitter([response], Path(folder))
    pairs = [i for i in items if isinstance(i, Candidate)]
    assert [(p.source_id, p.caption) for p in pairs] == expected
    assert all(p.image_bytes == make_jpeg(0) for p in pairs)
    assert [i.reason for i in items if isinstance(i, SkipRecord)] == [
        "reply_by_other_author"
    ] * others


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
    cleaned = openpath.clean_tweet_text(text)
    assert cleaned == cleaned.strip()
    assert not re.search(r"https?://\S", cleaned)
    assert isinstance(openpath.pathology_tags([text]), list)


@FUZZ
@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz\u00e9", min_size=1, max_size=9), min_size=1
    ),
    st.sampled_from([" ", "  ", "\n", " \t "]),
)
def test_plain_tweet_words_survive_cleaning(words, separator):
    """Words without markup, links, mentions or hashtags come through unchanged. The text opens
    with a real word so that it is never a whole placeholder ("undefined", "null", "image"), which
    the cleaner rightly drops."""
    words = ["granuloma", *words]
    assert openpath.clean_tweet_text(separator.join(words)) == " ".join(words)
