"""The HTML shell every page of a site shares (pages are written with ``quilt_hf.atomic``)."""

from __future__ import annotations

from html import escape


def page(
    title: str,
    body: str,
    scripts: tuple[str, ...] = (),
    prefix: str = "",
    nav: tuple[tuple[str, str], ...] = (
        ("index.html", "Pairs"),
        ("charts.html", "Charts"),
        ("videos/index.html", "Videos"),
    ),
) -> str:
    """A page; ``prefix`` leads to the site root (``"../"`` from ``videos/``)."""
    tags = "".join(f'<script src="{escape(s)}"></script>' for s in scripts)
    links = "".join(f'<a href="{escape(prefix + href)}">{escape(label)}</a>' for href, label in nav)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{escape(prefix)}assets/gallery.css">
</head><body>
<header class="top"><h1>{escape(title)}</h1><nav>{links}</nav></header>
{body}
{tags}
</body></html>
"""
