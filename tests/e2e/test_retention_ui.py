"""The admin panel's Data retention screen in a real browser: the periods and the last removal."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Page, expect

from helpline.core.runtime import Runtime
from helpline.privacy.retention import run_retention
from tests.e2e.conftest import axe_violations
from tests.e2e.test_admin_ui import admin_tokens, open_admin


async def test_admin_sees_the_retention_periods_and_the_last_removal(
    page: Page, web: str, db: asyncpg.Connection, runtime: Runtime
) -> None:
    tokens = await admin_tokens(web, db)
    await open_admin(page, tokens, "/admin")
    await page.get_by_role("navigation", name="Admin menu").get_by_role("link", name="Data retention").click()
    await expect(page.get_by_role("heading", name="Data retention", level=1)).to_be_visible()
    periods = page.get_by_role("table", name="Retention periods")
    await expect(periods.get_by_role("row", name="Conversations without activity")).to_contain_text("For ever")
    await expect(periods.get_by_role("row", name="Expired or revoked sessions")).to_contain_text("30 days")
    await expect(periods.get_by_role("row", name="Client addresses in the audit trail")).to_contain_text("90 days")
    await expect(page.get_by_text("The server applies them every 60 minutes.")).to_be_visible()
    await expect(page.get_by_text("Nothing has been removed yet.")).to_be_visible()
    assert await axe_violations(page) == []

    # An old audit entry loses its address: the next visit shows the removal.
    await db.execute(
        "INSERT INTO audit_log (action, created_at, ip_address) VALUES ('t', now() - interval '100 days', '192.0.2.0')"
    )
    report = await run_retention(runtime)
    assert report.counts["audit_ips"] == 1
    await page.reload()
    await expect(page.get_by_role("listitem").filter(has_text="audit_ips")).to_contain_text("1")
