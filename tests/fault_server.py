"""A loopback HTTP/1.1 server that injects network faults, for the downloader fault tests.

Written on raw sockets (``socketserver``) rather than ``http.server`` because the faults live below
HTTP: a TCP reset in the middle of a body, a status line that never comes, a body shorter than its
``Content-Length``, a chunked body without its last chunk, bytes that are not HTTP at all.

Each path has a *plan*: the behaviour for the 1st, 2nd, ... request to it (the last one repeats),
so "reset, then serve" exercises the client's retry. The server counts requests per path (bounded
retry and redirect loops are asserted on those counts) and records the sha256 of every body it
served in full, so a test checks a download against what really went over the wire.

Behaviours:
    ok                 200 with Content-Length (keep-alive)
    gzip               200, body gzip-compressed with Content-Encoding: gzip
    chunked            200, Transfer-Encoding: chunked
    status             ``route.status`` with a short text body (500, 503, 404, 429 ...)
    redirect           302 to ``route.location``
    wrong_type         200 with ``route.content_type`` (use e.g. text/html) and the body
    huge_declared      200 declaring a 1 GiB Content-Length, then the body, then close
    truncated          Content-Length twice the body, the body, then a clean close (FIN)
    chunked_truncated  chunked body cut before its terminating 0-size chunk, then close
    reset_before       read the request, then reset the connection (RST) with no response
    reset_mid_body     headers + half the body, then RST
    stall_headers      read the request, then send nothing for ``stall_s``
    stall_body         headers + half the body, then nothing for ``stall_s``
    drip               the body one byte every ``drip_s`` (each read is fast; the whole is slow)
    garbage            bytes that are not an HTTP response, then close
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import socketserver
import struct
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

BEHAVIOURS = frozenset(
    {
        "ok",
        "gzip",
        "chunked",
        "status",
        "redirect",
        "wrong_type",
        "huge_declared",
        "truncated",
        "chunked_truncated",
        "reset_before",
        "reset_mid_body",
        "stall_headers",
        "stall_body",
        "drip",
        "garbage",
    }
)
# Behaviours after which the client holds the full, intact body.
COMPLETE = frozenset({"ok", "gzip", "chunked", "wrong_type"})
MAX_REQUEST_BYTES = 64 * 1024


@dataclass
class Route:
    plan: tuple[str, ...] = ("ok",)
    body: bytes = b""
    content_type: str = "image/jpeg"
    status: int = 200  # for "status"
    location: str = ""  # for "redirect"
    stall_s: float = 30.0  # far past any client timeout; cut short when the server stops
    drip_s: float = 0.05

    def behaviour(self, attempt: int) -> str:
        return self.plan[min(attempt, len(self.plan) - 1)]


class FaultServer:
    """``with FaultServer() as server: url = server.add("/a.jpg", plan=("reset_before", "ok"), ...)``"""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.served: dict[str, list[str]] = defaultdict(list)  # path -> sha256 of full bodies
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tcp = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._tcp.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._tcp.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, plan: str | tuple[str, ...] = "ok", **fields: object) -> str:
        plan = (plan,) if isinstance(plan, str) else tuple(plan)
        unknown = set(plan) - BEHAVIOURS
        if unknown:
            raise ValueError(f"unknown behaviours {sorted(unknown)}")
        self.routes[path] = Route(plan=plan, **fields)  # type: ignore[arg-type]
        return self.base + path

    def sha256_served(self, path: str) -> set[str]:
        with self._lock:
            return set(self.served[path])

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # wakes stalled handlers
        self._tcp.shutdown()
        self._tcp.server_close()
        self._thread.join(timeout=5)

    # --- one connection ------------------------------------------------------------------

    def _serve_connection(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10.0)  # an idle keep-alive client cannot hold a thread for ever
        with self._lock:
            self.connections += 1
        buffer = b""
        while not self._stopping.is_set():
            try:
                head, buffer = _read_request(sock, buffer)
            except (OSError, ValueError):
                return
            if head is None:
                return  # the client closed the connection
            path = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else "/"
            with self._lock:
                attempt = self.hits[path]
                self.hits[path] += 1
                route = self.routes.get(path)
            if route is None:
                route, behaviour = Route(status=404), "status"
            else:
                behaviour = route.behaviour(attempt)
            try:
                keep_alive = self._respond(sock, path, route, behaviour)
            except OSError:
                return  # the client gave up (its timeout) while we were writing
            if not keep_alive:
                return

    def _respond(self, sock: socket.socket, path: str, route: Route, behaviour: str) -> bool:
        """Act out one behaviour; True when the connection stays usable for another request."""
        body = route.body
        half = body[: len(body) // 2]
        if behaviour in ("ok", "wrong_type"):
            sock.sendall(_head(200, route.content_type, len(body)) + body)
        elif behaviour == "gzip":
            packed = gzip.compress(body, mtime=0)
            sock.sendall(
                _head(200, route.content_type, len(packed), {"Content-Encoding": "gzip"}) + packed
            )
        elif behaviour == "chunked":
            sock.sendall(
                _head(200, route.content_type, None, _CHUNKED) + _chunks(body) + b"0\r\n\r\n"
            )
        elif behaviour == "status":
            text = f"status {route.status}".encode()
            sock.sendall(_head(route.status, "text/plain", len(text)) + text)
        elif behaviour == "redirect":
            sock.sendall(_head(302, "text/plain", 0, {"Location": route.location}))
        elif behaviour == "huge_declared":
            sock.sendall(_head(200, route.content_type, 1 << 30) + body)
            return False
        elif behaviour == "truncated":
            sock.sendall(_head(200, route.content_type, 2 * len(body)) + body)
            return False
        elif behaviour == "chunked_truncated":
            sock.sendall(_head(200, route.content_type, None, _CHUNKED) + _chunks(body))
            return False
        elif behaviour == "reset_before":
            _reset(sock)
            return False
        elif behaviour == "reset_mid_body":
            sock.sendall(_head(200, route.content_type, len(body)) + half)
            _reset(sock)
            return False
        elif behaviour == "stall_headers":
            self._stopping.wait(route.stall_s)
            return False
        elif behaviour == "stall_body":
            sock.sendall(_head(200, route.content_type, len(body)) + half)
            self._stopping.wait(route.stall_s)
            return False
        elif behaviour == "drip":
            sock.sendall(_head(200, route.content_type, len(body)))
            for byte in body:
                if self._stopping.wait(route.drip_s):
                    return False
                sock.sendall(bytes([byte]))
        elif behaviour == "garbage":
            sock.sendall(b"\x00\x01SSH-2.0-not-http\r\n\r\n\xff\xfe")
            return False
        if behaviour in COMPLETE or behaviour == "drip":
            with self._lock:
                self.served[path].append(hashlib.sha256(body).hexdigest())
        return True


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def _handler_for(server: FaultServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            server._serve_connection(self.request)

    return Handler


_CHUNKED = {"Transfer-Encoding": "chunked"}


def _head(status: int, content_type: str, length: int | None, extra: dict | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {content_type}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {200: "OK", 302: "Found", 404: "Not Found", 429: "Too Many Requests", 500: "Error"}


def _chunks(body: bytes, size: int = 1024) -> bytes:
    return b"".join(
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n"
        for i in range(0, len(body), size)
    )


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN (a crashed peer or middlebox)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _read_request(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, bytes]:
    """(request head, bytes after it); head is None when the client closed. GETs carry no body."""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_REQUEST_BYTES:
            raise ValueError("request head too large")
        data = sock.recv(4096)
        if not data:
            return None, b""
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest
