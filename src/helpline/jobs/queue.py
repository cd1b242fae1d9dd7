"""The job queue, chosen in one place from settings: saq's RedisQueue when Redis is configured,
else saq's PostgresQueue on the app's own database (embedded or not).

Why PostgreSQL rather than an in-process runner without Redis: a queued export survives a
restart, a job keeps its state and error for the admin panel, a cron job runs once however many
processes serve, and the admin API, retries and schedules are one code path (saq's) on both
backends instead of a hand-written runner beside the library."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import structlog
from psycopg import OperationalError
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq import Job, Queue
from saq.queue.postgres import PostgresQueue
from saq.queue.redis import RedisQueue

from helpline.core.config import Settings
from helpline.core.errors import ServiceUnavailable

log = structlog.get_logger(__name__)

QUEUE_NAME = "helpline"
# Created by migration 0015; saq creates and migrates its own tables inside it.
SCHEMA = "helpline_jobs"
# Seconds a job may run before it is cancelled (and retried); saq's default is 10 s.
DEFAULT_TIMEOUT = 300
# Seconds each may run before it is cancelled and retried (saq's default of 10 s is for small jobs).
# Here rather than beside the functions: this module (which core imports) imports no domain package.
TIMEOUTS = {
    "privacy_export": 600,
    "retention": 3600,
    "faq_reindex": 3600,
    "analytics_refresh": 1800,
    "push_deliver": 120,
}
# A queue call that takes longer than this means the backend is down: a clear 503, not a hang.
CALL_TIMEOUT = 5.0
# What a backend that is down raises (Redis' and psycopg's errors are not OSErrors).
UNREACHABLE = (OSError, TimeoutError, RedisConnectionError, RedisTimeoutError, OperationalError, PoolTimeout)


def backend_for(settings: Settings) -> str:
    """ "redis" or "postgres". saq has no Redis Cluster support: a cluster uses PostgreSQL."""
    chosen = settings.jobs.backend
    if chosen == "auto":
        return "redis" if settings.redis.url and not settings.redis.cluster else "postgres"
    if chosen == "redis" and not settings.redis.url:
        raise ValueError("HELPLINE_JOBS_BACKEND=redis needs HELPLINE_REDIS_URL")
    return chosen


def postgres_conninfo(database_url: str) -> str:
    """The SQLAlchemy (asyncpg) URL as a libpq one for psycopg, which saq's PostgresQueue uses."""
    scheme, sep, rest = database_url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else database_url


def create_queue(settings: Settings, database_url: str) -> Queue:
    if backend_for(settings) == "redis":
        assert settings.redis.url is not None
        return RedisQueue.from_url(settings.redis.url, name=QUEUE_NAME)
    pool = AsyncConnectionPool(
        postgres_conninfo(database_url),
        # Its tables go into their own schema; autocommit is what saq requires.
        kwargs={"options": f"-c search_path={SCHEMA}", "autocommit": True},
        min_size=1,
        max_size=4,
        open=False,
        check=AsyncConnectionPool.check_connection,
    )
    return PostgresQueue(pool=pool, name=QUEUE_NAME, min_size=1, max_size=4, manage_pool_lifecycle=True)


class JobQueue:
    """The app's handle on the queue: connects on first use, enqueues with Helpline's defaults
    (retries with backoff, how long finished jobs are kept), closes with the runtime."""

    def __init__(self, settings: Settings, queue: Queue) -> None:
        self.settings = settings
        self.queue = queue
        self._lock = asyncio.Lock()
        self._connected = False

    @classmethod
    def for_settings(cls, settings: Settings, database_url: str) -> JobQueue:
        return cls(settings, create_queue(settings, database_url))

    @property
    def backend(self) -> str:
        return "redis" if isinstance(self.queue, RedisQueue) else "postgres"

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connected(self) -> Queue:
        """The queue, connected (saq's PostgresQueue creates its tables on its first connect)."""
        if not self._connected:
            async with self._lock:
                if not self._connected:
                    await self.queue.connect()
                    self._connected = True
        return self.queue

    async def call(self, what: Any) -> Any:
        """Await a queue operation; the backend down or hanging is a 503 with a clear message."""
        try:
            await asyncio.wait_for(self.connected(), CALL_TIMEOUT)
            return await asyncio.wait_for(what, CALL_TIMEOUT)
        except UNREACHABLE as exc:
            raise ServiceUnavailable(f"The job queue ({self.backend}) is not reachable; try again shortly") from exc
        finally:
            if inspect.iscoroutine(what):
                what.close()  # not awaited when the queue was down (no "never awaited" warning); else a no-op

    def job_options(self, timeout: int = DEFAULT_TIMEOUT) -> dict[str, Any]:
        cfg = self.settings.jobs
        return {
            "timeout": timeout,
            "retries": cfg.retries,
            "retry_delay": cfg.retry_delay_seconds,
            "retry_backoff": True,
            "ttl": cfg.keep_hours * 3600,
        }

    async def enqueue(self, function: str, *, key: str | None = None, **kwargs: Any) -> Job | None:
        """Queue ``function`` (a name in helpline.jobs.functions). A ``key`` makes it idempotent:
        while a job with that key is queued or running, enqueuing it again does nothing (None)."""
        options = self.job_options(TIMEOUTS.get(function, DEFAULT_TIMEOUT))
        if key is not None:
            options["key"] = key
        job: Job | None = await self.call(self.queue.enqueue(function, **options, **kwargs))
        return job

    async def close(self) -> None:
        if self._connected:
            self._connected = False
            try:
                await self.queue.disconnect()
            except UNREACHABLE as exc:  # a backend that went away must not break the shutdown
                log.warning("jobs.disconnect_failed", error=str(exc)[:300])
