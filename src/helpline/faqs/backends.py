"""What FAQ operations need besides a session: the embedder, the cache, the view counter. Built
once per process and kept in ``runtime.extras`` (tests inject ``runtime.extras["embedder"]``)."""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import cast

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from helpline.ai.base import Embedder
from helpline.core.config import Settings
from helpline.core.runtime import Runtime
from helpline.faqs.rerank import Reranker, create_reranker, warm_passages
from helpline.faqs.views import ViewCounter
from helpline.platform.cache import FAQCache

log = structlog.get_logger(__name__)

EMBEDDER_KEY = "embedder"
_CACHE_KEY = "faq_cache"
_VIEWS_KEY = "faq_views"
_DIM_KEY = "faq_vector_dim"
_ERROR_KEY = "faq_embedder_error"
RERANKER_KEY = "faq_reranker"
_RERANK_WARM_KEY = "faq_reranker_warm"


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

    @property
    def model(self) -> str | None:
        return self.embedder.model if self.embedder is not None else None


def create_embedder(settings: Settings) -> Embedder:
    """The configured embedder (``helpline.ai.factory.create_embedder``), or the fake one where
    no factory exists yet."""
    factory = getattr(importlib.import_module("helpline.ai.factory"), "create_embedder", None)
    if factory is None:
        from helpline.ai.embeddings.fake import FakeEmbedder

        log.warning("faq.fake_embedder", reason="helpline.ai.factory has no create_embedder")
        return FakeEmbedder(settings.embedding.dimension)
    return cast(Embedder, factory(settings))


def _embedder(runtime: Runtime) -> Embedder | None:
    extras = runtime.extras
    if EMBEDDER_KEY in extras:
        return cast(Embedder | None, extras[EMBEDDER_KEY])
    if _ERROR_KEY in extras:
        return None
    try:
        embedder = create_embedder(runtime.settings)
    except Exception as exc:
        # A bad embedding setting must not take the knowledge base down: text search still works.
        extras[_ERROR_KEY] = str(exc)
        log.error("faq.embedder_unavailable", error=str(exc)[:300])
        return None
    extras[EMBEDDER_KEY] = embedder
    return embedder


async def vector_column_dimension(session: AsyncSession) -> int:
    """The width of the FAQ vector columns as the database has them (not as settings say)."""
    dim = await session.scalar(
        text("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'faqs'::regclass AND attname = 'question_embedding'")
    )
    return int(dim or 0)


def _cache(runtime: Runtime) -> FAQCache:
    cache = runtime.extras.get(_CACHE_KEY)
    if not isinstance(cache, FAQCache):
        cache = runtime.extras[_CACHE_KEY] = FAQCache(runtime.redis)
    return cache


async def resolve_deps(runtime: Runtime, session: AsyncSession) -> FAQDeps:
    extras = runtime.extras
    cache = _cache(runtime)
    views = extras.get(_VIEWS_KEY)
    if not isinstance(views, ViewCounter):
        views = extras[_VIEWS_KEY] = ViewCounter()
    embedder = _embedder(runtime)
    if embedder is not None:
        dim = extras.get(_DIM_KEY)
        if not isinstance(dim, int):
            dim = extras[_DIM_KEY] = await vector_column_dimension(session)
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
    )


def _reranker(runtime: Runtime, cache: FAQCache) -> Reranker | None:
    """The search's reranker, made once per process (its model loads on first use); None when
    HELPLINE_SEARCH_RERANK is off or its model is missing (logged once: search keeps the hybrid
    order, as it keeps full text when the embedder is missing)."""
    extras = runtime.extras
    if RERANKER_KEY not in extras:
        try:
            extras[RERANKER_KEY] = create_reranker(runtime.settings.search, cache)
        except Exception as exc:
            log.error("faq.reranker_unavailable", error=str(exc)[:300])
            extras[RERANKER_KEY] = None
    return cast(Reranker | None, extras[RERANKER_KEY])


def embedder_for(runtime: Runtime) -> Embedder | None:
    """The knowledge base's embedder (created on first use; None when it cannot be made)."""
    return _embedder(runtime)


async def warm_reranker(runtime: Runtime) -> None:
    """Make the search's reranker now and embed the published FAQs' passages for it in the
    background (faqs.rerank.warm_passages); the start does not wait for them."""
    reranker = _reranker(runtime, _cache(runtime))
    if reranker is None or _RERANK_WARM_KEY in runtime.extras:
        return

    async def warm() -> None:
        try:
            primed = await warm_passages(reranker, runtime.sessionmaker)
            log.info("faq.reranker_warm", faqs=primed)
        except Exception as exc:  # searches embed what they meet instead
            log.warning("faq.reranker_warm_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    runtime.extras[_RERANK_WARM_KEY] = asyncio.create_task(warm())


async def close_embedder(runtime: Runtime) -> None:
    """Release the embedder this package created (the runtime does not know about it)."""
    embedder = runtime.extras.pop(EMBEDDER_KEY, None)
    if embedder is not None:
        await cast(Embedder, embedder).aclose()
    warming = runtime.extras.pop(_RERANK_WARM_KEY, None)
    if isinstance(warming, asyncio.Task) and not warming.done():
        warming.cancel()
    reranker = runtime.extras.pop(RERANKER_KEY, None)
    if reranker is not None:
        await cast(Reranker, reranker).aclose()
