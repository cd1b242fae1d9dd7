"""The uvicorn configuration `helpline serve` runs (and the tests start): one function, so a test
of the server exercises what ships.

uvicorn has no limit on how long a client may take to send a request's headers:
``timeout_keep_alive`` only runs between requests, and every byte received cancels it, so a
client that opens connections and never finishes (or trickles) its first request holds each one
for ever (slowloris). ``limit_concurrency`` does not help either: it is checked once headers are
complete, which such a client never gets to, and it then turns honest requests away with 503s.
So the HTTP protocol below, uvicorn's own httptools one, adds what nginx calls
``client_header_timeout`` and ``limit_conn``: a deadline for the request line and headers, and a
cap on open connections per process and per client address (uvicorn has neither; its issue #160
asks for the first, see also the Slowloris fix of xorbitsai/inference, which takes the same route).
It also caps the size of a request's line and headers (nginx's ``large_client_header_buffers``):
httptools buffers a header until it ends, whatever its size, and uvicorn accepts any number.
"""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter as MetricCounter
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from helpline.core.config import Settings
from helpline.core.proxy import TrustedProxies

REFUSED_CONNECTIONS = MetricCounter(
    "http_connections_closed_total",
    "Connections the server closed to protect itself",
    ["reason"],  # header_timeout, headers_too_large, max_connections, max_connections_per_ip
)


@dataclass(frozen=True)
class ConnectionGuards:
    """Picklable (``helpline serve --workers N`` hands the configuration to spawned processes)."""

    header_timeout_seconds: float
    max_connections: int
    max_connections_per_ip: int
    max_header_bytes: int = 65536
    # Peers exempt from the per-address cap: proxies speak for many clients. "*" trusts everyone.
    trusted_proxies: tuple[str, ...] = ()

    @functools.cached_property
    def _trusted(self) -> TrustedProxies:
        return TrustedProxies(self.trusted_proxies)

    def is_trusted(self, host: str) -> bool:
        return host in self._trusted


# Open connections per client address, one tally per running server (per process, per test server).
_per_address: weakref.WeakKeyDictionary[ServerState, Counter[str]] = weakref.WeakKeyDictionary()


HEADERS_TOO_LARGE = 431


