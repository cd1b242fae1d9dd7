"""Admin API over background jobs: list (by status), read one, retry a failed one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from helpline.auth.dependencies import AdminUser, ClientDep
from helpline.core import audit
from helpline.core.deps import RuntimeDep, SessionDep
from helpline.jobs import service
from helpline.jobs.schemas import JobDetail, JobPage, JobState

router = APIRouter(prefix="/api/v1/admin/jobs", tags=["admin"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Administrators only"},
    503: {"description": "The job queue (Redis or PostgreSQL) is not reachable"},
}
JobKey = Annotated[str, Path(min_length=1, max_length=200, description="The job's key, e.g. privacy_export:<id>")]


@router.get("", response_model=JobPage, responses=_AUTH)
async def list_jobs(
    _: AdminUser,
    runtime: RuntimeDep,
    status: Annotated[JobState | None, Query(description="Only jobs in this state")] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    """Background jobs, newest first, with how many are in each state."""
    return await service.list_jobs(runtime, status, offset, limit)


@router.get("/{key}", response_model=JobDetail, responses={**_AUTH, 404: {"description": "No job with this key"}})
async def read_job(key: JobKey, _: AdminUser, runtime: RuntimeDep) -> JobDetail:
    """One job with its arguments, result and, when it failed, the traceback."""
    return service.job_detail(await service.get_job(runtime, key))


@router.post(
    "/{key}/retry",
    response_model=JobDetail,
    responses={
        **_AUTH,
        404: {"description": "No job with this key"},
        409: {"description": "The job has not failed (queued, running or complete), or was queued again already"},
    },
)
async def retry_job(
    key: JobKey, actor: AdminUser, runtime: RuntimeDep, session: SessionDep, client: ClientDep
) -> JobDetail:
    """Queue a failed job again, with its arguments and a fresh set of attempts (audited)."""
    job = await service.retry_job(runtime, key)
    audit.record(session, "jobs.retried", actor_user_id=actor.id, target_type="job", target_id=key, client=client)
    return service.job_detail(job)
