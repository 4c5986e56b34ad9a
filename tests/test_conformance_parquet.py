"""LAION / img2dataset parquet conformance for the laion source: metadata files laid out as the real
producers lay them out (schemas read from their docs and public code, rows written here).

Covered: LAION-400M (``SAMPLE_ID, URL, TEXT, HEIGHT, WIDTH, LICENSE, NSFW, similarity``), LAION-5B
subsets (``punsafe``, ``pwatermark``, ``LANGUAGE``), img2dataset output (``url, caption, key,
status, error_message, width, height, original_width, original_height, exif, sha256``) and an
img2dataset input whose caption column is ``txt``, DataComp (``uid, url, text,
clip_b32_similarity_score``), COYO (``id, url, text, clip_similarity_vitb32``), a scraper's
``link``/``alt``; column names chosen in build.yaml; NaN and empty captions, NaN similarity, a
caption column pandas wrote as all-NaN floats, captions as binary, a string column holding bytes
that are not UTF-8, HTML entities and tags and placeholder alt texts in captions, a file with no
caption column (a clear error naming the columns found).
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sources_fixtures import ImageServer, make_jpeg

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.records import Candidate
from quilt_hf.sources import laion

DOWNLOAD = {"download": {"timeout": 2, "retries": 0, "threads": 4}}


@pytest.fixture()
def server():
    with ImageServer() as running:
        yield running


def build(tmp_path, table: pa.Table, **config):
    pq.write_table(table, tmp_path / "meta.parquet", row_group_size=3)
    tasks = laion.plan_shards({"metadata": "meta.parquet", **config}, tmp_path, 4, DOWNLOAD)
    out = []
    for task in tasks:
        json.dumps(list(task.items))
        out.extend(laion.iter_candidates(task))
    return [c for c in out if isinstance(c, Candidate)], [
        s for s in out if isinstance(s, SkipRecord)
    ]


# --- issue 13 regressions -------------------------------------------------------------------


def test_html_in_laion_captions_is_unescaped_and_stripped(tmp_path, server):
    urls = [server.add(f"/h{i}.jpg", body=make_jpeg(i)) for i in range(4)]
    texts = [
        "&quot;Keep Calm&quot; and carry on poster",
        "Gland &lt;i&gt;in situ&lt;/i&gt; &copy; 2019 Pathology Inc",
        "H&amp;E stain<br />of the colon",
        "&amp;quot;double escaped&amp;quot; caption",
    ]
    table = pa.table({"URL": urls, "TEXT": texts, "similarity": [0.4] * 4})
    kept, skips = build(tmp_path, table)
    assert [c.caption for c in kept] == [
        '"Keep Calm" and carry on poster',
        "Gland in situ © 2019 Pathology Inc",
        "H&E stain of the colon",
        '"double escaped" caption',
    ]
    assert kept[1].fields["noisy_text"] == texts[1]  # the raw alt text is kept as noisy_text
    assert skips == []


def test_img2dataset_txt_caption_column_is_read(tmp_path, server):
    urls = [server.add(f"/t{i}.jpg", body=make_jpeg(i)) for i in range(3)]
    table = pa.table({"url": urls, "txt": ["one", "two", "three"], "key": ["0", "1", "2"]})
    kept, skips = build(tmp_path, table)
    assert [c.caption for c in kept] == ["one", "two", "three"]
    assert skips == []


def test_no_caption_column_is_a_clear_error_naming_the_columns(tmp_path):
    pq.write_table(pa.table({"url": ["http://x/1"], "description": ["d"]}), tmp_path / "m.parquet")
    with pytest.raises(QuiltError, match=r"no caption column.*'url', 'description'"):
        laion.plan_shards({"metadata": "m.parquet"}, tmp_path, 4, DOWNLOAD)
    # naming the column in build.yaml reads it
    tasks = laion.plan_shards(
        {"metadata": "m.parquet", "caption_column": "description"}, tmp_path, 4, DOWNLOAD
    )
    rows = [r for t in tasks for i in t.items for r in laion.read_rows(**i)]
    assert [r["caption"] for r in rows] == ["d"]


def test_build_yaml_column_settings(tmp_path, server):
    urls = [server.add(f"/y{i}.jpg", body=make_jpeg(i)) for i in range(2)]
    table = pa.table(
        {
            "image_link": urls,
            "caption": ["not this one", "nor this"],
            "alt_text_en": ["Reticulin stain", "Trichrome stain"],
            "score": [0.5, 0.1],
        }
    )
    config = {
        "url_column": "image_link",
        "caption_column": "alt_text_en",
        "similarity_column": "score",
        "min_similarity": 0.3,
    }
    kept, skips = build(tmp_path, table, **config)
    assert [c.caption for c in kept] == ["Reticulin stain"]
    assert [s.reason for s in skips] == ["low_similarity"]
    with pytest.raises(QuiltError, match="no url column.*'nope'"):
        laion.plan_shards({"metadata": "meta.parquet", "url_column": "nope"}, tmp_path, 4, {})
    with pytest.raises(QuiltError, match="caption_column must be a column name"):
        laion.plan_shards({"metadata": "meta.parquet", "caption_column": 3}, tmp_path, 4, {})


# --- the producers' schemas ---------------------------------------------------------------


def laion_400m(urls):
    n = len(urls)
    return pa.table(
        {
            "SAMPLE_ID": pa.array(range(n), pa.int64()),
            "URL": urls,
            "TEXT": [f"Histology slide {i}" for i in range(n)],
            "HEIGHT": pa.array([48] * n, pa.int32()),
            "WIDTH": pa.array([64] * n, pa.int32()),
            "LICENSE": ["?"] * (n - 1) + ["https://creativecommons.org/licenses/by-nc-sa/4.0/"],
            "NSFW": ["UNLIKELY"] * n,
            "similarity": pa.array([0.31] * n, pa.float64()),
        }
    )


def img2dataset_output(urls):
    n = len(urls)
    return pa.table(
        {
            "url": urls,
            "caption": [f"Histology slide {i}" for i in range(n)],
            "key": [f"{i:09d}" for i in range(n)],
            "status": ["success"] * (n - 1) + ["failed_to_download"],
            "error_message": [None] * (n - 1) + ["HTTP Error 404"],
            "width": [64] * n,
            "height": [48] * n,
            "original_width": [64] * n,
            "original_height": [48] * n,
            "exif": ["{}"] * n,
            "sha256": ["0" * 64] * n,
        }
    )


def datacomp(urls):
    return pa.table(
        {
            "uid": [f"{i:032x}" for i in range(len(urls))],
            "url": urls,
            "text": [f"Histology slide {i}" for i in range(len(urls))],
            "original_width": [64] * len(urls),
            "original_height": [48] * len(urls),
            "clip_b32_similarity_score": pa.array([0.31] * len(urls), pa.float32()),
            "clip_l14_similarity_score": pa.array([0.25] * len(urls), pa.float32()),
        }
    )


def coyo(urls):
    return pa.table(
        {
            "id": pa.array(range(len(urls)), pa.int64()),
            "url": urls,
            "text": [f"Histology slide {i}" for i in range(len(urls))],
            "clip_similarity_vitb32": [0.31] * len(urls),
            "clip_similarity_vitl14": [0.2] * len(urls),
            "watermark_score": [0.1] * len(urls),
        }
    )


def scraper(urls):
    return pa.table({"link": urls, "alt": [f"Histology slide {i}" for i in range(len(urls))]})


@pytest.mark.parametrize("schema", [laion_400m, img2dataset_output, datacomp, coyo, scraper])
def test_producer_schemas(tmp_path, server, schema):
    urls = [server.add(f"/s{i}.jpg", body=make_jpeg(i)) for i in range(5)]
    scored = schema not in (scraper, img2dataset_output)  # these have no similarity column
    threshold = 0.3 if scored else 0.0
    kept, skips = build(tmp_path, schema(urls), min_similarity=threshold)
    assert [c.caption for c in kept] == [f"Histology slide {i}" for i in range(5)]
    assert [c.source_id for c in kept] == urls
    assert skips == []
    if schema is laion_400m:
        assert [c.fields["license"] for c in kept][-2:] == ["", "CC BY-NC-SA 4.0"]
    # the same file under a threshold above its similarity: every row is a counted skip
    if scored:
        kept, skips = build(tmp_path, schema(urls), min_similarity=0.32)
        assert kept == [] and Counter(s.reason for s in skips) == {"low_similarity": 5}


# --- bad cells: counted, never a crash, valid rows beside them kept ---------------------------


def test_nan_empty_placeholder_and_non_utf8_cells(tmp_path, server):
    urls = [server.add(f"/n{i}.jpg", body=make_jpeg(i)) for i in range(9)]
    captions = pa.array(
        [
            b"Good caption",
            None,
            b"   ",
            b"caf\xe9 au lait",  # latin-1, not UTF-8
            b"image not found",
            b"DSC_0042.JPG",
            b"<p><br/></p>",
            b"Another good one",
            b"Good but NaN similarity",
        ],
        pa.binary(),
    )
    # a string column written without UTF-8 validation, as some LAION shards are
    text = pa.Array.from_buffers(pa.string(), len(captions), captions.buffers())
    table = pa.table(
        {
            "url": urls,
            "caption": text,
            "similarity": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, math.nan],
        }
    )
    kept, skips = build(tmp_path, table, min_similarity=0.3)
    assert [c.caption for c in kept] == ["Good caption", "Another good one"]
    assert Counter(s.reason for s in skips) == {
        "empty_caption": 2,
        "caption_not_utf8": 1,
        "placeholder_text": 2,
        "emptied_by_cleaning": 1,
        "low_similarity": 1,  # NaN similarity is no similarity: kept only at min 0
    }
    # a binary caption column is read the same way
    kept, _ = build(tmp_path, table.set_column(1, "caption", captions), min_similarity=0.3)
    assert [c.caption for c in kept] == ["Good caption", "Another good one"]


def test_pandas_written_nan_captions(tmp_path, server):
    urls = [server.add(f"/p{i}.jpg", body=make_jpeg(i)) for i in range(3)]
    frame = pd.DataFrame({"url": urls, "caption": [math.nan] * 3, "similarity": [0.4] * 3})
    kept, skips = build(tmp_path, pa.Table.from_pandas(frame))  # caption column is float64
    assert kept == [] and Counter(s.reason for s in skips) == {"empty_caption": 3}
    frame["caption"] = ["Lymph node", math.nan, ""]
    kept, skips = build(tmp_path, pa.Table.from_pandas(frame))
    assert [c.caption for c in kept] == ["Lymph node"]
    assert Counter(s.reason for s in skips) == {"empty_caption": 2}
