"""The cost of one API rate-limit check (core/ratelimit.py: every /api/ request pays it), on Redis
and in process, against the floor of one Redis round trip (PING) measured in the same run.

A check is what RateLimitMiddleware does per request: count the request in each window of its rule
(the default three: minute, hour, day; sliding window counters, every window in one script on
Redis: platform/limits.py) and read what is left for the RateLimit headers. ``--library`` also
measures the ``limits`` library's SlidingWindowCounterRateLimiter as the app called it before
(two round trips per window, windows side by side), for comparison. Keys are spread over many callers, as in
production (each user or address has its own windows). Target (issue 20): under 0.5 ms p50 on
Redis.

    uv run python bench/bench_ratelimit.py [--redis redis://127.0.0.1:6379/9] [--checks 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from helpline.core.config import LimitsSettings
from helpline.core.ratelimit import ApiRateLimiter
from helpline.platform.limits import MemoryWindowStore, RedisWindowStore, WindowState, WindowStore


def _ms(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1] * 1000 if len(samples) > 1 else samples[0] * 1000


async def _timed(call: Callable[[int], Awaitable[object]], checks: int) -> list[float]:
    for i in range(200):  # warm-up: connections open, scripts loaded
        await call(i)
    samples = []
    for i in range(checks):
        start = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - start)
    return samples


async def _check(limiter: ApiRateLimiter, callers: int, i: int) -> object:
    return await limiter.hit("api", "user", f"u{i % callers}")


class LibraryWindows:
    """The check as the app made it before platform/limits.py (limits' strategy: a hit, then a
    read of the window, per window, the windows side by side): the baseline of ``--library``."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> list[WindowState]:
        passed = await asyncio.gather(*(self._limiter.hit(i, namespace, key) for i in items))
        stats = await asyncio.gather(*(self._limiter.get_window_stats(i, namespace, key) for i in items))
        now = time.time()
        return [WindowState(p, s.remaining, max(0.0, s.reset_time - now)) for p, s in zip(passed, stats, strict=True)]

    async def clear(self, namespace: str, key: str, items: Sequence[RateLimitItem]) -> None:
        for item in items:
            await self._limiter.clear(item, namespace, key)


def _row(name: str, samples: list[float], floor: float | None) -> None:
    p50 = _ms(samples, 0.5)
    ratio = f"{p50 / floor:5.1f}x" if floor else "     "
    print(f"{name:<48} {p50:8.3f} {_ms(samples, 0.9):8.3f} {_ms(samples, 0.99):8.3f}  {ratio}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="a Redis database this may flush")
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=1000, help="distinct users/addresses the checks spread over")
    parser.add_argument("--library", action="store_true", help="also measure limits' strategy (the old check)")
    args = parser.parse_args()
    client = aioredis.Redis.from_url(args.redis, decode_responses=True)
    await client.flushdb()
    stores: list[tuple[str, WindowStore]] = [("redis", RedisWindowStore(client)), ("in process", MemoryWindowStore())]
    if args.library:
        library = RedisStorage("async+" + args.redis, implementation="redispy", key_prefix="bench:limits")
        stores += [
            ("limits lib, redis", LibraryWindows(library)),
            ("limits lib, in process", LibraryWindows(MemoryStorage())),
        ]
    # Rules generous enough that no check is refused: the cost of a counted, allowed request.
    big = LimitsSettings(rules={"*": "1000000/minute;10000000/hour;100000000/day"})
    one = LimitsSettings(rules={"*": "1000000/minute"})
    print(f"{args.checks} checks over {args.callers} callers, sequential; milliseconds per check")
    print(f"{'':<48} {'p50':>8} {'p90':>8} {'p99':>8}  vs PING")
    ping = await _timed(lambda _: client.ping(), args.checks)
    floor = _ms(ping, 0.5)
    _row("Redis PING (one round trip: the floor)", ping, None)
    for name, storage in stores:
        for label, settings in (("3 windows (default rule)", big), ("1 window", one)):
            check = functools.partial(_check, ApiRateLimiter(storage, settings), args.callers)
            samples = await _timed(check, args.checks)
            _row(f"{name}: {label}", samples, floor if "redis" in name else None)
    await client.flushdb()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
