"""Pure ASGI middleware: body size limit, security headers, access log + metrics."""

from __future__ import annotations

import json
import time

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpline.core.errors import error_body
from helpline.core.logging import request_fields
from helpline.core.metrics import REQUEST_COUNT, REQUEST_DURATION, WS_CONNECTIONS
from helpline.core.net import truncate_ip

log = structlog.get_logger("helpline.access")

SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # 0, as OWASP advises: the browsers' XSS auditor that "1; mode=block" switched on is gone from
    # current browsers, and where it lingers it could be used to blank or probe a page (XS-Leaks);
    # scripts are kept out by the Content-Security-Policy instead.
    (b"x-xss-protection", b"0"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
# Only on a response to an https request (RFC 6797 8.1: a host must not send it over plain
# HTTP). The scheme is https when the server itself speaks TLS, or when a trusted proxy said so
# in X-Forwarded-Proto (core.proxy.ClientAddressMiddleware sets the scope's scheme from it).
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than the limit of {limit} bytes")


class BodySizeLimitMiddleware:
    """413 for bodies over the limit, by Content-Length up front or by counting a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_json(send, 413, "payload_too_large", BodyTooLarge(self.max_bytes).detail)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException subclass, so FastAPI's body parsing re-raises it as is.
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps(error_body(code, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        wanted = [*SECURITY_HEADERS, HSTS] if scope.get("scheme") == "https" else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in wanted if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _route_template(scope: Scope) -> str:
    # The router records the matched route on the (shared) scope; its template keeps
    # the metric's label set small (/users/{user_id}, not one label per id).
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class AccessLogMiddleware:
    """One structured log line and the request metrics per HTTP request; open WebSockets counted.
    The line has the route template, the status, the latency and, once the request's token was
    read (core.logging.set_user), the user's id; the request id comes with every line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        fields = request_fields()
        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - start
            endpoint = _route_template(scope)
            REQUEST_COUNT.labels(scope["method"], endpoint, str(status)).inc()
            REQUEST_DURATION.labels(scope["method"], endpoint).observe(elapsed)
            client = scope.get("client")
            log.info(
                "request",
                method=scope["method"],
                route=endpoint,
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                # Its network only, like every address Helpline keeps (core.net); rate limits
                # see the full one, in memory or Redis.
                client=truncate_ip(client[0]) if client else None,
            )
            fields.close()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = False

        async def capture(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                WS_CONNECTIONS.inc()
            await send(message)

        fields = request_fields()
        try:
            await self.app(scope, receive, capture)
        finally:
            if accepted:
                WS_CONNECTIONS.dec()
            fields.close()
