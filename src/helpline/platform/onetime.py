"""Single-use values with a lifetime (hand-off codes): Redis when configured, so any instance can
redeem what another issued, else in-process. Keys are stored as given: callers pass a hash of the
secret, never the secret itself, so a dump of the store redeems nothing.

Unlike the FAQ cache, a failing Redis is an error here (a code that cannot be checked is not
valid), not a miss to work around."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis, RedisCluster

PREFIX = "helpline:once:"


class OneTimeStore:
    def __init__(
        self,
        redis: Redis | RedisCluster | None,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.max_entries = max_entries
        self._clock = clock
        self._local: dict[str, tuple[float, str]] = {}

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        if self.redis is not None:
            await self.redis.set(PREFIX + key, value, ex=ttl_seconds)
            return
        now = self._clock()
        if len(self._local) >= self.max_entries:
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
            if len(self._local) >= self.max_entries:  # still full of live codes: drop the oldest
                del self._local[next(iter(self._local))]
        self._local[key] = (now + ttl_seconds, value)

    async def take(self, key: str) -> str | None:
        """The value, removed in the same step (GETDEL): of two concurrent takes, one gets it."""
        if self.redis is not None:
            value = await self.redis.getdel(PREFIX + key)
            return value if isinstance(value, str) else None
        entry = self._local.pop(key, None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]
