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

# Background jobs (helpline.jobs): runs that completed, failed for good (retries spent, or
# aborted), and were put back for a retry, by job function; the queue's depth by state (queued:
# waiting for a worker, active: running, scheduled: due later, cron or retry backoff).
JOBS_PROCESSED = Counter("jobs_processed_total", "Background jobs completed", ["function"])
JOBS_FAILED = Counter("jobs_failed_total", "Background jobs failed for good", ["function"])
JOBS_RETRIED = Counter("jobs_retried_total", "Background job attempts that failed and will be retried", ["function"])
JOBS_QUEUE_DEPTH = Gauge("jobs_queue_depth", "Background jobs in the queue", ["state"])


async def metrics_endpoint(request: Request) -> Response:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        pool = runtime.engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        if callable(checked_out):
            DB_CONNECTION_GAUGE.set(checked_out())
        from helpline.jobs.service import update_depth_gauge

        await update_depth_gauge(runtime)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


RATE_LIMIT_STORE_ERRORS = Counter(
    "rate_limit_store_errors_total", "Rate-limit checks that could not reach the limit store (Redis)"
)

# The OpenAI-compatible API (helpline.openai_api), by endpoint and status. Its chat turns count in
# the ai_* metrics as the chat's do.
OPENAI_API_REQUESTS = Counter(
    "openai_api_requests_total", "Requests to the OpenAI-compatible API (/v1)", ["endpoint", "status"]
)
