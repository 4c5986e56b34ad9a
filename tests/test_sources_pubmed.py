"""The PubMed (PMC OA package) source: figures, panels, licences and hostile or broken packages."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter

import pytest
from PIL import Image
from sources_fixtures import JATS_HEAD, fig, jats_article, make_composite, make_jpeg, write_package

from quilt_hf.records import Candidate
from quilt_hf.sources import pubmed
from quilt_hf.sources.panels import caption_panels

CC_BY = "http://creativecommons.org/licenses/by/4.0/"


def run(tmp_path, patterns, shard_size=10):
    tasks = pubmed.plan_shards({"packages": patterns}, tmp_path, shard_size, {})
    out = []
    for task in tasks:
        json.dumps(list(task.items))
        out.extend(pubmed.iter_candidates(task))
    candidates = {c.source_id: c for c in out if isinstance(c, Candidate)}
    skips = [s for s in out if not isinstance(s, Candidate)]
    return candidates, skips


def good_package(tmp_path):
    figures = [
        fig(
            "F1",
            "Figure 1",
            "Melanoma of the skin.",
            "(A) Nests of atypical melanocytes. (B) Pagetoid spread, as in (A)",
            "gr1",
        ),
        fig(
            "F2",
            "Figure 2",
            "Colon biopsy.",
            "A, crypt distortion; B, granulomas; C, ulcer; D, normal mucosa.",
            "gr2",
        ),
        fig("F3", "Figure 3", "Lymph node.", "(a) Follicles. (b) Sinus. (c) Capsule.", "gr3"),
        fig("F4", "Figure 4", "", "Figure 4. Single field of a tumour.", "gr4"),
    ]
    files = {
        "article.nxml": jats_article("PMC1234567", figures, CC_BY),
        "gr1.png": make_composite((1, 2)),
        "gr2.jpg": make_composite((2, 2), fmt="JPEG"),
        "gr3.png": make_composite((1, 2)),  # 2 panels, caption names 3
        "gr4.jpg": make_jpeg(4),
    }
    return write_package(tmp_path / "PMC1234567.tar.gz", "PMC1234567", files)


def test_figures_panels_and_licence(tmp_path):
    good_package(tmp_path)
    candidates, skips = run(tmp_path, ["*.tar.gz"])
    assert set(candidates) == {
        "PMC1234567/F1",
        "PMC1234567/F1/A",
        "PMC1234567/F1/B",
        "PMC1234567/F2",
        "PMC1234567/F2/A",
        "PMC1234567/F2/B",
        "PMC1234567/F2/C",
        "PMC1234567/F2/D",
        "PMC1234567/F3",
        "PMC1234567/F4",
    }
    f1 = candidates["PMC1234567/F1"]
    assert (
        f1.caption
        == "Melanoma of the skin. (A) Nests of atypical melanocytes. (B) Pagetoid spread, as in (A)"
    )
    assert f1.fields["license"] == "CC BY 4.0"
    assert f1.fields["text_source"] == "jats_caption"
    assert f1.fields["single_wsi"] == 0
    assert f1.fields["image_url"] == "pmc://PMC1234567/gr1"
    assert f1.image_bytes == make_composite((1, 2))
    assert (
        candidates["PMC1234567/F1/A"].caption
        == "Melanoma of the skin. Nests of atypical melanocytes."
    )
    assert (
        candidates["PMC1234567/F1/B"].caption == "Melanoma of the skin. Pagetoid spread, as in (A)."
    )
    panel = Image.open(io.BytesIO(candidates["PMC1234567/F1/B"].image_bytes))
    assert abs(panel.size[0] - 80) <= 2 and abs(panel.size[1] - 60) <= 2  # one panel, no gutter
    assert candidates["PMC1234567/F2/D"].caption == "Colon biopsy. normal mucosa."
    # the label and a leading "Figure 4." never reach the caption
    assert candidates["PMC1234567/F4"].caption == "Single field of a tumour."
    assert candidates["PMC1234567/F4"].fields["single_wsi"] == -1
    # named 3, shows 2: keep the figure, record the panel texts, count it, do not guess
    f3 = candidates["PMC1234567/F3"]
    assert f3.fields["roi_text"] == ["(a) Follicles.", "(b) Sinus.", "(c) Capsule."]
    assert [s.reason for s in skips] == ["panels_unsplit"]
    assert "names 3 panels, image shows 2" in skips[0].detail


def test_extracted_folder_gives_the_same_pairs(tmp_path):
    package = good_package(tmp_path)
    with tarfile.open(package) as archive:
        archive.extractall(tmp_path / "extracted", filter="data")
    from_tar, _ = run(tmp_path, ["*.tar.gz"])
    from_dir, _ = run(tmp_path, ["extracted/PMC*"])
    assert {k: v.caption for k, v in from_dir.items()} == {
        k: v.caption for k, v in from_tar.items()
    }
    assert from_dir["PMC1234567/F2/C"].image_bytes == from_tar["PMC1234567/F2/C"].image_bytes


def test_hostile_broken_and_unsafe_inputs(tmp_path):
    xxe = JATS_HEAD.split("\n<!DOCTYPE")[0] + (
        '\n<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        '<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>'
        '<article-id pub-id-type="pmc">1</article-id></article-meta></front>'
        '<fig id="F1"><caption><p>&xxe;</p></caption><graphic xlink:href="g"/></fig></article>'
    )
    lols = "".join(f'<!ENTITY l{k} "{("&l" + str(k - 1) + ";") * 10}">' for k in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY l0 "lol">{lols}]><article><p>&l9;</p></article>'
    write_package(tmp_path / "PMC1.tar.gz", "PMC1", {"a.nxml": xxe, "g.jpg": make_jpeg(1)})
    write_package(tmp_path / "PMC2.tar.gz", "PMC2", {"a.nxml": bomb})
    write_package(tmp_path / "PMC3.tar.gz", "PMC3", {"a.nxml": "<article><fig id='F1'>"})
    figures = [
        fig("F1", "Figure 1", "Escape.", "Tries to leave the package.", "../../../etc/passwd"),
        fig("F2", "Figure 2", "Absolute.", "An absolute path.", "/etc/passwd"),
        fig("F3", "Figure 3", "No graphic.", "The graphic element is missing.", None),
        fig("F4", "Figure 4", "Not shipped.", "The file is not in the package.", "gr4"),
        fig("F5", "Figure 5", "Fine.", "A good figure.", "gr5"),
    ]
    write_package(
        tmp_path / "PMC4.tar.gz",
        "PMC4",
        {"a.nxml": jats_article("PMC4", figures), "gr5.gif": make_jpeg(5)},
    )
    (tmp_path / "PMC5.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    candidates, skips = run(tmp_path, ["PMC*.tar.gz"], shard_size=2)
    assert list(candidates) == ["PMC4/F5"]
    assert Counter(s.reason for s in skips) == {
        "hostile_xml": 2,
        "malformed_xml": 1,
        "unsafe_path": 2,
        "missing_graphic": 1,
        "graphic_not_found": 1,
        "corrupt_package": 1,
    }
    assert all("root:" not in s.detail for s in skips)  # /etc/passwd was never read


@pytest.mark.parametrize(
    ("caption", "letters"),
    [
        ("Title. (A) one (H&E, x40). (B) two.", ["A", "B"]),
        ("Title. A, one; B, two; C, three.", ["A", "B", "C"]),
        ("Title. (a) one (b) two (a) again", ["a", "b"]),
        ("Title with one (A) marker only.", None),
        ("Title. (B) then (A) out of order.", None),
    ],
)
def test_caption_panel_markers(caption, letters):
    named = caption_panels(caption)
    assert (None if named is None else [letter for letter, _ in named.panels]) == letters
