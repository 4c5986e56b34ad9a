"""The gallery and the report in headless Chromium (Debian's chromium driven by Playwright).

Pages are opened from disk (file://) exactly as a curator would. Screenshots go to
test-artifacts/ (gitignored) for CI to keep.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from quilt_hf.gallery.search_index import tokenize
from quilt_hf.gallery.site import build_site
from quilt_hf.synthetic.gallery_dataset import write_synthetic_dataset

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install -y chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


class Page:
    """A page that records console errors and failed requests."""

    def __init__(self, browser) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console", lambda m: m.type in ("error", "warning") and self.errors.append(m.text)
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())


def write_video_dir(folder: Path, dataset_rows: list[dict]) -> dict:
    """A `quilt youtube process` folder (pairs.jsonl, stats.json, images/) as pipeline.py writes it."""
    images = folder / "images"
    images.mkdir(parents=True)
    slides = dataset_rows[:4]
    pairs = []
    for number, row in enumerate(slides):
        name = f"lecture1_image_{number:04d}.jpg"
        (images / name).write_bytes(row["image"]["bytes"])
        start = 20.0 * number
        pairs.append(
            {
                "video_id": "lecture1",
                "image_path": f"images/{name}",
                "image_time": start + 2,
                "image_end_time": start + 15,
                "start_time": start,
                "end_time": start + 15.5,
                "chunk": number,
                "corrected_text": row["caption"],
                "noisy_text": row["caption"],
                "med_umls_ids": row["med_umls_ids"],
            }
        )
    # One chunk of two slides: one text, two images.
    pairs.append({**pairs[3], "image_path": pairs[2]["image_path"], "image_time": 42.0})
    (folder / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    stats = {
        "video_id": "lecture1",
        "duration": 90.0,
        "windows": 7,
        "keyframes": 5,
        "histology_keyframes": 4,
        "chunks": 5,
        "empty_chunks": 1,
        "pair_chunk_time": 15.5,
    }
    (folder / "stats.json").write_text(json.dumps(stats))
    return {"images": 4, "chunks": 4}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, list[dict], dict]:
    base = tmp_path_factory.mktemp("gallery")
    dataset = write_synthetic_dataset(base / "syn", 700, images=150, videos=3)
    rows = []
    for split in ("train", "val"):
        rows += pq.read_table(dataset / "data" / f"{split}-00000-of-00001.parquet").to_pylist()
    expected = write_video_dir(base / "youtube" / "lecture1", rows)
    out = base / "site"
    build_site(dataset, out, video_dirs=[base / "youtube"], chunk_size=100, progress=False)
    return out, rows, expected


def cards(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#grid .card",
        """cards => cards.map(c => ({
            caption: c.querySelector('.caption').textContent,
            subset: c.querySelector('.tag.subset').textContent,
            img: c.querySelector('img') ? c.querySelector('img').getAttribute('src') : null}))""",
    )


def wait_ready(page) -> None:
    page.wait_for_selector("#grid[data-state=ready]", timeout=15000)


def test_grid_filters_search_paging(browser, site):
    out, rows, _ = site
    view = Page(browser)
    view.open(out / "index.html")
    page = view.page
    wait_ready(page)
    shown = cards(page)
    assert len(shown) == 48
    assert [c["caption"] for c in shown] == [r["caption"] for r in rows[:48]]
    assert page.inner_text("#count") == "1–48 of 700 pairs"
    # Thumbnails really load from disk.
    page.wait_for_function(
        "[...document.querySelectorAll('#grid img')].slice(0, 10).every(i => i.complete && i.naturalWidth > 0)"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gallery_grid.png"))

    # Paging: page 3 (rows 97-144) needs the second chunk file.
    page.click("#next")
    wait_ready(page)
    page.click("#next")
    page.wait_for_selector("#grid[data-page='2'][data-state=ready]")
    assert [c["caption"] for c in cards(page)] == [r["caption"] for r in rows[96:144]]
    assert any(url.endswith("data/chunks/00001.js") for url in view.requests)

    # A filter: only openpath rows, and the exact count from the facet index.
    openpath = [r for r in rows if r["subset"] == "openpath"]
    option = page.eval_on_selector(
        "#f-subset", "s => [...s.options].find(o => o.text.startsWith('openpath')).value"
    )
    page.select_option("#f-subset", option)
    page.wait_for_function(
        f"document.querySelector('#count').textContent.includes('of {len(openpath)} pairs')"
    )
    wait_ready(page)
    shown = cards(page)
    assert {c["subset"] for c in shown} == {"openpath"}
    assert [c["caption"] for c in shown] == [r["caption"] for r in openpath[:48]]
    assert "subset=openpath" in page.url

    # A search on top of the filter: every word must start a token of the caption.
    page.fill("#search", "psammo bod")
    expected = [
        r["caption"]
        for r in openpath
        if all(any(t.startswith(w) for t in tokenize(r["caption"])) for w in ("psammo", "bod"))
    ]
    page.wait_for_function("location.hash.includes('q=psammo')")
    wait_ready(page)
    page.wait_for_function(
        f"document.querySelector('#count').textContent.includes('of {len(expected)} pairs')"
    )
    assert [c["caption"] for c in cards(page)] == expected[:48] and 0 < len(expected) < len(
        openpath
    )

    # A search that matches nothing says so.
    page.fill("#search", "zzzqqq")
    page.wait_for_selector("#grid .empty")
    page.click("#reset")
    page.wait_for_function("document.querySelector('#count').textContent === '1–48 of 700 pairs'")

    # The detail dialog shows the full caption and entities.
    page.click("#grid .card >> nth=0")
    assert page.is_visible("#detail") and rows[0]["caption"] in page.inner_text("#detail")
    assert view.errors == []


def test_timeline_draws(browser, site):
    out, _, expected = site
    view = Page(browser)
    view.open(out / "videos" / "lecture1.html")
    page = view.page
    page.wait_for_selector("svg.timeline")
    assert page.locator("svg.timeline g.keyframe").count() == expected["images"]
    assert page.locator("svg.timeline g.text-window").count() == expected["chunks"]
    assert page.locator("svg.timeline rect.static-window").count() == expected["images"]
    assert page.locator("svg.timeline line.link").count() == 5  # pairs: chunk 3 has two images
    page.wait_for_function("[...document.querySelectorAll('svg.timeline image')].length === 4")
    box = page.locator("svg.timeline").bounding_box()
    assert box["width"] > 500 and box["height"] > 100
    assert "7 static windows" in page.inner_text(".facts")
    page.screenshot(path=str(ARTIFACTS / "gallery_timeline.png"))
    # Each dataset video also has a timeline, linked from the grid.
    view.open(out / "videos" / "index.html")
    assert page.locator("table.videos tbody tr").count() == 4
    view.open(out / "charts.html")
    page.wait_for_function(
        "[...document.images].length >= 5 && [...document.images].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(ARTIFACTS / "gallery_charts.png"), full_page=True)
    assert view.errors == []


def test_missing_chunk_is_reported_not_silent(browser, site, tmp_path):
    out, _, _ = site
    broken = tmp_path / "site"
    shutil.copytree(out, broken)
    (broken / "data" / "chunks" / "00000.js").unlink()
    view = Page(browser)
    view.open(broken / "index.html")
    view.page.wait_for_selector("#grid[data-state=error]")
    assert "could not load data/chunks/00000.js" in view.page.inner_text("#count")
