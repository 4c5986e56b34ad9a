"""JATS conformance for the PubMed source: articles written here from the JATS 1.1-1.3 tag library
and the ways real publishers (PLOS, eLife, BMC/Springer, Frontiers, MDPI, Elsevier-via-PMC) fill it
in, read through the whole source (package -> pairs). No third-party article is copied in.

Covered: DTD versions 1.1/1.2/1.3 and the NLM 3.0 doctype; ``<fig-group>`` with and without a
group caption; ``<label>`` outside the caption, repeated at the start of the caption text, or with
a trailing period; ``<alternatives>`` (graphic + MathML + TeX) and ``<inline-formula>``; MathML with
and without the ``mml:`` prefix; ``<sup>``/``<sub>`` (also citation superscripts); citations as
``<xref ref-type="bibr">`` and as plain "[28,39]"; eLife's DOI paragraph; panel letters before and
after their text, "(A and B)", "(A-C)", "Left:"/"Right:"; licence forms ``license/@xlink:href``,
``ali:license_ref`` (inside the licence or alone), a url in ``<license-p>``, only words in
``<license-p>``, unknown words kept, ``@license-type`` only, a figure's own ``<permissions>``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sources_fixtures import make_composite, make_jpeg, write_package

from quilt_hf.records import Candidate
from quilt_hf.sources import pubmed
from quilt_hf.sources.panels import caption_panels

DOCTYPES = {
    "1.1": '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange'
    ' DTD v1.1 20151215//EN" "JATS-archivearticle1.dtd">',
    "1.2": '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Publishing DTD v1.2'
    ' 20190208//EN" "JATS-journalpublishing1.dtd">',
    "1.3": '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange'
    ' DTD v1.3 20210610//EN" "JATS-archivearticle1-3.dtd">',
    "nlm3": '<!DOCTYPE article PUBLIC "-//NLM//DTD Journal Archiving and Interchange DTD v3.0'
    ' 20080202//EN" "archivearticle3.dtd">',
}
NAMESPACES = (
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML"'
    ' xmlns:ali="http://www.niso.org/schemas/ali/1.0/"'
)


def article(body: str, permissions: str = "", version: str = "1.3", pmcid: str = "PMC42") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{DOCTYPES[version]}\n'
        f'<article {NAMESPACES} article-type="research-article" dtd-version="{version}">'
        f'<front><article-meta><article-id pub-id-type="pmc">{pmcid}</article-id>'
        f"<title-group><article-title>T</article-title></title-group>{permissions}"
        f"</article-meta></front><body><sec>{body}</sec></body></article>"
    )


def figure(caption: str, label: str = "Figure 1", fig_id: str = "F1", href: str = "gr1") -> str:
    return (
        f'<fig id="{fig_id}" position="float"><label>{label}</label><caption>{caption}</caption>'
        f'<graphic xlink:href="{href}"/></fig>'
    )


def pairs(tmp_path, nxml: str, images: dict[str, bytes] | None = None):
    files = {"article.nxml": nxml, **(images or {"gr1.jpg": make_jpeg(1)})}
    write_package(tmp_path / "PMC42.tar.gz", "PMC42", files)
    out = []
    for task in pubmed.plan_shards({"packages": ["*.tar.gz"]}, tmp_path, 10, {}):
        json.dumps(list(task.items))
        out.extend(pubmed.iter_candidates(task))
    return {c.source_id: c for c in out if isinstance(c, Candidate)}, [
        s for s in out if not isinstance(s, Candidate)
    ]


# --- issue 13 regressions -------------------------------------------------------------------

THYROID = (
    "<title>Effects of PFOS on serum thyroid hormones.</title><p>PFOS lowered total T4 in males"
    " and females (A), but had no effect on total T3 in males (B). *p &lt; 0.05 vs control.</p>"
)


def test_panel_letters_after_their_text(tmp_path):
    nxml = article(figure(THYROID))
    found, _ = pairs(tmp_path, nxml, {"gr1.png": make_composite((1, 2))})
    a, b = found["PMC42/F1/A"].caption, found["PMC42/F1/B"].caption
    assert a.endswith("PFOS lowered total T4 in males and females.")
    assert b.endswith("had no effect on total T3 in males.")
    assert "(A)" not in a + b and "(B)" not in a + b and "p < 0.05" not in a + b
    assert a.startswith("Effects of PFOS on serum thyroid hormones.")


def test_license_only_in_license_p_words(tmp_path):
    permissions = (
        "<permissions><copyright-statement>© 2012 Lee et al.</copyright-statement><license>"
        "<license-p>This is an open-access article distributed under the terms of the Creative"
        " Commons Attribution License, which permits unrestricted use.</license-p></license>"
        "</permissions>"
    )
    found, _ = pairs(tmp_path, article(figure("<p>Biopsy.</p>"), permissions))
    assert found["PMC42/F1"].fields["license"] == "CC BY"


def test_sup_sub_and_citation_brackets(tmp_path):
    caption = (
        "<p>Tumour area (36.57)<sup>2</sup> mm, total T<sub>3</sub> and CD4<sup>+</sup> cells"
        ' [<xref ref-type="bibr" rid="B28">28</xref>,<xref ref-type="bibr" rid="B39">39</xref>]'
        " as before [12, 14-16].</p>"
    )
    found, _ = pairs(tmp_path, article(figure(caption)))
    text = found["PMC42/F1"].caption
    assert text == "Tumour area (36.57)² mm, total T₃ and CD4⁺ cells as before."


# --- panels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Title. (A) Low power. (B) High power.", {"A": "Low power.", "B": "High power."}),
        (
            "Title. (A and B) H&E at two powers. (C) CD20.",
            {"A": "H&E at two powers.", "B": "H&E at two powers.", "C": "CD20."},
        ),
        (
            "Title. (A–C) H&E; (D) CD3.",
            {"A": "H&E.", "B": "H&E.", "C": "H&E.", "D": "CD3."},
        ),
        ("Title. (A, B) Glands. (C) Stroma.", {"A": "Glands.", "B": "Glands.", "C": "Stroma."}),
        ("Title. A, crypts; B, granulomas.", {"A": "crypts.", "B": "granulomas."}),
        ("Title. a) crypts. b) granulomas.", {"a": "crypts.", "b": "granulomas."}),
        ("Left: H&E stain. Right: Ki-67.", {"Left": "H&E stain.", "Right": "Ki-67."}),
        ("Biopsy. Top, H&E. Bottom, CD34.", {"Top": "H&E.", "Bottom": "CD34."}),
        (
            "Glands in the cortex (a) and medulla (b).",
            {"a": "Glands in the cortex.", "b": "medulla."},
        ),
    ],
)
def test_panel_marker_forms(caption, expected):
    named = caption_panels(caption)
    assert named is not None
    assert dict(named.panels) == expected


@pytest.mark.parametrize(
    "caption",
    [
        "A single field (H&E, x40).",
        "Compare with (B) of Figure 2.",
        "Title. (B) then (A) out of order.",
        "Left ventricle: fibrosis.",
    ],
)
def test_captions_that_name_no_panels(caption):
    assert caption_panels(caption) is None


# --- labels, groups, alternatives, MathML ---------------------------------------------------


@pytest.mark.parametrize("version", sorted(DOCTYPES))
def test_every_dtd_version_and_label_forms(tmp_path, version):
    body = (
        figure("<title>Figure 1. Granuloma.</title><p>Caseating.</p>")
        + figure("<p>Fig. 2: Colon.</p>", label="Fig. 2", fig_id="F2", href="gr2")
        + figure("<p>Skin, H&amp;E.</p>", label="Figure 3.", fig_id="F3", href="gr3")
    )
    images = {"gr1.jpg": make_jpeg(1), "gr2.jpg": make_jpeg(2), "gr3.jpg": make_jpeg(3)}
    found, skips = pairs(tmp_path, article(body, version=version), images)
    assert {k: c.caption for k, c in found.items()} == {
        "PMC42/F1": "Granuloma. Caseating.",
        "PMC42/F2": "Colon.",
        "PMC42/F3": "Skin, H&E.",
    }
    assert skips == []


def test_fig_group_with_and_without_a_group_caption(tmp_path):
    body = (
        '<fig-group id="G1"><caption><title>Three views of one node.</title></caption>'
        + figure("<p>View A: cortex.</p>", label="a.", fig_id="F1", href="gr1")
        + '<fig id="F2"><label>b.</label><graphic xlink:href="gr2"/></fig>'
        + "</fig-group>"
        # eLife: figure + figure supplement, no group caption, a DOI paragraph
        + '<fig-group><fig id="F3"><object-id pub-id-type="doi">10.7554/eLife.1.003</object-id>'
        "<label>Figure 3.</label><caption><title>Liver.</title><p>Steatosis.</p><p><bold>DOI:"
        '</bold> <ext-link ext-link-type="doi" xlink:href="10.7554/eLife.1.003">'
        'http://dx.doi.org/10.7554/eLife.1.003</ext-link></p></caption><graphic xlink:href="gr3"/>'
        '</fig><fig id="F3S1" specific-use="child-fig"><label>Figure 3—figure supplement 1.</label>'
        '<caption><title>Fibrosis.</title></caption><graphic xlink:href="gr4"/></fig></fig-group>'
    )
    images = {f"gr{i}.jpg": make_jpeg(i) for i in range(1, 5)}
    found, _ = pairs(tmp_path, article(body), images)
    assert found["PMC42/F1"].caption == "Three views of one node. View A: cortex."
    assert found["PMC42/F2"].caption == "Three views of one node."
    assert found["PMC42/F3"].caption == "Liver. Steatosis."
    assert found["PMC42/F3S1"].caption == "Fibrosis."


def test_alternatives_mathml_and_tex(tmp_path):
    caption = (
        "<p>Correlation <inline-formula><alternatives><mml:math><mml:msup><mml:mi>r</mml:mi>"
        "<mml:mn>2</mml:mn></mml:msup><mml:mo>=</mml:mo><mml:mn>0.8</mml:mn></mml:math>"
        "<tex-math>\\documentclass[12pt]{minimal}\\begin{document}$r^2=0.8$\\end{document}"
        '</tex-math><inline-graphic xlink:href="eq1.gif"/></alternatives></inline-formula>,'
        ' ratio <math xmlns="http://www.w3.org/1998/Math/MathML"><mfrac><mi>a</mi><mi>b</mi>'
        "</mfrac></math> and <inline-formula><tex-math>$\\alpha$</tex-math></inline-formula>"
        " with CO<sub>2</sub> at 10<sup>−3</sup> M.</p>"
    )
    found, _ = pairs(tmp_path, article(figure(caption)))
    assert found["PMC42/F1"].caption == (
        "Correlation r²=0.8, ratio a/b and \\alpha with CO₂ at 10⁻³ M."
    )


def test_citation_superscripts_and_author_year_citations(tmp_path):
    caption = (
        '<p>As reported<sup><xref ref-type="bibr" rid="B1">1</xref>,<xref ref-type="bibr"'
        ' rid="B2">2</xref></sup>, nests (<xref ref-type="bibr" rid="B3">Smith et al., 2010</xref>)'
        ' and <xref ref-type="fig" rid="F2">Figure 2</xref>. Ki-67<sup>high</sup>.</p>'
    )
    found, _ = pairs(tmp_path, article(figure(caption)))
    assert found["PMC42/F1"].caption == "As reported, nests and Figure 2. Ki-67^high."


# --- licences -------------------------------------------------------------------------------

LICENCES = [
    (  # PLOS / BMC: the url on the licence
        '<license license-type="open-access" xlink:href="https://creativecommons.org/licenses/by/'
        '4.0/"><license-p>Open access.</license-p></license>',
        "CC BY 4.0",
    ),
    (  # JATS 1.2+: ali:license_ref inside the licence
        '<license><ali:license_ref specific-use="textmining" content-type="ccbylicense">'
        "https://creativecommons.org/licenses/by-nc/4.0/</ali:license_ref><license-p>Free."
        "</license-p></license>",
        "CC BY-NC 4.0",
    ),
    (  # Frontiers / MDPI: the url as an ext-link in the sentence
        '<license><license-p>Distributed under the <ext-link ext-link-type="uri" xlink:href='
        '"https://creativecommons.org/licenses/by-nd/3.0/">CC BY-ND</ext-link> licence.'
        "</license-p></license>",
        "CC BY-ND 3.0",
    ),
    (
        "<license><license-p>Licensed under a Creative Commons Attribution-NonCommercial-"
        "NoDerivatives 4.0 International License.</license-p></license>",
        "CC BY-NC-ND 4.0",
    ),
    (
        "<license><license-p>This article is a US Government work and is in the public domain."
        "</license-p></license>",
        "Public Domain",
    ),
    (
        "<license><license-p>Reuse permitted for private study only.</license-p></license>",
        "Reuse permitted for private study only.",
    ),
    ('<license license-type="open-access"/>', "open-access"),
]


@pytest.mark.parametrize(("permissions", "expected"), LICENCES)
def test_licence_forms(tmp_path, permissions, expected):
    nxml = article(figure("<p>Biopsy.</p>"), f"<permissions>{permissions}</permissions>")
    found, _ = pairs(tmp_path, nxml)
    assert found["PMC42/F1"].fields["license"] == expected


def test_a_figure_reproduced_under_its_own_licence(tmp_path):
    body = (
        '<fig id="F1"><label>Figure 1</label><caption><p>Biopsy.</p></caption><permissions>'
        '<license xlink:href="https://creativecommons.org/licenses/by-sa/4.0/"/></permissions>'
        '<graphic xlink:href="gr1"/></fig>'
    )
    permissions = (
        '<permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/"/>'
        "</permissions>"
    )
    found, _ = pairs(tmp_path, article(body, permissions))
    assert found["PMC42/F1"].fields["license"] == "CC BY-SA 4.0"


def test_ali_license_ref_outside_a_licence(tmp_path):
    permissions = (
        "<permissions><ali:free_to_read/><ali:license_ref>"
        "http://creativecommons.org/licenses/by/3.0/</ali:license_ref></permissions>"
    )
    found, _ = pairs(tmp_path, article(figure("<p>Biopsy.</p>"), permissions))
    assert found["PMC42/F1"].fields["license"] == "CC BY 3.0"


# --- captions emptied by cleaning are counted -----------------------------------------------


def test_a_caption_of_only_citations_is_a_counted_skip(tmp_path):
    caption = '<p>[<xref ref-type="bibr" rid="B1">1</xref>]</p>'
    found, skips = pairs(tmp_path, article(figure(caption)))
    assert found == {}
    assert [s.reason for s in skips] == ["emptied_by_cleaning"]


# --- junk beside valid input ----------------------------------------------------------------

MARKERS = st.sampled_from(["(A)", "(B)", "(a)", "(A-C)", "(A and B)", "A,", "Left:", "Right:"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(MARKERS, st.text(max_size=12)), max_size=12))
def test_any_caption_names_panels_in_order_or_none(pieces):
    caption = " ".join(pieces)
    named = caption_panels(caption)
    if named is not None:
        letters = [letter for letter, _ in named.panels]
        assert len(letters) >= 2
        if letters[0].lower() == "a":
            assert [ord(x.lower()) - ord("a") for x in letters] == list(range(len(letters)))
        assert len(named.roi_text()) <= len(letters)
    # a well-formed caption beside the junk is still read
    assert [x for x, _ in caption_panels("Title. (A) one. (B) two.").panels] == ["A", "B"]


def test_figure_level_alternatives_and_semantics_annotations(tmp_path):
    body = (
        '<fig id="F1"><label>Figure 1</label><caption><p>Area <mml:math><mml:semantics>'
        "<mml:msup><mml:mi>m</mml:mi><mml:mn>2</mml:mn></mml:msup>"
        '<mml:annotation encoding="application/x-tex">m^2</mml:annotation></mml:semantics>'
        '</mml:math>.</p></caption><alternatives><graphic xlink:href="gr1.tif"/>'
        '<graphic xlink:href="gr1.jpg" specific-use="web"/></alternatives></fig>'
    )
    found, skips = pairs(tmp_path, article(body))
    assert found["PMC42/F1"].caption == "Area m²."
    assert found["PMC42/F1"].image_bytes == make_jpeg(1) and skips == []
