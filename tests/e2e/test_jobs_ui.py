"""The admin panel's Background jobs screen in a real browser: the list by status, one job's
details and traceback, and the retry button, on the app's in-process worker and queue."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from helpline.core.runtime import Runtime
from tests.e2e.conftest import axe_violations
from tests.e2e.test_admin_ui import admin_tokens, open_admin
from tests.privacy.conftest import eventually


async def test_admin_finds_a_failed_job_reads_its_traceback_and_retries_it(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    tokens = await admin_tokens(web, db)
    runtime.settings.jobs.retries = 1  # a retried job too fails at once, not after backoff
    queue = await runtime.jobs.connected()
    # An export of an id that is not one fails in the job itself.
    await runtime.jobs.enqueue("privacy_export", key="privacy_export:broken", export_id="broken")
    await runtime.jobs.enqueue("export_purge", key="purge:now")

    async def finished() -> bool:
        jobs = await queue.jobs(["privacy_export:broken", "purge:now"])
        return [j.status.value if j else None for j in jobs] == ["failed", "complete"]

    await eventually(finished)

    await open_admin(page, tokens, "/admin")
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Background jobs").click()
    await expect(page.get_by_role("heading", name="Background jobs", level=1)).to_be_visible()
    table = page.get_by_role("table", name="3 jobs")  # with the mail job of the admin's sign-up
    await expect(table.get_by_role("row", name="purge:now")).to_contain_text("Complete")
    await expect(table.get_by_role("row", name="privacy_export:broken")).to_contain_text("Failed")
    assert await axe_violations(page) == []

    # Only the failed ones.
    await page.get_by_label("Status").select_option(label="Failed (1)")
    await expect(page).to_have_url(f"{web}/admin/jobs?status=failed")
    table = page.get_by_role("table", name="1 job")
    await expect(table.get_by_role("row")).to_have_count(2)  # the header and the failed job
    await table.get_by_role("button", name="privacy_export:broken").click()

    details = page.get_by_role("region", name="Job details")
    await expect(details.get_by_role("heading", name="privacy_export:broken")).to_be_visible()
    await expect(details).to_contain_text('{"export_id":"broken"}')
    await expect(details.get_by_role("heading", name="Traceback")).to_be_visible()
    await expect(details.locator("pre")).to_contain_text("ValueError")
    assert await axe_violations(page) == []

    await details.get_by_role("button", name="Retry").click()
    await expect(details.get_by_role("status")).to_have_text("Queued again.")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'jobs.retried'") == 1

    # It ran again (and failed again: the id is still not one); the screen shows it after a reload.
    async def failed_again() -> bool:
        job = await queue.job("privacy_export:broken")
        return job is not None and job.status.value == "failed"

    await eventually(failed_again)
    await page.reload()
    await expect(page.get_by_role("region", name="Job details")).to_contain_text("Failed")
