"""Prometheus metrics with the spec's names."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUEST_COUNT = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"])
REQUEST_DURATION = Histogram("http_request_duration_seconds", "HTTP request duration")
AI_REQUEST_COUNT = Counter("ai_requests_total", "Total AI requests")
AI_RESPONSE_TIME = Histogram("ai_response_time_seconds", "AI response time")
AI_TOKEN_USAGE = Counter("ai_tokens_used_total", "Total tokens used")
DB_CONNECTION_GAUGE = Gauge("db_connections_active", "Active database connections")
# Sockets the server closed or refused, by cause (slow_consumer, too_many_sockets,
# too_many_unauthenticated, frame_too_large, token_expired, signed_out, password_changed, ...).
WS_CLOSED = Counter("websocket_closed_total", "WebSocket connections closed by the server", ["cause"])


async def metrics_endpoint(request: Request) -> Response:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        pool = runtime.engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        if callable(checked_out):
            DB_CONNECTION_GAUGE.set(checked_out())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


RATE_LIMIT_STORE_ERRORS = Counter(
    "rate_limit_store_errors_total", "Rate-limit checks that could not reach the limit store (Redis)"
)
