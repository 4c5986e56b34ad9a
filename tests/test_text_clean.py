"""The shared caption cleaner, and one build through the CLI showing its skip reasons counted in
build_stats.json and the dataset card."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sources_fixtures import ImageServer, make_jpeg

from quilt_hf.cli import main
from quilt_hf.text.clean import clean_caption, repair


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("&quot;Keep Calm&quot; poster", '"Keep Calm" poster'),
        ("&lt;i&gt;Helicobacter&lt;/i&gt; gastritis &copy; 2020", "Helicobacter gastritis © 2020"),
        ("line one<br />line two<br>three", "line one line two three"),
        ("&amp;quot;twice&amp;quot;", '"twice"'),
        ("<!-- tracking --> <b>Bold</b> text", "Bold text"),
        ("cafÃ© au lait macules", "café au lait macules"),  # mojibake
        ("ﬁbrosis and ＣＤ３", "fibrosis and CD3"),  # ligature and full-width forms
        ("Ki-67 was high [28,39] and low [3-5, 9].", "Ki-67 was high and low."),
        ("see https://t.co/abc and www.example.org/x now", "see and now"),
        ("thanks @path_doc , nice", "thanks, nice"),
        ("mail me@example.org ok", "mail me@example.org ok"),  # an address is not a handle
        ("  spaced \t\n out  ", "spaced out"),
        ("a < b and 5 > 3", "a < b and 5 > 3"),  # comparisons are not tags
        ("Image of a granuloma", "Image of a granuloma"),  # a word, not a placeholder
    ],
)
def test_cleaning_rules(raw, clean):
    result = clean_caption(raw)
    assert (result.text, result.reason) == (clean, "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty_caption"),
        (float("nan"), "empty_caption"),
        ("   ", "empty_caption"),
        ("image not found", "placeholder_text"),
        ("No image available", "placeholder_text"),
        ("IMG_20190304_112233.jpg", "placeholder_text"),
        ("untitled", "placeholder_text"),
        ("This Tweet is unavailable.", "placeholder_text"),
        ("<p><br/></p>", "emptied_by_cleaning"),
        ("https://t.co/abc @someone", "emptied_by_cleaning"),
        ("[12]", "emptied_by_cleaning"),
    ],
)
def test_emptied_captions_say_why(raw, reason):
    result = clean_caption(raw)
    assert result.text == "" and not result.ok and result.reason == reason


def test_options_and_repair():
    assert clean_caption("@handle kept [1]", handles=False, citations=False).text == (
        "@handle kept [1]"
    )
    # repair judges nothing: a cue line reading "image" or holding a url stays words
    assert repair("image &amp; <i>https://x.org</i>") == "image & https://x.org"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_cleaned_or_given_a_reason(text):
    result = clean_caption(text)
    assert isinstance(result.text, str)
    assert bool(result.text) != bool(result.reason)
    assert result.text == result.text.strip() and "  " not in result.text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["gland", "nuclei", "H&E", "stroma", "x40", "CD3+"]), min_size=1))
def test_plain_captions_come_through_unchanged(words):
    caption = " ".join(words)  # a cleaner that emptied or mangled everything fails here
    assert clean_caption(caption).text == caption


def test_build_counts_cleaning_skips_in_stats_and_card(tmp_path):
    with ImageServer() as server:
        urls = [server.add(f"/c{i}.jpg", body=make_jpeg(i, size=(96, 96))) for i in range(4)]
        table = pa.table(
            {
                "URL": urls,
                "TEXT": ["&lt;b&gt;Colon&lt;/b&gt; biopsy", "image not found", "<br/>", "Liver"],
                "similarity": [0.4] * 4,
            }
        )
        pq.write_table(table, tmp_path / "meta.parquet")
        (tmp_path / "build.yaml").write_text(
            "name: clean_test\nshard_size: 8\nval_fraction: 0.5\n"
            "image: {min_side: 32}\n"
            "filters: {keep_non_histology: true, min_caption_chars: 1}\n"
            "download: {timeout: 2.0, retries: 0, threads: 2}\n"
            "sources: {laion: {metadata: meta.parquet}}\n"
        )
        out = tmp_path / "out"
        assert main(["build", "--config", str(tmp_path / "build.yaml"), "--out", str(out)]) == 0
    stats = json.loads((out / "build_stats.json").read_text())
    assert stats["skipped"].get("placeholder_text") == 1
    assert stats["skipped"].get("emptied_by_cleaning") == 1
    card = (out / "README.md").read_text()
    assert "placeholder_text" in card and "emptied_by_cleaning" in card
