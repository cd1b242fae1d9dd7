"""Rate-limit storage: where request windows are counted.

- ``WindowStore``: sliding window counters, several windows of one caller checked and counted
  together (the spec's 60/minute, 1000/hour, 10000/day). ``MemoryWindowStore`` keeps them in
  this process; ``RedisWindowStore`` in Redis (or Redis Cluster), in one round trip per check.
- ``create_limits_storage``: the ``limits`` library's storage for the auth throttles' moving
  windows (platform.throttle), Redis when configured.

Both window stores follow ``limits``' sliding window counter (its ``acquire_sliding_window.lua``):
a window's counter lives twice its length from its first hit; once it is older than one length
it becomes the previous counter, whose count is weighted by the share of it still inside the
window. They are written here instead of calling ``limits``' SlidingWindowCounterRateLimiter
because that costs two round trips per window (check-and-count, then the read for the
RateLimit headers: 1.18 ms p50 for three windows, bench/bench_ratelimit.py) and cannot count
several windows all-or-nothing; one script for every window of the caller does both."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from redis.asyncio import Redis, RedisCluster

from helpline.core.config import Settings

PREFIX = "helpline:limits:"


@dataclass(frozen=True, slots=True)
class WindowState:
    """One window after a check: whether it had room for the request, what is left, and in how
    many seconds it has room again (0 when it holds nothing)."""

    passed: bool
    remaining: int
    reset: float


class WindowStore(Protocol):
    async def hit(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> list[WindowState]:
        """Count one request for ``key`` in every window of ``items`` when each has room, else in
        none; the windows' states after it, in the order of ``items``."""
        ...

    async def clear(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> None:
        """Forget ``key``'s counts in these windows."""
        ...


def _state(item: RateLimitItem, passed: bool, prev: int, prev_ttl: float, cur: int, cur_ttl: float) -> WindowState:
    """What is left of a window from its two counters (counts, and seconds they still live), as
    limits' SlidingWindowCounterRateLimiter.get_window_stats computes it."""
    expiry = item.get_expiry()
    remaining = max(0, item.amount - math.floor(prev * prev_ttl / expiry + cur))
    reset = math.inf
    if prev:
        reset = prev_ttl % (expiry / prev)
    if cur:
        # A counter made by this very hit lives exactly two lengths: its window ends in one.
        reset = min(reset, cur_ttl % expiry or expiry)
    return WindowState(passed, remaining, 0.0 if reset == math.inf else reset)


def window_keys(namespace: str, key: str, item: RateLimitItem) -> tuple[str, str]:
    """The previous and the current counter of one window. Every window of a caller shares a
    hash tag, so the script touches one Redis Cluster slot."""
    base = f"{PREFIX}{{{namespace}/{key}}}:{item.amount}/{item.get_expiry()}"
    return base + ":prev", base


class MemoryWindowStore:
    """The windows in this process (one instance; the embedded default). Each check runs without
    an await, so it is atomic under asyncio. Counters that have expired are swept at most once
    every ``sweep_every`` seconds, which bounds memory by the callers of the last two windows."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sweep_every: float = 5.0) -> None:
        self._clock = clock
        self._sweep_every = sweep_every
        self._last_sweep = clock()
        # key -> [count, expires at]
        self._counters: dict[str, list[float]] = {}

    def _get(self, key: str, now: float) -> tuple[int, float]:
        entry = self._counters.get(key)
        if entry is None or entry[1] <= now:
            return 0, 0.0
        return int(entry[0]), entry[1] - now

    async def hit(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> list[WindowState]:
        now = self._clock()
        self._sweep(now)
        counters = []
        passed = True
        for item in items:
            expiry = item.get_expiry()
            prev_key, cur_key = window_keys(namespace, key, item)
            cur = self._counters.get(cur_key)
            if cur is not None and 0 < cur[1] - now < expiry:  # the current window is over: shift it
                self._counters[prev_key] = cur
                self._counters[cur_key] = [0, cur[1] + expiry]
            prev_count, prev_ttl = self._get(prev_key, now)
            cur_count, cur_ttl = self._get(cur_key, now)
            if math.floor(prev_count * prev_ttl / expiry) + cur_count + 1 > item.amount:
                passed = False
            counters.append((item, prev_key, cur_key, prev_count, prev_ttl, cur_count, cur_ttl))
        states = []
        for item, _, cur_key, prev_count, prev_ttl, cur_count, cur_ttl in counters:
            if passed:
                entry = self._counters.get(cur_key)
                if entry is not None and entry[1] > now:
                    entry[0] += 1
                else:
                    self._counters[cur_key] = [1, now + 2 * item.get_expiry()]
                cur_count, cur_ttl = self._get(cur_key, now)
            states.append(_state(item, passed, prev_count, prev_ttl, cur_count, cur_ttl))
        return states

    async def clear(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> None:
        for item in items:
            for name in window_keys(namespace, key, item):
                self._counters.pop(name, None)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self._sweep_every:
            return
        self._last_sweep = now
        self._counters = {k: v for k, v in self._counters.items() if v[1] > now}


# limits' acquire_sliding_window.lua and sliding_window.lua in one script, for every window of a
# caller: KEYS are the previous and current counter of each window, in pairs; ARGV the limit and
# length (seconds) of each window. Counts in every window or none; returns whether it counted,
# then each window's previous count and TTL, current count and TTL (milliseconds).
_HIT = """
local n = #KEYS / 2
local counters = {}
local passed = 1
for i = 1, n do
    local prev_key, cur_key = KEYS[2 * i - 1], KEYS[2 * i]
    local limit, expiry = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]) * 1000
    local cur_ttl = tonumber(redis.call('pttl', cur_key))
    if cur_ttl > 0 and cur_ttl < expiry then
        redis.call('rename', cur_key, prev_key)
        redis.call('set', cur_key, 0, 'PX', cur_ttl + expiry)
    end
    local prev_count = tonumber(redis.call('get', prev_key)) or 0
    local prev_ttl = math.max(tonumber(redis.call('pttl', prev_key)), 0)
    local cur_count = tonumber(redis.call('get', cur_key)) or 0
    cur_ttl = math.max(tonumber(redis.call('pttl', cur_key)), 0)
    if math.floor(prev_count * prev_ttl / expiry) + cur_count + 1 > limit then
        passed = 0
    end
    counters[i] = {prev_count, prev_ttl, cur_count, cur_ttl, expiry}
