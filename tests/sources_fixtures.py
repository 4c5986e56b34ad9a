"""Test helpers for the source and downloader tests: a loopback image server and fixture builders
in the real input formats (Twitter API v2 JSON, JATS nxml in PMC OA tar.gz packages, parquet).
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image


def make_jpeg(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small noisy JPEG that differs per seed."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def make_composite(
    grid: tuple[int, int], panel: tuple[int, int] = (80, 60), gutter: int = 8, fmt: str = "PNG"
) -> bytes:
    """A multi-panel figure: ``rows x cols`` textured panels separated by white gutters."""
    rows, cols = grid
    width = cols * panel[0] + (cols + 1) * gutter
    height = rows * panel[1] + (rows + 1) * gutter
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    rng = np.random.default_rng(rows * 10 + cols)
    for r in range(rows):
        for c in range(cols):
            top = gutter + r * (panel[1] + gutter)
            left = gutter + c * (panel[0] + gutter)
            tissue = rng.integers(60, 220, (panel[1], panel[0], 3), dtype=np.uint8)
            canvas[top : top + panel[1], left : left + panel[0]] = tissue
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format=fmt)
    return buffer.getvalue()


# --- loopback HTTP server -------------------------------------------------------------------


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "image/jpeg"
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: str = "normal"  # normal | slow_drip | truncated | fail_then_ok | unsized | reset
    failures_left: int = 0  # for fail_then_ok: how many 500s before the body


class ImageServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 serving registered routes; counts hits per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real image hosts

            def setup(self) -> None:
                super().setup()  # no Nagle delay on keep-alive responses, as real hosts do
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with server.lock:
                    server.hits[self.path] += 1
                    route = server.routes.get(self.path)
                    if route is not None and route.behaviour == "fail_then_ok":
                        failing = route.failures_left > 0
                        route.failures_left -= 1
                    else:
                        failing = False
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                elif failing:
                    self._send(500, b"oops", "text/plain", {})
                elif route.behaviour == "slow_drip":
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    for byte in route.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.05)
                elif route.behaviour == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body) * 2))
                    self.end_headers()
                    self.wfile.write(route.body)
                    self.wfile.flush()
                    self.close_connection = True
                elif route.behaviour == "unsized":  # no Content-Length: body ends at close
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(route.body)
                    self.close_connection = True
                elif route.behaviour == "reset":
                    self.close_connection = True  # close without any response
                else:
                    self._send(route.status, route.body, route.content_type, route.headers)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, **route: object) -> str:
        self.routes[path] = Route(**route)  # type: ignore[arg-type]
        return self.base + path

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Twitter API v2 -------------------------------------------------------------------------


def tweet(
    tweet_id: str,
    text: str,
    author: str,
    conversation: str | None = None,
    media_keys: list[str] | None = None,
    reply_to: str | None = None,
) -> dict:
    """A tweet object as the v2 API returns it with the usual expansions."""
    obj: dict = {
        "id": tweet_id,
        "text": text,
        "author_id": author,
        "conversation_id": conversation or tweet_id,
        "entities": {},
    }
    if media_keys:
        obj["attachments"] = {"media_keys": media_keys}
    if reply_to:
        obj["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
    return obj


def api_response(tweets: list[dict], media: list[dict], missing_ids: list[str] = ()) -> dict:
    response: dict = {"data": tweets, "includes": {"media": media}}
    if missing_ids:
        response["errors"] = [
            {
                "value": i,
                "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in missing_ids
        ]
    return response


def photo(media_key: str, url: str) -> dict:
    return {"media_key": media_key, "type": "photo", "url": url, "width": 64, "height": 48}


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return path


# --- PMC OA packages ------------------------------------------------------------------------

JATS_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.3 20210610//EN" "JATS-archivearticle1-3.dtd">
"""


def jats_article(pmcid: str, figures: list[str], license_href: str | None = None) -> str:
    """A JATS article with ``figures`` (each a ready ``<fig>...</fig>`` string)."""
    permissions = ""
    if license_href:
        permissions = (
            f'<permissions><license license-type="open-access" xlink:href="{license_href}">'
            "<license-p>Open access.</license-p></license></permissions>"
        )
    return (
        JATS_HEAD
        + '<article xmlns:xlink="http://www.w3.org/1999/xlink" article-type="case-report">'
        + "<front><article-meta>"
        + f'<article-id pub-id-type="pmc">{pmcid.removeprefix("PMC")}</article-id>'
        + "<title-group><article-title>A case</article-title></title-group>"
        + permissions
        + "</article-meta></front><body><sec><p>Body text.</p>"
        + "".join(figures)
        + "</sec></body></article>"
    )


def fig(fig_id: str, label: str, title: str, text: str, href: str | None) -> str:
    graphic = f'<graphic xlink:href="{href}"/>' if href is not None else ""
    title_xml = f"<title>{title}</title>" if title else ""
    return (
        f'<fig id="{fig_id}" position="float"><label>{label}</label>'
        f"<caption>{title_xml}<p>{text}</p></caption>{graphic}</fig>"
    )


def write_package(path: Path, pmcid: str, files: dict[str, bytes | str]) -> Path:
    """A PMC OA package: ``PMCID/<name>`` members in a ``.tar.gz``."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{pmcid}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
