"""PubMed Central Open Access figure pairs from OA packages (``PMCxxxx.tar.gz`` or an extracted folder).

Each package holds ``PMCID/<article>.nxml`` (JATS) and the figure images. Members are read from the
archive in memory (never extracted to disk) with size limits. The JATS is parsed with
``defusedxml``: an article declaring entities (XXE, entity-expansion bombs) or external references
is skipped as ``hostile_xml``; a parse error as ``malformed_xml``.

Pairs: one per ``<fig>`` (caption = ``<caption>`` title + text rendered by
``quilt_hf.sources.jats_text`` (sup/sub, MathML, one form of each ``<alternatives>``, citations
dropped) and cleaned by the shared caption cleaner; the ``<label>`` "Figure 2" and a leading
"Figure 2." in the text are dropped, as is a paragraph that is only a DOI; the caption of a
``<fig-group>`` leads the caption of each of its figures), ``source_id = PMCID/fig-id``. Where the caption names
two or more panels and the image splits into exactly that many panels (rules in
``quilt_hf.sources.panels``), one more pair per panel: the cropped panel with the caption's shared
lead + that panel's text, ``source_id = PMCID/fig-id/A``. If the counts differ we do not guess: only
the figure pair is kept (its ``roi_text`` lists the panel texts, as it always does) and a
``panels_unsplit`` skip is counted. A figure whose caption names panels is a composite:
``single_wsi = 0``.

Licence (``article_license``): a figure's own ``<permissions>`` if it has one, else the article's;
from ``license/@xlink:href``, ``ali:license_ref``, a url in ``<license-p>`` (``ext-link``/``uri``
or text), a licence named in the ``<license-p>`` words ("Creative Commons Attribution
License" -> CC BY), else the ``<license-p>`` text itself (shortened), else ``@license-type``.

``<graphic xlink:href>`` is resolved inside the package next to the nxml, trying the name as given
and with .jpg/.jpeg/.png/.gif/.tif/.tiff; an href with ``..``, an absolute path or a url scheme is an
``unsafe_path`` skip; no ``<graphic>`` -> ``missing_graphic``; no such file -> ``graphic_not_found``.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from PIL import Image

from quilt_hf.errors import QuiltError, SkipRecord
from quilt_hf.images import DEFAULT_MAX_PIXELS
from quilt_hf.records import Candidate, ShardTask
from quilt_hf.sources.inputs import check_source_keys, expand_patterns
from quilt_hf.sources.jats_text import inline_text
from quilt_hf.sources.licenses import license_from_text, license_name
from quilt_hf.sources.panels import caption_panels, find_panels
from quilt_hf.text.clean import clean_caption

SUBSET = "pubmed"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
ALI_LICENSE_REF = "{http://www.niso.org/schemas/ali/1.0/}license_ref"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff")
MAX_XML_BYTES = 20 * 1024 * 1024
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 10_000
_FIGURE_PREFIX = re.compile(r"^(fig(ure)?\.?\s*\d+[a-z]?\s*[.:|]\s*)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_DOI_LINE = re.compile(r"^\s*DOI:?\s*\S+\s*$", re.IGNORECASE)  # eLife's per-figure DOI paragraph


@dataclass
class Package:
    """The regular files of one OA package: relative posix name -> reader of the bytes."""

    name: str
    files: dict[str, tarfile.TarInfo | Path]
    archive: tarfile.TarFile | None = None

    def read(self, member: str, limit: int) -> bytes:
        entry = self.files[member]
        size = entry.size if isinstance(entry, tarfile.TarInfo) else entry.stat().st_size
        if size > limit:
            raise SkipRecord("too_large", f"{self.name}:{member} is {size} bytes > {limit}")
        if isinstance(entry, Path):
            return entry.read_bytes()
        handle = self.archive.extractfile(entry)  # type: ignore[union-attr]
        if handle is None:
            raise SkipRecord("corrupt_package", f"{self.name}:{member}")
        return handle.read(limit + 1)


def open_package(path: Path) -> Package:
    """Index a ``.tar.gz`` (or ``.tar``) package or an extracted folder; raises SkipRecord."""
    if path.is_dir():
        root = path.resolve()
        files: dict[str, tarfile.TarInfo | Path] = {}
        for file in sorted(root.rglob("*")):
            # a symlink pointing out of the package is never followed
            if file.is_file() and file.resolve().is_relative_to(root):
                files[file.relative_to(root.parent).as_posix()] = file
        return Package(path.name, files)
    archive = None
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 - the caller closes it after reading
        members = archive.getmembers()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        if archive is not None:
            archive.close()
        raise SkipRecord("corrupt_package", f"{path.name}: {error}") from error
    files = {}
    for member in members[:MAX_MEMBERS]:
        name = posixpath.normpath(member.name)
        if member.isfile() and not name.startswith(("/", "..")):
            files[name] = member
    return Package(path.name, files, archive)


def plan_shards(
    config: dict, base_dir: Path, shard_size: int, options: dict | None = None
) -> list[ShardTask]:
    """``shard_size`` packages per shard, in sorted path order."""
    check_source_keys("pubmed", config, ("packages",))
    if shard_size < 1:
        raise QuiltError("shard_size must be >= 1")
    packages = [
        str(p) for p in expand_patterns(config.get("packages"), base_dir, what="pubmed packages")
    ]
    return [
        ShardTask(
            subset=SUBSET,
            shard_id=f"{SUBSET}-{number:05d}",
            items=tuple(packages[start : start + shard_size]),
            options={},
        )
        for number, start in enumerate(range(0, len(packages), shard_size))
    ]


def iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]:
    for package_path in task.items:
        try:
            package = open_package(Path(package_path))
        except SkipRecord as skip:
            yield skip
            continue
        try:
            articles = sorted(n for n in package.files if n.lower().endswith(".nxml"))
            if not articles:
                yield SkipRecord("no_article", package.name)
            for article in articles:
                yield from _article_pairs(package, article)
        finally:
            if package.archive is not None:
                package.archive.close()


def parse_jats(data: bytes, where: str) -> Element:
    """Parse untrusted JATS; DTD references are allowed, entity declarations are not."""
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as error:
        raise SkipRecord("hostile_xml", f"{where}: {type(error).__name__}") from error
    except (ParseError, ValueError, LookupError) as error:  # LookupError: unknown encoding
        raise SkipRecord("malformed_xml", f"{where}: {error}") from error


def _article_pairs(package: Package, article: str) -> Iterator[Candidate | SkipRecord]:
    where = f"{package.name}:{article}"
    try:
        root = parse_jats(package.read(article, MAX_XML_BYTES), where)
    except SkipRecord as skip:
        yield skip
        return
    pmcid = _pmcid(root) or _pmcid_from_name(article) or Path(article).stem
    license_ = article_license(root)
    folder = posixpath.dirname(article)
    group_caption = {
        fig: group.find("caption") for group in root.iter("fig-group") for fig in group.iter("fig")
    }
    for number, fig in enumerate(root.iter("fig"), start=1):
        fig_id = fig.get("id") or f"fig{number}"
        if "/" in fig_id or ".." in fig_id:
            yield SkipRecord("unsafe_path", f"{pmcid}: figure id {fig_id!r}")
            continue
        own_license = article_license(fig, search_root=False) or license_
        yield from _figure_pairs(
            package, folder, pmcid, f"{pmcid}/{fig_id}", fig, own_license, group_caption.get(fig)
        )


def _figure_pairs(
    package: Package,
    folder: str,
    pmcid: str,
    source_id: str,
    fig: Element,
    license_: str,
    group_caption: Element | None = None,
) -> Iterator[Candidate | SkipRecord]:
    caption, raw = figure_caption(fig, group_caption)
    if not caption:
        yield SkipRecord("empty_caption" if not raw else "emptied_by_cleaning", source_id)
        return
    graphic = fig.find(".//graphic")
    href = (
        (graphic.get(XLINK_HREF) or graphic.get("href") or "").strip()
        if graphic is not None
        else ""
    )
    if not href:
        yield SkipRecord("missing_graphic", source_id)
        return
    if not is_safe_href(href):
        yield SkipRecord("unsafe_path", f"{source_id}: {href}")
        return
    member = resolve_graphic(package, folder, href)
    if member is None:
        yield SkipRecord("graphic_not_found", f"{source_id}: {href}")
        return
    try:
        image_bytes = package.read(member, MAX_IMAGE_BYTES)
    except SkipRecord as skip:
        yield skip
        return
    named = caption_panels(caption)
    fields = {
        "noisy_text": raw,
        "text_source": "jats_caption",
        "license": license_,
        "image_url": f"pmc://{pmcid}/{href}",
        "roi_text": named.roi_text() if named else [],
        "single_wsi": 0 if named else -1,
    }
    yield Candidate(SUBSET, source_id, caption, image_bytes, fields)
    if named is None:
        return
    boxes, image, problem = _panel_boxes(image_bytes)
    if len(boxes) != len(named.panels):
        detail = problem or f"caption names {len(named.panels)} panels, image shows {len(boxes)}"
        yield SkipRecord("panels_unsplit", f"{source_id}: {detail}")
        return
    for index, box in enumerate(boxes):
        buffer = io.BytesIO()
        image.crop(box).save(buffer, format="PNG")  # lossless; the shard runner re-encodes
        letter = named.panels[index][0]
        yield Candidate(
            SUBSET,
            f"{source_id}/{letter.upper()}",
            named.caption_for(index),
            buffer.getvalue(),
            {
                "noisy_text": raw,
                "text_source": "jats_caption",
                "license": license_,
                "image_url": f"pmc://{pmcid}/{href}#panel={letter.upper()}",
                "roi_text": [named.panels[index][1]],
            },
        )


def _panel_boxes(data: bytes) -> tuple[list, Image.Image | None, str]:
    """Decode (bounded) and find panels; a failure means no panels, with the reason why."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.size[0] * image.size[1] > DEFAULT_MAX_PIXELS:
                return [], None, f"image {image.size} too large to split"
            image.load()
            image = image.convert("RGB")
    except Exception as error:  # PIL raises many types for corrupt data
        return [], None, f"image not decodable ({type(error).__name__})"
    return find_panels(image), image, ""


