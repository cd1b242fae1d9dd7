"""OpenTelemetry traces, off unless HELPLINE_TRACING_ENABLED: a span per request (FastAPI), with
child spans for its SQL statements (SQLAlchemy), Redis commands and outgoing HTTP calls (HTTPX,
which the OpenAI client and the mail/webhook clients use), exported over OTLP/HTTP to
HELPLINE_TRACING_OTLP_ENDPOINT (or the exporter's OTEL_EXPORTER_OTLP_* defaults).

The opentelemetry-instrumentation-* packages do the work; this module only chooses them from
settings. Everything is imported lazily: with tracing off nothing of the SDK is loaded. The tracer
provider is per process (each uvicorn worker makes its own) and is not installed as the global
one, so nothing else in the process starts tracing behind the settings' back.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine

    from helpline.core.config import TracingSettings

# Probes and scrapes every few seconds: noise in a trace store.
EXCLUDED_URLS = "/health,/health/ready,/metrics"

_lock = threading.Lock()
_provider: TracerProvider | None = None
_traced_engines: weakref.WeakSet[object] = weakref.WeakSet()


def configure(settings: TracingSettings, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """This process's tracer provider, made on the first call; None while tracing is off.
    ``exporter`` replaces OTLP, spans then exported one by one as they end (tests)."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        if not settings.enabled and exporter is None:
            return None
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            otlp = OTLPSpanExporter(endpoint=settings.otlp_endpoint) if settings.otlp_endpoint else OTLPSpanExporter()
            provider.add_span_processor(BatchSpanProcessor(otlp))
        # Both patch the client classes, so clients made before (the runtime's Redis) are traced too.
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        RedisInstrumentor().instrument(tracer_provider=provider)
        _provider = provider
        return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """A server span per HTTP request and WebSocket, named by the route template."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS)


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement of ``engine`` (once per engine), when tracing is on."""
    provider = _provider
    if provider is None or engine.sync_engine in _traced_engines:
        return
    # SQLAlchemyInstrumentor is a singleton that instruments once per process (a second engine, in
    # tests or a CLI command, would go untraced): its EngineTracer, which listens to one engine's
    # statements, is made for each engine instead. Connection-pool metrics are Prometheus's
    # (db_connections_active), so its meter is a no-op.
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    usage = NoOpMeter("helpline").create_up_down_counter("db.client.connections.usage")
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
    _traced_engines.add(engine.sync_engine)


def flush() -> None:
    """Send the spans still buffered (on shutdown)."""
    if _provider is not None:
        _provider.force_flush()


def reset() -> None:
    """Undo ``configure`` (tests): remove the patches and drop the provider."""
    global _provider
    with _lock:
        if _provider is None:
            return
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        HTTPXClientInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()
        _provider.shutdown()
        _provider = None
        _traced_engines.clear()
