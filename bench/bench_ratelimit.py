"""The cost of one API rate-limit check (core/ratelimit.py: every /api/ request pays it), on Redis
and in process, against the floor of one Redis round trip (PING) measured in the same run.

A check is what RateLimitMiddleware does per request: count the request in each window of its rule
(the default three: minute, hour, day; moving windows, one atomic script each, run side by side)
and read what is left for the RateLimit headers. Keys are spread over many callers, as in
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
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from limits.aio.storage import MemoryStorage, RedisStorage, Storage

from helpline.core.config import LimitsSettings
from helpline.core.ratelimit import ApiRateLimiter


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


def _row(name: str, samples: list[float], floor: float | None) -> None:
    p50 = _ms(samples, 0.5)
    ratio = f"{p50 / floor:5.1f}x" if floor else "     "
    print(f"{name:<44} {p50:8.3f} {_ms(samples, 0.9):8.3f} {_ms(samples, 0.99):8.3f}  {ratio}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="a Redis database this may flush")
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=1000, help="distinct users/addresses the checks spread over")
    args = parser.parse_args()
    client = aioredis.Redis.from_url(args.redis)
    await client.flushdb()
    stores: list[tuple[str, Storage]] = [
        ("redis", RedisStorage("async+" + args.redis, implementation="redispy", key_prefix="bench:limits")),
        ("in process", MemoryStorage()),
    ]
    # Rules generous enough that no check is refused: the cost of a counted, allowed request.
    big = LimitsSettings(rules={"*": "1000000/minute;10000000/hour;100000000/day"})
    one = LimitsSettings(rules={"*": "1000000/minute"})
    print(f"{args.checks} checks over {args.callers} callers, sequential; milliseconds per check")
    print(f"{'':<44} {'p50':>8} {'p90':>8} {'p99':>8}  vs PING")
    ping = await _timed(lambda _: client.ping(), args.checks)
    floor = _ms(ping, 0.5)
    _row("Redis PING (one round trip: the floor)", ping, None)
    for name, storage in stores:
        for label, settings in (("3 windows (default rule)", big), ("1 window", one)):
            check = functools.partial(_check, ApiRateLimiter(storage, settings), args.callers)
            samples = await _timed(check, args.checks)
            _row(f"{name}: {label}", samples, floor if name == "redis" else None)
    await client.flushdb()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
