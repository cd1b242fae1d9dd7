"""The admin API over background jobs, on both queues, with the app's in-process worker."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from helpline.core.runtime import Runtime
from tests.conftest import bearer, make_admin, signed_in
from tests.privacy.conftest import eventually

JOBS = "/api/v1/admin/jobs"


async def admin_auth(client: httpx.AsyncClient, db: asyncpg.Connection) -> dict[str, str]:
    await signed_in(client, "admin@example.com")
    await make_admin(db, "admin@example.com")
    r = await client.post("/api/v1/auth/login", json={"login": "admin@example.com", "password": "Sup3r-secret-pass"})
    assert r.status_code == 200, r.text
    auth = bearer(r.json())

    # The sign-up queued a mail job (the email's confirmation): let it finish, so that the tests
    # count only their own jobs besides it.
    async def mailed() -> bool:
        r = await client.get(JOBS, headers=auth, params={"status": "complete"})
        if r.status_code == 503:  # a test of a queue that is down: no mail job to wait for
            return True
        return any(j["function"] == "mail" for j in r.json()["items"])

    await eventually(mailed)
    return auth


async def job_state(client: httpx.AsyncClient, auth: dict[str, str], key: str) -> dict[str, Any]:
    r = await client.get(f"{JOBS}/{key}", headers=auth)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


async def wait_for_status(client: httpx.AsyncClient, auth: dict[str, str], key: str, status: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        r = await client.get(f"{JOBS}/{key}", headers=auth)
        if r.status_code == 404:
            return False
        seen.update(r.json())
        return bool(seen["status"] == status)

    try:
        await eventually(reached)
    except AssertionError:
        raise AssertionError(f"{key} never {status}: {seen}") from None
    return seen


async def test_a_failed_job_is_listed_read_and_retried(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection, backend: str
) -> None:
    auth = await admin_auth(client, db)
    assert runtime.jobs.backend == backend
    # An export of an id that is not one fails in the job itself (one attempt in these settings).
    assert await runtime.jobs.enqueue("privacy_export", key="privacy_export:broken", export_id="broken") is not None
    assert await runtime.jobs.enqueue("export_purge", key="purge-now") is not None
    failed = await wait_for_status(client, auth, "privacy_export:broken", "failed")
    assert failed["function"] == "privacy_export"
    assert failed["attempts"] == 1
    assert failed["arguments"] == {"export_id": "broken"}
    assert failed["error"].startswith("ValueError")
    assert "Traceback" in failed["traceback"]
    await wait_for_status(client, auth, "purge-now", "complete")

    r = await client.get(JOBS, headers=auth, params={"status": "failed"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [j["key"] for j in page["items"]] == ["privacy_export:broken"]
    assert page["total"] == 1
    assert page["counts"] == {"queued": 0, "running": 0, "failed": 1, "complete": 2}  # with the sign-up's mail
    assert page["backend"] == backend
    r = await client.get(JOBS, headers=auth, params={"limit": 1, "offset": 1})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 3
    assert len(r.json()["items"]) == 1

    # Only a failed job can be retried; a retried one runs again under its key.
    r = await client.post(f"{JOBS}/purge-now/retry", headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "conflict"
    r = await client.post(f"{JOBS}/privacy_export:broken/retry", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["key"] == "privacy_export:broken"
    again = await wait_for_status(client, auth, "privacy_export:broken", "failed")
    assert again["attempts"] == 1  # a fresh set of attempts
    assert again["queued_at"] > failed["queued_at"]
    audited = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'jobs.retried'")
    assert audited == 1


async def test_bad_requests_are_clear_and_change_nothing(
    client: httpx.AsyncClient, runtime: Runtime, db: asyncpg.Connection
) -> None:
    auth = await admin_auth(client, db)
    r = await client.get(f"{JOBS}/no-such-job", headers=auth)
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    r = await client.post(f"{JOBS}/no-such-job/retry", headers=auth)
    assert r.status_code == 404
    r = await client.get(JOBS, headers=auth, params={"status": "exploded"})
    assert r.status_code == 422
    r = await client.get(JOBS, headers=auth, params={"limit": 0})
    assert r.status_code == 422
    r = await client.get(f"{JOBS}/{'k' * 201}", headers=auth)
    assert r.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'jobs.retried'") == 0

    user = await signed_in(client, "someone@example.com")
    for method, path in (("GET", JOBS), ("GET", f"{JOBS}/x"), ("POST", f"{JOBS}/x/retry")):
        r = await client.request(method, path, headers=bearer(user))
        assert r.status_code == 403, (path, r.text)
        r = await client.request(method, path)
        assert r.status_code == 401, (path, r.text)


async def test_a_data_export_runs_as_a_job(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    from tests.privacy.conftest import finished_export

    auth = await admin_auth(client, db)
    state = await finished_export(client, auth)
    job = await wait_for_status(client, auth, f"privacy_export:{state['id']}", "complete")
    assert job["function"] == "privacy_export"
    assert uuid.UUID(job["arguments"]["export_id"]) == uuid.UUID(state["id"])
