"""Local HTTP stand-ins for the sessions tests (GitHub's API, the ALB's key endpoint, AppSync, ECS's
credentials endpoint): a quiet handler base that answers JSON or bytes, and a server in a thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def answer(self, status: int, payload: Any = None, content_type: str = "application/json") -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type) -> ThreadingHTTPServer:
    """Start `handler` on 127.0.0.1 (a free port) in a daemon thread; call .shutdown() when done."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
