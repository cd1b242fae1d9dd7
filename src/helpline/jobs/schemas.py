"""The admin API's view of background jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class JobState(StrEnum):
    """saq's states, as an administrator reads them: queued (new, queued or due later), running
    (active or being aborted), failed (retries spent, or aborted), complete."""

    queued = "queued"
    running = "running"
    failed = "failed"
    complete = "complete"


class JobRead(BaseModel):
    key: str
    function: str
    status: JobState
    attempts: int
    retries: int
    queued_at: datetime | None
    scheduled_for: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    # The last line of the error (the exception), for the list; the detail has the traceback.
    error: str | None


class JobDetail(JobRead):
    arguments: dict[str, Any]
    result: Any
    traceback: str | None


class JobCounts(BaseModel):
    queued: int = 0
    running: int = 0
    failed: int = 0
    complete: int = 0


class JobPage(BaseModel):
    items: list[JobRead]
    # Jobs with the requested status (all jobs without one), for paging with offset and limit.
    total: int
    counts: JobCounts
    backend: str
