"""create_app(): routers, middleware, lifespan; nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from helpline import __version__
from helpline.admin.router import router as admin_router
from helpline.analytics.router import router as analytics_router
from helpline.apikeys.router import router as apikeys_router
from helpline.auth.router import router as auth_router
from helpline.chat.router import router as chat_router
from helpline.chat.service import sweep_abandoned_answers
from helpline.chat.ws import router as ws_router
from helpline.conversations.router import router as conversations_router
from helpline.core import gcpause, tracing
from helpline.core.config import Settings, get_settings
from helpline.core.embedded_pg import EmbeddedPostgres
from helpline.core.errors import install_error_handlers
from helpline.core.logging import configure_logging
from helpline.core.metrics import metrics_endpoint, process_exited
from helpline.core.middleware import AccessLogMiddleware, BodySizeLimitMiddleware, SecurityHeadersMiddleware
from helpline.core.openapi import install_openapi
from helpline.core.proxy import ClientAddressMiddleware
from helpline.core.ratelimit import RATE_LIMIT_HEADERS, RateLimitMiddleware
from helpline.core.runtime import Runtime
from helpline.faqs.router import router as faqs_router
from helpline.health.router import router as health_router
from helpline.jobs.router import router as jobs_router
from helpline.moderation.router import router as moderation_router
from helpline.notifications.router import router as outbox_router
from helpline.openai_api.router import router as openai_router
from helpline.privacy.router import router as privacy_router
from helpline.push.router import router as push_router
from helpline.support.router import router as support_user_router
from helpline.support.router import support as support_router
from helpline.users.router import router as users_router
from helpline.web.docs import install_api_docs
from helpline.web.router import router as web_router
from helpline.widget.router import router as widget_router


async def warm_up(runtime: Runtime) -> None:
    """Load the local model and the moderation classifier now, not on the first user's message.
    A provider that is down does not stop the start: /health/ready reports it."""
    log = structlog.get_logger(__name__)
    try:
        await runtime.llm.health()
    except Exception as exc:
        log.warning("llm.not_ready", provider=runtime.llm.name, error=str(exc)[:300])
    from helpline.faqs.backends import embedder_for, warm_reranker

    for part in (runtime.moderator, embedder_for(runtime)):
        warm = getattr(part, "warm_up", None)
        if warm is not None:
            await warm()
    await warm_reranker(runtime)  # its FAQ passages are embedded in the background
    if runtime.settings.guard.enabled:
        from helpline.chat import guard

        await asyncio.to_thread(guard.warm_up)  # the language identifier, about 0.5 s


@asynccontextmanager
async def _jobs_worker(runtime: Runtime, *, schedules: bool) -> AsyncIterator[None]:
    """The in-process job worker, unless HELPLINE_JOBS_IN_SERVER=false (`helpline worker` runs them)."""
    if not runtime.settings.jobs.in_server:
        yield
        return
    from helpline.jobs.worker import start_worker

    running = start_worker(runtime, schedules=schedules)
    try:
        yield
    finally:
        await running.stop()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the ASGI app. Give ``runtime`` to share one (tests, benchmarks); otherwise the
    lifespan builds it from settings, starting the embedded PostgreSQL when no URL is set."""
    settings = settings or (runtime.settings if runtime else get_settings())
    tracer_provider = tracing.configure(settings.tracing)
    configure_logging(settings.log_level, settings.log_json, traced=tracer_provider is not None)
    gcpause.instrument()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            # A shared runtime (tests, benchmarks): its jobs run here, but nothing is scheduled,
            # so no clean-up or retention run races what a test sets up.
            app.state.runtime = runtime
            tracing.instrument_engine(runtime.engine)
            async with _jobs_worker(runtime, schedules=False):
                yield
            tracing.flush()
            return
        embedded = EmbeddedPostgres(settings.pg_data_dir) if settings.embedded_database else None
        url = embedded.start() if embedded else settings.database.url
        assert url is not None
        own = Runtime.build(settings, url)
        app.state.runtime = own
        tracing.instrument_engine(own.engine)
        await sweep_abandoned_answers(own)
        await warm_up(own)
        gcpause.settle()  # what start-up built stays: later collections skip it
        try:
            # Guest and export clean-up, retention and the rest run as jobs (helpline.jobs).
            async with _jobs_worker(own, schedules=True):
                yield
        finally:
            from helpline.faqs.backends import close_embedder

            await own.close()
            await close_embedder(own)
            if embedded:
                embedded.release()
            tracing.flush()
            process_exited()  # its live gauges leave /metrics' sums (several workers)

    app = FastAPI(
        title="Helpline",
        version=__version__,
        description="Self-hostable AI support chatbot grounded in your own knowledge base.",
        lifespan=lifespan,
        # Served by helpline.web.docs from bundled files, not FastAPI's CDN-loading pages.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)
    for router in (health_router, auth_router, users_router, chat_router, ws_router, conversations_router):
        app.include_router(router)
    app.include_router(faqs_router)
    app.include_router(widget_router)
    app.include_router(privacy_router)
    app.include_router(admin_router)
    app.include_router(jobs_router)
    app.include_router(moderation_router)
    app.include_router(outbox_router)
    app.include_router(analytics_router)
    app.include_router(push_router)
    app.include_router(apikeys_router)
    # The OpenAI-compatible API (/v1), with API keys.
    app.include_router(openai_router)
    app.include_router(support_user_router)
    app.include_router(support_router)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    if settings.api_docs:
        install_api_docs(app)
    # Last: its catch-all answers page paths with the web app.
    app.include_router(web_router)

    # Added innermost first: the request id wraps everything, so every log line and error has it.
    # Rate limits: after the real client address and the request id are known, before any work.
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Retry-After", *RATE_LIMIT_HEADERS],
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
    # Outermost: everything after it (access log, rate limits, audit) sees the real client.
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.trusted_proxies)
    if tracer_provider is not None:
        tracing.instrument_app(app, tracer_provider)  # outermost: the span covers everything
    return app
