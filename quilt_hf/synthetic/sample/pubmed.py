"""PubMed Central Open Access packages (``pubmed/PMCxxxxxxx.tar.gz``).

Like the real OA packages, each ``.tar.gz`` holds one folder ``PMCxxxxxxx/`` with the article's
JATS ``.nxml`` (named after the journal's article file, not the PMCID) and its figure images as
``.jpg``; ``<graphic xlink:href>`` names a figure WITHOUT its extension. Figures include composites
of panels in a row, a column or a grid separated by white gutters (8 px) with panel letters drawn
in their corners, whose captions name the panels ``(A)``, ``A, ...;`` or ``(a)``; single-panel
figures; and non-histology figures (Kaplan-Meier curves, bar charts).

Deliberate bad input (each must be skipped with a reason by the PubMed source):
- an article whose nxml declares an external entity (XXE), and one with an entity-expansion bomb
  ("billion laughs"): a safe parser (defusedxml) rejects both;
- a truncated figure image, a ``<graphic>`` whose file is missing from the package, and an
  ``xlink:href`` with ``../`` path traversal;
- a caption that names three panels (A)-(C) for an image of two panels (the splitter must not guess).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw

from quilt_hf.synthetic.histology import HIGH, LOW, MEDIUM, histology_tiles, make_tile
from quilt_hf.synthetic.sample.captions import Entity, entity_for, finding_sentence, pick
from quilt_hf.synthetic.sample.common import CorpusWriter, jpeg_bytes
from quilt_hf.synthetic.sample.nonhistology import font, non_histology_image

SUBSET = "pubmed"
GUTTER = 8  # white pixels between panels
PACKAGE_MTIME = 1_600_000_000  # fixed member times keep the archives byte-identical across runs
OBJECTIVE_WORDS = {0: "\u00d740", 1: "\u00d7100", 2: "\u00d7400"}  # "original magnification"
LICENSES = (
    (
        "CC BY 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        "This article is licensed under a Creative Commons Attribution 4.0 International License.",
    ),
    (
        "CC BY-NC 4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/",
        "This is an open access article under the terms of the Creative Commons Attribution-NonCommercial License.",
    ),
    (
        "CC BY 3.0",
        "https://creativecommons.org/licenses/by/3.0/",
        "This is an Open Access article distributed under the terms of the Creative Commons Attribution License.",
    ),
)
JOURNALS = (
    ("Diagn Pathol", "Diagnostic Pathology", "dp"),
    ("J Cutan Pathol", "Journal of Cutaneous Pathology", "jcp"),
    ("Histopathology", "Histopathology", "his"),
)


@dataclass(frozen=True)
class FigureSpec:
    """One ``<fig>``: ``kind`` is single | composite | chart | kaplan_meier | missing | traversal
    | corrupt; composites have a ``layout`` (row/column/grid), a panel count and a caption style."""

    kind: str
    panels: int = 1
    layout: str = "row"
    style: str = "paren"  # "paren": (A) ...  | "comma": A, ...;  | "lower": (a) ...
    named_panels: int | None = None  # panels the caption names, when it differs from the image


@dataclass(frozen=True)
class PackageSpec:
    figures: tuple[FigureSpec, ...]
    hostile: str | None = None  # None | "xxe" | "entity_bomb"
    ali_license: bool = False  # newer packages carry <ali:license_ref>


PACKAGES = (
    PackageSpec(
        (FigureSpec("composite", 2, "row"), FigureSpec("single"), FigureSpec("kaplan_meier"))
    ),
    PackageSpec((FigureSpec("composite", 4, "grid"), FigureSpec("single")), ali_license=True),
    PackageSpec((FigureSpec("composite", 3, "row", "comma"), FigureSpec("chart"))),
    PackageSpec(
        (FigureSpec("single"), FigureSpec("composite", 2, "column", "lower"), FigureSpec("missing"))
    ),
    PackageSpec((FigureSpec("single"), FigureSpec("corrupt"))),
    PackageSpec((FigureSpec("traversal"), FigureSpec("single"))),
    PackageSpec((FigureSpec("single"), FigureSpec("composite", 2, "row")), hostile="xxe"),
    PackageSpec((FigureSpec("single"),), hostile="entity_bomb"),
    PackageSpec(
        (
            FigureSpec("composite", 2, "row", named_panels=3),
            FigureSpec("kaplan_meier"),
            FigureSpec("single"),
        )
    ),
)


def compose_panels(tiles: list[Image.Image], layout: str, letters: str) -> Image.Image:
    """Lay equal-sized panels out in a row, column or 2-column grid with white gutters."""
    side = tiles[0].size[0]
    columns = {"row": len(tiles), "column": 1, "grid": 2}[layout]
    rows = -(-len(tiles) // columns)
    canvas = Image.new(
        "RGB", (columns * side + (columns - 1) * GUTTER, rows * side + (rows - 1) * GUTTER), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for index, (tile, letter) in enumerate(zip(tiles, letters[: len(tiles)], strict=True)):
        left = (index % columns) * (side + GUTTER)
        top = (index // columns) * (side + GUTTER)
        canvas.paste(tile, (left, top))
        draw.rectangle([left + 4, top + 4, left + 30, top + 32], fill="white")  # panel letter
        draw.text((left + 9, top + 5), letter, fill="black", font=font(24))
    return canvas


def write_sample_pubmed(writer: CorpusWriter, rng: np.random.Generator) -> dict[str, Any]:
    """Write the OA packages; returns the build config entry."""
    for number, spec in enumerate(PACKAGES):
        pmcid = f"PMC{int(rng.integers(10**6, 10**7)) + number}"
        journal = JOURNALS[number % len(JOURNALS)]
        stem = f"{journal[2]}-{int(rng.integers(1, 40))}-{int(rng.integers(100, 999))}"
        article_entity = entity_for(rng, "H&E")  # what the case report is about
        members: dict[str, bytes] = {}
        figures_xml = []
        for index, figure in enumerate(spec.figures, start=1):
            xml, files = _figure(
                writer, rng, pmcid, stem, index, figure, spec.hostile, article_entity
            )
            figures_xml.append(xml)
            members.update(files)
        license_ = LICENSES[number % len(LICENSES)]
        # Old packages give the PMC id as digits, newer ones with the "PMC" prefix: accept both.
        article_pmc = pmcid if number % 2 else pmcid[3:]
        nxml = _article(rng, journal, article_pmc, license_, figures_xml, spec, article_entity)
        members = {f"{stem}.nxml": nxml.encode(), **members}
        writer.write(f"pubmed/{pmcid}.tar.gz", _tar_gz(pmcid, members))
    return {SUBSET: {"packages": ["pubmed/*.tar.gz"]}}


def _figure(
    writer: CorpusWriter,
    rng: np.random.Generator,
    pmcid: str,
    stem: str,
    index: int,
    figure: FigureSpec,
    hostile: str | None,
    article_entity: Entity,
) -> tuple[str, dict[str, bytes]]:
    """The ``<fig>`` element and the image files it brings into the package."""
    fig_id = f"F{index}"
    graphic = f"{stem}-g{index:03d}"
    label_fields = {
        "subset": SUBSET,
        "source_id": f"{pmcid}/{fig_id}",
        "path": f"pubmed/{pmcid}.tar.gz::{pmcid}/{graphic}.jpg",
    }
    fault = {"xxe": "hostile_xml", "entity_bomb": "hostile_xml"}.get(hostile or "")
    files: dict[str, bytes] = {}

    if figure.kind in ("chart", "kaplan_meier"):
        picture = non_histology_image(rng, figure.kind, size=(520, 380))
        data = jpeg_bytes(picture.image, quality=90)
        files[f"{graphic}.jpg"] = data
        writer.label(
            data, **label_fields, histology=False, magnification=None, kind=figure.kind, fault=fault
        )
        title = (
            "Kaplan-Meier survival analysis."
            if figure.kind == "kaplan_meier"
            else "Distribution of cases by diagnosis."
        )
        caption = f"<title>{title}</title><p>{_chart_caption(rng, figure.kind)}</p>"
        return _fig_xml(fig_id, index, caption, graphic), files

    if figure.kind == "composite":
        # One stain per figure, as in a real composite; IHC has no low-power tiles.
        stain = "IHC" if rng.random() < 0.25 else "H&E"
        zooms = (MEDIUM, HIGH) if stain == "IHC" else (LOW, MEDIUM, HIGH)
        tiles = [
            make_tile(rng, stain=stain, magnification=zooms[k % len(zooms)], side=256)
            for k in range(figure.panels)
        ]
        named = figure.named_panels or figure.panels
        letters = "abcdefgh" if figure.style == "lower" else "ABCDEFGH"
        image = compose_panels([t.image for t in tiles], figure.layout, letters)
        data = jpeg_bytes(image, quality=90)
        files[f"{graphic}.jpg"] = data
        magnifications = {t.magnification for t in tiles}
        writer.label(
            data,
            **label_fields,
            histology=True,
            magnification=magnifications.pop() if len(magnifications) == 1 else None,
            kind="composite",
            fault=fault,
            panels=figure.panels,
        )
        entity = article_entity if stain == "H&E" else entity_for(rng, stain)
        lead = f"Histopathological features of {escape(entity.diagnosis)} of the {entity.organ}."
        sentences = []
        for k in range(named):
            tile = tiles[min(k, len(tiles) - 1)]
            text = escape(finding_sentence(rng, entity, tile.magnification).rstrip("."))
            stain = "H&amp;E" if tile.stain == "H&E" else "immunohistochemistry"
            text += f" ({stain}, original magnification {OBJECTIVE_WORDS[tile.magnification]})"
            letter = letters[k]
            if figure.style == "comma":
                sentences.append(f"<bold>{letter}</bold>, {text}")
            else:
                sentences.append(f"({letter}) {text}.")
        body = "; ".join(sentences) + "." if figure.style == "comma" else " ".join(sentences)
        caption = f"<title>{lead}</title><p>{body}</p>"
        return _fig_xml(fig_id, index, caption, graphic), files

    # single-panel kinds: single, missing, traversal, corrupt
    tile = histology_tiles(rng, 1)[0]
    entity = article_entity if tile.stain == "H&E" else entity_for(rng, tile.stain)
    if figure.kind == "traversal":
        graphic = f"../../{stem}-g{index:03d}"  # points outside the package folder
    if figure.kind in ("single", "corrupt", "traversal"):
        data = jpeg_bytes(tile.image, quality=90)
        fault_here = fault
        if figure.kind == "corrupt":  # cut the JPEG mid-scan, as an interrupted download leaves it
            data, fault_here = data[: len(data) * 2 // 5], "truncated_image"
        if figure.kind == "traversal":  # the file exists, but only under its safe name
            name, fault_here = f"{stem}-g{index:03d}.jpg", "unsafe_path"
            label_fields["path"] = f"pubmed/{pmcid}.tar.gz::{pmcid}/{name}"
        else:
            name = f"{graphic}.jpg"
        files[name] = data
        writer.label(
            data,
            **label_fields,
            histology=True,
            magnification=tile.magnification,
            kind=tile.stain,
            fault=fault_here,
        )
    text = escape(finding_sentence(rng, entity, tile.magnification))
    caption = (
        f"<title>{escape(entity.diagnosis.capitalize())}.</title>"
        f"<p>{text} {'H&amp;E' if tile.stain == 'H&E' else 'Immunostain'}, original "
        f"magnification {OBJECTIVE_WORDS[tile.magnification]}.</p>"
    )
    # figure.kind == "missing": the <graphic> is listed in the article, absent from the package
    if hostile == "xxe" and index == 1:
        caption = caption.replace("</p>", " &xxe;</p>")
    if hostile == "entity_bomb" and index == 1:
        caption = caption.replace("</p>", " &lol9;</p>")
    return _fig_xml(fig_id, index, caption, graphic), files


def _chart_caption(rng: np.random.Generator, kind: str) -> str:
    if kind == "kaplan_meier":
        p_value = rng.uniform(0.001, 0.2)
        return (
            f"Overall survival of patients stratified by tumour grade (log-rank "
            f"<italic>p</italic> = {p_value:.3f})."
        )
    return "Number of cases per diagnostic category in the cohort."


def _fig_xml(fig_id: str, index: int, caption: str, graphic: str) -> str:
    return (
        f'<fig id="{fig_id}" position="float"><label>Figure {index}</label>'
        f"<caption>{caption}</caption>"
        f'<graphic xlink:href="{escape(graphic)}" id="MO{index}"/></fig>'
    )


def _article(
    rng: np.random.Generator,
    journal: tuple[str, str, str],
    article_pmc: str,
    license_: tuple[str, str, str],
    figures: list[str],
    spec: PackageSpec,
    entity: Entity,
) -> str:
    year = int(rng.integers(2012, 2024))
    age = int(rng.integers(25, 85))
    refs = " ".join(
        f'(<xref ref-type="fig" rid="F{k}">Figure {k}</xref>)' for k in range(1, len(figures) + 1)
    )
    if spec.hostile == "xxe":
        doctype = '<!DOCTYPE article [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>'
    elif spec.hostile == "entity_bomb":
        levels = ['  <!ENTITY lol "lol">'] + [
            f'  <!ENTITY lol{k} "{("&lol" + (str(k - 1) if k > 1 else "") + ";") * 10}">'
            for k in range(1, 10)
        ]
        doctype = "<!DOCTYPE article [\n" + "\n".join(levels) + "\n]>"
    else:
        doctype = (
            '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and '
            'Interchange DTD v1.2 20190208//EN" "JATS-archivearticle1.dtd">'
        )
    license_xml = (
        f'<license xlink:href="{license_[1]}"><license-p>{license_[2]}</license-p></license>'
    )
    if spec.ali_license:
        license_xml = (
            f"<ali:free_to_read/><license><ali:license_ref>{license_[1]}</ali:license_ref>"
            f"<license-p>{license_[2]}</license-p></license>"
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
{doctype}
<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" xmlns:ali="http://www.niso.org/schemas/ali/1.0/" article-type="case-report" xml:lang="en">
<front>
<journal-meta><journal-id journal-id-type="nlm-ta">{journal[0]}</journal-id><journal-title-group><journal-title>{journal[1]}</journal-title></journal-title-group></journal-meta>
<article-meta>
<article-id pub-id-type="pmc">{article_pmc}</article-id>
<article-id pub-id-type="doi">10.{int(rng.integers(1000, 9999))}/{journal[2]}.{year}.{int(rng.integers(1000, 99999))}</article-id>
<title-group><article-title>{escape(entity.diagnosis.capitalize())}: a case report and review of the literature</article-title></title-group>
<pub-date pub-type="epub"><year>{year}</year></pub-date>
<permissions><copyright-statement>\u00a9 The Author(s) {year}</copyright-statement>{license_xml}</permissions>
<abstract><p>We report {escape(entity.diagnosis)} of the {entity.organ} in a {age}-year-old patient.</p></abstract>
</article-meta>
</front>
<body>
<sec><title>Case presentation</title><p>A {age}-year-old patient presented with a slowly growing lesion of the {entity.organ}. Histological examination showed {escape(pick(rng, entity.findings))} {refs}.</p>
{chr(10).join(figures)}
</sec>
</body>
</article>
"""


def _tar_gz(pmcid: str, members: dict[str, bytes]) -> bytes:
    """A reproducible ``.tar.gz``: fixed times and owners, no file name in the gzip header."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        folder = tarfile.TarInfo(pmcid)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, PACKAGE_MTIME
        archive.addfile(folder)
        for name, data in members.items():
            info = tarfile.TarInfo(f"{pmcid}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, PACKAGE_MTIME
            archive.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as stream:
        stream.write(raw.getvalue())
    return compressed.getvalue()