def figure_caption(fig: Element, group_caption: Element | None = None) -> tuple[str, str]:
    """(clean caption, raw text with the label) of a ``<fig>``; the caption of its
    ``<fig-group>``, when there is one, leads (it is the only caption of a figure without one)."""
    label = _text(fig.find("label"))
    captions = [c for c in (group_caption, fig.find("caption")) if c is not None]
    if not captions:
        return "", label
    parts = []
    for caption in captions:
        own = [_text(child) for child in caption if child.tag in ("title", "p")]
        parts += [p for p in own or [_text(caption)] if p and not _DOI_LINE.match(p)]
    text = _SPACE.sub(" ", " ".join(parts)).strip()
    raw = f"{label} {text}".strip()
    if label and text.lower().startswith(label.lower()):
        text = text[len(label) :].lstrip(" .:|")
    text = _FIGURE_PREFIX.sub("", text)
    return clean_caption(text, handles=False).text, raw


def _text(element: Element | None) -> str:
    return _SPACE.sub(" ", inline_text(element)).strip()


def is_safe_href(href: str) -> bool:
    if "\\" in href or ":" in href or href.startswith("/"):
        return False  # absolute, a Windows path or a url scheme
    return ".." not in href.split("/")


def resolve_graphic(package: Package, folder: str, href: str) -> str | None:
    base = posixpath.normpath(posixpath.join(folder, href)) if folder else posixpath.normpath(href)
    candidates = [base, *(base + ext for ext in IMAGE_EXTENSIONS)]
    candidates += [base + ext.upper() for ext in IMAGE_EXTENSIONS]
    stem = posixpath.splitext(base)[0]
    candidates += [stem + ext for ext in IMAGE_EXTENSIONS]  # "fig1.tif" shipped as "fig1.jpg"
    for candidate in candidates:
        if candidate in package.files:
            return candidate
    return None


