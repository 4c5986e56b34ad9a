"""A concurrent, bounded image downloader shared by the web (LAION) and Twitter media sources.

Why ``urllib3``: one thread-safe ``PoolManager`` shared by every worker thread keeps HTTP/1.1
connections alive per host (no new TCP handshake per image, which is what makes a plain
``urllib.request`` loop slow), streams bodies so size and time limits apply while reading, and is
already installed with ``requests``. ``requests`` adds a layer of per-call overhead we do not need;
``http.client`` would mean writing our own connection pool.

Every url gives exactly one ``DownloadResult``, in input order. A failure never raises: it carries a
stable ``reason`` that shard stats count (``http_404``, ``http_500``, ``timeout``,
``connection_error``, ``too_large``, ``truncated``, ``not_an_image``, ``x_robots_noai``,
``unsupported_url``, ``invalid_url``, ``redirect_loop``). Time is bounded: each attempt is limited by
the connect timeout, the read timeout and a whole-response deadline (so a server that drips one byte
a second cannot hold a worker), and there are at most ``1 + retries`` attempts with capped backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)

from quilt_hf.errors import QuiltError

DEFAULT_USER_AGENT = "quilt-hf/0.1 (+https://github.com/quilt-hf; research dataset builder)"
USER_AGENT_TOKEN = "quilt-hf"  # matched against "X-Robots-Tag: quilt-hf: noai"
DISALLOWED_DIRECTIVES = ("noai", "noimageai")
DEFAULT_MAX_BYTES = 20_000_000
CHUNK_BYTES = 64 * 1024
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0
RETRYABLE_STATUSES = frozenset({429})  # "try again later"; every other 4xx is final


@dataclass
class DownloadOptions:
    """How images are downloaded: ``build.yaml``'s ``download:`` block, and ``download_many``'s
    settings."""

    timeout: float = 10.0  # seconds, to connect and for each read
    retries: int = 2  # extra attempts after 5xx, 429, timeouts and connection errors
    threads: int = 16
    max_bytes: int = DEFAULT_MAX_BYTES  # a larger response is skipped as too_large
    user_agent: str = DEFAULT_USER_AGENT
    deadline: float | None = None  # seconds for one whole response; default 3 * timeout
    respect_robots: bool = True  # skip responses whose X-Robots-Tag says noai / noimageai

    def __post_init__(self) -> None:
        if self.threads < 1 or self.retries < 0 or self.timeout <= 0:
            raise ValueError("threads >= 1, retries >= 0 and timeout > 0 are required")

    @classmethod
    def of(cls, value: DownloadOptions | Mapping[str, Any] | None) -> DownloadOptions:
        """``value`` as options: already typed, or a ``download:`` mapping whose unknown keys are
        errors (a typo must not fall back to a default)."""
        if isinstance(value, cls):
            return value
        value = dict(value or {})
        unknown = set(value) - {f.name for f in fields(cls)}
        if unknown:
            raise QuiltError(
                f"download: unknown key(s) {sorted(unknown)}; valid keys: "
                f"{sorted(f.name for f in fields(cls))}"
            )
        return cls(**value)


@dataclass
class DownloadResult:
    index: int
    url: str
    ok: bool
    data: bytes | None = None
    reason: str = ""  # empty when ok
    status: int | None = None
    content_type: str = ""
    sha256: str = ""
    seconds: float = 0.0
    attempts: int = 0


class _Failure(Exception):
    """One attempt failed with a stable reason; ``retryable`` says whether another try may help."""

    def __init__(self, reason: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status


def is_disallowed(robots_values: Iterable[str], user_agent_token: str = USER_AGENT_TOKEN) -> bool:
    """True if an ``X-Robots-Tag`` value forbids AI use for everyone or for our user agent token.

    A value is ``"noai, noimageai"`` (for all agents) or ``"token: noai"`` (for one agent).
    """
    for value in robots_values:
        agent, _, directives = value.rpartition(":")
        agent = agent.strip().lower()
        if agent and agent != user_agent_token.lower():
            continue
        if any(d.strip().lower() in DISALLOWED_DIRECTIVES for d in directives.split(",")):
            return True
    return False


class Downloader:
    """Holds the shared connection pool; ``download_many`` is the convenient entry point."""

    def __init__(self, options: DownloadOptions | None = None) -> None:
        options = options or DownloadOptions()
        timeout, threads = options.timeout, options.threads
        self.timeout = timeout
        self.retries = options.retries
        self.threads = threads
        self.max_bytes = options.max_bytes
        self.deadline = options.deadline if options.deadline is not None else 3 * timeout
        self.respect_robots = options.respect_robots
        self.pool = urllib3.PoolManager(
            num_pools=64,
            maxsize=threads,  # one kept-alive connection per worker per host
            block=False,
            headers={"User-Agent": options.user_agent, "Accept": "image/*"},
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            # urllib3 only follows redirects; our own loop decides what to retry.
            retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5),
        )
        self._random = random.Random()
        self._random_lock = threading.Lock()

    def close(self) -> None:
        self.pool.clear()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, index: int = 0) -> DownloadResult:
        """Download one url with retries; never raises."""
        started = time.monotonic()
        result = DownloadResult(index=index, url=url, ok=False)
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("http", "https"):
            result.reason = "unsupported_url"  # no file://, ftp://, data: ... from untrusted lists
            return result
        for attempt in range(self.retries + 1):
            result.attempts = attempt + 1
            try:
                result.data, result.status, result.content_type = self._attempt(url)
            except _Failure as failure:
                result.reason, result.status = failure.reason, failure.status
                if failure.retryable and attempt < self.retries:
                    time.sleep(self._backoff(attempt))
                    continue
                break
            else:
                result.ok, result.reason = True, ""
                result.sha256 = hashlib.sha256(result.data).hexdigest()
                break
        result.seconds = time.monotonic() - started
        return result

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (spreads retries of many workers apart)."""
        with self._random_lock:
            jitter = self._random.random()
        return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * (0.5 + jitter / 2)

    def _attempt(self, url: str) -> tuple[bytes, int, str]:
        started = time.monotonic()
        try:
            response = self.pool.request("GET", url, preload_content=False, decode_content=True)
        except NewConnectionError as error:
            raise _Failure("connection_error", retryable=True) from error
        except (ConnectTimeoutError, ReadTimeoutError) as error:
            raise _Failure("timeout", retryable=True) from error
        except MaxRetryError as error:  # raised for redirect loops and wrapped connect errors
            inner = error.reason
            # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: test it first.
            if isinstance(inner, (NewConnectionError, ProtocolError, OSError)):
                raise _Failure("connection_error", retryable=True) from error
            if isinstance(inner, (ConnectTimeoutError, ReadTimeoutError)):
                raise _Failure("timeout", retryable=True) from error
            if isinstance(inner, HTTPError) and not isinstance(inner, ResponseError):
                raise _Failure("connection_error", retryable=True) from error
            raise _Failure("redirect_loop", retryable=False) from error
        except (LocationParseError, ValueError) as error:
            raise _Failure("invalid_url", retryable=False) from error
        except (ProtocolError, OSError, HTTPError) as error:
            raise _Failure("connection_error", retryable=True) from error
        try:
            return self._read_body(response, started)
        except _Failure:
            _discard(response)
            raise
        finally:
            response.release_conn()

    def _read_body(
        self, response: urllib3.BaseHTTPResponse, started: float
    ) -> tuple[bytes, int, str]:
        status = response.status
        if not 200 <= status < 300:
            retryable = status >= 500 or status in RETRYABLE_STATUSES
            raise _Failure(f"http_{status}", retryable=retryable, status=status)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not content_type.startswith("image/"):
            raise _Failure("not_an_image", retryable=False, status=status)
        if self.respect_robots and is_disallowed(response.headers.getlist("X-Robots-Tag")):
            raise _Failure("x_robots_noai", retryable=False, status=status)
        declared = _content_length(response)
        if declared is not None and declared > self.max_bytes:
            raise _Failure("too_large", retryable=False, status=status)
        chunks: list[bytes] = []
        received = 0
        try:
            while True:
                if time.monotonic() - started > self.deadline:
                    raise _Failure("timeout", retryable=True, status=status)
                chunk = response.read1(CHUNK_BYTES)  # returns what has arrived, not a full chunk
                if not chunk:
                    break
                received += len(chunk)
                if received > self.max_bytes:
                    raise _Failure("too_large", retryable=False, status=status)
                chunks.append(chunk)
                if received == declared:  # all of it: no need to ask for the end of the body
                    break
        except ReadTimeoutError as error:
            raise _Failure("timeout", retryable=True, status=status) from error
        except (ProtocolError, OSError, HTTPError) as error:
            # urllib3 raises IncompleteRead (a ProtocolError) when the body ends before
            # Content-Length; a reset mid-body without a declared length is a connection error.
            reason = (
                "truncated" if declared is not None and received < declared else "connection_error"
            )
            raise _Failure(reason, retryable=True, status=status) from error
        if declared is not None and received < declared:
            raise _Failure("truncated", retryable=True, status=status)
        if received == 0:
            raise _Failure("empty_body", retryable=False, status=status)
        return b"".join(chunks), status, content_type


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Close the connection of a response we do not read to the end. Draining it instead would
    keep the connection but could wait on a dripping body; the pool simply reconnects."""
    with contextlib.suppress(HTTPError, OSError):
        response.close()


def _content_length(response: urllib3.BaseHTTPResponse) -> int | None:
    if response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None  # the declared length is of the compressed body
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def download_many(
    urls: Iterable[str], options: DownloadOptions | None = None
) -> Iterator[DownloadResult]:
    """Download ``urls`` concurrently and yield one ``DownloadResult`` per url, in input order.

    At most ``4 * options.threads`` downloads are in flight, so memory stays bounded for any number
    of urls and ``urls`` may be a lazy iterator. ``timeout`` (seconds) bounds connecting and each
    read; ``deadline`` (default ``3 * timeout``) bounds one whole response; ``retries`` extra
    attempts follow 5xx, 429, timeouts and connection errors, never other 4xx.
    """
    downloader = Downloader(options)
    threads = downloader.threads
    window = 4 * threads
    with downloader, ThreadPoolExecutor(threads, thread_name_prefix="quilt-download") as pool:
        pending: deque[Future[DownloadResult]] = deque()
        try:
            for index, url in enumerate(urls):
                pending.append(pool.submit(downloader.fetch, url, index))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # the consumer stopped early: do not start the rest
                future.cancel()
