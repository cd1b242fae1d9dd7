"""What the admin API and the rest of the app do with jobs: list, read, retry, abort, measure."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from saq import Job, Status

from helpline.core.errors import Conflict, NotFound, ServiceUnavailable
from helpline.core.metrics import JOBS_QUEUE_DEPTH
from helpline.core.runtime import Runtime
from helpline.jobs.queue import UNREACHABLE
from helpline.jobs.schemas import JobCounts, JobDetail, JobPage, JobRead, JobState

log = structlog.get_logger(__name__)

STATES: dict[Status, JobState] = {
    Status.NEW: JobState.queued,
    Status.QUEUED: JobState.queued,
    Status.ACTIVE: JobState.running,
    Status.ABORTING: JobState.running,
    Status.FAILED: JobState.failed,
    Status.ABORTED: JobState.failed,
    Status.COMPLETE: JobState.complete,
}
RETRYABLE = {Status.FAILED, Status.ABORTED}


def _time(value: float, unit: float) -> datetime | None:
    return datetime.fromtimestamp(value / unit, UTC) if value else None


def _last_line(error: str | None) -> str | None:
    if not error:
        return None
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else None


def job_read(job: Job) -> JobRead:
    # saq keeps queued/started/completed in milliseconds, scheduled in seconds.
    return JobRead(
        key=job.key,
        function=job.function,
        status=STATES[job.status],
        attempts=job.attempts,
        retries=job.retries,
        queued_at=_time(job.queued, 1000),
        scheduled_for=_time(job.scheduled, 1),
        started_at=_time(job.started, 1000),
        completed_at=_time(job.completed, 1000),
        error=_last_line(job.error),
    )


def job_detail(job: Job) -> JobDetail:
    return JobDetail(
        **job_read(job).model_dump(),
        arguments=job.kwargs or {},
        result=job.result,
        traceback=job.error,
    )


async def list_jobs(runtime: Runtime, status: JobState | None, offset: int, limit: int) -> JobPage:
    """Every job the queue holds (finished ones for HELPLINE_JOBS_KEEP_HOURS), newest first.
    saq lists jobs by scanning them (a SCAN on Redis): fine for the few thousand a week's
    clean-ups, exports and retention runs leave, which is all an admin pages through."""
    queue = runtime.jobs

    async def collect() -> list[Job]:
        return [job async for job in queue.queue.iter_jobs()]

    jobs: list[Job] = await queue.call(collect())
    counts = JobCounts()
    for job in jobs:
        state = STATES[job.status]
        setattr(counts, state.value, getattr(counts, state.value) + 1)
    chosen = [j for j in jobs if status is None or STATES[j.status] == status]
    chosen.sort(key=lambda j: (j.queued or j.scheduled * 1000, j.key), reverse=True)
    return JobPage(
        items=[job_read(j) for j in chosen[offset : offset + limit]],
        total=len(chosen),
        counts=counts,
        backend=queue.backend,
    )


async def get_job(runtime: Runtime, key: str) -> Job:
    job: Job | None = await runtime.jobs.call(runtime.jobs.queue.job(key))
    if job is None:
        raise NotFound(f"No job with the key {key!r} (finished jobs are kept for a limited time)")
    return job


async def retry_job(runtime: Runtime, key: str) -> Job:
    """Queue a failed job again under its key, with its arguments and a fresh set of attempts."""
    job = await get_job(runtime, key)
    if job.status not in RETRYABLE:
        raise Conflict(f"Only a failed job can be retried; this one is {STATES[job.status].value}")
    # Now, or just after the failed run's own schedule: saq's PostgreSQL queue replaces a
    # finished job of the same key only with a later one.
    scheduled = max(int(time.time()), job.scheduled + 1)
    again = await runtime.jobs.enqueue(job.function, key=job.key, scheduled=scheduled, **(job.kwargs or {}))
    if again is None:
        raise Conflict("This job has been queued again already")
    return again


async def enqueue_after_commit(runtime: Runtime, function: str, *, key: str, **kwargs: Any) -> None:
    """Queue a job a request asked for, once its transaction has committed (run as a FastAPI
    background task, which runs after the response): a rolled-back request leaves no job behind.
    The queue being down is logged; the request's data is stored, and its status says queued
    until a retry or (for exports) the stale-job check fails it."""
    try:
        await runtime.jobs.enqueue(function, key=key, **kwargs)
    except (ServiceUnavailable, *UNREACHABLE) as exc:
        log.error("jobs.enqueue_failed", function=function, key=key, error=str(exc)[:300])


async def abort_jobs(runtime: Runtime, keys: Iterable[str], reason: str) -> None:
    """Abort these jobs if they are queued or running (best effort: the queue being down must not
    stop what asked, e.g. an account erasure, whose jobs then find their data gone)."""
    try:
        for key in keys:
            job = await runtime.jobs.call(runtime.jobs.queue.job(key))
            if job is not None and job.status in (Status.NEW, Status.QUEUED, Status.ACTIVE):
                await runtime.jobs.call(runtime.jobs.queue.abort(job, reason))
    except (ServiceUnavailable, *UNREACHABLE) as exc:
        log.warning("jobs.abort_failed", error=str(exc)[:300])


async def update_depth_gauge(runtime: Runtime) -> None:
    """Set jobs_queue_depth from the queue (at scrape time). Only once the process uses the queue,
    and never failing the scrape: a backend that is down leaves the last values."""
    queue = runtime.jobs
    if not queue.is_connected:
        return
    try:
        queued = await queue.call(queue.queue.count("queued"))
        active = await queue.call(queue.queue.count("active"))
        incomplete = await queue.call(queue.queue.count("incomplete"))
    except ServiceUnavailable:
        return
    JOBS_QUEUE_DEPTH.labels(state="queued").set(queued)
    JOBS_QUEUE_DEPTH.labels(state="active").set(active)
    JOBS_QUEUE_DEPTH.labels(state="scheduled").set(max(incomplete - queued - active, 0))
