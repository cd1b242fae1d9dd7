"""Prometheus metrics with the spec's names, and /metrics.

Several worker processes (`helpline serve --workers N`) use prometheus-client's multiprocess mode:
``PROMETHEUS_MULTIPROC_DIR`` must be in the environment before prometheus_client is first imported
in a process (`helpline serve` sets it before uvicorn spawns the workers, core.server); each process
then writes its values to files there and /metrics, served by any of them, adds them up. A gauge
says how: ``livesum`` for what each process holds (its connections), ``mostrecent`` for a reading of
something shared (the job queue, the readiness checks) that any process may have taken last.
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import os
import shutil
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from starlette.requests import Request
from starlette.responses import Response

from helpline.core.errors import error_response

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):  # set, but not made yet: each metric below opens a file in it
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

# The spec's six (Monitoring & Observability), with labels added where a rule or a panel needs them.
REQUEST_COUNT = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"])
# By route template: a streamed answer (SSE) lasts as long as the answer, and would hide a slow API.
REQUEST_DURATION = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "endpoint"])
# Calls to the language model (not answers taken straight from a FAQ: see CHAT_ANSWERS), by
# provider (openai, local) and outcome: ok, error (the provider failed or timed out), stopped (the
# user's Stop), cancelled (the server stopped while it answered).
AI_REQUEST_COUNT = Counter("ai_requests_total", "Total AI requests", ["provider", "outcome"])
AI_RESPONSE_TIME = Histogram(
    "ai_response_time_seconds",
    "AI response time",
    ["provider"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120),
)
# kind: prompt or completion.
AI_TOKEN_USAGE = Counter("ai_tokens_used_total", "Total tokens used", ["provider", "model", "kind"])
# Connections checked out of this process's pool (in use by a request or a job), from pool events.
DB_CONNECTION_GAUGE = Gauge("db_connections_active", "Active database connections", multiprocess_mode="livesum")

# Every chat answer, by where it came from: faq (a FAQ's own answer, no model call), model,
# guard_faq / guard_dont_know / guard_greeting (the grounded-answer guard answered instead of the
# model: the closest FAQ, "I don't know", or a greeting for small talk the model embroidered),
# moderation (the question was refused), failed (no answer: error, stop).
CHAT_ANSWERS = Counter("chat_answers_total", "Chat answers by origin", ["origin"])
# The knowledge-base search behind a chat answer or the search API, cached or not.
RETRIEVAL_DURATION = Histogram(
    "retrieval_duration_seconds",
    "FAQ retrieval (search) latency",
    ["cached"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# The FAQ cache (search results, query and rerank embeddings), by kind of entry: the key's prefix.
CACHE_HITS = Counter("cache_hits_total", "Cache lookups that found a value", ["cache"])
CACHE_MISSES = Counter("cache_misses_total", "Cache lookups that found nothing", ["cache"])
# Requests (and chat messages) refused with a 429, by the limit that refused them: api-<group>,
# chat, or an auth throttle (login, register, ...).
RATE_LIMITED = Counter("rate_limited_requests_total", "Requests refused by a rate limit", ["limit"])
RATE_LIMIT_STORE_ERRORS = Counter(
    "rate_limit_store_errors_total", "Rate-limit checks that could not reach the limit store (Redis)"
)
# Open WebSocket connections (accepted, not closed yet) in this process.
WS_CONNECTIONS = Gauge("websocket_connections_active", "Open WebSocket connections", multiprocess_mode="livesum")
# Sockets the server closed or refused, by cause (slow_consumer, too_many_sockets,
# too_many_unauthenticated, frame_too_large, token_expired, signed_out, password_changed, ...).
WS_CLOSED = Counter("websocket_closed_total", "WebSocket connections closed by the server", ["cause"])
# The last readiness check of each dependency (/health/ready): 1 healthy, 0 not.
HEALTH_CHECK = Gauge(
    "health_check_status", "Last readiness check of a dependency (1 healthy)", ["check"], multiprocess_mode="mostrecent"
)

# Background jobs (helpline.jobs): runs that completed, failed for good (retries spent, or
# aborted), and were put back for a retry, by job function; the queue's depth by state (queued:
# waiting for a worker, active: running, scheduled: due later, cron or retry backoff).
JOBS_PROCESSED = Counter("jobs_processed_total", "Background jobs completed", ["function"])
JOBS_FAILED = Counter("jobs_failed_total", "Background jobs failed for good", ["function"])
JOBS_RETRIED = Counter("jobs_retried_total", "Background job attempts that failed and will be retried", ["function"])
JOBS_QUEUE_DEPTH = Gauge("jobs_queue_depth", "Background jobs in the queue", ["state"], multiprocess_mode="mostrecent")
# How long each garbage collection stopped the process (core.gcpause), by generation (0, 1, 2):
# every request, socket and stream of the process waits while it runs.
GC_PAUSE = Histogram(
    "helpline_gc_pause_seconds",
    "Garbage collection pauses",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_multiprocess() -> str:
    """Before starting several worker processes: PROMETHEUS_MULTIPROC_DIR as set (its files of an
    earlier run removed, as prometheus-client requires), or a new temporary folder removed at exit.
    The workers inherit the environment and import prometheus_client after it is set."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
        return path
    path = tempfile.mkdtemp(prefix="helpline-metrics-")
    atexit.register(shutil.rmtree, path, True)
    os.environ[MULTIPROC_ENV] = path
    return path


