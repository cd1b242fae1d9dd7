"""Single-use values with a lifetime (hand-off codes): Redis when configured, so any instance can
redeem what another issued, else in-process. Keys are stored as given: callers pass a hash of the
secret, never the secret itself, so a dump of the store redeems nothing.

Unlike the FAQ cache, a failing Redis is an error here (a code that cannot be checked is not
valid), not a miss to work around."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis, RedisCluster

PREFIX = "helpline:once:"


class OneTimeStore(Protocol):
    async def put(self, key: str, value: str, ttl_seconds: int) -> None: ...

    async def take(self, key: str) -> str | None:
        """The value, removed in the same step: of two concurrent takes, one gets it."""
        ...


class MemoryOneTimeStore:
    """In this process, at most ``max_entries`` values (expired ones go first, then the oldest)."""

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._local: dict[str, tuple[float, str]] = {}

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        now = self._clock()
        if len(self._local) >= self.max_entries:
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
            if len(self._local) >= self.max_entries:  # still full of live codes: drop the oldest
                del self._local[next(iter(self._local))]
        self._local[key] = (now + ttl_seconds, value)

    async def take(self, key: str) -> str | None:
        entry = self._local.pop(key, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]


class RedisOneTimeStore:
    """In Redis (or Redis Cluster): SET with an expiry, GETDEL to take."""

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self.redis = redis

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        await self.redis.set(PREFIX + key, value, ex=ttl_seconds)

    async def take(self, key: str) -> str | None:
        value = await self.redis.getdel(PREFIX + key)
        return value if isinstance(value, str) else None


def create_one_time_store(redis: Redis | RedisCluster | None) -> OneTimeStore:
    """Redis when configured (the runtime's client), in-process otherwise."""
    return MemoryOneTimeStore() if redis is None else RedisOneTimeStore(redis)
