"""OpenTelemetry tracing (core.tracing): off by default; on, a request is a server span with its SQL
statements, Redis commands and outgoing HTTP calls as spans inside it (in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from helpline.core import tracing
from helpline.core.config import RedisSettings, TracingSettings
from helpline.main import create_app
from tests.conftest import REDIS_URL, make_settings, serve_app


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    assert tracing.configure(TracingSettings(enabled=True), exporter=spans) is not None
    try:
        yield spans
    finally:
        tracing.reset()


def descends_from(span: ReadableSpan, ancestor: ReadableSpan, spans: Sequence[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return False


def test_tracing_is_off_by_default(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)
    assert settings.tracing.enabled is False
    assert tracing.configure(settings.tracing) is None
    app = create_app(settings)
    assert not any("OpenTelemetry" in m.cls.__name__ for m in app.user_middleware)  # type: ignore[attr-defined]


async def test_a_request_is_a_span_with_its_sql_and_redis_spans(
    exporter: InMemorySpanExporter, database_url: str, tmp_path: Path
) -> None:
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    settings = make_settings(
        database_url, tmp_path, redis=RedisSettings(url=REDIS_URL), tracing=TracingSettings(enabled=True)
    )
    async with serve_app(settings, database_url) as client:
        exporter.clear()
        r = await client.get("/api/v1/faqs/search", params={"q": "where is my parcel"})
        assert r.status_code == 200, r.text
        await client.get("/health/ready")  # probes are not traced
    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /api/v1/faqs/search"]
    server = servers[0]
    assert server.attributes is not None
    assert server.attributes.get("http.route") == "/api/v1/faqs/search"
    # Within the request's trace (background work, such as the job worker's polls, has its own).
    inside = [s for s in spans if descends_from(s, server, spans)]
    assert all(s.context.trace_id == server.context.trace_id for s in inside)
    systems = {str(s.attributes.get("db.system")) for s in inside if s.attributes}
    assert {"postgresql", "redis"} <= systems, [(s.name, s.attributes) for s in inside]


async def test_outgoing_http_calls_are_spans(exporter: InMemorySpanExporter, live_server: str) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://{live_server}/health")).status_code == 200
    calls = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert [s.name for s in calls] == ["GET"]


def test_log_lines_inside_a_span_carry_its_trace_id(exporter: InMemorySpanExporter) -> None:
    from helpline.core.logging import _trace_ids

    provider = tracing.configure(TracingSettings(enabled=True))
    assert provider is not None
    assert "trace_id" not in _trace_ids(None, "info", {"event": "outside"})
    with provider.get_tracer("test").start_as_current_span("work") as span:
        event = _trace_ids(None, "info", {"event": "inside"})
    assert event["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert event["span_id"] == format(span.get_span_context().span_id, "016x")


def test_log_lines_look_for_a_trace_only_while_tracing_is_on() -> None:
    import structlog

    from helpline.core.logging import _trace_ids, configure_logging

    try:
        configure_logging("INFO", json=True, traced=True)
        assert _trace_ids in structlog.get_config()["processors"]
    finally:
        configure_logging("INFO", json=True)
    assert _trace_ids not in structlog.get_config()["processors"]
