"""The in-process runner of export jobs: an asyncio task per export, started after the request
that queued it has committed. Replaceable by a real job queue (arq, saq) without touching the
job itself (privacy.export.run_export), which takes only an id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete

from helpline.core.runtime import Runtime
from helpline.models import PrivacyExport
from helpline.privacy.export import run_export

log = structlog.get_logger(__name__)


class ExportRunner:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._tasks: dict[uuid.UUID, asyncio.Task[str]] = {}

    @classmethod
    def of(cls, runtime: Runtime) -> ExportRunner:
        if runtime.privacy_exports is None:
            runtime.privacy_exports = cls(runtime)
        return runtime.privacy_exports

    async def start(self, export_id: uuid.UUID) -> None:
        """Start the job as a task of its own (async: a background task run on the event loop)."""
        ttl = timedelta(days=self._runtime.settings.privacy.export_ttl_days)
        task = asyncio.create_task(run_export(self._runtime.sessionmaker, export_id, ttl))
        self._tasks[export_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(export_id, None))

    def cancel(self, export_ids: list[uuid.UUID]) -> None:
        """Stop these jobs if they run here (their account is being erased)."""
        for export_id in export_ids:
            task = self._tasks.pop(export_id, None)
            if task is not None:
                task.cancel()

    async def close(self) -> None:
        """On shutdown: stop the jobs (a job left queued or running is failed by the next request)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def purge_expired_exports(runtime: Runtime) -> int:
    """Delete exports past their download window, archives with them (data kept no longer than
    needed). Returns how many went."""
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(delete(PrivacyExport).where(PrivacyExport.expires_at < datetime.now(UTC)))
    return int(getattr(result, "rowcount", 0) or 0)


async def export_purge_loop(runtime: Runtime, interval_seconds: float = 3600.0) -> None:
    """Purge expired exports now and then every ``interval_seconds`` until cancelled; a failure
    is logged and retried at the next tick."""
    while True:
        try:
            removed = await purge_expired_exports(runtime)
            if removed:
                log.info("privacy.exports_purged", count=removed)
        except Exception as exc:
            log.error("privacy.export_purge_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        await asyncio.sleep(interval_seconds)