end
local out = {passed}
for i = 1, n do
    local c = counters[i]
    if passed == 1 then
        local cur_key = KEYS[2 * i]
        if redis.call('exists', cur_key) == 1 then
            c[3] = redis.call('incrby', cur_key, 1)
        else
            redis.call('set', cur_key, 1, 'PX', c[5] * 2)
            c[3] = 1
            c[4] = c[5] * 2
        end
    end
    table.insert(out, c[1])
    table.insert(out, c[2])
    table.insert(out, c[3])
    table.insert(out, c[4])
end
return out
"""


class RedisWindowStore:
    """The windows in Redis (or Redis Cluster), shared by every instance: one script call, so one
    round trip, per check whatever the number of windows."""

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self.redis = redis
        self._hit = redis.register_script(_HIT)  # EVALSHA, loading the script when Redis lacks it
        # redis-py 8.1's RedisCluster fails concurrent EVALSHAs sent before it has loaded the
        # cluster's layout ("'NoneType' object has no attribute 'writelines'", seen in
        # tests/platform); loading it once first avoids that.
        self._initialized = not isinstance(redis, RedisCluster)
        self._initializing = asyncio.Lock()

    async def _initialize(self) -> None:
        async with self._initializing:
            if not self._initialized:
                await cast(RedisCluster, self.redis).initialize()
                self._initialized = True

    async def hit(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> list[WindowState]:
        if not self._initialized:
            await self._initialize()
        keys = [name for item in items for name in window_keys(namespace, key, item)]
        args = [n for item in items for n in (item.amount, item.get_expiry())]
        out = [int(v) for v in await self._hit(keys=keys, args=args)]
        passed = out[0] == 1
        return [
            _state(item, passed, out[1 + 4 * i], out[2 + 4 * i] / 1000, out[3 + 4 * i], out[4 + 4 * i] / 1000)
            for i, item in enumerate(items)
        ]

    async def clear(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> None:
        keys = [name for item in items for name in window_keys(namespace, key, item)]
        if keys:
            await self.redis.delete(*keys)  # one slot: one command, also on a cluster


def create_window_store(settings: Settings, redis: Redis | RedisCluster | None) -> WindowStore:
    """Redis when configured (``redis``: the runtime's client), in-process otherwise."""
    return MemoryWindowStore() if redis is None or settings.redis.url is None else RedisWindowStore(redis)


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
