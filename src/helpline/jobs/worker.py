"""The worker: saq's Worker with Helpline's functions, schedules and metrics. `helpline serve`
runs one inside each server process (HELPLINE_JOBS_IN_SERVER, on by default); `helpline worker`
runs one alone, for deployments that keep jobs off the API processes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from saq import Status, Worker

from helpline.core.metrics import JOBS_FAILED, JOBS_PROCESSED, JOBS_RETRIED
from helpline.core.runtime import Runtime
from helpline.jobs.functions import FUNCTIONS, JobContext, cron_jobs

log = structlog.get_logger(__name__)


class _ServerWorker(Worker[JobContext]):
    # In the server, uvicorn owns SIGINT/SIGTERM; the lifespan stops the worker.
    SIGNALS: list[signal.Signals] = []  # noqa: RUF012 - overrides saq's class attribute


async def _after_process(ctx: JobContext) -> None:
    job = ctx.get("job")
    if job is None:
        return
    if job.status == Status.COMPLETE:
        JOBS_PROCESSED.labels(function=job.function).inc()
        log.debug("jobs.finished", function=job.function, key=job.key)
    elif job.status in (Status.FAILED, Status.ABORTED):
        JOBS_FAILED.labels(function=job.function).inc()  # saq logs the error itself
    elif job.status == Status.QUEUED:
        JOBS_RETRIED.labels(function=job.function).inc()
        log.info("jobs.retrying", function=job.function, key=job.key, attempts=job.attempts, error=job.error)


def build_worker(
    runtime: Runtime, *, schedules: bool = True, in_server: bool = True, started: asyncio.Event | None = None
) -> Worker[JobContext]:
    """A worker on the runtime's queue. ``schedules``: also queue the cron jobs (one run per tick
    across all workers), and each once now, as the server's loops did at start."""
    cls = _ServerWorker if in_server else Worker
    return cls(
        runtime.jobs.queue,
        functions=FUNCTIONS,
        concurrency=runtime.settings.jobs.concurrency,
        cron_jobs=cron_jobs(runtime.settings) if schedules else None,
        startup=_startup_with(runtime, started),
        after_process=_after_process,
    )


def _startup_with(runtime: Runtime, started: asyncio.Event | None) -> Callable[[JobContext], Awaitable[None]]:
    async def startup(ctx: JobContext) -> None:
        ctx["runtime"] = runtime  # what every job function reads its database, settings, ... from
        # saq starts its periodic sweep and its dequeues together: a job already queued can be
        # moved to the active list and swept (aborted, or retried if it has attempts left) before
        # its status says active (saq issue #277). Sweeping here first, before any dequeue, does
        # the start-up clean-up and takes the sweep's lock (60 s), so saq's first sweep is a no-op.
        try:
            await runtime.jobs.call(runtime.jobs.queue.sweep())
        except Exception as exc:  # the clean-up waits for saq's next sweep; the worker starts
            log.warning("jobs.sweep_failed", error=str(exc)[:300])
        if started is not None:
            # saq's start() then creates its tasks without yielding: whoever waits on this
            # resumes once the worker is fully running.
            started.set()

    return startup


async def queue_schedules_now(runtime: Runtime) -> None:
    """Queue each scheduled job once now, under its cron key: with several workers starting, one
    run is queued; the schedule then takes over after it."""
    for cron in cron_jobs(runtime.settings):
        await runtime.jobs.enqueue(cron.function.__qualname__, key=f"cron:{cron.function.__qualname__}")


@dataclass
class RunningWorker:
    worker: Worker[JobContext]
    task: asyncio.Task[None]
    started: asyncio.Event

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Let running jobs finish for up to ``grace_seconds``, then stop: a job cancelled midway
        is put back in the queue (saq retries it; jobs are idempotent).

        Not saq's Worker.stop() alone: its grace period also waits for the idle workers'
        blocking dequeues (so it always takes its full time), and without one it cancels the
        upkeep tasks once, which a PostgresQueue call can swallow, leaving the task asleep for
        its whole timer (up to a minute). Cancelling again until they are done ends them."""
        if not self.started.is_set():
            # Still waiting for the queue (or about to start): nothing of saq's runs yet.
            await _cancel(self.task)
            return
        running = [ctx["task"] for ctx in self.worker.job_task_contexts.values()]
        if running:
            await asyncio.wait(running, timeout=grace_seconds)
        self.worker.event.set()
        tasks = set(self.worker.tasks)
        self.worker.tasks.clear()
        for _ in range(40):
            pending = {t for t in tasks if not t.done()}
            if not pending:
                break
            for t in pending:
                t.cancel()
            await asyncio.wait(pending, timeout=0.25)
        await self.worker.stop()  # nothing left to wait for: closes its thread pool
        await _cancel(self.task)


async def _cancel(task: asyncio.Task[None], wait_seconds: float = 2.0) -> None:
    """Cancel the worker's task and wait for it, for a bounded time: with its backend down, saq's
    upkeep tasks can sit in the Redis client's reconnect pauses past a cancellation, and a server
    told to stop must not wait on them (they end with the event loop)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=wait_seconds)
    if not done:
        log.warning("jobs.worker_stop_slow", waited_seconds=wait_seconds)
        return
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


async def _connect(runtime: Runtime) -> None:
    """Connect the queue, waiting (with growing pauses, logged) while its backend is down: the
    server starts and serves what it can meanwhile, as it does without its database."""
    from helpline.core.errors import ServiceUnavailable

    pause = 1.0
    while True:
        try:
            await runtime.jobs.call(asyncio.sleep(0))
            return
        except ServiceUnavailable as exc:
            log.warning("jobs.queue_unreachable", backend=runtime.jobs.backend, retry_in=pause, error=str(exc))
        await asyncio.sleep(pause)
        pause = min(pause * 2, 30.0)


def start_worker(runtime: Runtime, *, schedules: bool = True) -> RunningWorker:
    """Run a worker as a task of this event loop (the server's), once the queue is reachable."""
    started = asyncio.Event()
    worker = build_worker(runtime, schedules=schedules, in_server=True, started=started)

    async def run() -> None:
        await _connect(runtime)
        if schedules:
            await queue_schedules_now(runtime)
        log.info("jobs.worker_started", backend=runtime.jobs.backend, schedules=schedules)
        await worker.start()

    return RunningWorker(worker, asyncio.create_task(run(), name="helpline-jobs-worker"), started)


async def run_worker(runtime: Runtime, *, schedules: bool = True) -> None:
    """`helpline worker`: run until SIGINT or SIGTERM (saq's own handlers), finishing or
    handing back (retry) the jobs in progress."""
    await runtime.jobs.connected()
    worker = build_worker(runtime, schedules=schedules, in_server=False)
    if schedules:
        await queue_schedules_now(runtime)
    log.info("jobs.worker_started", backend=runtime.jobs.backend, schedules=schedules)
    await worker.start()
