"""A stand-in classpulse API on a real socket, for commands tested without a stack: it records
every request and answers the admin calls a simulated class makes."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeApi:
    url: str = ""
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, JSON body)
    unhealthy_for: int = 0  # /api/health answers 503 this many times first (a stack still starting)
    busy_deletes: int = 0  # DELETE answers 503 (Retry-After: 0) this many times first (a busy stack)

    def posted(self, path: str) -> list[Any]:
        return [body for method, p, body in self.requests if method == "POST" and p == path]


@contextmanager
def fake_api(**kwargs: Any) -> Iterator[FakeApi]:
    api = FakeApi(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            api.requests.append(("GET", self.path, None))
            if self.path == "/api/health" and api.unhealthy_for > 0:
                api.unhealthy_for -= 1
                self._answer(503, {"status": "starting"})
            else:
                self._answer(200, {"status": "ok"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            api.requests.append(("POST", self.path, body))
            if self.path == "/api/admin/professors":
                self._answer(200, {"professor_id": body["professor_id"], "token": f"tok-{body['professor_id']}"})
            elif self.path.endswith("/students"):
                self._answer(200, {"students": [{"student_id": s["student_id"], "token": f"tok-{s['student_id']}"}
                                                for s in body["students"]]})
            else:
                self._answer(200, {})

        def do_DELETE(self) -> None:
            api.requests.append(("DELETE", self.path, None))
            if api.busy_deletes > 0:
                api.busy_deletes -= 1
                self._answer(503, {"errors": [{"field": "log", "error": "busy"}]}, {"Retry-After": "0"})
            else:
                self._answer(200, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
