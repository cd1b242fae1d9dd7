"""The queue's promises on both backends: job keys make enqueuing idempotent, a failing job is
retried with backoff, a cron job is queued once per tick however many workers schedule it, the
metrics count jobs, a queue that is down is a clear 503, and a starting worker sweeps before it takes a job."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from saq import Status

from helpline.core.config import Settings
from helpline.core.runtime import Runtime
from helpline.jobs.worker import build_worker, queue_schedules_now, start_worker
from helpline.main import create_app
from tests.chat.fakes import FakeProvider, KeywordModerator
from tests.jobs.conftest import jobs_settings
from tests.jobs.test_jobs_api import JOBS, admin_auth, wait_for_status
from tests.privacy.conftest import eventually

TERMINAL = (Status.COMPLETE, Status.FAILED, Status.ABORTED)


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``runtime`` (its lifespan runs, so its worker too, unless settings say not)."""
    app = create_app(runtime=runtime)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def no_worker(settings: Settings, database_url: str) -> Runtime:
    """A runtime whose queue nobody works (the jobs stay where they are)."""
    return Runtime.build(settings, database_url, llm=FakeProvider(), moderator=KeywordModerator())


async def test_a_job_key_is_queued_once(database_url: str, tmp_path: Path, backend: str, redis_db: object) -> None:
    runtime = no_worker(jobs_settings(database_url, tmp_path, backend), database_url)
    try:
        first = await runtime.jobs.enqueue("export_purge", key="purge:once")
        again = await runtime.jobs.enqueue("export_purge", key="purge:once")
        assert first is not None
        assert again is None
        jobs = [j async for j in runtime.jobs.queue.iter_jobs()]
        assert [j.key for j in jobs] == ["purge:once"]
    finally:
        await runtime.close()


async def test_a_failing_job_is_retried_later_with_backoff(
    database_url: str, tmp_path: Path, backend: str, redis_db: object, db: asyncpg.Connection
) -> None:
    settings = jobs_settings(database_url, tmp_path, backend, retries=3, retry_delay_seconds=600.0)
    runtime = no_worker(settings, database_url)
    try:
        async with serving(runtime) as client:
            auth = await admin_auth(client, db)
            await runtime.jobs.enqueue("privacy_export", key="privacy_export:broken", export_id="broken")

            async def first_attempt_failed() -> bool:
                r = await client.get(f"{JOBS}/privacy_export:broken", headers=auth)
                return bool(r.json()["attempts"] == 1 and r.json()["traceback"])

            await eventually(first_attempt_failed)
            job = (await client.get(f"{JOBS}/privacy_export:broken", headers=auth)).json()
            # Back in the queue, due in about the retry delay (with jitter), not failed for good.
            assert job["status"] == "queued"
            assert job["error"].startswith("ValueError")
            if backend == "postgres":
                due = datetime.fromisoformat(job["scheduled_for"]).timestamp()
            else:  # saq keeps a Redis job's next attempt time as its score in the schedule
                queue = runtime.jobs.queue
                due = await queue.redis.zscore(queue.namespace("incomplete"), queue.job_id("privacy_export:broken"))  # type: ignore[attr-defined]
            assert time.time() < due < time.time() + 600 + 5
    finally:
        await runtime.close()


async def test_a_cron_job_is_queued_once_across_workers(
    database_url: str, tmp_path: Path, backend: str, redis_db: object
) -> None:
    settings = jobs_settings(database_url, tmp_path, backend)
    runtimes = [no_worker(settings, database_url) for _ in range(3)]
    try:
        for runtime in runtimes:
            await runtime.jobs.connected()
            await queue_schedules_now(runtime)  # what every worker does when it starts
        for runtime in runtimes:
            await build_worker(runtime).schedule()  # and then every second
        jobs = [j async for j in runtimes[0].jobs.queue.iter_jobs()]
        keys = sorted(j.key for j in jobs)
        assert keys == [
            "cron:abandoned_answers",
            "cron:admin_alerts",
            "cron:analytics_refresh",
            "cron:export_purge",
            "cron:guest_cleanup",
            "cron:retention",
        ]
    finally:
        for runtime in runtimes:
            await runtime.close()


