"""What FAQ operations need besides a session: the embedder, the cache, the view counter. Built
once per process and kept in the runtime's typed fields (tests put a fake in ``runtime.embedder``)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.ai.base import Embedder
from helpline.ai.factory import create_embedder
from helpline.core.runtime import Runtime
from helpline.faqs.rerank import Reranker, create_reranker, warm_passages
from helpline.faqs.views import ViewCounter
from helpline.platform.cache import FAQCache

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FAQDeps:
    """``embedder`` is None when vectors cannot be made or stored right now (misconfigured
    embedder, or a vector column width that differs from the embedder's until `helpline reindex`):
    FAQs are then saved without vectors and search runs on full text alone."""

    embedder: Embedder | None
    cache: FAQCache
    views: ViewCounter
    sessionmaker: async_sessionmaker[AsyncSession]
    # How search reads queries and orders candidates (core.config.SearchSettings; faqs/query.py,
    # faqs/rerank.py). The defaults leave a query as typed and the hybrid order as found.
    reranker: Reranker | None = None
    rerank_candidates: int = 20
    rerank_weight: float = 0.0
    normalize: bool = False
    # Called when texts could not be embedded now (the embedder failing): queues the reindex job.
    reindex_later: Callable[[], Awaitable[None]] | None = None

    @property
    def model(self) -> str | None:
        return self.embedder.model if self.embedder is not None else None


def _embedder(runtime: Runtime) -> Embedder | None:
    if runtime.embedder is not None or runtime.embedder_error is not None:
        return runtime.embedder
    try:
        runtime.embedder = create_embedder(runtime.settings)
    except Exception as exc:
        # A bad embedding setting must not take the knowledge base down: text search still works.
        runtime.embedder_error = str(exc)
        log.error("faq.embedder_unavailable", error=str(exc)[:300])
    return runtime.embedder


async def vector_column_dimension(session: AsyncSession) -> int:
    """The width of the FAQ vector columns as the database has them (not as settings say)."""
    dim = await session.scalar(
        text("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'faqs'::regclass AND attname = 'question_embedding'")
    )
    return int(dim or 0)


async def resolve_deps(runtime: Runtime, session: AsyncSession) -> FAQDeps:
    cache = runtime.faq_cache
    if runtime.faq_views is None:
        runtime.faq_views = ViewCounter()
    views = runtime.faq_views
    embedder = _embedder(runtime)
    if embedder is not None:
        dim = runtime.faq_vector_dim
        if dim is None:
            dim = runtime.faq_vector_dim = await vector_column_dimension(session)
            if dim != embedder.dimension:
                log.error(
                    "faq.embedding_dimension_mismatch",
                    columns=dim,
                    embedder=embedder.dimension,
                    hint="run `helpline reindex` to resize the vector columns; until then search uses text only",
                )
        if dim != embedder.dimension:
            embedder = None
    search = runtime.settings.search
    return FAQDeps(
        embedder=embedder,
        cache=cache,
        views=views,
        sessionmaker=runtime.sessionmaker,
        reranker=_reranker(runtime, cache),
        rerank_candidates=search.rerank_candidates,
        rerank_weight=search.rerank_weight,
        normalize=search.normalize,
        reindex_later=functools.partial(_queue_reindex, runtime),
    )


# The reindex job runs this long after an edit could not embed: after the edit's request has
# committed (a job queued before the commit could miss its rows), and giving the embedder time.
REINDEX_DELAY_SECONDS = 60


async def _queue_reindex(runtime: Runtime) -> None:
    """Queue the faq_reindex job (helpline.jobs) to embed what an edit could not; one at a time
    (its key), retried with backoff while the embedder stays down. Never fails the edit."""
    from helpline.jobs.functions import FAQ_REINDEX_KEY
    from helpline.jobs.service import enqueue_after_commit

    await enqueue_after_commit(
        runtime, "faq_reindex", key=FAQ_REINDEX_KEY, scheduled=int(time.time()) + REINDEX_DELAY_SECONDS
    )


def _reranker(runtime: Runtime, cache: FAQCache) -> Reranker | None:
    """The search's reranker, made once per process (its model loads on first use); None when
    HELPLINE_SEARCH_RERANK is off or its model is missing (logged once: search keeps the hybrid
    order, as it keeps full text when the embedder is missing)."""
    if not runtime.faq_reranker_made:
        runtime.faq_reranker_made = True
        try:
            runtime.faq_reranker = create_reranker(runtime.settings.search, cache)
        except Exception as exc:
            log.error("faq.reranker_unavailable", error=str(exc)[:300])
    return runtime.faq_reranker


def embedder_for(runtime: Runtime) -> Embedder | None:
    """The knowledge base's embedder (created on first use; None when it cannot be made)."""
    return _embedder(runtime)


async def warm_reranker(runtime: Runtime) -> None:
    """Make the search's reranker now and embed the published FAQs' passages for it in the
    background (faqs.rerank.warm_passages); the start does not wait for them."""
    reranker = _reranker(runtime, runtime.faq_cache)
    if reranker is None or runtime.faq_reranker_warm is not None:
        return

    async def warm() -> None:
        try:
            primed = await warm_passages(reranker, runtime.sessionmaker)
            log.info("faq.reranker_warm", faqs=primed)
        except Exception as exc:  # searches embed what they meet instead
            log.warning("faq.reranker_warm_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    runtime.faq_reranker_warm = asyncio.create_task(warm())


async def close_embedder(runtime: Runtime) -> None:
    """Release the embedder this package created (the runtime does not know about it)."""
    embedder, runtime.embedder = runtime.embedder, None
    if embedder is not None:
        await embedder.aclose()
    warming, runtime.faq_reranker_warm = runtime.faq_reranker_warm, None
    if warming is not None and not warming.done():
        warming.cancel()
    reranker, runtime.faq_reranker = runtime.faq_reranker, None
    runtime.faq_reranker_made = False
    if reranker is not None:
        await reranker.aclose()
