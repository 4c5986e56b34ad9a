"""A loopback HTTP server for the sample corpus' web files, with scripted faults.

The sample corpus stands in for the internet: its urls point at ``127.0.0.1:PORT``, recorded in
the corpus' ``server.json``. ``serve_corpus(corpus_dir)`` serves it there; tests, the demo and
``quilt serve-sample DIR -- quilt build ...`` start it around a build (the build itself never
starts servers: to it the sample is just another set of urls).

``serve_sample(root)`` serves the files under ``root`` (the corpus' ``web/`` folder) on 127.0.0.1
from a daemon thread. ``root/_faults.json`` maps url paths to behaviours the downloaders must
survive::

    {"/laion/error.jpg": {"status": 500},
     "/laion/slow.jpg": {"delay": 5.0},
     "/laion/noai.jpg": {"headers": {"X-Robots-Tag": "noai"}},
     "/laion/cut.jpg": {"truncate": 200}}

``status`` answers with that status and no file; ``delay`` sleeps before answering; ``headers`` adds
or overrides response headers; ``truncate`` declares the full Content-Length but sends only that
many bytes, then closes. Paths that leave ``root`` (``..``, symlinks out) are 404, as are folders.
Single byte ranges (``Range: bytes=a-b``) are honoured, which video clients use.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import mimetypes
import posixpath
import re
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError

logger = logging.getLogger(__name__)

FAULTS_FILE = "_faults.json"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_EXTRA_TYPES = {".vtt": "text/vtt", ".jsonl": "application/jsonl", ".webp": "image/webp"}


def load_faults(root: Path) -> dict[str, dict[str, Any]]:
    path = root / FAULTS_FILE
    if not path.exists():
        return {}
    try:
        faults = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise QuiltError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(faults, dict):
        raise QuiltError(f"{path}: expected an object mapping url paths to faults")
    return faults


def resolve_under(root: Path, url_path: str) -> Path | None:
    """The file that ``url_path`` names inside ``root``, or None if it is outside or not a file."""
    parts = [p for p in posixpath.normpath(urllib.parse.unquote(url_path)).split("/") if p]
    if any(part in ("..", ".") or "\\" in part or "\x00" in part for part in parts):
        return None
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


class _SampleHandler(BaseHTTPRequestHandler):
    server_version = "QuiltSample/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as real CDNs do
    root: Path
    faults: dict[str, dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(send_body=False)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        url_path = urllib.parse.urlsplit(self.path).path
        fault = self.faults.get(url_path, {})
        if "delay" in fault:
            time.sleep(float(fault["delay"]))
        try:
            if "status" in fault:
                self._send_status(int(fault["status"]), fault.get("headers", {}))
                return
            path = resolve_under(self.root, url_path)
            if path is None:
                self._send_status(HTTPStatus.NOT_FOUND, {})
                return
            self._send_file(path, fault, send_body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a delay)

    def _send_status(self, status: int, headers: dict[str, str]) -> None:
        body = f"{status} {HTTPStatus(status).phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, path: Path, fault: dict[str, Any], send_body: bool) -> None:
        data = path.read_bytes()
        status, start, end = HTTPStatus.OK, 0, len(data)
        match = _RANGE.match(self.headers.get("Range", ""))
        if match and (match[1] or match[2]):
            if match[1]:
                start = int(match[1])
                end = min(int(match[2]) + 1, len(data)) if match[2] else len(data)
            else:  # suffix range: the last N bytes
                start = max(0, len(data) - int(match[2]))
            if start >= len(data) or start >= end:
                self._send_status(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, {})
                return
            status = HTTPStatus.PARTIAL_CONTENT
        headers = {
            "Content-Type": _content_type(path),
            "Content-Length": str(end - start),
            "Last-Modified": email.utils.formatdate(path.stat().st_mtime, usegmt=True),
            "Accept-Ranges": "bytes",
        }
        if status == HTTPStatus.PARTIAL_CONTENT:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        headers.update({name: str(value) for name, value in fault.get("headers", {}).items()})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not send_body:
            return
        body = data[start:end]
        if "truncate" in fault:
            self.wfile.write(body[: int(fault["truncate"])])
            self.wfile.flush()
            self.close_connection = True  # the declared length never arrives
            return
        self.wfile.write(body)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (their timeout fired, keep-alive closed) are routine here.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("client %s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


@contextlib.contextmanager
def serve_sample(root: Path | str, port: int = 0) -> Iterator[str]:
    """Serve ``root`` on ``127.0.0.1:port`` (0: a free port) and yield the base url."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise QuiltError(f"sample server root {root} is not a folder")
    handler = type("SampleHandler", (_SampleHandler,), {"root": root, "faults": load_faults(root)})
    try:
        server = _QuietServer(("127.0.0.1", port), handler)
    except OSError as error:
        raise QuiltError(f"cannot serve the sample corpus on 127.0.0.1:{port}: {error}") from error
    thread = threading.Thread(
        target=server.serve_forever, args=(0.1,), name="quilt-sample-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def serve_corpus(corpus_dir: Path | str) -> Iterator[str]:
    """Serve a sample corpus' web files on the port its urls use (from ``server.json``)."""
    from quilt_hf.synthetic.sample.common import SERVER_FILE

    corpus_dir = Path(corpus_dir).resolve()
    path = corpus_dir / SERVER_FILE
    if not path.is_file():
        raise QuiltError(
            f"{corpus_dir} is not a sample corpus (no {SERVER_FILE}); write one with "
            "`quilt sample --out DIR`"
        )
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        root, port = (corpus_dir / settings["root"]).resolve(), int(settings["port"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise QuiltError(f'{path}: expected {{"root": FOLDER, "port": N}}: {error}') from error
    if not root.is_relative_to(corpus_dir):
        raise QuiltError(f"{path}: root {root} is outside the corpus folder {corpus_dir}")
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(serve_sample(root, port=port))
        except QuiltError as error:
            raise QuiltError(
                f"{error}. The corpus' urls use port {port}: stop what holds it, or regenerate "
                "the corpus on a free port with `quilt sample --out DIR --port FREE_PORT`"
            ) from error
        logger.info("serving the sample corpus at %s", base_url)
        yield base_url


def free_port() -> int:
    """A port that is free on 127.0.0.1 now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
