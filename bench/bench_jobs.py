"""Background jobs (helpline.jobs, saq) on both queues: the cost of queuing one job, and jobs per
second through one worker, against the floor of one round trip to the same store (Redis PING,
PostgreSQL SELECT 1) measured in the same run.

The jobs are no-ops, so the figures are the queue's own cost: what every export, clean-up and
reindex pays on top of its work. PostgreSQL is an embedded server in a temporary folder, as in
the default set-up without Redis.

    uv run python bench/bench_jobs.py [--redis redis://127.0.0.1:6379/9] [--jobs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import redis.asyncio as aioredis
from saq import Worker

from helpline.core.config import DatabaseSettings, JobsSettings, RedisSettings, load_settings
from helpline.core.embedded_pg import EmbeddedPostgres
from helpline.jobs.queue import SCHEMA, JobQueue, postgres_conninfo


async def noop(ctx: Any) -> None:
    return None


def _ms(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q * 100) - 1] * 1000


async def _timed(call: Any, n: int) -> list[float]:
    for _ in range(50):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def measure(name: str, queue: JobQueue, floor: list[float], jobs: int, concurrency: int) -> None:
    await queue.connected()
    counter = iter(range(10**9))
    enqueue = await _timed(lambda: queue.enqueue("noop", key=f"e{next(counter)}"), jobs)
    p50_floor = _ms(floor, 0.5)
    print(f"{name:<10} round trip (floor)     p50 {p50_floor:7.3f} ms  p99 {_ms(floor, 0.99):7.3f} ms")
    print(
        f"{name:<10} enqueue one job        p50 {_ms(enqueue, 0.5):7.3f} ms  p99 {_ms(enqueue, 0.99):7.3f} ms"
        f"  ({_ms(enqueue, 0.5) / p50_floor:4.1f}x the round trip)"
    )
    # Throughput: a worker drains what is queued (the jobs enqueued above plus the warm-up).
    done = asyncio.Event()
    total = jobs + 50
    finished = 0

    async def after(ctx: Any) -> None:
        nonlocal finished
        finished += 1
        if finished >= total:
            done.set()

    worker = Worker(queue.queue, functions=[noop], concurrency=concurrency, after_process=after)
    start = time.perf_counter()
    task = asyncio.create_task(worker.start())
    await asyncio.wait_for(done.wait(), 600)
    elapsed = time.perf_counter() - start
    await worker.stop()
    task.cancel()
    rate = total / elapsed
    print(f"{name:<10} worker, {concurrency} at once      {rate:7.0f} jobs/s ({total} no-op jobs in {elapsed:.1f} s)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="a Redis database this may flush")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    client = aioredis.Redis.from_url(args.redis)
    await client.flushdb()
    ping = await _timed(client.ping, args.jobs)
    settings = load_settings(redis=RedisSettings(url=args.redis), jobs=JobsSettings())
    redis_queue = JobQueue.for_settings(settings, "unused")
    await measure("redis", redis_queue, ping, args.jobs, args.concurrency)
    await redis_queue.close()
    await client.flushdb()
    await client.aclose()

    with tempfile.TemporaryDirectory(prefix="helpline-bench-jobs-") as tmp:
        pg = EmbeddedPostgres(Path(tmp) / "pg")
        url = pg.start()
        try:
            conninfo = postgres_conninfo(url)
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")

                async def select_one() -> None:
                    await conn.execute("SELECT 1")

                floor = await _timed(select_one, args.jobs)
            settings = load_settings(redis=RedisSettings(), database=DatabaseSettings(url=url))
            pg_queue = JobQueue.for_settings(settings, url)
            await measure("postgres", pg_queue, floor, args.jobs, args.concurrency)
            await pg_queue.close()
        finally:
            pg.release()


if __name__ == "__main__":
    asyncio.run(main())
