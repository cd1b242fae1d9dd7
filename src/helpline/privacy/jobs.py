"""The in-process runner of export jobs: an asyncio task per export, started after the request
that queued it has committed. Replaceable by a real job queue (arq, saq) without touching the
job itself (privacy.export.run_export), which takes only an id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import structlog

from helpline.core.runtime import Runtime
from helpline.privacy.export import run_export

log = structlog.get_logger(__name__)


class ExportRunner:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._tasks: dict[uuid.UUID, asyncio.Task[str]] = {}

    @classmethod
    def of(cls, runtime: Runtime) -> ExportRunner:
        runner = runtime.extras.get("privacy_exports")
        if not isinstance(runner, ExportRunner):
            runner = runtime.extras["privacy_exports"] = cls(runtime)
        return runner

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
