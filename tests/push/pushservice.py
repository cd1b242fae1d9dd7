"""A real local push service for the tests: an HTTP server that takes what pywebpush posts, the
way a browser's push service would, checks the VAPID signature (RFC 8292) and decrypts the body
(aes128gcm, RFC 8291) with the browser's private key, which the test made (a "browser" here is
a P-256 key pair and an auth secret, as a real one keeps them)."""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from helpline.core.vapid import b64url, b64url_decode, public_point
from tests.privacy.conftest import eventually


@dataclass
class Browser:
    """A browser's side of a subscription: the keys a push is encrypted for."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def subscription(self) -> dict[str, Any]:
        """PushSubscription.toJSON(), as the browser would send it."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": public_point(self.private_key.public_key()), "auth": b64url(self.auth)},
        }


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def vapid(self, public_key: str) -> dict[str, Any]:
        """The VAPID JWT's claims, its signature checked with the server's public key (and the key
        named in the header being that one)."""
        scheme, _, params = self.headers["authorization"].partition(" ")
        assert scheme == "vapid", self.headers["authorization"]
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        assert parts["k"] == public_key
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
        claims: dict[str, Any] = jwt.decode(
            parts["t"], key, algorithms=["ES256"], options={"verify_aud": False, "require": ["aud", "exp", "sub"]}
        )
        return claims

    def decrypt(self, browser: Browser) -> dict[str, Any]:
        assert self.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            self.body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
        )
        message: dict[str, Any] = json.loads(plain)
        return message


class PushService:
    """Answers each POST with the next status in ``statuses`` (201 once they run out)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with service._lock:
                    status = service.statuses.popleft() if service.statuses else 201
                    service.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def browser(self, name: str = "device") -> Browser:
        return Browser(f"{self.origin}/push/{name}-{secrets.token_hex(4)}")

    def to(self, browser: Browser) -> list[Received]:
        with self._lock:
            return [r for r in self.received if self.origin + r.path == browser.endpoint]

    async def wait_for(self, browser: Browser, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """The pushes ``browser`` got, once there are ``count`` (a condition with a deadline)."""
        got: list[Received] = []

        async def there() -> bool:
            got[:] = self.to(browser)
            return len(got) >= count

        await eventually(there, timeout)
        return got


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """A stand-in's HTTP server answering in a thread for the block, then closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def push_service() -> Iterator[PushService]:
    service = PushService()
    with serving(service.server):
        yield service