def _pmcid(root: Element) -> str | None:
    for article_id in root.iter("article-id"):
        kind = (article_id.get("pub-id-type") or "").lower()
        value = (article_id.text or "").strip()
        if kind in ("pmc", "pmcid") and value:
            digits = value.upper().removeprefix("PMC")
            if digits.isdigit():
                return f"PMC{digits}"
    return None


def _pmcid_from_name(name: str) -> str | None:
    match = re.search(r"PMC\d+", name)
    return match[0] if match else None


def article_license(root: Element, *, search_root: bool = True) -> str:
    """ "CC BY 4.0"-style name of the licence under ``root`` (see the module doc), else ""."""
    for license_ in root.iter("license"):
        ref = license_.get(XLINK_HREF) or ""
        if not ref:
            ali = license_.find(ALI_LICENSE_REF)
            if ali is None and search_root:
                ali = next(root.iter(ALI_LICENSE_REF), None)
            ref = (ali.text or "") if ali is not None else ""
        if not ref:
            links = [e.get(XLINK_HREF) or e.text or "" for e in license_.iter() if e.tag in _LINKS]
            ref = next((link for link in links if "creativecommons.org" in link), "")
        words = _text(license_)
        return (
            license_name(ref)
            or license_from_text(words)
            or words[:200]
            or license_.get("license-type")
            or ""
        )
    if search_root:
        ali = next(root.iter(ALI_LICENSE_REF), None)
        return license_name(ali.text) if ali is not None else ""
    return ""


_LINKS = ("ext-link", "uri", "self-uri")
