"""The process-wide objects a running app needs, chosen in one place from settings."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from redis.asyncio import Redis, RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from helpline.ai.base import LLMProvider, Moderator
from helpline.core.config import Settings
from helpline.core.db import create_engine, create_sessionmaker
from helpline.core.ratelimit import ApiRateLimiter, UserRateLimiter
from helpline.core.security import PasswordHasher, TokenCodec
from helpline.platform.hub import GenerationHub
from helpline.platform.onetime import OneTimeStore
from helpline.platform.sockets import PendingSockets

log = structlog.get_logger(__name__)


def create_redis(settings: Settings) -> Redis | RedisCluster | None:
    url = settings.redis.url
    if url is None:
        return None
    opts = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0, "decode_responses": True}
    if settings.redis.cluster:
        return RedisCluster.from_url(url, **opts)
    return Redis.from_url(url, **opts)  # type: ignore[arg-type]


class LazyExpiryMemoryStorage(MemoryStorage):
    """limits' MemoryStorage starts a pass over every key (one thread hop per key) after each
    hit, which costs most of a core under chat load. Expired entries only waste memory (the
    moving window checks timestamps itself), so sweep at most once every few seconds."""

    _sweep_every = 5.0
    _last_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides a private method
        now = time.monotonic()
        if now - self._last_sweep < self._sweep_every:
            return
        self._last_sweep = now
        await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


def create_limits_storage(settings: Settings) -> Storage:
    """Shared (Redis) counters when Redis is configured, in-process ones otherwise."""
    url = settings.redis.url
    if url is None:
        return LazyExpiryMemoryStorage()
    if settings.redis.cluster:
        return RedisClusterStorage(url.replace("redis://", "async+redis+cluster://", 1), implementation="redispy")
    return RedisStorage("async+" + url, implementation="redispy", key_prefix="helpline:limits")


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    tokens: TokenCodec
    limits_storage: Storage
    llm: LLMProvider
    moderator: Moderator
    chat_limiter: UserRateLimiter
    api_limiter: ApiRateLimiter
    hub: GenerationHub
    redis: Redis | RedisCluster | None = None
    # Chat WebSockets accepted but not authenticated yet (capped by settings.ws).
    pending_sockets: PendingSockets = field(default_factory=PendingSockets)
    extras: dict[str, object] = field(default_factory=dict)
    # Extra readiness checks (LLM provider, ...) registered by the parts that need them.
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
        storage = create_limits_storage(settings)
        return cls(
            settings=settings,
            database_url=database_url,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            hasher=PasswordHasher(settings.auth.bcrypt_rounds),
            tokens=TokenCodec(settings.secret_key(), settings.auth.algorithm),
            limits_storage=storage,
            llm=llm,
            moderator=moderator,
            chat_limiter=UserRateLimiter(storage, settings.limits),
            api_limiter=ApiRateLimiter(storage, settings.limits),
            hub=GenerationHub.for_settings(settings),
            redis=create_redis(settings),
            health_probes={"llm": llm.health} if settings.llm.resolved_provider != "fake" else {},
        )

    @functools.cached_property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions whose connections run in autocommit, for requests that only read (search): each
        statement stands alone, as in a READ COMMITTED transaction, but without the BEGIN and
        COMMIT round trips around them (about 0.3 ms each). Same pool as ``sessionmaker``."""
        return create_sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"))

    @functools.cached_property
    def one_time(self) -> OneTimeStore:
        """Single-use codes (the widget's sign-up hand-off): shared through Redis when configured."""
        return OneTimeStore(self.redis)

    async def close(self) -> None:
        # Answers being generated are finished and stored before the pool goes away.
        await self.hub.drain(timeout=self.settings.llm.timeout_seconds)
        await self.llm.aclose()
        await self.engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()
