"""The process-wide objects a running app needs, chosen in one place from settings."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from redis.asyncio import Redis, RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from helpline.ai.base import Embedder, LLMProvider, Moderator
from helpline.core.config import Settings
from helpline.core.db import create_engine, create_sessionmaker
from helpline.core.ratelimit import ApiRateLimiter, UserRateLimiter
from helpline.core.security import PasswordHasher, TokenCodec
from helpline.platform.cache import FAQCache, create_faq_cache
from helpline.platform.hub import Hub, create_hub
from helpline.platform.limits import WindowStore, create_limits_storage, create_window_store
from helpline.platform.onetime import OneTimeStore, create_one_time_store
from helpline.platform.sockets import PendingSockets
from helpline.platform.throttle import AuthThrottles

if TYPE_CHECKING:  # made by the packages that own them (which import this module), on first use
    from helpline.faqs.rerank import Reranker
    from helpline.faqs.views import ViewCounter
    from helpline.jobs.queue import JobQueue
    from helpline.privacy.retention import RetentionReport

log = structlog.get_logger(__name__)


def create_redis(settings: Settings) -> Redis | RedisCluster | None:
    url = settings.redis.url
    if url is None:
        return None
    opts = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0, "decode_responses": True}
    if settings.redis.cluster:
        return RedisCluster.from_url(url, **opts)
    return Redis.from_url(url, **opts)  # type: ignore[arg-type]


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    tokens: TokenCodec
    windows: WindowStore  # the API's and the chat's request windows
    llm: LLMProvider
    moderator: Moderator
    chat_limiter: UserRateLimiter
    api_limiter: ApiRateLimiter
    hub: Hub
    auth_throttles: AuthThrottles  # login, sign-up, guest and refresh limits
    one_time: OneTimeStore  # single-use codes (the widget's sign-up hand-off)
    faq_cache: FAQCache  # search results and embeddings
    redis: Redis | RedisCluster | None = None
    # HELPLINE_DATABASE_REPLICA_URL's engine: history reads go there (history_sessionmaker).
    replica_engine: AsyncEngine | None = None
    # Chat WebSockets accepted but not authenticated yet (capped by settings.ws).
    pending_sockets: PendingSockets = field(default_factory=PendingSockets)
    # The knowledge base's embedder (faqs.backends makes it on first use; tests put a fake here),
    # or why it could not be made.
    embedder: Embedder | None = None
    embedder_error: str | None = None
    # The rest of FAQ search's backends (faqs.backends), made on first use: the view counter, the
    # width of the vector columns as the database has them, the reranker (None when off or
    # missing, once ``faq_reranker_made``) and the task embedding the passages for it.
    faq_views: ViewCounter | None = None
    faq_vector_dim: int | None = None
    faq_reranker: Reranker | None = None
    faq_reranker_made: bool = False
    faq_reranker_warm: asyncio.Task[None] | None = None
    # Privacy: the last retention run's report (its admin screen reads it).
    retention_last_report: RetentionReport | None = None
    # Extra readiness checks (the LLM provider) registered by the parts that need them: optional
    # dependencies, whose failure makes /health/ready "degraded", not unready.
    health_probes: dict[str, Callable[[], Awaitable[object]]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        database_url: str,
        *,
        llm: LLMProvider | None = None,
        moderator: Moderator | None = None,
    ) -> Runtime:
        if llm is None or moderator is None:
            from helpline.ai.factory import create_moderator, create_provider

            llm = llm or create_provider(settings)
            moderator = moderator or create_moderator(settings)
        engine = create_engine(settings, database_url)
        replica = settings.database.replica_url
        redis = create_redis(settings)
        windows = create_window_store(settings, redis)
        return cls(
            settings=settings,
            database_url=database_url,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            hasher=PasswordHasher(settings.auth.bcrypt_rounds),
            tokens=TokenCodec(settings.secret_key(), settings.auth.algorithm),
            windows=windows,
            llm=llm,
            moderator=moderator,
            chat_limiter=UserRateLimiter(windows, settings.limits),
            api_limiter=ApiRateLimiter(windows, settings.limits),
            hub=create_hub(settings),
            auth_throttles=AuthThrottles.build(create_limits_storage(settings), settings),
            one_time=create_one_time_store(redis),
            faq_cache=create_faq_cache(redis),
            redis=redis,
            replica_engine=create_engine(settings, replica) if replica else None,
            health_probes={"llm": llm.health} if settings.llm.resolved_provider != "fake" else {},
        )

    @functools.cached_property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions whose connections run in autocommit, for requests that only read (search): each
        statement stands alone, as in a READ COMMITTED transaction, but without the BEGIN and
        COMMIT round trips around them (about 0.3 ms each). Same pool as ``sessionmaker``."""
        return create_sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"))

    @functools.cached_property
    def history_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Autocommit sessions for reads that may lag the primary by a moment (a user's
        conversation list and history): on the replica when one is configured, else the same as
        ``read_sessionmaker``. Never write through it; a read that must see a write just made
        reads the primary (conversations.router falls back to it on a miss)."""
        if self.replica_engine is None:
            return self.read_sessionmaker
        return create_sessionmaker(self.replica_engine.execution_options(isolation_level="AUTOCOMMIT"))

    @functools.cached_property
    def jobs(self) -> JobQueue:
        """The background-job queue (helpline.jobs): Redis when configured, else this database."""
        from helpline.jobs.queue import JobQueue

        return JobQueue.for_settings(self.settings, self.database_url)

    async def close(self) -> None:
        # Answers being generated are finished and stored before the pool goes away.
        await self.hub.drain(timeout=self.settings.llm.timeout_seconds)
        if "jobs" in self.__dict__:
            await self.jobs.close()
        await self.llm.aclose()
        await self.engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()