def track_pool(engine: AsyncEngine) -> None:
    """Keep db_connections_active as this process's checked-out connections, from pool events
    (each process counts its own pool; the gauge's livesum adds them up)."""
    from sqlalchemy import event

    def checkout(*_: object) -> None:
        DB_CONNECTION_GAUGE.inc()

    def checkin(*_: object) -> None:
        DB_CONNECTION_GAUGE.dec()

    event.listen(engine.sync_engine, "checkout", checkout)
    event.listen(engine.sync_engine, "checkin", checkin)


def process_exited() -> None:
    """Drop this process's live gauges (its connections) from the sums; called on shutdown."""
    if multiprocess():
        _multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _exposition() -> bytes:
    if not multiprocess():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def authorized(header: str, token: str | None) -> bool:
    """Whether an Authorization ``header`` may read the metrics: with no token configured, any
    (keep /metrics off the public proxy); else 'Bearer <token>'."""
    if not token:
        return True
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def serve_metrics(host: str, port: int, token: str | None) -> WSGIServer:
    """/metrics alone on ``host``:``port``, in a daemon thread, for a process that serves no HTTP
    (`helpline worker --metrics-port`): its job counters, its connections, the process's own.
    The same bearer token as the server's /metrics. By hand around wsgiref rather than
    prometheus-client's start_http_server, which has no way to ask for a token. Stop it with
    ``shutdown()``."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: /metrics only\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')]
            )
            return [b"Send 'Authorization: Bearer <HELPLINE_METRICS_TOKEN>'\n"]
        body = _exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # no line on stderr per scrape

    server = make_server(host, port, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="helpline-metrics", daemon=True).start()
    return server


async def metrics_endpoint(request: Request) -> Response:
    runtime = getattr(request.app.state, "runtime", None)
    token = runtime.settings.metrics.token if runtime is not None else None
    if not authorized(request.headers.get("authorization", ""), token):
        return error_response(
            401,
            "unauthorized",
            "Send 'Authorization: Bearer <HELPLINE_METRICS_TOKEN>'",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if runtime is not None:
        from helpline.jobs.service import update_depth_gauge

        await update_depth_gauge(runtime)
    # Several processes' files are read and merged: off the event loop.
    body = await asyncio.to_thread(_exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# The OpenAI-compatible API (helpline.openai_api), by endpoint and status. Its chat turns count in
# the ai_* metrics as the chat's do.
OPENAI_API_REQUESTS = Counter(
    "openai_api_requests_total", "Requests to the OpenAI-compatible API (/v1)", ["endpoint", "status"]
)
