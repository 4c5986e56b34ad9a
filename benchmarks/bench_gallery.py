"""Gallery benchmark: site build time and page-load work in headless Chromium at 100k rows.

Builds the site of a synthetic quilt_1m-schema dataset (``quilt_hf.synthetic.gallery_dataset``: tiny
histology thumbnails, real UMLS ids) twice, then opens each in Debian's chromium:

  chunked   the gallery as `quilt inspect` writes it: 1,000-row chunk files loaded on demand
  one-file  the same site with every row in one data file (--chunk-size = rows): the peer that a
            plain "dump the table to JSON" page would be

For each it prints the build time, then (median of --loads page loads) DOMContentLoaded, first
grid render, the page's script and task time (CDP Performance.getMetrics: ScriptDuration,
TaskDuration) and JS heap, and the wall time of a common-word and a rare-word caption search.
Target: first grid render under 1 s of work for the chunked site.

    python benchmarks/bench_gallery.py [--rows 100000] [--images 10000] [--loads 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def measure_load(browser, index: Path) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    session = page.context.new_cdp_session(page)
    session.send("Performance.enable")
    page.goto(index.resolve().as_uri())
    page.wait_for_selector("#grid[data-state=ready]", timeout=120_000)
    timing = page.evaluate(
        """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            return {dcl: nav.domContentLoadedEventEnd, first: window.quiltFirstRender};
        }"""
    )
    metrics = {m["name"]: m["value"] for m in session.send("Performance.getMetrics")["metrics"]}
    result = {
        "dom_content_loaded_ms": timing["dcl"],
        "first_grid_ms": timing["first"],
        "script_ms": 1000 * metrics["ScriptDuration"],
        "task_ms": 1000 * metrics["TaskDuration"],
        "js_heap_mb": metrics["JSHeapUsedSize"] / 2**20,
    }
    for name, query in (("search_common_ms", "carcinoma"), ("search_rare_ms", "psammoma whorls")):
        started = time.perf_counter()
        page.fill("#search", query)
        page.wait_for_function(f"location.hash.includes('q={query.split()[0]}')", timeout=120_000)
        page.wait_for_selector("#grid[data-state=ready]", timeout=120_000)
        result[name] = 1000 * (time.perf_counter() - started) - 200  # minus the input debounce
    if errors:
        raise SystemExit(f"console errors: {errors[:3]}")
    page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from quilt_hf.gallery.site import build_site
    from quilt_hf.synthetic.gallery_dataset import write_synthetic_dataset

    with tempfile.TemporaryDirectory(prefix="bench_gallery_") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        dataset = write_synthetic_dataset(
            tmp / "dataset", args.rows, images=args.images, image_size=32
        )
        print(
            f"synthetic dataset: {args.rows:,} rows, {args.images:,} images in {time.perf_counter() - started:.1f}s"
        )
        sites = {}
        for name, chunk_size in (("chunked", 1000), ("one-file", args.rows)):
            result = build_site(dataset, tmp / name, chunk_size=chunk_size, progress=False)
            sites[name] = result
            data_mb = sum(p.stat().st_size for p in (tmp / name / "data").rglob("*.js")) / 2**20
            first_load_mb = (
                (tmp / name / "data" / "index.js").stat().st_size
                + (tmp / name / "data" / "chunks" / "00000.js").stat().st_size
            ) / 2**20
            print(
                f"build {name:9s} {result.seconds:6.1f}s  ({result.rows / result.seconds:,.0f} rows/s; "
                f"{result.counts.get('thumbs_made', 0):,} thumbs made, {result.counts.get('thumbs_existing', 0):,} reused; "
                f"data {data_mb:.1f} MiB, first load reads {first_load_mb:.2f} MiB)"
            )
        # Separate folders: each build makes its own thumbnails, so the two times compare.
        loads: dict[str, list[dict[str, float]]] = {name: [] for name in sites}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(args.loads):
                for name in sites:
                    loads[name].append(measure_load(browser, tmp / name / "index.html"))
            browser.close()
        keys = list(loads["chunked"][0])
        print(
            f"\npage load, median of {args.loads} (headless chromium, file://, {args.rows:,} rows)"
        )
        print(f"{'':24s}{'chunked':>12s}{'one-file':>12s}{'one-file/chunked':>18s}")
        for key in keys:
            a = statistics.median(r[key] for r in loads["chunked"])
            b = statistics.median(r[key] for r in loads["one-file"])
            print(f"{key:24s}{a:12.1f}{b:12.1f}{b / a if a else float('nan'):18.1f}x")
        first = statistics.median(r["first_grid_ms"] for r in loads["chunked"])
        print(
            f"\nchunked first grid render {first:.0f} ms: {'under' if first < 1000 else 'OVER'} the 1 s target"
        )


if __name__ == "__main__":
    main()
