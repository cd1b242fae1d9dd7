"""A local stand-in for Expo's push service (POST /--/api/v2/push/send), a real HTTP server:
it keeps what it received and answers each request with the next scripted reply (an HTTP
status, or a ticket error such as DeviceNotRegistered), else an ``ok`` ticket per message, as
Expo documents its answers."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.privacy.conftest import eventually
from tests.push.pushservice import serving

PATH = "/--/api/v2/push/send"


@dataclass
class ExpoRequest:
    path: str
    headers: dict[str, str]
    messages: list[dict[str, Any]]


class ExpoService:
    def __init__(self) -> None:
        self.received: list[ExpoRequest] = []
        # Each: an int (an HTTP status with an error body) or a str (a ticket error, HTTP 200).
        self.replies: deque[int | str] = deque()
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw)
                messages = body if isinstance(body, list) else [body]
                with service._lock:
                    reply = service.replies.popleft() if service.replies else None
                    service.received.append(
                        ExpoRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, messages)
                    )
                answer: dict[str, Any]
                if isinstance(reply, int):
                    status, answer = reply, {"errors": [{"code": "INTERNAL_SERVER_ERROR", "message": "try later"}]}
                elif isinstance(reply, str):
                    status = 200
                    answer = {
                        "data": [
                            {"status": "error", "message": f"{reply} for {m['to']}", "details": {"error": reply}}
                            for m in messages
                        ]
                    }
                else:
                    status = 200
                    answer = {"data": [{"status": "ok", "id": f"ticket-{i}"} for i, _ in enumerate(messages)]}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def to(self, token: str) -> list[tuple[ExpoRequest, dict[str, Any]]]:
        with self._lock:
            return [(r, m) for r in self.received for m in r.messages if m.get("to") == token]

    async def wait_for(self, token: str, count: int = 1) -> list[tuple[ExpoRequest, dict[str, Any]]]:
        got: list[tuple[ExpoRequest, dict[str, Any]]] = []

        async def there() -> bool:
            got[:] = self.to(token)
            return len(got) >= count

        await eventually(there)
        return got


@contextmanager
def expo_service() -> Iterator[ExpoService]:
    service = ExpoService()
    with serving(service.server):
        yield service
