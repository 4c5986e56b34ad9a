"""A loopback OpenAI-compatible chat server for tests: ``POST /v1/chat/completions``.

It answers with ``reply(messages)`` (a string, by default a JSON correction map built from
``corrections``), records every request body and header it got, and can fail the first
``fail_first`` requests with HTTP 503 to exercise client retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LLMDouble:
    def __init__(
        self,
        corrections: dict[str, str] | None = None,
        reply: Callable[[list[dict[str, Any]]], str] | None = None,
        fail_first: int = 0,
    ) -> None:
        self.corrections = corrections or {}
        self.reply = reply or self._correction_reply
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _correction_reply(self, messages: list[dict[str, Any]]) -> str:
        """Corrections whose wrong term occurs in the user message, like a well-behaved model."""
        user = messages[-1]["content"].lower()
        found = {k: v for k, v in self.corrections.items() if k.lower() in user}
        return json.dumps({"corrections": found})

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                double.requests.append(body)
                double.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.path.endswith("/chat/completions"):
                    return self._send(404, {"error": {"message": "not found"}})
                if len(double.requests) <= double.fail_first:
                    return self._send(503, {"error": {"message": "overloaded, retry"}})
                content = double.reply(body.get("messages", []))
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(double.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", "double"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> LLMDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
