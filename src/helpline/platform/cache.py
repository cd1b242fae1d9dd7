"""A small cache for search results and embeddings: Redis when configured (shared by every
instance), else a bounded in-process LRU with expiry. A cache never breaks a request: when Redis
fails, reads miss and writes are skipped.

Invalidation is not done here: result keys carry the search version kept by the database
(``faq_search_version``), so a change makes old entries unreachable and they expire."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

from helpline.core.metrics import CACHE_HITS, CACHE_MISSES

log = structlog.get_logger(__name__)

PREFIX = "helpline:faq:"


def _counted(keys: list[str], values: list[str | None]) -> list[str | None]:
    """cache_hits_total / cache_misses_total by kind of entry: the key's prefix ("search",
    "qemb2", "rr1", ...), a handful of names the code chooses."""
    for key, value in zip(keys, values, strict=True):
        kind = key.split(":", 1)[0]
        (CACHE_MISSES if value is None else CACHE_HITS).labels(kind).inc()
    return values


class FAQCache(Protocol):
    # key -> the task filling it right now, in this process (see faqs.embeddings._fill).
    inflight: dict[str, asyncio.Task[Any]]

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    async def get_many(self, keys: list[str]) -> list[str | None]: ...


class MemoryFAQCache:
    """In this process: at most ``max_entries`` values, the least recently used going first."""

    def __init__(self, *, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        # key -> (expires at, value); most recently used last.
        self._local: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self.inflight: dict[str, asyncio.Task[Any]] = {}

    async def get(self, key: str) -> str | None:
        return _counted([key], [self._get(key)])[0]

    def _get(self, key: str) -> str | None:
        entry = self._local.get(key)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._local[key]
            return None
        self._local.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._local[key] = (self._clock() + ttl_seconds, value)
        self._local.move_to_end(key)
        while len(self._local) > self.max_entries:
            self._local.popitem(last=False)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        return _counted(keys, [self._get(k) for k in keys])


class RedisFAQCache:
    """In Redis (or Redis Cluster), shared by every instance; a failing Redis only misses."""

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self.redis = redis
        self.inflight: dict[str, asyncio.Task[Any]] = {}

    async def get(self, key: str) -> str | None:
        return _counted([key], [await self._get(key)])[0]

    async def _get(self, key: str) -> str | None:
        try:
            value = await self.redis.get(PREFIX + key)
        except (RedisError, OSError) as exc:
            log.warning("faq_cache.get_failed", error=str(exc)[:200])
            return None
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        try:
            await self.redis.set(PREFIX + key, value, ex=ttl_seconds)
        except (RedisError, OSError) as exc:
            log.warning("faq_cache.set_failed", error=str(exc)[:200])

    async def get_many(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        if isinstance(self.redis, RedisCluster):
            # Cluster keys live on different slots: one GET each.
            return _counted(keys, [await self._get(k) for k in keys])
        try:
            values = await self.redis.mget([PREFIX + k for k in keys])
        except (RedisError, OSError) as exc:
            log.warning("faq_cache.get_failed", error=str(exc)[:200])
            return _counted(keys, [None] * len(keys))
        return _counted(keys, [v if isinstance(v, str) else None for v in values])


def create_faq_cache(redis: Redis | RedisCluster | None) -> FAQCache:
    """Redis when configured (the runtime's client), in-process otherwise."""
    return MemoryFAQCache() if redis is None else RedisFAQCache(redis)