async def test_jobs_queued_before_a_worker_starts_are_run_not_swept(
    database_url: str, tmp_path: Path, backend: str, redis_db: object
) -> None:
    # saq's first sweep used to run beside its first dequeues: a job moved to the active list but
    # not yet marked active was swept (aborted, with one attempt). The worker now sweeps first.
    runtime = no_worker(jobs_settings(database_url, tmp_path, backend, concurrency=4), database_url)
    keys = [f"purge:early-{i}" for i in range(12)]
    queue = runtime.jobs.queue
    calls: list[str] = []
    sweep, dequeue = queue.sweep, queue.dequeue

    async def sweep_seen(*args: Any, **kwargs: Any) -> list[str]:
        calls.append("sweep")
        swept: list[str] = await sweep(*args, **kwargs)
        calls.append("swept")
        return swept

    async def dequeue_seen(*args: Any, **kwargs: Any) -> Any:
        calls.append("dequeue")
        return await dequeue(*args, **kwargs)

    try:
        for key in keys:
            await runtime.jobs.enqueue("export_purge", key=key)
        with patch.object(queue, "sweep", sweep_seen), patch.object(queue, "dequeue", dequeue_seen):
            running = start_worker(runtime, schedules=False)
            await running.started.wait()

            async def dequeued() -> bool:
                return "dequeue" in calls

            await eventually(dequeued)
        # The worker's own sweep ends before the first dequeue begins.
        assert calls[:2] == ["sweep", "swept"], calls
        try:

            async def all_finished() -> bool:
                jobs = [await runtime.jobs.queue.job(key) for key in keys]
                return all(j is not None and j.status in TERMINAL for j in jobs)

            await eventually(all_finished, timeout=60)
            statuses = {key: (await runtime.jobs.queue.job(key)) for key in keys}
            assert {k: (j.status.value, j.error) for k, j in statuses.items() if j} == dict.fromkeys(
                keys, ("complete", None)
            )
        finally:
            await running.stop()
    finally:
        await runtime.close()


async def test_metrics_count_jobs_by_function(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    auth = await admin_auth(client, db)
    await runtime.jobs.enqueue("export_purge", key="purge:metrics")
    await runtime.jobs.enqueue("privacy_export", key="privacy_export:metrics", export_id="broken")
    await wait_for_status(client, auth, "purge:metrics", "complete")
    await wait_for_status(client, auth, "privacy_export:metrics", "failed")
    text = (await client.get("/metrics")).text
    assert 'jobs_processed_total{function="export_purge"}' in text
    assert 'jobs_failed_total{function="privacy_export"}' in text
    assert 'jobs_queue_depth{state="queued"} 0.0' in text


async def test_a_queue_that_is_down_is_a_clear_503(database_url: str, tmp_path: Path, db: asyncpg.Connection) -> None:
    from saq.queue.redis import RedisQueue

    from helpline.core.config import JobsSettings
    from helpline.jobs.queue import QUEUE_NAME, JobQueue
    from tests.conftest import make_settings

    # The server runs no worker here (one would fail the start instead); the queue's Redis is a
    # port nothing listens on, while the rest of the app works.
    settings = make_settings(database_url, tmp_path, jobs=JobsSettings(in_server=False))
    runtime = no_worker(settings, database_url)
    runtime.__dict__["jobs"] = JobQueue(settings, RedisQueue.from_url("redis://127.0.0.1:1/0", name=QUEUE_NAME))
    try:
        async with serving(runtime) as client:
            auth = await admin_auth(client, db)
            for method, path in (("GET", JOBS), ("GET", f"{JOBS}/x"), ("POST", f"{JOBS}/x/retry")):
                r = await client.request(method, path, headers=auth)
                assert r.status_code == 503, r.text
                assert r.json()["error"] == "service_unavailable"
                assert "job queue (redis) is not reachable" in r.json()["detail"]
                assert r.headers["Retry-After"]
            # An export asked for meanwhile is stored (and says queued); only its job is missing.
            r = await client.post("/api/v1/privacy/export", headers=auth)
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "queued"
    finally:
        await runtime.close()