class HeadersTooLarge(Exception):
    """Raised from a parser callback: the request's line and headers are over the cap."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, a header size cap and connection caps."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        guards: ConnectionGuards,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guards = guards
        self.header_deadline: asyncio.TimerHandle | None = None
        # A request's line and headers being read (from its first byte to the end of its headers),
        # the bytes received meanwhile, and those the parser reported.
        self.in_headers = False
        self.header_bytes = 0
        self.parsed_header_bytes = 0
        self.headers_too_large = False
        self.counted_address: str | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        reason = self._over_a_cap()
        if reason is not None:
            # Closed before reading a byte: answering a 503 would mean reading the request, which
            # is what a slow client makes us wait for.
            self.refused = True
            REFUSED_CONNECTIONS.labels(reason).inc()
            transport.abort()
            return
        self._arm_header_deadline()

    def _over_a_cap(self) -> str | None:
        # The set already holds this connection.
        if len(self.connections) > self.guards.max_connections:
            return "max_connections"
        host = self.client[0] if self.client else None
        if host is None or self.guards.is_trusted(host):
            return None
        tally = _per_address.setdefault(self.server_state, Counter())
        if tally[host] >= self.guards.max_connections_per_ip:
            return "max_connections_per_ip"
        tally[host] += 1
        self.counted_address = host
        return None

    def _release_address(self) -> None:
        if self.counted_address is None:
            return
        tally = _per_address.get(self.server_state)
        if tally is not None:
            tally[self.counted_address] -= 1
            if tally[self.counted_address] <= 0:
                del tally[self.counted_address]
        self.counted_address = None

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.guards.header_timeout_seconds, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            REFUSED_CONNECTIONS.labels("header_timeout").inc()
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        # The first byte of a next request on a kept-alive connection starts its deadline (uvicorn
        # cancels its keep-alive timer on any byte, so a trickle would otherwise hold it open).
        if self.cycle is None or self.cycle.response_complete:
            self._arm_header_deadline()
        super().data_received(data)
        # Still in a request's headers after this data: httptools holds an unfinished header
        # whatever its size, so count what arrives (headers that ended in it are counted exactly,
        # by the parser callbacks below). It may include the end of the previous request's body.
        if self.in_headers and not self.refused:
            self.header_bytes += len(data)
            if self.header_bytes > self.guards.max_header_bytes:
                self._refuse_headers()

    def on_message_begin(self) -> None:
        self.in_headers = True
        self.header_bytes = self.parsed_header_bytes = 0
        super().on_message_begin()

    def _count_header(self, size: int) -> None:
        """The parser's count: exact for headers that ended within one read of the socket."""
        self.parsed_header_bytes += size
        if self.parsed_header_bytes > self.guards.max_header_bytes:
            self.headers_too_large = True
            raise HeadersTooLarge  # the parser stops; uvicorn answers through send_400_response

    def on_url(self, url: bytes) -> None:
        self._count_header(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self.headers_too_large:
            self._refuse_headers()
            return
        super().send_400_response(msg)

    def _refuse_headers(self) -> None:
        self._disarm_header_deadline()
        self.in_headers = False
        self.refused = True
        REFUSED_CONNECTIONS.labels("headers_too_large").inc()
        limit = self.guards.max_header_bytes
        body = json.dumps(
            {
                "error": "headers_too_large",
                "detail": f"A request's line and headers are limited to {limit} bytes",
                "request_id": None,
            }
        ).encode()
        head = (
            f"HTTP/1.1 {HEADERS_TOO_LARGE} Request Header Fields Too Large\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        if not self.transport.is_closing():
            self.transport.write(head.encode() + body)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self.in_headers = False
        self._disarm_header_deadline()
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        # The socket now belongs to the WebSocket protocol: this one gets no connection_lost.
        self._disarm_header_deadline()
        self._release_address()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        self._release_address()
        super().connection_lost(exc)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` (without the app)."""
    guards = ConnectionGuards(
        header_timeout_seconds=settings.server.header_timeout_seconds,
        max_connections=settings.server.max_connections,
        max_connections_per_ip=settings.server.max_connections_per_ip,
        max_header_bytes=settings.server.max_header_bytes,
        trusted_proxies=tuple(settings.trusted_proxies),
    )
    return {
        "host": settings.host,
        "port": settings.port,
        # A partial of a module-level class pickles, so spawned workers get the same guards.
        "http": functools.partial(GuardedHttpProtocol, guards=guards),
        "limit_concurrency": settings.server.max_connections,
        # The app reads X-Real-IP / X-Forwarded-For / X-Forwarded-Proto of trusted proxies itself
        # (core.proxy.ClientAddressMiddleware); uvicorn's own reading knows no X-Real-IP.
        "proxy_headers": False,
        "log_config": None,
        "server_header": False,
        # WebSocket frames are capped at the HTTP body limit (chat/ws.py checks it again for any server).
        "ws_max_size": settings.limits.max_body_bytes,
        # `--workers N`: uvicorn's supervisor kills a worker that does not answer its ping within
        # this time. A worker loading its models (ONNX embedder, classifier) on a busy machine took
        # longer than the default 5 s here and was killed and restarted in a loop.
        "timeout_worker_healthcheck": 30,
        # No permessage-deflate: its zlib state costs about 100 KiB per open socket (10,000 idle
        # chat sockets: 1051 MiB with it; bench/README.md, bench_ws_idle.py), to compress frames of
        # a few words (a token) that gain nothing from it.
        "ws_per_message_deflate": False,
    }
